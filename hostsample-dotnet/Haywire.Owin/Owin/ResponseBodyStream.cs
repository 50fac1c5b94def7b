using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

using Haywire.Owin.Transport;

namespace Haywire.Owin
{
    /// <summary>
    /// owin.ResponseBody. The head is fixed at the first write or flush (§3.5): the
    /// OnSendingHeaders callbacks run (last registered first), then status, reason
    /// and headers are taken and the header dictionary turns read-only. Bytes are
    /// buffered up to <see cref="BufferLimit"/>; a response that completes within it
    /// goes to the engine whole, with a computed Content-Length (0 when empty);
    /// a longer one, or one the application flushes, streams — chunked, or with
    /// the Content-Length the application set, which must then be met exactly.
    /// A HEAD response's bytes are counted, never sent. A head the application got
    /// wrong (status, Content-Length, reason phrase) becomes a 500; a response that
    /// fails is a 500 while nothing of it went out, an abort after (see GiveUp).
    /// Closing or disposing the stream does nothing: the server ends the response
    /// when the application's Task completes (§3.5).
    /// Not thread-safe: one write at a time, as OWIN lets a server assume.
    /// </summary>
    internal sealed class ResponseBodyStream : Stream
    {
        /// <summary>Bytes held before the response starts streaming.</summary>
        public const int BufferLimit = 16 * 1024;

        private const int FirstBufferSize = 512;
        private const string HeadersSentMessage = "the response headers were sent at the first write to the response body";
        private static readonly byte[] NoBytes = new byte[0];
        private static readonly List<KeyValuePair<string, string>> NoHeaders = new List<KeyValuePair<string, string>>(0);

        // A whole response goes to the engine's arena synchronously (Respond copies it): its buffer and header
        // list are then free for the next request on the same thread (the pump answers request after request).
        [ThreadStatic] private static byte[] _spareBuffer;
        [ThreadStatic] private static List<KeyValuePair<string, string>> _spareHeaders;

        private readonly OwinCall _call;
        private readonly IHttpExchange _request;
        private byte[] _buffer;
        private int _buffered;
        private long _written; // bytes the application wrote, in total

        private List<KeyValuePair<Action<object>, object>> _onSendingHeaders;
        private bool _runningCallbacks;
        private bool _headFixed;
        private bool _started; // StartResponse went to the engine: streaming
        private bool _done; // the response is complete or given up
        private bool _discardBody; // the head was invalid: 500 goes out instead
        private readonly bool _head; // a HEAD request: body bytes are counted, not sent
        private int _status;
        private string _reason;
        private List<KeyValuePair<string, string>> _headers;
        private long _declaredLength = -1; // the application's Content-Length, or -1

        public ResponseBodyStream(OwinCall call)
        {
            _call = call;
            _request = call.Request;
            _head = _request.IsHead;
        }

        /// <summary>True once status and headers are fixed (the first write or flush).</summary>
        public bool HeadersSent
        {
            get { return _headFixed; }
        }

        public override bool CanRead
        {
            get { return false; }
        }

        public override bool CanSeek
        {
            get { return false; }
        }

        public override bool CanWrite
        {
            get { return !_done; }
        }

        public override long Length
        {
            get { throw new NotSupportedException("the response body is write-only"); }
        }

        public override long Position
        {
            get { throw new NotSupportedException("the response body is write-only"); }
            set { throw new NotSupportedException("the response body is write-only"); }
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            throw new NotSupportedException("the response body is write-only");
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            throw new NotSupportedException("the response body is write-only");
        }

        public override void SetLength(long value)
        {
            throw new NotSupportedException("the response body is write-only");
        }

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
            if (_onSendingHeaders == null)
            {
                _onSendingHeaders = new List<KeyValuePair<Action<object>, object>>(2);
            }
            _onSendingHeaders.Add(new KeyValuePair<Action<object>, object>(callback, state));
        }

        private static void CheckArguments(byte[] buffer, int offset, int count)
        {
            if (buffer == null)
            {
                throw new ArgumentNullException("buffer");
            }
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
            {
                throw new ArgumentOutOfRangeException("count", "offset " + offset + " and count " + count
                    + " do not fit a buffer of " + buffer.Length + " bytes");
            }
        }

        private void CheckWritable()
        {
            if (_done)
            {
                throw new InvalidOperationException("the response is complete: the application's Task has finished or the response failed");
            }
        }

        /// <summary>Accepts count bytes; returns true when they must go to the engine now.</summary>
        private bool Accept(byte[] buffer, int offset, int count)
        {
            CheckArguments(buffer, offset, count);
            CheckWritable();
            if (!_headFixed)
            {
                FixHead();
            }
            _written += count;
            if (_discardBody || _head || count == 0)
            {
                // HEAD: counted for the Content-Length, never sent nor checked against it (as Katana, Nowin, Kestrel).
                return false;
            }
            if (_declaredLength >= 0 && _written > _declaredLength)
            {
                string message = "the application wrote " + _written + " bytes, more than its Content-Length of "
                    + _declaredLength + "; ";
                throw new IOException(message + GiveUp(": " + message, ""));
            }
            if (_buffered + count <= BufferLimit)
            {
                EnsureBuffer(_buffered + count);
                Buffer.BlockCopy(buffer, offset, _buffer, _buffered, count);
                _buffered += count;
                return false;
            }
            return true;
        }

        private void EnsureBuffer(int needed)
        {
            if (_buffer != null && _buffer.Length >= needed)
            {
                return;
            }
            if (_buffer == null)
            {
                byte[] spare = _spareBuffer;
                if (spare != null && spare.Length >= needed)
                {
                    _spareBuffer = null;
                    _buffer = spare;
                    return;
                }
            }
            int size = _buffer == null ? FirstBufferSize : _buffer.Length * 2;
            while (size < needed)
            {
                size *= 2;
            }
            if (size > BufferLimit)
            {
                size = BufferLimit;
            }
            var grown = new byte[size];
            if (_buffered > 0)
            {
                Buffer.BlockCopy(_buffer, 0, grown, 0, _buffered);
            }
            _buffer = grown;
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (!Accept(buffer, offset, count))
            {
                return;
            }
            try
            {
                StartIfNeeded();
                if (_buffered > 0)
                {
                    _request.WriteBody(_buffer, 0, _buffered);
                    _buffered = 0;
                }
                if (count >= BufferLimit)
                {
                    _request.WriteBody(buffer, offset, count);
                }
                else
                {
                    EnsureBuffer(count);
                    Buffer.BlockCopy(buffer, offset, _buffer, 0, count);
                    _buffered = count;
                }
            }
            catch (Exception e)
            {
                throw ServerFailure(e);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Canceled(cancellationToken);
            }
            try
            {
                if (!Accept(buffer, offset, count))
                {
                    return Task.CompletedTask;
                }
                StartIfNeeded();
            }
            catch (Exception e)
            {
                return Failed(e is HaywireException ? ServerFailure(e) : e);
            }
            return WriteSlowAsync(buffer, offset, count, cancellationToken);
        }

        private async Task WriteSlowAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            try
            {
                if (_buffered > 0)
                {
                    await _request.WriteBodyAsync(_buffer, 0, _buffered, cancellationToken).ConfigureAwait(false);
                    _buffered = 0;
                }
                if (count >= BufferLimit)
                {
                    await _request.WriteBodyAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    EnsureBuffer(count);
                    Buffer.BlockCopy(buffer, offset, _buffer, 0, count);
                    _buffered = count;
                }
            }
            catch (Exception e)
            {
                if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                throw ServerFailure(e);
            }
        }

        public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback callback, object state)
        {
            return ToApm(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);
        }

        public override void EndWrite(IAsyncResult asyncResult)
        {
            ((Task)asyncResult).GetAwaiter().GetResult();
        }

        /// <summary>Sends the head, if not yet sent, and every buffered byte: the response streams from here.</summary>
        public override void Flush()
        {
            if (_done)
            {
                return;
            }
            if (!_headFixed)
            {
                FixHead();
            }
            if (_discardBody)
            {
                return;
            }
            try
            {
                StartIfNeeded();
                if (_buffered > 0)
                {
                    _request.WriteBody(_buffer, 0, _buffered);
                    _buffered = 0;
                }
                _request.Flush();
            }
            catch (Exception e)
            {
                throw ServerFailure(e);
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            if (_done)
            {
                return Task.CompletedTask;
            }
            try
            {
                if (!_headFixed)
                {
                    FixHead();
                }
                if (_discardBody)
                {
                    return Task.CompletedTask;
                }
                StartIfNeeded();
                if (_buffered == 0)
                {
                    // A head-only flush (SSE, long polling): the head goes to the client now.
                    _request.Flush();
                    return Task.CompletedTask;
                }
            }
            catch (Exception e)
            {
                return Failed(e is HaywireException ? ServerFailure(e) : e);
            }
            return FlushSlowAsync(cancellationToken);
        }

        private async Task FlushSlowAsync(CancellationToken cancellationToken)
        {
            try
            {
                await _request.WriteBodyAsync(_buffer, 0, _buffered, cancellationToken).ConfigureAwait(false);
                _buffered = 0;
                _request.Flush();
            }
            catch (Exception e)
            {
                if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                throw ServerFailure(e);
            }
        }

        /// <summary>The application closing the stream is harmless: the server ends the response.</summary>
        protected override void Dispose(bool disposing)
        {
        }

        /// <summary>
        /// sendfile.SendAsync: the file's bytes go through this stream (flushed first,
        /// so they follow what was written before). The engine cannot yet send from the
        /// file itself; the bytes pass through the host once.
        /// </summary>
        public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
        {
            if (path == null)
            {
                throw new ArgumentNullException("path");
            }
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan))
            {
                long length = file.Length;
                if (offset < 0 || offset > length)
                {
                    throw new ArgumentOutOfRangeException("offset", offset, "outside the file of " + length + " bytes");
                }
                long remaining = count.HasValue ? count.Value : length - offset;
                if (remaining < 0 || remaining > length - offset)
                {
                    throw new ArgumentOutOfRangeException("count", count, "beyond the end of the " + length + "-byte file from offset " + offset);
                }
                file.Position = offset;
                var chunk = new byte[(int)Math.Min(64 * 1024, Math.Max(remaining, 1))];
                while (remaining > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = await file.ReadAsync(chunk, 0, (int)Math.Min(chunk.Length, remaining), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException("the file " + path + " ended " + remaining + " bytes early (it shrank)");
                    }
                    await WriteAsync(chunk, 0, n, cancellationToken).ConfigureAwait(false);
                    remaining -= n;
                }
            }
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
            if (_onSendingHeaders != null)
            {
                _runningCallbacks = true;
                try
                {
                    for (int i = _onSendingHeaders.Count - 1; i >= 0 && !_headFixed; i--)
                    {
                        _onSendingHeaders[i].Key(_onSendingHeaders[i].Value);
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
                if (string.Equals(pair.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
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

        private void StartIfNeeded()
        {
            if (!_started)
            {
                _started = true;
                _request.StartResponse(_status, _reason, _headers, _declaredLength);
            }
        }

        /// <summary>The application's Task completed: send what remains and end the response.</summary>
        public void Finish()
        {
            if (_done)
            {
                return;
            }
            if (!_headFixed)
            {
                FixHead();
            }
            _done = true;
            if (!_started)
            {
                if (_discardBody)
                {
                    _request.Respond(500, null, NoHeaders, NoBytes, 0, 0);
                }
                else if (_head)
                {
                    // No body goes out; the Content-Length is the application's, else what it wrote.
                    long length = _declaredLength >= 0 ? _declaredLength : _written;
                    if (length == 0)
                    {
                        _request.Respond(_status, _reason, _headers, NoBytes, 0, 0);
                        Recycle();
                    }
                    else
                    {
                        _request.StartResponse(_status, _reason, _headers, length);
                        _request.EndResponse();
                    }
                }
                else if (_declaredLength >= 0 && _declaredLength != _written)
                {
                    GiveUp(": the application wrote " + _written + " bytes with a Content-Length of " + _declaredLength + "; ", "");
                }
                else
                {
                    _request.Respond(_status, _reason, _headers, _buffer ?? NoBytes, 0, _buffered);
                    Recycle();
                }
                return;
            }
            if (_buffered > 0)
            {
                _request.WriteBody(_buffer, 0, _buffered);
                _buffered = 0;
            }
            if (_declaredLength >= 0 && _written < _declaredLength && !_head)
            {
                GiveUp(": the application wrote " + _written + " bytes of its Content-Length of " + _declaredLength + "; ", "");
                return;
            }
            _request.EndResponse();
        }

        /// <summary>After Respond (which copied them): keeps the buffer and header list for this thread's next response.</summary>
        private void Recycle()
        {
            if (_buffer != null && _buffer.Length <= BufferLimit)
            {
                _spareBuffer = _buffer;
            }
            _buffer = null;
            _buffered = 0;
            if (_headers != null && !ReferenceEquals(_headers, NoHeaders) && _headers.Count <= 64)
            {
                _headers.Clear();
                _spareHeaders = _headers;
            }
            _headers = null;
        }

        /// <summary>
        /// The application failed (§6.1): the response is given up (see GiveUp), traced as
        /// "METHOD /path failed (what happened): exception" unless trace is false.
        /// </summary>
        public void FailWith(Exception e, bool trace)
        {
            if (_done)
            {
                if (trace)
                {
                    _call.Server.Trace(_call.Describe() + " failed after its response was complete or given up: " + e);
                }
                return;
            }
            _headFixed = true;
            if (trace)
            {
                GiveUp(" failed (", "): " + e);
            }
            else
            {
                GiveUp(null, null);
            }
        }

        /// <summary>
        /// Gives the response up: 500 without the application's headers when nothing of it
        /// went to the engine yet (the buffered bytes are dropped); else CANCEL HOST_ABORT,
        /// after everything flushed (ring order is byte order), and the engine cuts the client
        /// connection, so the client never takes the response for complete; owin.CallCancelled
        /// then fires (§6.2), as in Katana and Nowin. Traces before (a test or a log reader
        /// may look once the client has its answer) traceHead + what happens + traceTail,
        /// unless traceHead is null. Returns what happens.
        /// </summary>
        private string GiveUp(string traceHead, string traceTail)
        {
            _done = true;
            _buffered = 0;
            string outcome = _started
                ? "the response was aborted: its head had gone out, the client connection is cut"
                : "answered 500";
            if (traceHead != null)
            {
                _call.Server.Trace(_call.Describe() + traceHead + outcome + traceTail);
            }
            try
            {
                if (_started)
                {
                    _request.Abort();
                }
                else
                {
                    _request.Respond(500, null, NoHeaders, NoBytes, 0, 0);
                }
            }
            catch (Exception e)
            {
                // The engine may be gone already; the response is lost either way.
                _call.Server.Trace(_call.Describe() + ": the response could not be given up: " + e.Message);
            }
            if (_started)
            {
                // On the thread pool: the application's callbacks must not run on (and could block) the pump.
                ThreadPool.UnsafeQueueUserWorkItem(CancelCall, _call);
            }
            return outcome;
        }

        private static readonly WaitCallback CancelCall = state => ((OwinCall)state).Cancel();

        /// <summary>A failure of the engine or the client connection: owin.CallCancelled fires (§6.2).</summary>
        private Exception ServerFailure(Exception e)
        {
            _call.Cancel();
            if (e is IOException || e is OperationCanceledException)
            {
                return e;
            }
            return new IOException("the response could not be sent: " + e.Message, e);
        }

        private static Task Failed(Exception e)
        {
            var source = new TaskCompletionSource<bool>();
            source.SetException(e);
            return source.Task;
        }

        private static Task Canceled(CancellationToken token)
        {
            var source = new TaskCompletionSource<bool>();
            source.SetCanceled();
            return source.Task;
        }

        private static IAsyncResult ToApm(Task task, AsyncCallback callback, object state)
        {
            var source = new TaskCompletionSource<bool>(state);
            task.ContinueWith(t =>
            {
                if (t.IsFaulted)
                {
                    source.TrySetException(t.Exception.InnerExceptions);
                }
                else if (t.IsCanceled)
                {
                    source.TrySetCanceled();
                }
                else
                {
                    source.TrySetResult(true);
                }
                if (callback != null)
                {
                    callback(source.Task);
                }
            }, TaskScheduler.Default);
            return source.Task;
        }
    }
}
