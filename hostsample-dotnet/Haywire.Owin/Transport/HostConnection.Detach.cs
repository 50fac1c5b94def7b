using System;
using System.Diagnostics;
using System.Threading;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostConnection, the detaching facet: Dispose, releasing side 1, reclaiming a dead engine's rings (section 9).
    internal sealed unsafe partial class HostConnection
    {
        /// <summary>
        /// Detaches (hw_shm_side_detach) and unmaps. Requests not answered are lost: the engine answers them 502 (for
        /// none to fail, <see cref="Leave"/> first and call Next until DrainedException, answering what it hands out).
        /// Threads blocked in Next or in a body read or write are woken and fail; the mapping is removed once they
        /// have left (if one does not leave within 5 s the mapping is kept rather than pulled from under it).
        /// </summary>
        public void Dispose()
        {
            lock (_beatLock)
            {
                if (_disposed)
                    return;
                _disposed = true;
                Monitor.PulseAll(_beatLock);
            }
            Interlocked.MemoryBarrier(); // _disposed before the load of _activeOps (see TryEnter)
            if (_beatThread.IsAlive && Thread.CurrentThread != _beatThread)
                _beatThread.Join();
            WakeOwnBells();
            lock (_stateLock)
                Monitor.PulseAll(_stateLock);
            lock (_relMon)
                Monitor.PulseAll(_relMon);
            HostRequest[] live;
            lock (_stateLock)
            {
                live = new HostRequest[_live.Count];
                _live.Values.CopyTo(live, 0);
            }
            foreach (HostRequest r in live)
                r.MarkCancelled("the host connection was disposed");
            WakeAsyncHelpers();
            var sw = Stopwatch.StartNew();
            while (Volatile.Read(ref _activeOps) > 0 && sw.ElapsedMilliseconds < 5000)
            {
                WakeOwnBells();
                Thread.Sleep(1);
            }
            bool quiet = Volatile.Read(ref _activeOps) == 0;
            if (!_fenced)
                Detach();
            if (_parts != IntPtr.Zero && quiet)
                DropParts();
            if (quiet)
                _map.Dispose();
        }

        private void Detach()
        {
            ulong ec = Volatile.Read(ref *_engineClaim);
            if (ShmLayout.ClaimState(ec) == ShmLayout.StateDetached)
            {
                // The engine left or we declared it dead: as the survivor, reclaim it (section 9) so the region
                // is left clean for a successor.
                ulong discarded = ReclaimRings(1);
                Interlocked.Exchange(ref *(long*)_engineToken, 0);
                if (Interlocked.CompareExchange(ref *(long*)_engineClaim, 0, (long)ec) == (long)ec)
                {
                    Count(ShmLayout.CounterReclaims);
                    Interlocked.Add(ref *(long*)(_ownCounters + ShmLayout.CounterReclaimedDescs), (long)discarded);
                }
            }
            long mine = (long)ShmLayout.Claim(_pid, ShmLayout.StateActive);
            long* own = (long*)_ownClaim;
            if (ShmLayout.ClaimState(Volatile.Read(ref *_engineClaim)) == ShmLayout.StateFree)
            {
                ReclaimRings(0); // as if the (absent) engine reclaimed us
                Interlocked.Exchange(ref *(long*)_ownToken, 0);
                Interlocked.CompareExchange(ref *own, 0, mine);
            }
            else
            {
                Interlocked.CompareExchange(ref *own, (long)ShmLayout.Claim(_pid, ShmLayout.StateDetached), mine);
            }
            // Ring every bell the engine may sleep on so it notices at once.
            new Bell(_base + ShmLayout.DataBellAt(ShmLayout.RingData1)).Interrupt();
            new Bell(_base + ShmLayout.DataBellAt(ShmLayout.RingRelease0)).Interrupt();
            new Bell(_base + ShmLayout.SpaceBellAt(ShmLayout.RingData0)).Interrupt();
            new Bell(_base + ShmLayout.SpaceBellAt(ShmLayout.RingRelease1)).Interrupt();
        }

        /// <summary>hw_shm_reclaim_rings for survivor side: fixes the four rings' indices, clears the dead side's flags.</summary>
        private ulong ReclaimRings(int side)
        {
            int peer = 1 - side;
            ulong discarded = 0;
            int[] consumedByPeer = { side, 2 + peer };
            int[] producedByPeer = { peer, 2 + side };
            foreach (int ring in consumedByPeer)
            {
                byte* ctrl = RingCtrl(ring);
                ulong* tail = (ulong*)(ctrl + ShmLayout.RingTailOffset), head = (ulong*)(ctrl + ShmLayout.RingHeadOffset);
                ulong t = Volatile.Read(ref *tail), h = Volatile.Read(ref *head);
                uint slots = *(uint*)(ctrl + ShmLayout.RingSlotCountOffset);
                if (t - h <= slots)
                    discarded += t - h;
                Interlocked.Exchange(ref *(long*)head, (long)t);
                Interlocked.Exchange(ref *(int*)(_base + ShmLayout.DataBellAt(ring) + ShmLayout.BellSleepingOffset), 0);
            }
            foreach (int ring in producedByPeer)
            {
                byte* ctrl = RingCtrl(ring);
                ulong* tail = (ulong*)(ctrl + ShmLayout.RingTailOffset), head = (ulong*)(ctrl + ShmLayout.RingHeadOffset);
                ulong t = Volatile.Read(ref *tail), h = Volatile.Read(ref *head);
                uint slots = *(uint*)(ctrl + ShmLayout.RingSlotCountOffset);
                if (t - h <= slots)
                {
                    discarded += t - h;
                    Interlocked.Exchange(ref *(long*)head, (long)t);
                }
                else
                {
                    Interlocked.Exchange(ref *(long*)tail, (long)h);
                }
                Interlocked.Exchange(ref *(int*)(_base + ShmLayout.SpaceBellAt(ring) + ShmLayout.BellSleepingOffset), 0);
            }
            return discarded;
        }

        private byte* RingCtrl(int ring)
        {
            return _base + *(ulong*)(_base + ShmLayout.RingTableOffset + ring * ShmLayout.RingEntrySize + ShmLayout.RingEntryOffsetOffset);
        }
    }
}
