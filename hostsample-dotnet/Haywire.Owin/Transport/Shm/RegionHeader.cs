namespace Haywire.Owin.Transport.Shm
{
    /// <summary>Validation of a mapped region header: hw_shm_header_check and hw_shm_lane_check, exactly.</summary>
    internal static unsafe class RegionHeader
    {
        public const int Ok = 0;
        public const int ETruncated = -1;
        public const int EMagic = -2;
        public const int EVersion = -3;
        public const int ELayout = -4;

        private static readonly uint[] Producer = { 0, 1, 1, 0 };
        private static readonly uint[] Role = { ShmLayout.RoleData, ShmLayout.RoleData, ShmLayout.RoleRelease, ShmLayout.RoleRelease };

        private static bool Pow2(ulong n) { return n != 0 && (n & (n - 1)) == 0; }

        /// <summary>
        /// Checks the fileSize bytes at b as a region (haywire_shm.h section 3). Returns Ok, or a code with why
        /// saying which value is wrong.
        /// </summary>
        public static int Check(byte* b, ulong fileSize, out string why)
        {
            why = null;
            if (fileSize < ShmLayout.HeaderSize)
            {
                why = "region is " + fileSize + " bytes, header needs " + ShmLayout.HeaderSize;
                return ETruncated;
            }
            ulong magic = System.Threading.Volatile.Read(ref *(ulong*)(b + ShmLayout.MagicOffset)); // acquire: the creator stores it last
            if (magic != ShmLayout.Magic)
            {
                why = "magic 0x" + magic.ToString("x") + ", want 0x" + ShmLayout.Magic.ToString("x");
                return EMagic;
            }
            uint version = *(uint*)(b + ShmLayout.VersionOffset);
            if (version != ShmLayout.LayoutVersion)
            {
                why = "layout version " + version + ", this host speaks version " + ShmLayout.LayoutVersion;
                return EVersion;
            }
            uint headerSize = *(uint*)(b + ShmLayout.HeaderSizeOffset);
            if (headerSize != ShmLayout.HeaderSize)
            {
                why = "header size " + headerSize;
                return ELayout;
            }
            ulong total = *(ulong*)(b + ShmLayout.TotalSizeOffset);
            if (total < ShmLayout.HeaderSize || total > ShmLayout.MaxTotalSize || total % ShmLayout.ArenaAlign != 0)
            {
                why = "total size " + total;
                return ELayout;
            }
            if (fileSize < total)
            {
                why = "region is " + fileSize + " bytes, header says " + total;
                return ETruncated;
            }
            uint creator = *(uint*)(b + ShmLayout.CreatorPidOffset);
            if (creator == 0 || creator > 0x7fffffffu)
            {
                why = "creator pid " + creator;
                return ELayout;
            }
            uint liveness = *(uint*)(b + ShmLayout.LivenessOffset);
            if (liveness < ShmLayout.MinLivenessMs || liveness > ShmLayout.MaxLivenessMs)
            {
                why = "liveness " + liveness + " ms";
                return ELayout;
            }
            uint rings = *(uint*)(b + ShmLayout.RingCountOffset), arenas = *(uint*)(b + ShmLayout.ArenaCountOffset);
            if (rings != ShmLayout.RingCount || arenas != ShmLayout.ArenaCount)
            {
                why = rings + " rings and " + arenas + " arenas";
                return ELayout;
            }
            uint lane = *(uint*)(b + ShmLayout.LaneOffset), lanes = *(uint*)(b + ShmLayout.LanesOffset);
            if (lanes > ShmLayout.MaxLanes || lane >= (lanes != 0 ? lanes : 1))
            {
                why = "lane " + lane + " of " + lanes + " lanes";
                return ELayout;
            }
            const int sections = ShmLayout.RingCount + ShmLayout.ArenaCount;
            ulong* starts = stackalloc ulong[sections];
            ulong* ends = stackalloc ulong[sections];
            for (int i = 0; i < ShmLayout.RingCount; i++)
            {
                byte* r = b + ShmLayout.RingTableOffset + i * ShmLayout.RingEntrySize;
                ulong off = *(ulong*)(r + ShmLayout.RingEntryOffsetOffset), size = *(ulong*)(r + ShmLayout.RingEntrySizeOffset);
                uint slotSize = *(uint*)(r + ShmLayout.RingEntrySlotSizeOffset), slots = *(uint*)(r + ShmLayout.RingEntrySlotCountOffset);
                uint producer = *(uint*)(r + ShmLayout.RingEntryProducerOffset), role = *(uint*)(r + ShmLayout.RingEntryRoleOffset);
                if (producer != Producer[i] || role != Role[i] || slotSize != ShmLayout.DescSize || !Pow2(slots) ||
                    slots < ShmLayout.RingMinSlots || slots > ShmLayout.RingMaxSlots ||
                    size != ShmLayout.RingHeaderSize + (ulong)slots * slotSize || off % ShmLayout.SectionAlign != 0 ||
                    off < ShmLayout.HeaderSize || off > total || size > total - off)
                {
                    why = "ring " + i + ": offset " + off + " size " + size + " slots " + slots + " x " + slotSize +
                          " producer " + producer + " role " + role;
                    return ELayout;
                }
                byte* c = b + off;
                uint cmagic = *(uint*)(c + ShmLayout.RingMagicOffset), cslotSize = *(uint*)(c + ShmLayout.RingSlotSizeOffset);
                uint cslots = *(uint*)(c + ShmLayout.RingSlotCountOffset), cflags = *(uint*)(c + ShmLayout.RingFlagsOffset);
                if (cmagic != ShmLayout.RingMagic || cslotSize != slotSize || cslots != slots || cflags != 0)
                {
                    why = "ring " + i + " control block: magic 0x" + cmagic.ToString("x") + " slots " + cslots + " x " +
                          cslotSize + " flags 0x" + cflags.ToString("x");
                    return ELayout;
                }
                starts[i] = off;
                ends[i] = off + size;
            }
            for (int i = 0; i < ShmLayout.ArenaCount; i++)
            {
                byte* a = b + ShmLayout.ArenaTableOffset + i * ShmLayout.ArenaEntrySize;
                ulong off = *(ulong*)(a + ShmLayout.ArenaEntryOffsetOffset), size = *(ulong*)(a + ShmLayout.ArenaEntrySizeOffset);
                uint chunk = *(uint*)(a + ShmLayout.ArenaEntryChunkSizeOffset), count = *(uint*)(a + ShmLayout.ArenaEntryChunkCountOffset);
                uint writer = *(uint*)(a + ShmLayout.ArenaEntryWriterOffset);
                if (writer != (uint)i || !Pow2(chunk) || chunk < ShmLayout.MinChunkSize || chunk > ShmLayout.MaxChunkSize ||
                    count < 1 || count > ShmLayout.MaxChunks || size != (ulong)chunk * count || size > ShmLayout.MaxArenaSize ||
                    off % ShmLayout.ArenaAlign != 0 || off < ShmLayout.HeaderSize || off > total || size > total - off)
                {
                    why = "arena " + i + ": offset " + off + " size " + size + " chunks " + count + " x " + chunk + " writer " + writer;
                    return ELayout;
                }
                uint releaseSlots = *(uint*)(b + ShmLayout.RingTableOffset + (2 + i) * ShmLayout.RingEntrySize + ShmLayout.RingEntrySlotCountOffset);
                if (releaseSlots < count)
                {
                    why = "release ring of arena " + i + " has " + releaseSlots + " slots for " + count + " chunks";
                    return ELayout;
                }
                starts[ShmLayout.RingCount + i] = off;
                ends[ShmLayout.RingCount + i] = off + size;
            }
            for (int i = 0; i < sections; i++)
                for (int j = 0; j < sections; j++)
                    if (i != j && starts[i] < ends[j] && starts[j] < ends[i])
                    {
                        why = "sections " + i + " and " + j + " overlap";
                        return ELayout;
                    }
            for (int s = 0; s < 2; s++)
            {
                ulong claim = System.Threading.Volatile.Read(ref *(ulong*)(b + ShmLayout.SideAt(s) + ShmLayout.SideClaimOffset));
                if (ShmLayout.ClaimState(claim) > ShmLayout.StateDetached)
                {
                    why = "side " + s + " claim 0x" + claim.ToString("x");
                    return ELayout;
                }
            }
            return Ok;
        }

        /// <summary>hw_shm_lane_check: the header holds the name's UUID and lane.</summary>
        public static int CheckLane(byte* b, byte[] uuid, int lane, out string why)
        {
            why = null;
            for (int i = 0; i < 16; i++)
                if (b[ShmLayout.UuidOffset + i] != uuid[i])
                {
                    why = "the header's uuid is not the one in the name";
                    return ELayout;
                }
            uint hlane = *(uint*)(b + ShmLayout.LaneOffset);
            if (hlane != (uint)lane)
            {
                why = "the name says lane " + lane + ", the header lane " + hlane + " of " + *(uint*)(b + ShmLayout.LanesOffset);
                return ELayout;
            }
            return Ok;
        }
    }
}
