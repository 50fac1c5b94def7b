using System;
using System.Collections.Generic;
using System.Net;
using System.Threading;
using System.Threading.Tasks;

using Haywire.Owin.Transport;

namespace Haywire.Owin
{
    /// <summary>The OWIN layer's view of one request of the shared-memory transport: forwards to <see cref="HostRequest"/>.</summary>
    internal sealed class HostRequestExchange : IHttpExchange
    {
        private readonly HostRequest _request;

        public HostRequestExchange(HostRequest request)
        {
            if (request == null)
            {
                throw new ArgumentNullException("request");
            }
            _request = request;
        }

        public HostRequest Request
        {
            get { return _request; }
        }

        public ulong RequestId { get { return _request.RequestId; } }

        public string Method { get { return _request.Method; } }

        public string RawPath { get { return _request.RawPath; } }

        public string RawQuery { get { return _request.RawQuery; } }

        public string Authority { get { return _request.Authority; } }

        public int HttpMinor { get { return _request.HttpMinor; } }

        public bool IsHead { get { return _request.IsHead; } }

        public bool KeepAlive { get { return _request.KeepAlive; } }

        public int FieldCount { get { return _request.FieldCount; } }

        public string FieldName(int i)
        {
            return _request.FieldName(i);
        }

        public string FieldValue(int i)
        {
            return _request.FieldValue(i);
        }

        public IPAddress RemoteIp { get { return _request.RemoteIp; } }

        public int RemotePort { get { return _request.RemotePort; } }

        public IPAddress LocalIp { get { return _request.LocalIp; } }

        public int LocalPort { get { return _request.LocalPort; } }

        public long ContentLength { get { return _request.ContentLength; } }

        public bool BodyStreamed { get { return _request.BodyStreamed; } }

        public bool Chunked { get { return _request.Chunked; } }

        public int ReadBody(byte[] buffer, int offset, int count)
        {
            return _request.ReadBody(buffer, offset, count);
        }

        public Task<int> ReadBodyAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            return _request.ReadBodyAsync(buffer, offset, count, cancellationToken);
        }

        public bool Cancelled { get { return _request.Cancelled; } }

        public CancellationToken CancellationToken { get { return _request.CancellationToken; } }

        public bool Completed { get { return _request.Completed; } }

        public void Respond(int status, string reason, IList<KeyValuePair<string, string>> headers, byte[] body, int offset, int count)
        {
            _request.Respond(status, reason, headers, body, offset, count);
        }

        public void StartResponse(int status, string reason, IList<KeyValuePair<string, string>> headers, long contentLength)
        {
            _request.StartResponse(status, reason, headers, contentLength);
        }

        public void WriteBody(byte[] buffer, int offset, int count)
        {
            _request.WriteBody(buffer, offset, count);
        }

        public Task WriteBodyAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            return _request.WriteBodyAsync(buffer, offset, count, cancellationToken);
        }

        public void Flush()
        {
            _request.Flush();
        }

        public void EndResponse()
        {
            _request.EndResponse();
        }

        public void Abort()
        {
            _request.Abort();
        }
    }
}
