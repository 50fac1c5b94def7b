using System.Threading;

namespace Haywire.Owin.Transport.Shm
{
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
}
