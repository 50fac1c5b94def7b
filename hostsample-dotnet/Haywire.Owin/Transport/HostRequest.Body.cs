using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostRequest, the request body facet: the inline bytes, then BODY pieces as the pump delivers them.
    internal sealed unsafe partial class HostRequest
    {
        // The request body (under _sync).
        private uint _inlinePos;
        private Queue<Descriptor> _pieces;
        private uint _piecePos;
        private bool _bodyEnded;
        private int _continueSent;
        private int _waiters;

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
            return PendingBodyCalls.ReadAsync(this, buffer, offset, count, ct);
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
                    lock (_sync)
                    {
                        if (_state == StateCompleted)
                            return 0; // answered: the body is not wanted any more
                        if (_goneReason != null)
                            throw new IOException("haywire: " + _goneReason);
                        if (_inlinePos < _v.BodyLen)
                        {
                            n = (int)Math.Min((uint)count, _v.BodyLen - _inlinePos);
                            Marshal.Copy((IntPtr)(_v.Body + _inlinePos), buffer, offset, n);
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
            lock (_sync)
                return _state == StateCompleted || _goneReason != null || _bodyEnded || _cancelled ||
                       (_pieces != null && _pieces.Count > 0);
        }

        /// <summary>Pump: a BODY piece or END for this stream. False when it is not wanted (release it).</summary>
        internal bool OnBody(ref Descriptor d)
        {
            TaskCompletionSource<bool> reader;
            lock (_sync)
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
                    Monitor.PulseAll(_sync);
                reader = TakeReadWaiterLocked();
            }
            CompleteRead(reader);
            return true;
        }

        /// <summary>Waits on this request until ready() or pumpFree() or ms pass.</summary>
        internal void WaitForProgress(Func<bool> ready, Func<bool> pumpFree, int ms)
        {
            lock (_sync)
            {
                _waiters++;
                try
                {
                    Interlocked.MemoryBarrier(); // registered as a wanter before the pump is looked at
                    if (ready() || pumpFree())
                        return;
                    Monitor.Wait(_sync, ms);
                }
                finally
                {
                    _waiters--;
                }
            }
        }

        internal void PulseWaiters()
        {
            lock (_sync)
                if (_waiters > 0)
                    Monitor.PulseAll(_sync);
        }
    }
}
