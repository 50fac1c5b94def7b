using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostRequest, the response facet: Respond, or StartResponse + WriteBody + EndResponse, or Abort; then Finish.
    internal sealed unsafe partial class HostRequest
    {
        // A streamed response.
        private long _declaredLength;
        private long _written;

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
            return PendingBodyCalls.WriteAsync(this, buffer, offset + sent, count - sent, ct);
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
            TaskCompletionSource<bool> reader, writer;
            lock (_sync)
            {
                if (_pieces != null && _pieces.Count > 0)
                {
                    pieces = _pieces.ToArray();
                    _pieces.Clear();
                }
                _bodyEnded = true;
                if (_waiters > 0)
                    Monitor.PulseAll(_sync);
                reader = TakeReadWaiterLocked();
                writer = TakeWriteWaiterLocked();
            }
            CompleteRead(reader);
            CompleteWrite(writer);
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
    }
}
