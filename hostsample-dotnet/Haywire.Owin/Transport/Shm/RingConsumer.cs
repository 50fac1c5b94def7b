using System.Threading;

namespace Haywire.Owin.Transport.Shm
{
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
