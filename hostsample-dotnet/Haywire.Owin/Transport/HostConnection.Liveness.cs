using System;
using System.Diagnostics;
using System.Threading;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostConnection, the liveness facet: the heartbeat thread, judging the engine (haywire_shm.h section 9), going gone.
    internal sealed unsafe partial class HostConnection
    {
        // ------------------------------------------------------------------ liveness

        private void BeatLoop()
        {
            while (true)
            {
                lock (_beatLock)
                {
                    if (_disposed)
                        return;
                    Monitor.Wait(_beatLock, (int)_beatMs);
                    if (_disposed)
                        return;
                }
                try
                {
                    Beat();
                }
                catch (Exception e) when (!(e is ThreadAbortException))
                {
                    Trace.WriteLine("haywire: heartbeat: " + e);
                }
            }
        }

        private void Beat()
        {
            Interlocked.Increment(ref *(long*)_ownHeartbeat);
            FlushWakes(); // a deferred doorbell waits no longer than a beat, whatever the pump does
            if (!_fenced && Volatile.Read(ref *_ownClaim) != ShmLayout.Claim(_pid, ShmLayout.StateActive))
            {
                // The engine declared us dead (we stalled): publish nothing more.
                _fenced = true;
                MarkGone("the engine declared this host dead (its claim on " + _map.Name + " was revoked)");
                return;
            }
            if ((Volatile.Read(ref *_regionFlags) & ShmLayout.FlagClosed) != 0)
            {
                MarkGone("the engine closed the region " + _map.Name);
                return;
            }
            ObserveEngine();
            // Nobody pumps (no Next caller, no body reader) while requests are out: look at ring 0 from the pool
            // so cancellations still reach them.
            if (Volatile.Read(ref _pumpHeld) == 0 && LiveCount() > 0 && _in.HasData() &&
                Interlocked.CompareExchange(ref _sweepQueued, 1, 0) == 0)
                ThreadPool.QueueUserWorkItem(Sweep);
        }

        private int LiveCount()
        {
            lock (_stateLock)
                return _live.Count;
        }

        private void Sweep(object unused)
        {
            try
            {
                if (!TryEnter())
                    return;
                try
                {
                    if (TryAcquirePump())
                    {
                        try
                        {
                            while (Pump() > 0)
                            {
                            }
                        }
                        finally
                        {
                            ReleasePump();
                        }
                    }
                }
                finally
                {
                    Exit();
                }
            }
            finally
            {
                Volatile.Write(ref _sweepQueued, 0);
            }
        }

        /// <summary>Judges the engine's side block (haywire_shm.h section 9, "Liveness"). Beat thread only.</summary>
        private void ObserveEngine()
        {
            long now = Stopwatch.GetTimestamp();
            ulong c = Volatile.Read(ref *_engineClaim);
            int pid = ShmLayout.ClaimPid(c);
            uint st = ShmLayout.ClaimState(c);
            if (c != _obsClaim)
            {
                _obsClaim = c;
                _obsChanged = now;
                _obsQuiet = 0;
            }
            switch (st)
            {
                case ShmLayout.StateFree:
                    MarkGone("no engine holds the region " + _map.Name + " any more");
                    return;
                case ShmLayout.StateDetached:
                    MarkGone(_declared == c && _deathReason != null
                                 ? "the engine died: " + _deathReason
                                 : "the engine (pid " + pid + ") detached from the region " + _map.Name);
                    return;
                case ShmLayout.StateAttaching:
                case ShmLayout.StateActive:
                {
                    ulong hb = Volatile.Read(ref *_engineHeartbeat);
                    if (hb != _obsHeartbeat)
                    {
                        _obsHeartbeat = hb;
                        _obsChanged = now;
                        _obsQuiet = 0;
                    }
                    else
                    {
                        _obsQuiet++;
                    }
                    ulong token;
                    bool alive = Shm.NativeMethods.ProcessStatus(pid, out token);
                    // The token is the occupant's only once it is ACTIVE: while attaching it may be a predecessor's.
                    ulong recorded = st == ShmLayout.StateActive ? Volatile.Read(ref *_engineToken) : 0;
                    long staleMs = (long)_livenessMs - _beatMs;
                    long stillMs = (now - _obsChanged) * 1000 / Stopwatch.Frequency;
                    string reason = null;
                    if (!alive && _obsQuiet > 0)
                        reason = "process " + pid + " exited";
                    else if (recorded != 0 && token != 0 && token != recorded && _obsQuiet > 0)
                        reason = "pid " + pid + " now belongs to another process";
                    else if (stillMs >= staleMs && _obsQuiet >= staleMs / _beatMs)
                        reason = "no heartbeat from pid " + pid + " for " + stillMs + " ms";
                    if (reason != null)
                        DeclareDead(c, reason);
                    return;
                }
                default:
                    DeclareDead(c, "invalid claim 0x" + c.ToString("x"));
                    return;
            }
        }

        /// <summary>Fences the engine occupant described by claim word c: CAS it to DETACHED.</summary>
        private void DeclareDead(ulong c, string reason)
        {
            ulong fenced = ShmLayout.Claim(ShmLayout.ClaimPid(c), ShmLayout.StateDetached);
            if (Interlocked.CompareExchange(ref *(long*)_engineClaim, (long)fenced, (long)c) != (long)c)
                return; // changed under us (e.g. a clean detach): judge again next tick
            _obsClaim = fenced;
            _declared = fenced;
            _deathReason = reason;
            Count(ShmLayout.CounterPeerDeaths);
            MarkGone("the engine died: " + reason);
        }

        /// <summary>Between sleeps of the pump: a region closed or an engine detached ends the wait at once.</summary>
        private void CheckEngineQuick()
        {
            if (Volatile.Read(ref _goneReason) != null)
                return;
            if ((Volatile.Read(ref *_regionFlags) & ShmLayout.FlagClosed) != 0)
                MarkGone("the engine closed the region " + _map.Name);
            else if (ShmLayout.ClaimState(Volatile.Read(ref *_engineClaim)) == ShmLayout.StateDetached && _declared == 0)
                MarkGone("the engine (pid " + _enginePid + ") detached from the region " + _map.Name);
        }

        /// <summary>
        /// The engine is gone for good (died, detached, closed the region) or fenced us: every request in flight is
        /// cancelled, every waiter woken; Next throws from now on.
        /// </summary>
        private void MarkGone(string reason)
        {
            if (Interlocked.CompareExchange(ref _goneReason, reason, null) != null)
                return;
            WakeOwnBells();
            HostRequest[] live;
            lock (_stateLock)
            {
                live = new HostRequest[_live.Count];
                _live.Values.CopyTo(live, 0);
                Monitor.PulseAll(_stateLock);
            }
            foreach (HostRequest r in live)
                r.MarkCancelled(reason);
            lock (_relMon)
                Monitor.PulseAll(_relMon);
            WakeAsyncHelpers();
        }

        /// <summary>Interrupts every bell this side may sleep on.</summary>
        private void WakeOwnBells()
        {
            _in.DataBell.Interrupt();
            _relIn.DataBell.Interrupt();
            _out.SpaceBell.Interrupt();
            _relOut.SpaceBell.Interrupt();
        }
    }
}
