namespace Haywire.Owin.Transport.Shm
{
    /// <summary>
    /// The region layout of include/haywire_shm.h (layout version 2) and the bridge formats of
    /// include/haywire_bridge.h (view version 2), as named offsets. The headers are the specification; every
    /// number here is copied from them and nothing else in this assembly spells an offset.
    /// TransportHeaderConstantsTests compiles the headers and checks each HW_SHM_* / HW_BRIDGE_* number against the
    /// constant of the same name here, in BridgeLayout, RegionHeader, Descriptor or ViewCheck.
    /// </summary>
    internal static class ShmLayout
    {
        // --- haywire_shm.h section 2 ---
        public const int LayoutVersion = 2;
        public const ulong Magic = 0x314D485357594148UL; // "HAYWSHM1" in memory order
        public const string NamePrefix = "haywire-";
        public const int NameLen = 44;
        public const int MaxLanes = 64;

        public const int HeaderSize = 4096;
        public const int Block = 128;
        public const int RingCount = 4;
        public const int ArenaCount = 2;
        public const ulong MaxTotalSize = 1UL << 34;
        public const uint MinLivenessMs = 10;
        public const uint MaxLivenessMs = 3600000;
        public const int SectionAlign = 128;
        public const int ArenaAlign = 4096;

        public const int RingData0 = 0;   // engine -> host, names chunks of arena 0
        public const int RingData1 = 1;   // host -> engine, names chunks of arena 1
        public const int RingRelease0 = 2; // host -> engine, gives back chunks of arena 0
        public const int RingRelease1 = 3; // engine -> host, gives back chunks of arena 1
        public const uint RoleData = 1;
        public const uint RoleRelease = 2;

        public const uint StateFree = 0;
        public const uint StateAttaching = 1;
        public const uint StateActive = 2;
        public const uint StateDetached = 3;

        public const uint FlagClosed = 1;

        public const int CounterWakeups = 0;
        public const int CounterSleeps = 1;
        public const int CounterRingFull = 2;
        public const int CounterArenaFull = 3;
        public const int CounterInvalid = 4;
        public const int CounterStale = 5;
        public const int CounterPeerDeaths = 6;
        public const int CounterReclaims = 7;
        public const int CounterReclaimedDescs = 8;
        public const int CounterReclaimedChunks = 9;
        public const int CounterAttaches = 10;
        public const int CounterSleepTimeouts = 11;

        // --- section 3: header ---
        public const int MagicOffset = 0;
        public const int VersionOffset = 8;
        public const int HeaderSizeOffset = 12;
        public const int TotalSizeOffset = 16;
        public const int CreatorPidOffset = 24;
        public const int LivenessOffset = 28;
        public const int CreatorTokenOffset = 32;
        public const int CreatedOffset = 40;
        public const int UuidOffset = 48;
        public const int RingCountOffset = 64;
        public const int ArenaCountOffset = 68;
        public const int LaneOffset = 72;
        public const int LanesOffset = 76;
        public const int RingTableOffset = 128;
        public const int ArenaTableOffset = 256;
        public const int EpochSourceOffset = 384;
        public const int FlagsOffset = 388;
        public const int SideOffset = 512;
        public const int CountersOffset = 768;
        public const int BellsOffset = 1024;

        public const int RingEntrySize = 32;
        public const int RingEntryOffsetOffset = 0;
        public const int RingEntrySizeOffset = 8;
        public const int RingEntrySlotSizeOffset = 16;
        public const int RingEntrySlotCountOffset = 20;
        public const int RingEntryProducerOffset = 24;
        public const int RingEntryRoleOffset = 28;

        public const int ArenaEntrySize = 32;
        public const int ArenaEntryOffsetOffset = 0;
        public const int ArenaEntrySizeOffset = 8;
        public const int ArenaEntryChunkSizeOffset = 16;
        public const int ArenaEntryChunkCountOffset = 20;
        public const int ArenaEntryWriterOffset = 24;
        public const uint MinChunkSize = 64;
        public const uint MaxChunkSize = 1u << 20;
        public const uint MaxChunks = 1u << 20;
        public const ulong MaxArenaSize = 1UL << 31;

        public const int SideSize = Block;
        public const int SideClaimOffset = 0;
        public const int SideEpochOffset = 8;
        public const int SideBeatOffset = 12;
        public const int SideHeartbeatOffset = 16;
        public const int SideTokenOffset = 24;
        public const int SideAttachedOffset = 32;

        public const int CounterBlockSize = Block;
        public const int BellSize = Block;
        public const int BellSeqOffset = 0;
        public const int BellSleepingOffset = 4;

        // --- section 4: rings ---
        public const uint RingMagic = 0x47525748u; // "HWRG"
        public const int RingMagicOffset = 0;
        public const int RingSlotSizeOffset = 4;
        public const int RingSlotCountOffset = 8;
        public const int RingFlagsOffset = 12;
        public const int RingTailOffset = 128;
        public const int RingHeadOffset = 256;
        public const int RingHeaderSize = 384;
        public const uint RingMinSlots = 2;
        public const uint RingMaxSlots = 1u << 24;

        // --- section 5: descriptors ---
        public const int DescSize = 32;
        public const int DescKindOffset = 0;
        public const int DescFlagsOffset = 1;
        public const int DescAuxOffset = 2;
        public const int DescEpochOffset = 4;
        public const int DescStreamOffset = 8;
        public const int DescConnOffset = 16;
        public const int DescOffsetOffset = 20;
        public const int DescLengthOffset = 24;
        public const int DescGenOffset = 28;

        public const byte KindRequest = 1;
        public const byte KindBody = 2;
        public const byte KindEnd = 3;
        public const byte KindCancel = 4;
        public const byte KindResponse = 5;
        public const byte KindRelease = 6;
        public const byte KindUpgrade = 7;
        public const byte KindData = 8;
        public const byte KindNop = 9;
        public const byte KindContinue = 10;
        public const int KindCount = 11;

        public const byte DfEnd = 0x01;
        public const byte DfMore = 0x02;

        public static int SideAt(int side) { return SideOffset + side * SideSize; }
        public static int CounterAt(int side, int counter) { return CountersOffset + side * CounterBlockSize + counter * 8; }
        public static int DataBellAt(int ring) { return BellsOffset + (2 * ring) * BellSize; }
        public static int SpaceBellAt(int ring) { return BellsOffset + (2 * ring + 1) * BellSize; }

        public static ulong Claim(int pid, uint state) { return ((ulong)(uint)pid << 32) | state; }
        public static int ClaimPid(ulong claim) { return (int)(uint)(claim >> 32); }
        public static uint ClaimState(ulong claim) { return (uint)claim; }

        public static string StateName(uint state)
        {
            switch (state)
            {
                case StateFree: return "free";
                case StateAttaching: return "attaching";
                case StateActive: return "active";
                case StateDetached: return "detached";
            }
            return "state(" + state + ")";
        }
    }
}
