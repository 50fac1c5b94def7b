using System.Threading;

namespace Haywire.Owin.Transport
{
    /// <summary>
    /// A doorbell of haywire_shm.h section 8: seq is the futex word, sleeping the sleeper's flag. The handshake
    /// is Dekker's with seq_cst on both sides; in .NET that takes Interlocked (a full fence), not Volatile.
    /// </summary>
    internal unsafe struct Bell
    {
        public readonly uint* Seq;
        public readonly uint* Sleeping;

        public Bell(byte* block)
        {
            Seq = (uint*)(block + ShmLayout.BellSeqOffset);
            Sleeping = (uint*)(block + ShmLayout.BellSleepingOffset);
        }

        /// <summary>Waker's half, right after a seq_cst publishing store. True if it made the wake syscall.</summary>
        public bool Wake()
        {
            if (Volatile.Read(ref *Sleeping) != 0 && Interlocked.Exchange(ref *(int*)Sleeping, 0) != 0)
            {
                Interlocked.Increment(ref *(int*)Seq);
                NativeMethods.FutexWakeAll(Seq);
                return true;
            }
            return false;
        }

        /// <summary>Wakes the sleeper whatever its flag says (shutdown, detach, peer death).</summary>
        public void Interrupt()
        {
            Interlocked.Increment(ref *(int*)Seq);
            NativeMethods.FutexWakeAll(Seq);
        }

        /// <summary>Sleeper's half, part 1: the seq value to wait on. Call Arm, re-check the ring, then Sleep.</summary>
        public uint Arm()
        {
            uint s = Volatile.Read(ref *Seq);
            Interlocked.Exchange(ref *(int*)Sleeping, 1); // seq_cst store: ordered before the ring re-check
            return s;
        }

        /// <summary>Sleeper's half, part 2: futex-wait while seq is s. Returns true on timeout.</summary>
        public bool Sleep(uint s, long timeoutNs)
        {
            bool timedOut = NativeMethods.FutexWaitOn(Seq, s, timeoutNs);
            Disarm();
            return timedOut;
        }

        public void Disarm()
        {
            Interlocked.Exchange(ref *(int*)Sleeping, 0);
        }
    }

    /// <summary>What both ends of a ring find in the region (haywire_shm.h sections 3-4).</summary>
    internal static unsafe class RingEnd
    {
        /// <summary>
        /// Locates ring's control block, slots and bells in the ring table (validated at attach), and reads its
        /// current indices: an end starts from them, never from 0 (section 9, claim step 4).
        /// </summary>
        public static void Locate(byte* regionBase, int ring, out ulong* tail, out ulong* head, out byte* slots,
            out ulong capacity, out Bell dataBell, out Bell spaceBell, out ulong headNow, out ulong tailNow)
        {
            byte* entry = regionBase + ShmLayout.RingTableOffset + ring * ShmLayout.RingEntrySize;
            byte* ctrl = regionBase + *(ulong*)(entry + ShmLayout.RingEntryOffsetOffset);
            capacity = *(uint*)(entry + ShmLayout.RingEntrySlotCountOffset);
            tail = (ulong*)(ctrl + ShmLayout.RingTailOffset);
            head = (ulong*)(ctrl + ShmLayout.RingHeadOffset);
            slots = ctrl + ShmLayout.RingHeaderSize;
            dataBell = new Bell(regionBase + ShmLayout.DataBellAt(ring));
            spaceBell = new Bell(regionBase + ShmLayout.SpaceBellAt(ring));
            headNow = Volatile.Read(ref *head);
            tailNow = Volatile.Read(ref *tail);
            if (tailNow - headNow > capacity)
                throw new HaywireException("ring " + ring + " is corrupt: tail " + tailNow + ", head " + headNow + ", "
                    + capacity + " slots");
        }
    }

    /// <summary>
    /// The producer end of one SPSC ring (haywire_shm.h section 7): private next (our tail) and head cache.
    /// One thread at a time: the owner serialises callers.
    /// </summary>
    internal sealed unsafe class RingProducer
    {
        private readonly ulong* _tail;
        private readonly ulong* _head;
        private readonly byte* _slots;
        private readonly ulong _mask;
        public readonly ulong Capacity;
        private ulong _next;
        private ulong _headCache;
        public readonly Bell DataBell;  // the consumer sleeps here when the ring is empty
        public readonly Bell SpaceBell; // we sleep here when it is full

        public RingProducer(byte* regionBase, int ring)
        {
            ulong head, tail;
            RingEnd.Locate(regionBase, ring, out _tail, out _head, out _slots, out Capacity, out DataBell, out SpaceBell,
                out head, out tail);
            _mask = Capacity - 1;
            _next = tail;
            _headCache = head;
        }

        /// <summary>Free slots, at most want; reloads head only when fewer look free. -1: the head is corrupt.</summary>
        public int Reserve(int want)
        {
            ulong free = Capacity - (_next - _headCache);
            if (free < (ulong)want)
            {
                ulong h = Volatile.Read(ref *_head);
                if (h - _headCache > _next - _headCache)
                    return -1;
                _headCache = h;
                free = Capacity - (_next - h);
            }
            return free < (ulong)want ? (int)free : want;
        }

        /// <summary>Slot i of the reservation.</summary>
        public byte* Slot(int i) { return _slots + ((_next + (ulong)i) & _mask) * ShmLayout.DescSize; }

        /// <summary>Publishes n reserved slots with one seq_cst store, then rings the data bell if the consumer sleeps.</summary>
        public bool Commit(int n)
        {
            Publish(n);
            return DataBell.Wake();
        }

        /// <summary>
        /// Publishes n reserved slots with one seq_cst store and leaves the doorbell to the caller, who must ring
        /// it (DataBell.Wake) soon: a sleeping consumer sees the slots only then.
        /// </summary>
        public void Publish(int n)
        {
            _next += (ulong)n;
            Interlocked.Exchange(ref *(long*)_tail, (long)_next);
        }

        /// <summary>For the space wait: true when a slot looks free (seq_cst load of head, after the bell is armed).</summary>
        public bool HasSpace()
        {
            ulong h = Volatile.Read(ref *_head);
            return Capacity - (_next - h) > 0 || h - _headCache > _next - _headCache;
        }
    }

    /// <summary>The consumer end of one SPSC ring: private next (our head) and tail cache. One thread at a time.</summary>
    internal sealed unsafe class RingConsumer
    {
        private readonly ulong* _tail;
        private readonly ulong* _head;
        private readonly byte* _slots;
        private readonly ulong _mask;
        public readonly ulong Capacity;
        private ulong _next;
        private ulong _tailCache;
        public readonly Bell DataBell;  // we sleep here when the ring is empty
        public readonly Bell SpaceBell; // the producer sleeps here when it is full

        public RingConsumer(byte* regionBase, int ring)
        {
            ulong head, tail;
            RingEnd.Locate(regionBase, ring, out _tail, out _head, out _slots, out Capacity, out DataBell, out SpaceBell,
                out head, out tail);
            _mask = Capacity - 1;
            _next = head;
            _tailCache = tail;
        }

        /// <summary>Published slots, at most max; reloads tail only when none remain. -1: the tail is corrupt.</summary>
        public int Available(int max)
        {
            ulong n = _tailCache - _next;
            if (n == 0)
            {
                ulong t = Volatile.Read(ref *_tail);
                if (t - _tailCache > _next + Capacity - _tailCache)
                    return -1;
                _tailCache = t;
                n = t - _next;
            }
            return n > (ulong)max ? max : (int)n;
        }

        /// <summary>Slot i of what Available returned. Copy it before validating.</summary>
        public byte* Slot(int i) { return _slots + ((_next + (ulong)i) & _mask) * ShmLayout.DescSize; }

        /// <summary>Hands n slots back with one seq_cst store, then rings the space bell if the producer sleeps.</summary>
        public bool Consume(int n)
        {
            _next += (ulong)n;
            Interlocked.Exchange(ref *(long*)_head, (long)_next);
            return SpaceBell.Wake();
        }

        /// <summary>For the data wait: true when the tail moved (a seq_cst load after the bell is armed).</summary>
        /// <summary>Slots published and not consumed yet: a racy hint, as HasData (tests).</summary>
        public ulong Unread()
        {
            return Volatile.Read(ref *_tail) - Volatile.Read(ref _next);
        }

        public bool HasData()
        {
            // Also called without owning the ring (the heartbeat, a waiter for releases): read next as a racy
            // hint; a stale value only makes the caller look once more.
            return Volatile.Read(ref *_tail) != Volatile.Read(ref _next);
        }
    }
}
