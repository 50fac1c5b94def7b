using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    /// <summary>
    /// One request handed out by <see cref="HostConnection.Next"/>: its view read in place (include/haywire_bridge.h
    /// section 3), its body, and its response. Answer it exactly once: Respond, or StartResponse + WriteBody +
    /// EndResponse, or Abort.
    /// </summary>
    /// <remarks>
    /// Lifetime: the view (ViewPointer and every accessor that reads it) is valid until the response is ended or
    /// the request aborted; strings already read stay valid. Threads: the response calls and ReadBody may come
    /// from any thread, one reader and one writer at a time; Cancelled and CancellationToken from any thread.
    /// Files (Go: bridge/host): this one, identity and the view (decoded by Bridge/RequestView, which this file
    /// guards with the lifetime check); .Body.cs the request body; .Response.cs the response; .Cancellation.cs the
    /// client-gone notice; .Async.cs the pending ReadBodyAsync / WriteBodyAsync (awaited in PendingBodyCalls).
    /// It is the OWIN layer's <see cref="IHttpExchange"/> itself: a forwarding wrapper cost an object and a call
    /// per member per request.
    /// </remarks>
    internal sealed unsafe partial class HostRequest : IHttpExchange
    {
        private const int StateOpen = 0, StateStreaming = 1, StateCompleted = 2;

        private readonly HostConnection _c;
        private readonly ulong _stream;
        internal readonly uint Conn;
        private Descriptor _chunk;      // the engine chunk the view lies in; Length 0 when the view is a copy
        private IntPtr _copy;           // the view assembled from parts (unmanaged), or zero

        // The view, its fixed header read once (Bridge/RequestView). Not readonly: calls must not copy it.
        private RequestView _v;

        private string _method, _target, _path, _query, _authority, _host;
        private IPAddress _remoteIp, _localIp;
        private byte _ipsRead; // 1: remote read, 2: local read (null is a valid answer: unknown)

        internal bool HandedOut;  // under the connection's state lock
        internal int LentChunks;  // our chunks this stream's BODY pieces hold; under the connection's send lock

        // Guards the body queue, the waiters and the cancellation source (a private object: callers of this type
        // cannot take it by accident).
        private readonly object _sync = new object();

        private int _state;
        private volatile bool _cancelled;
        private string _goneReason;  // why the request can go no further: engine gone, connection disposed

        // Tests observe waits through these rather than sleeping to guess them.
        private int _bodyWaits, _writeStalls;

        /// <summary>Times a body read found nothing to read and waited for the engine (tests).</summary>
        internal int BodyWaits { get { return Volatile.Read(ref _bodyWaits); } }

        /// <summary>Times a body write found no room (stream limit or arena) and waited for releases (tests).</summary>
        internal int WriteStalls { get { return Volatile.Read(ref _writeStalls); } }

        /// <summary>Body pieces received and not read yet (tests).</summary>
        internal int HeldPieces
        {
            get
            {
                lock (_sync)
                    return _pieces == null ? 0 : _pieces.Count;
            }
        }

        internal HostRequest(HostConnection c, ulong stream, uint conn, byte* view, int viewLen, Descriptor chunk, IntPtr copy)
        {
            _c = c;
            _stream = stream;
            Conn = conn;
            _chunk = chunk;
            _copy = copy;
            _v = new RequestView(view, viewLen);
        }

        // ------------------------------------------------------------------ the view

        /// <summary>The stream id the engine gave this request (never 0).</summary>
        public ulong RequestId { get { return _stream; } }
        /// <summary>The engine's id of the client connection; requests of one connection share it.</summary>
        public ulong ConnectionId { get { return _v.ConnId; } }
        /// <summary>HTTP/1.minor.</summary>
        public int HttpMinor { get { return _v.Minor; } }
        /// <summary>The client keeps the connection open after this request.</summary>
        public bool KeepAlive { get { return _v.Has(BridgeLayout.ViewKeepAlive); } }
        /// <summary>A HEAD request: the engine sends no response body.</summary>
        public bool IsHead { get { return _v.Has(BridgeLayout.ViewHead); } }
        /// <summary>The client sent "Expect: 100-continue": the first ReadBody asks the engine for the body.</summary>
        public bool ExpectContinue { get { return _v.Has(BridgeLayout.ViewExpectContinue); } }
        /// <summary>The body does not all fit in the view: the rest follows as it arrives.</summary>
        public bool BodyStreamed { get { return _v.Has(BridgeLayout.ViewBodyStream); } }
        /// <summary>The body came chunked (ReadBody returns it de-chunked).</summary>
        public bool Chunked { get { return _v.Has(BridgeLayout.ViewChunked); } }
        /// <summary>The Content-Length sent; -1 for a chunked body, 0 without a body.</summary>
        public long ContentLength { get { return _v.ContentLength; } }
        /// <summary>The method id of haywire.h's HW_HTTP_METHOD_MAP, 255 for another method.</summary>
        public int MethodId { get { return _v.MethodId; } }

        /// <summary>The request view in place (haywire_bridge.h section 3); valid until the response is ended.</summary>
        public byte* ViewPointer { get { return _v.Base; } }
        /// <summary>The view's length in bytes.</summary>
        public int ViewLength { get { return _v.Length; } }

        /// <summary>The method as sent (ASCII).</summary>
        public string Method
        {
            get
            {
                if (_method == null)
                {
                    CheckViewReadable();
                    _method = _v.KnownMethod() ?? _v.SpanString(BridgeLayout.SpanMethod);
                }
                return _method;
            }
        }

        /// <summary>The request target as sent.</summary>
        public string Target { get { return _target ?? (_target = SpanString(BridgeLayout.SpanTarget)); } }

        /// <summary>The path, still percent-encoded; "/" for an absolute-form target without a path.</summary>
        public string RawPath
        {
            get
            {
                if (_path == null)
                {
                    string p = SpanString(BridgeLayout.SpanPath);
                    _path = p.Length == 0 ? "/" : p;
                }
                return _path;
            }
        }

        /// <summary>The query without '?'; "" when there is none (see HasQuery).</summary>
        public string RawQuery { get { return _query ?? (_query = HasQuery ? SpanString(BridgeLayout.SpanQuery) : ""); } }

        /// <summary>Whether the target has a '?' (possibly followed by nothing).</summary>
        public bool HasQuery { get { return _v.HasQuery; } }

        /// <summary>The authority of an absolute-form target; "" otherwise.</summary>
        public string Authority { get { return _authority ?? (_authority = SpanString(BridgeLayout.SpanAuthority)); } }

        /// <summary>The Host field's value; "" without one.</summary>
        public string Host { get { return _host ?? (_host = SpanString(BridgeLayout.SpanHost)); } }

        /// <summary>Header fields, in the order received; repeated names are repeated entries.</summary>
        public int FieldCount { get { return _v.FieldCount; } }

        /// <summary>The name of header field i, as sent (Latin-1).</summary>
        public string FieldName(int i)
        {
            CheckField(i);
            return _v.FieldName(i);
        }

        /// <summary>The value of header field i, as sent (Latin-1, leading and trailing whitespace removed by the engine).</summary>
        public string FieldValue(int i)
        {
            CheckField(i);
            return _v.FieldValue(i);
        }

        private void CheckField(int i)
        {
            if ((uint)i >= (uint)_v.FieldCount)
                throw new ArgumentOutOfRangeException("i", i, "the request has " + _v.FieldCount + " header fields");
            CheckViewReadable();
        }

        /// <summary>The client's address (IPv4-mapped addresses shown as IPv4), null when unknown.</summary>
        public IPAddress RemoteIp
        {
            get
            {
                if ((_ipsRead & 1) == 0)
                {
                    CheckViewReadable();
                    _remoteIp = _v.Address(BridgeLayout.ViewRemoteIpOffset);
                    _ipsRead |= 1;
                }
                return _remoteIp;
            }
        }
        /// <summary>The client's port, 0 when unknown.</summary>
        public int RemotePort { get { return _v.RemotePort; } }
        /// <summary>The address the client connected to (IPv4-mapped shown as IPv4), null when unknown.</summary>
        public IPAddress LocalIp
        {
            get
            {
                if ((_ipsRead & 2) == 0)
                {
                    CheckViewReadable();
                    _localIp = _v.Address(BridgeLayout.ViewLocalIpOffset);
                    _ipsRead |= 2;
                }
                return _localIp;
            }
        }
        /// <summary>The port the client connected to, 0 when unknown.</summary>
        public int LocalPort { get { return _v.LocalPort; } }

        private string SpanString(int i)
        {
            CheckViewReadable();
            return _v.SpanString(i);
        }

        private void CheckViewReadable()
        {
            if (Volatile.Read(ref _state) == StateCompleted || _c.Disposed)
                throw new ObjectDisposedException("HostRequest",
                    "the request view is gone: the response was ended (read what you need before answering)");
        }

        private static void CheckBuffer(byte[] buffer, int offset, int count)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
                throw new ArgumentOutOfRangeException("offset", "offset " + offset + " and count " + count + " do not fit a " +
                                                      buffer.Length + "-byte buffer");
        }

        private static Task<T> Failed<T>(Exception e)
        {
            var tcs = new TaskCompletionSource<T>();
            tcs.SetException(e);
            return tcs.Task;
        }

        private static Task<T> Canceled<T>(CancellationToken ct)
        {
            var tcs = new TaskCompletionSource<T>();
            tcs.SetCanceled();
            return tcs.Task;
        }

        public override string ToString()
        {
            return "request " + _stream + " (connection " + _v.ConnId + ")";
        }
    }
}
