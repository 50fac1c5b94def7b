using System.Threading;

namespace Haywire.Owin.Transport.Shm
{
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
}
