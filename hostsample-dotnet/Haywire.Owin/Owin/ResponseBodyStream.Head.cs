using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin
{
    // The head rules: OnSendingHeaders, then status, reason phrase and headers taken
    // from the environment and checked (an invalid head becomes a 500).
    internal sealed partial class ResponseBodyStream
    {
        /// <summary>server.OnSendingHeaders: callbacks run in reverse order before the head is fixed.</summary>
        public void RegisterOnSendingHeaders(Action<object> callback, object state)
        {
            if (callback == null)
            {
                throw new ArgumentNullException("callback");
            }
            if (_headFixed)
            {
                throw new InvalidOperationException(HeadersSentMessage);
            }
            if (_firstOnSending == null)
            {
                _firstOnSending = callback;
                _firstOnSendingState = state;
                return;
            }
            if (_moreOnSending == null)
            {
                _moreOnSending = new List<KeyValuePair<Action<object>, object>>(2);
            }
            _moreOnSending.Add(new KeyValuePair<Action<object>, object>(callback, state));
        }

        /// <summary>Runs the OnSendingHeaders callbacks and fixes status, reason and headers.</summary>
        private void FixHead()
        {
            if (_runningCallbacks)
            {
                // A callback wrote to the body: the head is what it is now.
                TakeHead();
                return;
            }
            if (_firstOnSending != null)
            {
                _runningCallbacks = true;
                try
                {
                    // Last registered first; one registered meanwhile does not run (it came too late).
                    List<KeyValuePair<Action<object>, object>> more = _moreOnSending;
                    for (int i = (more == null ? 0 : more.Count) - 1; i >= 0 && !_headFixed; i--)
                    {
                        more[i].Key(more[i].Value);
                    }
                    if (!_headFixed)
                    {
                        _firstOnSending(_firstOnSendingState);
                    }
                }
                finally
                {
                    _runningCallbacks = false;
                }
                if (_headFixed)
                {
                    return;
                }
            }
            TakeHead();
        }

        private const string ContentLengthName = "Content-Length";

        private void TakeHead()
        {
            _headFixed = true;
            OwinEnvironment env = _call.Env;
            int status;
            object given = env.GetKnown(OwinEnvironment.ResponseStatusCode);
            if (!TryReadStatus(given, out status) || status < 200 || status > 999)
            {
                // 1xx are interim (100 would leave no final response, §3.4; 101 needs the
                // upgrade extension, not offered) and the rest are not HTTP status codes.
                AnswerInvalidHead("invalid owin.ResponseStatusCode "
                    + (given == OwinEnvironment.Absent ? "(removed)" : Describe(given)));
                return;
            }
            _status = status;
            string problem;
            _reason = ReadReason(env.GetKnown(OwinEnvironment.ResponseReasonPhrase), out problem);
            if (problem != null)
            {
                AnswerInvalidHead(problem);
                return;
            }
            HeaderDictionary dictionary = _call.ResponseHeadersDictionary;
            Dictionary<string, string[]> entries = dictionary.RawEntries;
            List<KeyValuePair<string, string>> headers = _spareHeaders;
            if (headers != null)
            {
                _spareHeaders = null;
            }
            else
            {
                headers = new List<KeyValuePair<string, string>>(entries.Count);
            }
            foreach (var pair in entries)
            {
                string[] values = pair.Value;
                if (values == null)
                {
                    continue;
                }
                if (pair.Key.Length == ContentLengthName.Length
                    && string.Equals(pair.Key, ContentLengthName, StringComparison.OrdinalIgnoreCase))
                {
                    // The engine writes Content-Length itself, from this value.
                    if (!TryReadContentLength(values, out _declaredLength))
                    {
                        problem = "invalid Content-Length \"" + string.Join("\", \"", values) + "\"";
                    }
                    continue;
                }
                // Everything else, Server and Date included, goes as the application set it.
                foreach (string value in values)
                {
                    if (value != null)
                    {
                        headers.Add(new KeyValuePair<string, string>(pair.Key, value));
                    }
                }
            }
            if (problem != null)
            {
                headers.Clear();
                _spareHeaders = headers;
                _declaredLength = -1;
                AnswerInvalidHead(problem);
                return;
            }
            _headers = headers;
            dictionary.MakeReadOnly(HeadersSentMessage);
        }

        /// <summary>
        /// A head the application got wrong: 500 without its headers (as Katana, Nowin and
        /// Kestrel), traced; what it writes from here is discarded.
        /// </summary>
        private void AnswerInvalidHead(string problem)
        {
            _call.Server.Trace(_call.Describe() + ": " + problem + ": answered 500");
            _status = 500;
            _reason = null;
            _headers = NoHeaders;
            _discardBody = true;
            _call.ResponseHeadersDictionary.MakeReadOnly(HeadersSentMessage);
        }

        /// <summary>
        /// owin.ResponseReasonPhrase: null for the standard phrase (absent, null, empty, or one
        /// the wire cannot carry: over 255 characters or beyond Latin-1, traced); problem set
        /// when it is not a string or holds CR, LF or NUL (header injection: 500).
        /// </summary>
        private string ReadReason(object value, out string problem)
        {
            problem = null;
            if (value == null || value == OwinEnvironment.Absent)
            {
                return null;
            }
            var reason = value as string;
            if (reason == null)
            {
                problem = "owin.ResponseReasonPhrase is a " + value.GetType().FullName + ", not a string";
                return null;
            }
            bool latin1 = true;
            for (int i = 0; i < reason.Length; i++)
            {
                char c = reason[i];
                if (c == '\r' || c == '\n' || c == '\0')
                {
                    problem = "owin.ResponseReasonPhrase holds CR, LF or NUL: " + Describe(reason);
                    return null;
                }
                if (c > '\u00FF')
                {
                    latin1 = false;
                }
            }
            if (reason.Length == 0)
            {
                return null;
            }
            if (reason.Length > 255 || !latin1)
            {
                _call.Server.Trace(_call.Describe() + ": owin.ResponseReasonPhrase " + Describe(reason)
                    + " is longer than 255 characters or not Latin-1: sending the standard phrase");
                return null;
            }
            return reason;
        }

        /// <summary>
        /// The Content-Length values: one non-negative decimal integer, possibly repeated
        /// ("42", "42, 42": RFC 9110 §8.6 lets a recipient take a list of equal values).
        /// False for anything else ("-10", "abc", "1 2", two different values, an overflow).
        /// </summary>
        private static bool TryReadContentLength(string[] values, out long length)
        {
            length = -1;
            bool any = false;
            foreach (string value in values)
            {
                if (value == null)
                {
                    continue;
                }
                foreach (string element in value.Split(','))
                {
                    string digits = element.Trim(' ', '\t');
                    long n;
                    if (digits.Length == 0 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out n)
                        || any && n != length)
                    {
                        length = -1;
                        return false;
                    }
                    length = n;
                    any = true;
                }
            }
            if (!any)
            {
                length = -1;
                return values.Length == 0; // an empty array means no Content-Length; [null] is not a value
            }
            return true;
        }

        /// <summary>A value for a trace line: quoted and cut short.</summary>
        private static string Describe(object value)
        {
            string text = value == null ? "null" : Convert.ToString(value, CultureInfo.InvariantCulture);
            if (text.Length > 80)
            {
                text = text.Substring(0, 80) + "...";
            }
            return "\"" + text.Replace("\r", "\\r").Replace("\n", "\\n").Replace("\0", "\\0") + "\"";
        }

        private static bool TryReadStatus(object value, out int status)
        {
            if (value is int)
            {
                status = (int)value;
                return true;
            }
            if (value == null || value == OwinEnvironment.Absent)
            {
                status = 0;
                return false;
            }
            try
            {
                // Some applications store a long or a string; OWIN says int.
                status = Convert.ToInt32(value, CultureInfo.InvariantCulture);
                return true;
            }
            catch (Exception)
            {
                status = 0;
                return false;
            }
        }
    }
}
