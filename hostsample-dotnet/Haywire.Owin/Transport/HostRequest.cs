using System;
using System.Net;
using System.Runtime.InteropServices;
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
    /// </remarks>
    internal sealed unsafe partial class HostRequest
    {
        private const int StateOpen = 0, StateStreaming = 1, StateCompleted = 2;

        private readonly HostConnection _c;
        private readonly ulong _stream;
        internal readonly uint Conn;
        private readonly byte* _view;
        private readonly int _viewLen;
        private Descriptor _chunk;      // the engine chunk the view lies in; Length 0 when the view is a copy
        private IntPtr _copy;           // the view assembled from parts (unmanaged), or zero

        // The fixed header, read once when the view was validated (the bounds used later come from here, not
        // from the shared memory, which the engine could rewrite).
        private readonly ushort _flags;
        private readonly byte _methodId, _minor;
        private readonly int _fieldCount;
        private readonly ulong _connId;
        private readonly long _contentLength;
        private readonly uint _headOff, _headLen, _bodyOff, _bodyLen;
        private readonly ushort _remotePort, _localPort;
        private readonly bool _hasQuery;

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
            _view = view;
            _viewLen = viewLen;
            _chunk = chunk;
            _copy = copy;
            _flags = *(ushort*)(view + BridgeLayout.ViewFlagsOffset);
            _methodId = view[BridgeLayout.ViewMethodIdOffset];
            _minor = view[BridgeLayout.ViewMinorOffset];
            _fieldCount = *(ushort*)(view + BridgeLayout.ViewFieldCountOffset);
            _connId = *(ulong*)(view + BridgeLayout.ViewConnIdOffset);
            _contentLength = *(long*)(view + BridgeLayout.ViewContentLengthOffset);
            _headOff = *(uint*)(view + BridgeLayout.ViewHeadOffOffset);
            _headLen = *(uint*)(view + BridgeLayout.ViewHeadLenOffset);
            _bodyOff = *(uint*)(view + BridgeLayout.ViewBodyOffOffset);
            _bodyLen = *(uint*)(view + BridgeLayout.ViewBodyLenOffset);
            _remotePort = *(ushort*)(view + BridgeLayout.ViewRemotePortOffset);
            _localPort = *(ushort*)(view + BridgeLayout.ViewLocalPortOffset);
            byte* query = view + BridgeLayout.ViewMethodSpanOffset + BridgeLayout.SpanQuery * BridgeLayout.SpanSize;
            _hasQuery = *(uint*)(query + BridgeLayout.SpanLenOffset) != BridgeLayout.NoQuery;
            // ViewCheck accepted these, but the engine could have changed them since: the invariants that
            // keep every later read inside the view are checked again on the copies.
            if ((ulong)BridgeLayout.ViewHeaderLen + (ulong)_fieldCount * BridgeLayout.FieldEntrySize > _headOff ||
                (ulong)_headOff + _headLen > _bodyOff || (ulong)_bodyOff + _bodyLen > (ulong)viewLen)
            {
                _fieldCount = 0;
                _headOff = _headLen = _bodyOff = _bodyLen = 0;
            }
        }

        // ------------------------------------------------------------------ the view

        /// <summary>The stream id the engine gave this request (never 0).</summary>
        public ulong RequestId { get { return _stream; } }
        /// <summary>The engine's id of the client connection; requests of one connection share it.</summary>
        public ulong ConnectionId { get { return _connId; } }
        /// <summary>HTTP/1.minor.</summary>
        public int HttpMinor { get { return _minor; } }
        /// <summary>The client keeps the connection open after this request.</summary>
        public bool KeepAlive { get { return (_flags & BridgeLayout.ViewKeepAlive) != 0; } }
        /// <summary>A HEAD request: the engine sends no response body.</summary>
        public bool IsHead { get { return (_flags & BridgeLayout.ViewHead) != 0; } }
        /// <summary>The client sent "Expect: 100-continue": the first ReadBody asks the engine for the body.</summary>
        public bool ExpectContinue { get { return (_flags & BridgeLayout.ViewExpectContinue) != 0; } }
        /// <summary>The body does not all fit in the view: the rest follows as it arrives.</summary>
        public bool BodyStreamed { get { return (_flags & BridgeLayout.ViewBodyStream) != 0; } }
        /// <summary>The body came chunked (ReadBody returns it de-chunked).</summary>
        public bool Chunked { get { return (_flags & BridgeLayout.ViewChunked) != 0; } }
        /// <summary>The Content-Length sent; -1 for a chunked body, 0 without a body.</summary>
        public long ContentLength { get { return _contentLength; } }
        /// <summary>The method id of haywire.h's HW_HTTP_METHOD_MAP, 255 for another method.</summary>
        public int MethodId { get { return _methodId; } }

        /// <summary>The request view in place (haywire_bridge.h section 3); valid until the response is ended.</summary>
        public byte* ViewPointer { get { return _view; } }
        /// <summary>The view's length in bytes.</summary>
        public int ViewLength { get { return _viewLen; } }

        /// <summary>The method as sent (ASCII).</summary>
        public string Method
        {
            get
            {
                if (_method == null)
                    _method = KnownMethod() ?? SpanString(BridgeLayout.SpanMethod);
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
        public bool HasQuery { get { return _hasQuery; } }

        /// <summary>The authority of an absolute-form target; "" otherwise.</summary>
        public string Authority { get { return _authority ?? (_authority = SpanString(BridgeLayout.SpanAuthority)); } }

        /// <summary>The Host field's value; "" without one.</summary>
        public string Host { get { return _host ?? (_host = SpanString(BridgeLayout.SpanHost)); } }

        /// <summary>Header fields, in the order received; repeated names are repeated entries.</summary>
        public int FieldCount { get { return _fieldCount; } }

        /// <summary>The name of header field i, as sent (Latin-1).</summary>
        public string FieldName(int i)
        {
            uint off, len;
            FieldSpan(i, BridgeLayout.FieldNameOffset, out off, out len);
            return HeaderNames.Get(_view + _headOff + off, (int)len);
        }

        /// <summary>The value of header field i, as sent (Latin-1, leading and trailing whitespace removed by the engine).</summary>
        public string FieldValue(int i)
        {
            uint off, len;
            FieldSpan(i, BridgeLayout.FieldValueOffset, out off, out len);
            return Latin1(_view + _headOff + off, (int)len);
        }

        private void FieldSpan(int i, int which, out uint off, out uint len)
        {
            if ((uint)i >= (uint)_fieldCount)
                throw new ArgumentOutOfRangeException("i", i, "the request has " + _fieldCount + " header fields");
            CheckViewReadable();
            byte* e = _view + BridgeLayout.ViewHeaderLen + i * BridgeLayout.FieldEntrySize + which;
            off = *(uint*)e;
            len = *(uint*)(e + BridgeLayout.SpanLenOffset);
            if ((ulong)off + len > _headLen)
            {
                off = 0;
                len = 0; // rewritten by the engine after validation: read nothing rather than outside the head
            }
        }

        /// <summary>The client's address (IPv4-mapped addresses shown as IPv4), null when unknown.</summary>
        public IPAddress RemoteIp
        {
            get
            {
                if ((_ipsRead & 1) == 0)
                {
                    _remoteIp = Address(BridgeLayout.ViewRemoteIpOffset);
                    _ipsRead |= 1;
                }
                return _remoteIp;
            }
        }
        /// <summary>The client's port, 0 when unknown.</summary>
        public int RemotePort { get { return _remotePort; } }
        /// <summary>The address the client connected to (IPv4-mapped shown as IPv4), null when unknown.</summary>
        public IPAddress LocalIp
        {
            get
            {
                if ((_ipsRead & 2) == 0)
                {
                    _localIp = Address(BridgeLayout.ViewLocalIpOffset);
                    _ipsRead |= 2;
                }
                return _localIp;
            }
        }
        /// <summary>The port the client connected to, 0 when unknown.</summary>
        public int LocalPort { get { return _localPort; } }

        private IPAddress Address(int at)
        {
            CheckViewReadable();
            byte* ip = _view + at;
            bool zero = true, mapped = true;
            for (int i = 0; i < BridgeLayout.IpSize; i++)
            {
                if (ip[i] != 0)
                    zero = false;
                if (i < 10 && ip[i] != 0 || (i == 10 || i == 11) && ip[i] != 0xFF)
                    mapped = false;
            }
            if (zero)
                return null;
            if (mapped)
                return new IPAddress(new[] { ip[12], ip[13], ip[14], ip[15] });
            var bytes = new byte[BridgeLayout.IpSize];
            Marshal.Copy((IntPtr)ip, bytes, 0, BridgeLayout.IpSize);
            return new IPAddress(bytes);
        }

        /// <summary>The shared string for a listed method, when the span holds exactly it (no allocation).</summary>
        private string KnownMethod()
        {
            if (_methodId >= BridgeLayout.MethodNames.Length)
                return null;
            string name = BridgeLayout.MethodNames[_methodId];
            uint off, len;
            Span(BridgeLayout.SpanMethod, out off, out len);
            if (len != name.Length)
                return null;
            byte* p = _view + _headOff + off;
            for (int i = 0; i < name.Length; i++)
                if (p[i] != name[i])
                    return null;
            return name;
        }

        private void Span(int i, out uint off, out uint len)
        {
            CheckViewReadable();
            byte* s = _view + BridgeLayout.ViewMethodSpanOffset + i * BridgeLayout.SpanSize;
            off = *(uint*)s;
            len = *(uint*)(s + BridgeLayout.SpanLenOffset);
            if ((ulong)off + len > _headLen)
            {
                off = 0;
                len = 0;
            }
        }

        private string SpanString(int i)
        {
            uint off, len;
            Span(i, out off, out len);
            return Latin1(_view + _headOff + off, (int)len);
        }

        private void CheckViewReadable()
        {
            if (Volatile.Read(ref _state) == StateCompleted || _c.Disposed)
                throw new ObjectDisposedException("HostRequest",
                    "the request view is gone: the response was ended (read what you need before answering)");
        }

        /// <summary>Latin-1 bytes to a string: each byte is the code point (header bytes, RFC 9110 5.5).</summary>
        internal static string Latin1(byte* p, int len)
        {
            if (len <= 0)
                return "";
            if (len <= 512)
            {
                char* c = stackalloc char[len];
                for (int i = 0; i < len; i++)
                    c[i] = (char)p[i];
                return new string(c, 0, len);
            }
            var chars = new char[len];
            for (int i = 0; i < len; i++)
                chars[i] = (char)p[i];
            return new string(chars);
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
            return "request " + _stream + " (connection " + _connId + ")";
        }
    }
}
