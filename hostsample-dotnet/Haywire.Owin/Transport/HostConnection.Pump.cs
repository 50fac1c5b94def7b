using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostConnection, the receiving facet: Next, the pump over ring 0, releases of the engine's chunks on ring 2.
    internal sealed unsafe partial class HostConnection
    {
        // ------------------------------------------------------------------ Next and the pump

        /// <summary>
        /// The next request, or null when timeoutMs passes without one (timeoutMs &lt; 0: wait without limit). The
        /// caller must answer it (Respond, EndResponse or Abort), from any thread, even when its client went away.
        /// While Next runs it also takes in request bodies and cancellations for requests already handed out.
        /// </summary>
        /// <exception cref="DrainedException">The engine said DRAIN (a newer host took over, or it answered
        /// <see cref="Leave"/>) and every request it sent was handed out.</exception>
        /// <exception cref="HaywireException">The engine closed the region or died, or declared this host dead.</exception>
        public HostRequest Next(int timeoutMs)
        {
            long deadline = long.MinValue; // computed when first needed: a request ready at once costs no clock read
            Enter();
            try
            {
                while (true)
                {
                    HostRequest r = TryDequeue();
                    if (r != null)
                    {
                        if (DeferWakesOnNextThread)
                            Volatile.Write(ref _deferThread, Thread.CurrentThread.ManagedThreadId);
                        return r;
                    }
                    FlushWakes();
                    Interlocked.Increment(ref _nextIdleRounds); // the idle path: no cost to a ready request
                    if (deadline == long.MinValue)
                        deadline = timeoutMs < 0 ? long.MaxValue : Stopwatch.GetTimestamp() + timeoutMs * Stopwatch.Frequency / 1000;
                    ThrowIfGone();
                    if (_draining && ReadyCount() == 0)
                        throw new DrainedException(_leaveAsked
                            ? "left: the engine sends no more requests to this lane (" + RegionName + ")"
                            : "drained: the engine handed this lane's work to a newer host (" + RegionName + ")");
                    if (TryAcquirePump())
                    {
                        int n;
                        try
                        {
                            n = Pump();
                            if (n == 0 && ReadyCount() == 0 && !_draining)
                                IdleWait(deadline, null);
                        }
                        finally
                        {
                            ReleasePump();
                        }
                    }
                    else
                    {
                        WaitForPumpAsNext(deadline);
                    }
                    if (ReadyCount() == 0 && Stopwatch.GetTimestamp() >= deadline)
                    {
                        ThrowIfGone();
                        return null;
                    }
                }
            }
            finally
            {
                Exit();
            }
        }

        private long _nextIdleRounds;

        /// <summary>Times Next found no request ready and went to pump or wait (tests: "a thread waits in Next").</summary>
        internal long NextIdleRounds
        {
            get { return Interlocked.Read(ref _nextIdleRounds); }
        }

        /// <summary>Descriptors the engine published on ring 0 that no pump took yet (tests: "the engine sent it").</summary>
        internal long Unread
        {
            get
            {
                if (!TryEnter())
                    return 0;
                try
                {
                    return (long)_in.Unread();
                }
                finally
                {
                    Exit();
                }
            }
        }

        private HostRequest TryDequeue()
        {
            lock (_stateLock)
            {
                if (_readyCount == 0)
                    return null;
                HostRequest r = _ready[_readyHead];
                _ready[_readyHead] = null;
                _readyHead = (_readyHead + 1) & (_ready.Length - 1);
                _readyCount--;
                r.HandedOut = true;
                _inFlight++;
                return r;
            }
        }

        internal int ReadyCount()
        {
            lock (_stateLock)
                return _readyCount;
        }

        private void ThrowIfGone()
        {
            if (_disposed)
                throw new ObjectDisposedException("HostConnection");
            string gone = Volatile.Read(ref _goneReason);
            if (gone != null)
                throw new HaywireException(gone);
        }

        internal bool TryAcquirePump()
        {
            return Volatile.Read(ref _pumpHeld) == 0 && Interlocked.CompareExchange(ref _pumpHeld, 1, 0) == 0;
        }

        internal void ReleasePump()
        {
            Interlocked.Exchange(ref _pumpHeld, 0); // a full fence: ordered before the loads of the waiter counts
            if (Volatile.Read(ref _nextWaiting) > 0)
                lock (_stateLock)
                    Monitor.PulseAll(_stateLock);
            if (Volatile.Read(ref _pumpWanters) > 0)
            {
                HostRequest[] wanters;
                lock (_stateLock)
                    wanters = _pumpWantersList.ToArray();
                foreach (HostRequest w in wanters)
                    w.PulseWaiters();
            }
            OnPumpReleasedForAsync();
        }

        private void WaitForPumpAsNext(long deadline)
        {
            lock (_stateLock)
            {
                _nextWaiting++;
                try
                {
                    // Registered first, then the pump re-checked: ReleasePump frees it first, then looks for waiters.
                    Interlocked.MemoryBarrier();
                    if (_readyCount > 0 || Volatile.Read(ref _pumpHeld) == 0 || _draining || Volatile.Read(ref _goneReason) != null)
                        return;
                    YieldBodyPumpToNext();
                    Monitor.Wait(_stateLock, SliceMs(deadline));
                }
                finally
                {
                    _nextWaiting--;
                }
            }
        }

        /// <summary>A body reader without the pump waits here for its piece, or for the pump to come free.</summary>
        internal void WaitForPumpAsReader(HostRequest r, Func<bool> ready, long deadline)
        {
            lock (_stateLock)
                _pumpWantersList.Add(r);
            Interlocked.Increment(ref _pumpWanters);
            try
            {
                r.WaitForProgress(ready, () => Volatile.Read(ref _pumpHeld) == 0 || Volatile.Read(ref _goneReason) != null || _disposed,
                                  SliceMs(deadline));
            }
            finally
            {
                Interlocked.Decrement(ref _pumpWanters);
                lock (_stateLock)
                    _pumpWantersList.Remove(r);
            }
        }

        /// <summary>Milliseconds to wait at most before re-checking: until deadline, and no longer than a heartbeat.</summary>
        private int SliceMs(long deadline)
        {
            long left = deadline == long.MaxValue ? long.MaxValue : (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
            return (int)Math.Max(1, Math.Min(left, _beatMs));
        }

        /// <summary>
        /// The pump holder's idle wait: spin briefly, then sleep on ring 0's data bell until data comes, the
        /// deadline passes, a heartbeat passes, or extra (if not null) turns true.
        /// </summary>
        internal void IdleWait(long deadline, Func<bool> extra)
        {
            if (_spinTicks > 0)
            {
                long spinEnd = Stopwatch.GetTimestamp() + _spinTicks;
                for (int i = 1; ; i++)
                {
                    if (_in.HasData())
                        return;
                    Thread.SpinWait(8);
                    if ((i & 15) == 0 && Stopwatch.GetTimestamp() >= spinEnd)
                        break;
                }
            }
            // Sleep in slices of at most a heartbeat: a dead engine never rings (haywire_shm.h section 8).
            long sliceNs = (long)_beatMs * 1000000L;
            if (deadline != long.MaxValue)
            {
                long left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0)
                    return;
                sliceNs = Math.Min(sliceNs, (long)(left * (1e9 / Stopwatch.Frequency)) + 1);
            }
            CheckEngineQuick();
            Bell bell = _in.DataBell;
            uint s = bell.Arm();
            if (_in.HasData() || _disposed || Volatile.Read(ref _goneReason) != null || (extra != null && extra()))
            {
                bell.Disarm();
                return;
            }
            Count(ShmLayout.CounterSleeps);
            if (bell.Sleep(s, sliceNs))
                Count(ShmLayout.CounterSleepTimeouts);
            CheckEngineQuick();
        }

        /// <summary>Consumes up to a batch of ring 0; returns how many descriptors it took. Pump holder only.</summary>
        internal int Pump()
        {
            int n = _in.Available(PumpBatch);
            if (n < 0)
            {
                Count(ShmLayout.CounterInvalid);
                MarkGone("the engine broke the protocol: ring 0's tail index is corrupt");
                return 0;
            }
            if (n == 0)
                return 0;
            for (int i = 0; i < n; i++)
            {
                Descriptor d = Descriptor.Read(_in.Slot(i));
                try
                {
                    Handle(ref d);
                }
                catch (Exception e) when (!(e is ThreadAbortException))
                {
                    // One descriptor must never take the pump down: count it and carry on.
                    Count(ShmLayout.CounterInvalid);
                    Trace.WriteLine("haywire: descriptor of stream " + d.Stream + " failed: " + e);
                }
            }
            if (_in.Consume(n))
                Count(ShmLayout.CounterWakeups);
            return n;
        }

        private void Handle(ref Descriptor d)
        {
            int rc = d.Check(ShmLayout.RoleData, _arena0Size, _chunk0, _minEpoch, 0);
            if (rc == Descriptor.Ok && d.Epoch != _engineEpoch)
            {
                // The sender may have been replaced: reload its epoch word.
                uint cur = Volatile.Read(ref *_engineEpochWord);
                if (d.Epoch == cur)
                    _engineEpoch = cur;
                else
                    rc = Descriptor.EStale;
            }
            if (rc == Descriptor.EStale)
            {
                Count(ShmLayout.CounterStale);
                return;
            }
            if (rc != Descriptor.Ok)
            {
                Count(ShmLayout.CounterInvalid);
                return;
            }
            switch (d.Kind)
            {
                case ShmLayout.KindRequest:
                    OnRequestPart(ref d);
                    return;
                case ShmLayout.KindBody:
                case ShmLayout.KindEnd:
                {
                    HostRequest r = Find(d.Stream);
                    if (r == null || !r.OnBody(ref d))
                        ReleaseChunk(ref d); // a stream answered or unknown: give its pieces back at once
                    return;
                }
                case ShmLayout.KindCancel:
                    if (d.Stream == 0 && d.Aux == BridgeLayout.CancelDrain)
                    {
                        // Every request the engine sent before the notice precedes it in the ring.
                        _draining = true;
                        lock (_stateLock)
                            Monitor.PulseAll(_stateLock);
                    }
                    else if (d.Aux == BridgeLayout.CancelClientGone)
                    {
                        HostRequest r = Find(d.Stream);
                        if (r != null)
                            r.MarkCancelled(null);
                    }
                    return;
                default:
                    ReleaseChunk(ref d); // kinds a host does not act upon
                    return;
            }
        }

        private HostRequest Find(ulong stream)
        {
            HostRequest r;
            lock (_stateLock)
                return _live.TryGetValue(stream, out r) ? r : null;
        }

        /// <summary>A REQUEST part: a whole view in one chunk stays in place; parts are copied and released at once.</summary>
        private void OnRequestPart(ref Descriptor d)
        {
            byte* payload = _arena0 + d.Offset;
            if (!_inParts && (d.Flags & ShmLayout.DfEnd) != 0)
            {
                Accept(d.Stream, d.Conn, payload, d.Length, d, IntPtr.Zero);
                return;
            }
            if (_inParts && d.Stream != _partsStream)
            {
                // The engine publishes a view's parts together; another stream in between breaks that.
                Count(ShmLayout.CounterInvalid);
                ulong abandoned = _partsStream;
                uint abandonedConn = _partsConn;
                DropParts();
                Refuse(abandoned, abandonedConn, 500, "host: the parts of request view " + abandoned + " were interleaved with stream " + d.Stream);
            }
            if (!_inParts)
            {
                _inParts = true;
                _partsFailed = false;
                _partsStream = d.Stream;
                _partsConn = d.Conn;
                _partsLen = 0;
                long hint = d.Length;
                if (d.Length >= BridgeLayout.ViewHeaderLen) // body_off + body_len is the view's length
                {
                    long total = (long)*(uint*)(payload + BridgeLayout.ViewBodyOffOffset) + *(uint*)(payload + BridgeLayout.ViewBodyLenOffset);
                    if (total > hint && total <= MaxViewHint)
                        hint = total;
                }
                _parts = Marshal.AllocHGlobal((IntPtr)hint);
                _partsCap = hint;
            }
            if (!_partsFailed)
            {
                long need = _partsLen + d.Length;
                if (need > MaxAssembledView)
                {
                    _partsFailed = true;
                }
                else
                {
                    if (need > _partsCap)
                    {
                        long cap = Math.Min(Math.Max(need, 2 * _partsCap), MaxAssembledView);
                        _parts = Marshal.ReAllocHGlobal(_parts, (IntPtr)cap);
                        _partsCap = cap;
                    }
                    Buffer.MemoryCopy(payload, (byte*)_parts + _partsLen, _partsCap - _partsLen, d.Length);
                }
                _partsLen = need;
            }
            ReleaseChunk(ref d);
            if ((d.Flags & ShmLayout.DfEnd) == 0)
                return;
            ulong stream = _partsStream;
            uint conn = _partsConn;
            long len = _partsLen;
            if (_partsFailed)
            {
                DropParts();
                Refuse(stream, conn, 503, "host: a " + len + "-byte request view is more than this host takes (" + MaxAssembledView + ")");
                return;
            }
            IntPtr copy = _parts;
            _parts = IntPtr.Zero;
            _inParts = false;
            Accept(stream, conn, (byte*)copy, (uint)len, default(Descriptor), copy);
        }

        private void DropParts()
        {
            if (_parts != IntPtr.Zero)
                Marshal.FreeHGlobal(_parts);
            _parts = IntPtr.Zero;
            _inParts = false;
            _partsFailed = false;
            _partsLen = _partsCap = 0;
        }

        /// <summary>Validates a complete view and queues its request; a view that fails is answered 500 with the reason.</summary>
        private void Accept(ulong stream, uint conn, byte* view, uint len, Descriptor chunk, IntPtr copy)
        {
            string error;
            if (ViewCheck.Check(view, len, out error) != ViewCheck.Ok)
            {
                if (chunk.Length != 0)
                    ReleaseChunk(ref chunk);
                if (copy != IntPtr.Zero)
                    Marshal.FreeHGlobal(copy);
                Refuse(stream, conn, 500, "host: bridge: malformed request view: " + error);
                return;
            }
            var r = new HostRequest(this, stream, conn, view, (int)len, chunk, copy);
            lock (_stateLock)
            {
                if (!_live.TryAdd(stream, r)) // one lookup, not ContainsKey then Add
                {
                    // A second view for a stream in flight: the engine is faulty; keep the first.
                    Count(ShmLayout.CounterInvalid);
                    r = null;
                }
                else
                {
                    if (_readyCount == _ready.Length)
                        GrowReady();
                    _ready[(_readyHead + _readyCount) & (_ready.Length - 1)] = r;
                    _readyCount++;
                    if (_nextWaiting > 0)
                        Monitor.PulseAll(_stateLock);
                }
            }
            if (r == null)
            {
                if (chunk.Length != 0)
                    ReleaseChunk(ref chunk);
                if (copy != IntPtr.Zero)
                    Marshal.FreeHGlobal(copy);
            }
        }

        private void GrowReady()
        {
            var bigger = new HostRequest[_ready.Length * 2];
            for (int i = 0; i < _readyCount; i++)
                bigger[i] = _ready[(_readyHead + i) & (_ready.Length - 1)];
            _ready = bigger;
            _readyHead = 0;
        }

        /// <summary>Answers a stream the host cannot take with a plain-text error.</summary>
        private void Refuse(ulong stream, uint conn, int status, string message)
        {
            byte[] body = System.Text.Encoding.UTF8.GetBytes(message + "\n");
            var headers = new[] { new KeyValuePair<string, string>("Content-Type", "text/plain; charset=utf-8") };
            try
            {
                SendResponse(null, stream, conn, status, null, headers, body, 0, body.Length, 0, body.Length);
            }
            catch (Exception e) when (e is HaywireException || e is System.IO.IOException)
            {
                // The engine is gone: nobody to tell.
            }
        }

        // ------------------------------------------------------------------ releases (ring 2)

        /// <summary>Gives a chunk of the engine's arena back (haywire_shm.h section 6). Any thread.</summary>
        internal void ReleaseChunk(ref Descriptor d)
        {
            if (d.Length == 0 || _fenced)
                return;
            var rel = new Descriptor
            {
                Kind = ShmLayout.KindRelease,
                Epoch = d.Epoch, // the owner's epoch
                Stream = d.Stream,
                Conn = d.Conn,
                Offset = d.Offset - d.Offset % _chunk0,
                Gen = d.Gen,
            };
            lock (_releaseLock)
            {
                if (_relOut.Reserve(1) != 1)
                {
                    // Cannot happen with an honest engine: the ring has a slot per chunk of its arena.
                    Count(ShmLayout.CounterRingFull);
                    return;
                }
                rel.Write(_relOut.Slot(0));
                if (DeferWake())
                {
                    _relOut.Publish(1);
                    Volatile.Write(ref _relWakeOwed, 1);
                }
                else if (_relOut.Commit(1))
                {
                    Count(ShmLayout.CounterWakeups);
                }
            }
        }
    }
}
