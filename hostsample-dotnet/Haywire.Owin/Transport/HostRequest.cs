using System;
using System.Collections.Generic;
using System.IO;
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
    internal sealed unsafe class HostRequest
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

        private int _state;
        private volatile bool _cancelled;
        private string _goneReason;  // why the request can go no further: engine gone, connection disposed
        private CancellationTokenSource _cts;

        // The request body (under lock(this)).
        private uint _inlinePos;
        private Queue<Descriptor> _pieces;
        private uint _piecePos;
        private bool _bodyEnded;
        private int _continueSent;
        private int _waiters;

        // A streamed response.
        private long _declaredLength;
        private long _written;

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
                lock (this)
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
            _hasQuery = *(uint*)(view + BridgeLayout.ViewMethodSpanOffset + BridgeLayout.SpanQuery * BridgeLayout.SpanSize + 4) != BridgeLayout.NoQuery;
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
            FieldSpan(i, 0, out off, out len);
            return HeaderNames.Get(_view + _headOff + off, (int)len);
        }

        /// <summary>The value of header field i, as sent (Latin-1, leading and trailing whitespace removed by the engine).</summary>
        public string FieldValue(int i)
        {
            uint off, len;
            FieldSpan(i, 8, out off, out len);
            return Latin1(_view + _headOff + off, (int)len);
        }

        private void FieldSpan(int i, int which, out uint off, out uint len)
        {
            if ((uint)i >= (uint)_fieldCount)
                throw new ArgumentOutOfRangeException("i", i, "the request has " + _fieldCount + " header fields");
            CheckViewReadable();
            byte* e = _view + BridgeLayout.ViewHeaderLen + i * BridgeLayout.FieldEntrySize + which;
            off = *(uint*)e;
            len = *(uint*)(e + 4);
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
            for (int i = 0; i < 16; i++)
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
            var bytes = new byte[16];
            Marshal.Copy((IntPtr)ip, bytes, 0, 16);
            return new IPAddress(bytes);
        }

        private static readonly string[] MethodNames =
        {
            "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE",
            "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH",
            "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE",
        };

        /// <summary>The shared string for a listed method, when the span holds exactly it (no allocation).</summary>
        private string KnownMethod()
        {
            if (_methodId >= MethodNames.Length)
                return null;
            string name = MethodNames[_methodId];
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
            len = *(uint*)(s + 4);
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

        // ------------------------------------------------------------------ cancellation

        /// <summary>
        /// True once the engine said the client went away (it closed the connection, or only its sending side),
        /// or the engine died. The request must still be answered.
        /// </summary>
        public bool Cancelled { get { return _cancelled; } }

        /// <summary>Cancelled when Cancelled turns true. Callbacks run on the thread pool, never on the pump.</summary>
        public CancellationToken CancellationToken
        {
            get
            {
                lock (this)
                {
                    if (_cancelled)
                        return new CancellationToken(true);
                    if (_cts == null)
                        _cts = new CancellationTokenSource();
                    return _cts.Token;
                }
            }
        }

        /// <summary>The client went away (reason null) or the request can go no further (reason says why).</summary>
        internal void MarkCancelled(string reason)
        {
            CancellationTokenSource cts = null;
            lock (this)
            {
                if (reason != null && _goneReason == null)
                    _goneReason = reason;
                if (!_cancelled)
                {
                    _cancelled = true;
                    cts = _cts;
                }
                if (_waiters > 0)
                    Monitor.PulseAll(this);
            }
            if (cts != null)
                ThreadPool.QueueUserWorkItem(CancelSource, cts);
        }

        private static void CancelSource(object cts)
        {
            try
            {
                ((CancellationTokenSource)cts).Cancel();
            }
            catch (AggregateException)
            {
                // A callback of the application threw: theirs to log; the pool must not die of it.
            }
        }

        // ------------------------------------------------------------------ the request body

        /// <summary>
        /// Reads the request body: the view's inline bytes, then the pieces that follow, until the end (returns 0).
        /// The first call sends CONTINUE when the client expects 100-continue. Each piece's chunk goes back to the
        /// engine as soon as it is read (flow control).
        /// </summary>
        /// <exception cref="IOException">The client went away, or the engine died, before the body was complete.</exception>
        public int ReadBody(byte[] buffer, int offset, int count)
        {
            return ReadBodyCore(buffer, offset, count, CancellationToken.None, true);
        }

        /// <summary>ReadBody without blocking the caller's thread while it waits for the engine.</summary>
        public Task<int> ReadBodyAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        {
            if (ct.IsCancellationRequested)
                return Canceled<int>(ct);
            try
            {
                int n = ReadBodyCore(buffer, offset, count, ct, false);
                if (n >= 0)
                    return Task.FromResult(n);
            }
            catch (Exception e)
            {
                return Failed<int>(e);
            }
            return Task.Run(() =>
            {
                using (ct.Register(PulseWaiters))
                    return ReadBodyCore(buffer, offset, count, ct, true);
            }, ct);
        }

        /// <summary>The body read; with mayBlock false, -1 when it would have to wait.</summary>
        private int ReadBodyCore(byte[] buffer, int offset, int count, CancellationToken ct, bool mayBlock)
        {
            CheckBuffer(buffer, offset, count);
            if (count == 0)
                return 0;
            if (!_c.TryEnter())
                throw new ObjectDisposedException("HostConnection", "the host connection was disposed");
            try
            {
                if (ExpectContinue && BodyStreamed && Interlocked.Exchange(ref _continueSent, 1) == 0 &&
                    Volatile.Read(ref _state) != StateCompleted && !_c.Gone)
                    _c.SendControl(ShmLayout.KindContinue, 0, _stream, Conn);
                Func<bool> progress = null;
                while (true)
                {
                    Descriptor done = default(Descriptor);
                    bool release = false;
                    int n = 0;
                    lock (this)
                    {
                        if (_state == StateCompleted)
                            return 0; // answered: the body is not wanted any more
                        if (_goneReason != null)
                            throw new IOException("haywire: " + _goneReason);
                        if (_inlinePos < _bodyLen)
                        {
                            n = (int)Math.Min((uint)count, _bodyLen - _inlinePos);
                            Marshal.Copy((IntPtr)(_view + _bodyOff + _inlinePos), buffer, offset, n);
                            _inlinePos += (uint)n;
                            return n;
                        }
                        if (!BodyStreamed)
                            return 0;
                        if (_pieces != null && _pieces.Count > 0)
                        {
                            Descriptor p = _pieces.Peek();
                            n = (int)Math.Min((uint)count, p.Length - _piecePos);
                            Marshal.Copy((IntPtr)(_c.Arena0 + p.Offset + _piecePos), buffer, offset, n);
                            _piecePos += (uint)n;
                            if (_piecePos == p.Length)
                            {
                                _pieces.Dequeue();
                                _piecePos = 0;
                                done = p;
                                release = true;
                            }
                        }
                        else if (_bodyEnded)
                        {
                            return 0;
                        }
                        else if (_cancelled)
                        {
                            throw new IOException("haywire: the client went away before the request body was complete");
                        }
                    }
                    if (release)
                        _c.ReleaseChunk(ref done);
                    if (n > 0)
                        return n;
                    if (!mayBlock)
                        return -1;
                    ct.ThrowIfCancellationRequested();
                    if (progress == null)
                        progress = () => HasBodyProgress() || ct.IsCancellationRequested;
                    WaitForBody(progress);
                }
            }
            finally
            {
                _c.Exit();
            }
        }

        private void WaitForBody(Func<bool> progress)
        {
            Interlocked.Increment(ref _bodyWaits);
            if (_c.TryAcquirePump())
            {
                try
                {
                    if (_c.Pump() == 0 && !progress())
                        _c.IdleWait(long.MaxValue, progress);
                }
                finally
                {
                    _c.ReleasePump();
                }
            }
            else
            {
                _c.WaitForPumpAsReader(this, progress, long.MaxValue);
            }
        }

        private bool HasBodyProgress()
        {
            lock (this)
                return _state == StateCompleted || _goneReason != null || _bodyEnded || _cancelled ||
                       (_pieces != null && _pieces.Count > 0);
        }

        /// <summary>Pump: a BODY piece or END for this stream. False when it is not wanted (release it).</summary>
        internal bool OnBody(ref Descriptor d)
        {
            lock (this)
            {
                if (_state == StateCompleted || _bodyEnded || !BodyStreamed)
                    return false;
                if (d.Kind == ShmLayout.KindEnd)
                {
                    _bodyEnded = true;
                }
                else
                {
                    if (_pieces == null)
                        _pieces = new Queue<Descriptor>();
                    _pieces.Enqueue(d);
                    if ((d.Flags & ShmLayout.DfEnd) != 0)
                        _bodyEnded = true;
                }
                if (_waiters > 0)
                    Monitor.PulseAll(this);
                return true;
            }
        }

        /// <summary>Waits on this request until ready() or pumpFree() or ms pass.</summary>
        internal void WaitForProgress(Func<bool> ready, Func<bool> pumpFree, int ms)
        {
            lock (this)
            {
                _waiters++;
                try
                {
                    Interlocked.MemoryBarrier(); // registered as a wanter before the pump is looked at
                    if (ready() || pumpFree())
                        return;
                    Monitor.Wait(this, ms);
                }
                finally
                {
                    _waiters--;
                }
            }
        }

        internal void PulseWaiters()
        {
            lock (this)
                if (_waiters > 0)
                    Monitor.PulseAll(this);
        }

        // ------------------------------------------------------------------ the response

        /// <summary>True once Respond, StartResponse or Abort was called.</summary>
        public bool ResponseStarted { get { return Volatile.Read(ref _state) != StateOpen; } }

        /// <summary>True once the response was ended (Respond, EndResponse, Abort).</summary>
        public bool Completed { get { return Volatile.Read(ref _state) == StateCompleted; } }

        /// <summary>
        /// Answers with a whole response: status (100..999), reason (null or "" for the standard phrase), headers
        /// (invalid names or values are dropped; the engine writes Content-Length itself, and Date and Server unless headers has them), and
        /// body[offset, offset+count). Ends the request: its view goes back to the engine.
        /// </summary>
        /// <exception cref="InvalidOperationException">The request was already answered or its response started.</exception>
        /// <exception cref="IOException">The engine is gone: the response cannot be delivered (the request is ended all the same).</exception>
        public void Respond(int status, string reason, IList<KeyValuePair<string, string>> headers, byte[] body, int offset, int count)
        {
            if (body == null)
            {
                if (count != 0 || offset != 0)
                    throw new ArgumentNullException("body");
                body = Empty;
            }
            CheckBuffer(body, offset, count);
            if (status < BridgeLayout.ResponseMinStatus || status > BridgeLayout.ResponseMaxStatus)
                throw new ArgumentOutOfRangeException("status", status, "HTTP status must be in 100..999");
            int was = Interlocked.CompareExchange(ref _state, StateCompleted, StateOpen);
            if (was != StateOpen)
                throw new InvalidOperationException(was == StateStreaming
                    ? "the response was started with StartResponse: end it with EndResponse"
                    : "the request was already answered");
            _c.Enter();
            try
            {
                _c.SendResponse(this, _stream, Conn, status, reason, headers, body, offset, count, 0, count);
            }
            finally
            {
                Finish();
                _c.Exit();
            }
        }

        private static readonly byte[] Empty = new byte[0];

        /// <summary>
        /// Starts a streamed response: the head goes now, the body follows with WriteBody, then EndResponse.
        /// contentLength: the exact total, or -1 to let the engine send it chunked (HTTP/1.1) or close after it
        /// (HTTP/1.0).
        /// </summary>
        public void StartResponse(int status, string reason, IList<KeyValuePair<string, string>> headers, long contentLength)
        {
            if (contentLength < -1)
                throw new ArgumentOutOfRangeException("contentLength", contentLength, "-1 (unknown) or the body's length");
            if (status < BridgeLayout.ResponseMinStatus || status > BridgeLayout.ResponseMaxStatus)
                throw new ArgumentOutOfRangeException("status", status, "HTTP status must be in 100..999");
            int was = Interlocked.CompareExchange(ref _state, StateStreaming, StateOpen);
            if (was != StateOpen)
                throw new InvalidOperationException(was == StateStreaming ? "the response was already started" : "the request was already answered");
            _declaredLength = contentLength;
            _c.Enter();
            try
            {
                _c.SendResponse(this, _stream, Conn, status, reason, headers, Empty, 0, 0, BridgeLayout.ResponseStream, contentLength);
            }
            catch
            {
                if (Interlocked.Exchange(ref _state, StateCompleted) != StateCompleted)
                    Finish();
                throw;
            }
            finally
            {
                _c.Exit();
            }
        }

        /// <summary>
        /// Sends body bytes of a streamed response. Blocks while this stream holds
        /// <see cref="HostConnection.StreamChunkLimit"/> chunks the engine has not written out yet, or the arena is
        /// full (backpressure from a slow client).
        /// </summary>
        /// <exception cref="IOException">The client went away, or the engine is gone.</exception>
        /// <exception cref="InvalidOperationException">No streamed response in progress, or more bytes than its Content-Length.</exception>
        public void WriteBody(byte[] buffer, int offset, int count)
        {
            WriteBodyCore(buffer, offset, count, CancellationToken.None, true);
        }

        /// <summary>WriteBody without blocking the caller's thread while the stream waits for room.</summary>
        public Task WriteBodyAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        {
            if (ct.IsCancellationRequested)
                return Canceled<int>(ct);
            int sent;
            try
            {
                sent = WriteBodyCore(buffer, offset, count, ct, false);
            }
            catch (Exception e)
            {
                return Failed<int>(e);
            }
            if (sent == count)
                return Task.FromResult(0);
            return Task.Run(() => WriteBodyCore(buffer, offset + sent, count - sent, ct, true), ct);
        }

        /// <summary>Sends what it can; with mayBlock false it returns early (the bytes sent) instead of waiting.</summary>
        private int WriteBodyCore(byte[] buffer, int offset, int count, CancellationToken ct, bool mayBlock)
        {
            CheckBuffer(buffer, offset, count);
            if (Volatile.Read(ref _state) != StateStreaming)
                throw new InvalidOperationException(_state == StateOpen ? "call StartResponse before WriteBody" : "the response was already ended");
            if (_declaredLength >= 0 && _written + count > _declaredLength)
                throw new InvalidOperationException("the body would be longer than its Content-Length " + _declaredLength +
                                                    " (" + _written + " bytes written, " + count + " more)");
            _c.Enter();
            try
            {
                int sent = 0;
                while (sent < count)
                {
                    ThrowIfCannotWrite();
                    int n = _c.SendBodyPieces(this, buffer, offset + sent, count - sent);
                    if (n > 0)
                    {
                        sent += n;
                        _written += n;
                        continue;
                    }
                    if (!mayBlock)
                        break;
                    ct.ThrowIfCancellationRequested();
                    Interlocked.Increment(ref _writeStalls);
                    _c.AwaitReleases(long.MaxValue);
                }
                return sent;
            }
            finally
            {
                _c.Exit();
            }
        }

        /// <summary>
        /// Wakes the engine now for what was sent so far (a flush: "send what was written now"). The pump thread
        /// otherwise defers its doorbell to the end of its batch, or up to a heartbeat while an application holds
        /// it; other threads ring at once anyway.
        /// </summary>
        public void Flush()
        {
            if (!_c.TryEnter())
                return;
            try
            {
                _c.FlushWakes();
            }
            finally
            {
                _c.Exit();
            }
        }

        private void ThrowIfCannotWrite()
        {
            string gone = _goneReason;
            if (gone != null)
                throw new IOException("haywire: " + gone);
            if (_cancelled)
                throw new IOException("haywire: the client went away");
            if (Volatile.Read(ref _state) != StateStreaming)
                throw new InvalidOperationException("the response was already ended");
        }

        /// <summary>Ends a streamed response (END). The request is done: its view goes back to the engine.</summary>
        public void EndResponse()
        {
            int was = Interlocked.CompareExchange(ref _state, StateCompleted, StateStreaming);
            if (was != StateStreaming)
                throw new InvalidOperationException(was == StateOpen ? "no streamed response was started" : "the response was already ended");
            _c.Enter();
            try
            {
                if (_goneReason == null && !_c.Gone)
                    _c.SendControl(ShmLayout.KindEnd, 0, _stream, Conn);
                else
                    throw new IOException("haywire: " + (_goneReason ?? _c.EngineGoneReason));
            }
            finally
            {
                Finish();
                _c.Exit();
            }
        }

        /// <summary>
        /// Gives up on the request (CANCEL HOST_ABORT): the engine answers 500 if nothing was written yet, or aborts
        /// the client connection. Does nothing once the request is answered.
        /// </summary>
        public void Abort()
        {
            int was;
            do
            {
                was = Volatile.Read(ref _state);
                if (was == StateCompleted)
                    return;
            } while (Interlocked.CompareExchange(ref _state, StateCompleted, was) != was);
            if (!_c.TryEnter())
                return;
            try
            {
                if (_goneReason == null && !_c.Gone)
                    _c.SendControl(ShmLayout.KindCancel, BridgeLayout.CancelHostAbort, _stream, Conn);
            }
            catch (IOException)
            {
                // The engine went away meanwhile: nothing to abort.
            }
            finally
            {
                Finish();
                _c.Exit();
            }
        }

        /// <summary>After the response: gives the view and unread body pieces back, forgets the request.</summary>
        private void Finish()
        {
            Descriptor[] pieces = null;
            lock (this)
            {
                if (_pieces != null && _pieces.Count > 0)
                {
                    pieces = _pieces.ToArray();
                    _pieces.Clear();
                }
                _bodyEnded = true;
                if (_waiters > 0)
                    Monitor.PulseAll(this);
            }
            bool gone = _c.Gone;
            if (pieces != null && !gone)
                for (int i = 0; i < pieces.Length; i++)
                    _c.ReleaseChunk(ref pieces[i]);
            if (_chunk.Length != 0)
            {
                if (!gone)
                    _c.ReleaseChunk(ref _chunk);
                _chunk = default(Descriptor);
            }
            if (_copy != IntPtr.Zero)
            {
                Marshal.FreeHGlobal(_copy);
                _copy = IntPtr.Zero;
            }
            _c.Retire(this);
        }

        private static void CheckBuffer(byte[] buffer, int offset, int count)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
                throw new ArgumentOutOfRangeException("offset", "offset " + offset + " and count " + count + " do not fit a " + buffer.Length + "-byte buffer");
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
