using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// An <see cref="IHttpExchange"/> in memory: a request given as values, a response recorded as
    /// calls. Lets the OWIN rules be tested with no engine, no region, no process.
    /// </summary>
    internal sealed class MemoryExchange : IHttpExchange
    {
        private readonly List<KeyValuePair<string, string>> _fields = new List<KeyValuePair<string, string>>();
        private readonly CancellationTokenSource _clientGone = new CancellationTokenSource();
        private byte[] _body = new byte[0];
        private int _bodyRead;

        public MemoryExchange(string method, string target)
        {
            Method = method;
            int q = target.IndexOf('?');
            RawPath = q < 0 ? target : target.Substring(0, q);
            RawQuery = q < 0 ? "" : target.Substring(q + 1);
            HttpMinor = 1;
            KeepAlive = true;
            ContentLength = -1;
            RemoteIp = IPAddress.Parse("10.1.2.3");
            RemotePort = 40000;
            LocalIp = IPAddress.Parse("10.1.2.4");
            LocalPort = 8080;
            RequestId = 7;
            Calls = new List<string>();
            Body = new MemoryStream();
        }

        // The request.
        public ulong RequestId { get; set; }
        public string Method { get; set; }
        public string RawPath { get; set; }
        public string RawQuery { get; set; }
        public string Authority { get; set; }
        public int HttpMinor { get; set; }
        public bool IsHead { get { return Method == "HEAD"; } }
        public bool KeepAlive { get; set; }
        public IPAddress RemoteIp { get; set; }
        public int RemotePort { get; set; }
        public IPAddress LocalIp { get; set; }
        public int LocalPort { get; set; }
        public long ContentLength { get; set; }
        public bool BodyStreamed { get; set; }
        public bool Chunked { get; set; }

        public MemoryExchange Field(string name, string value)
        {
            _fields.Add(new KeyValuePair<string, string>(name, value));
            return this;
        }

        public MemoryExchange WithBody(string text)
        {
            _body = Encoding.UTF8.GetBytes(text);
            ContentLength = _body.Length;
            return this;
        }

        public int FieldCount { get { return _fields.Count; } }

        public string FieldName(int i)
        {
            return _fields[i].Key;
        }

        public string FieldValue(int i)
        {
            return _fields[i].Value;
        }

        public int ReadBody(byte[] buffer, int offset, int count)
        {
            if (_clientGone.IsCancellationRequested)
            {
                throw new IOException("memory: the client went away");
            }
            int n = Math.Min(count, _body.Length - _bodyRead);
            Buffer.BlockCopy(_body, _bodyRead, buffer, offset, n);
            _bodyRead += n;
            return n;
        }

        public Task<int> ReadBodyAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            return Task.FromResult(ReadBody(buffer, offset, count));
        }

        public bool Cancelled { get { return _clientGone.IsCancellationRequested; } }

        public CancellationToken CancellationToken { get { return _clientGone.Token; } }

        /// <summary>The client goes away: the token fires, later writes fail.</summary>
        public void ClientLeaves()
        {
            _clientGone.Cancel();
        }

        // The response, as recorded.
        public bool Completed { get; private set; }
        public bool Started { get; private set; }
        public bool Aborted { get; private set; }
        public int Status { get; private set; }
        public string Reason { get; private set; }
        public long DeclaredLength { get; private set; }
        public List<KeyValuePair<string, string>> Headers { get; private set; }
        public MemoryStream Body { get; private set; }
        public List<string> Calls { get; private set; }
        public int Flushes { get; private set; }

        public string BodyText
        {
            get { return Encoding.UTF8.GetString(Body.ToArray()); }
        }

        public string Header(string name)
        {
            foreach (var pair in Headers)
            {
                if (string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    return pair.Value;
                }
            }
            return null;
        }

        private void TakeHead(int status, string reason, IList<KeyValuePair<string, string>> headers)
        {
            if (Started || Completed)
            {
                throw new InvalidOperationException("memory: the response was already started");
            }
            Status = status;
            Reason = reason;
            Headers = new List<KeyValuePair<string, string>>(headers); // the caller may reuse its list
        }

        public void Respond(int status, string reason, IList<KeyValuePair<string, string>> headers, byte[] body, int offset, int count)
        {
            TakeHead(status, reason, headers);
            Calls.Add("Respond " + status);
            DeclaredLength = count;
            Body.Write(body, offset, count);
            Completed = true;
        }

        public void StartResponse(int status, string reason, IList<KeyValuePair<string, string>> headers, long contentLength)
        {
            TakeHead(status, reason, headers);
            Calls.Add("StartResponse " + status + " " + contentLength);
            DeclaredLength = contentLength;
            Started = true;
        }

        public void WriteBody(byte[] buffer, int offset, int count)
        {
            if (!Started || Completed)
            {
                throw new InvalidOperationException("memory: no streamed response in progress");
            }
            if (_clientGone.IsCancellationRequested)
            {
                throw new IOException("memory: the client went away");
            }
            Calls.Add("WriteBody " + count);
            Body.Write(buffer, offset, count);
        }

        public Task WriteBodyAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            try
            {
                WriteBody(buffer, offset, count);
                return Task.FromResult(0);
            }
            catch (Exception e)
            {
                var failed = new TaskCompletionSource<int>();
                failed.SetException(e);
                return failed.Task;
            }
        }

        public void Flush()
        {
            Flushes++;
            Calls.Add("Flush");
        }

        public void EndResponse()
        {
            if (!Started || Completed)
            {
                throw new InvalidOperationException("memory: no streamed response in progress");
            }
            Calls.Add("EndResponse");
            Completed = true;
        }

        public void Abort()
        {
            if (Completed)
            {
                return;
            }
            Calls.Add("Abort");
            Aborted = true;
            Completed = true;
        }
    }
}
