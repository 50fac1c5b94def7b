using System;
using System.Collections.Generic;
using System.Net;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin
{
    /// <summary>
    /// What the OWIN layer asks of the transport for one request and its response
    /// (Nowin's IHttpLayerCallback): the request view, the body, the response, and
    /// cancellation. <see cref="OwinCall"/>, <see cref="OwinEnvironment"/>,
    /// <see cref="RequestBodyStream"/> and <see cref="ResponseBodyStream"/> use only
    /// this; Transport.HostRequest implements it over the shared-memory transport, and
    /// the tests implement it in memory to check the OWIN rules without an engine.
    /// Request values may be read until <see cref="Completed"/> turns true; the
    /// response is either one <see cref="Respond"/>, or <see cref="StartResponse"/>,
    /// <see cref="WriteBody"/>s and <see cref="EndResponse"/>; <see cref="Abort"/>
    /// gives it up at any time. A failure of the transport (engine or client gone)
    /// throws IOException or HaywireException.
    /// </summary>
    internal interface IHttpExchange
    {
        /// <summary>Unique per request; "owin.RequestId" and traces.</summary>
        ulong RequestId { get; }

        string Method { get; }

        /// <summary>The request target's path, still percent-encoded.</summary>
        string RawPath { get; }

        /// <summary>The query without '?', still percent-encoded; "" when none.</summary>
        string RawQuery { get; }

        /// <summary>The authority of an absolute-form target, else "" or null.</summary>
        string Authority { get; }

        /// <summary>0 for HTTP/1.0, 1 for HTTP/1.1.</summary>
        int HttpMinor { get; }

        bool IsHead { get; }

        bool KeepAlive { get; }

        int FieldCount { get; }

        string FieldName(int i);

        string FieldValue(int i);

        /// <summary>Null or IPAddress.Any when not known.</summary>
        IPAddress RemoteIp { get; }

        int RemotePort { get; }

        IPAddress LocalIp { get; }

        int LocalPort { get; }

        /// <summary>The client's Content-Length, or -1.</summary>
        long ContentLength { get; }

        /// <summary>True when the body comes in pieces after the view (ReadBody may wait for them).</summary>
        bool BodyStreamed { get; }

        bool Chunked { get; }

        /// <summary>Reads body bytes; 0 at the end.</summary>
        int ReadBody(byte[] buffer, int offset, int count);

        Task<int> ReadBodyAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken);

        /// <summary>True once the client went away.</summary>
        bool Cancelled { get; }

        /// <summary>Fires when the client goes away.</summary>
        CancellationToken CancellationToken { get; }

        /// <summary>True once the response was ended (Respond, EndResponse, Abort): the request view is gone.</summary>
        bool Completed { get; }

        /// <summary>A whole response; ends the request.</summary>
        void Respond(int status, string reason, IList<KeyValuePair<string, string>> headers, byte[] body, int offset, int count);

        /// <summary>Starts a streamed response; contentLength is the exact total or -1.</summary>
        void StartResponse(int status, string reason, IList<KeyValuePair<string, string>> headers, long contentLength);

        void WriteBody(byte[] buffer, int offset, int count);

        Task WriteBodyAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken);

        /// <summary>Sends what was written so far to the client now.</summary>
        void Flush();

        void EndResponse();

        /// <summary>Gives the response up: 500 if nothing went out yet, else the client connection is cut. Idempotent.</summary>
        void Abort();
    }
}
