namespace Haywire.Owin.Transport.Shm
{
    /// <summary>
    /// One 32-byte ring slot (haywire_shm.h section 5), copied out of the ring before it is validated: the
    /// producer cannot rewrite a slot before it is consumed, but a faulty one might.
    /// </summary>
    internal unsafe struct Descriptor
    {
        public byte Kind;
        public byte Flags;
        public ushort Aux;
        public uint Epoch;
        public ulong Stream;
        public uint Conn;
        public uint Offset;
        public uint Length;
        public uint Gen;

        public const int Ok = 0;
        public const int EDesc = -7;
        public const int EStale = -8;

        public static Descriptor Read(byte* slot)
        {
            Descriptor d;
            d.Kind = slot[ShmLayout.DescKindOffset];
            d.Flags = slot[ShmLayout.DescFlagsOffset];
            d.Aux = *(ushort*)(slot + ShmLayout.DescAuxOffset);
            d.Epoch = *(uint*)(slot + ShmLayout.DescEpochOffset);
            d.Stream = *(ulong*)(slot + ShmLayout.DescStreamOffset);
            d.Conn = *(uint*)(slot + ShmLayout.DescConnOffset);
            d.Offset = *(uint*)(slot + ShmLayout.DescOffsetOffset);
            d.Length = *(uint*)(slot + ShmLayout.DescLengthOffset);
            d.Gen = *(uint*)(slot + ShmLayout.DescGenOffset);
            return d;
        }

        public void Write(byte* slot)
        {
            slot[ShmLayout.DescKindOffset] = Kind;
            slot[ShmLayout.DescFlagsOffset] = Flags;
            *(ushort*)(slot + ShmLayout.DescAuxOffset) = Aux;
            *(uint*)(slot + ShmLayout.DescEpochOffset) = Epoch;
            *(ulong*)(slot + ShmLayout.DescStreamOffset) = Stream;
            *(uint*)(slot + ShmLayout.DescConnOffset) = Conn;
            *(uint*)(slot + ShmLayout.DescOffsetOffset) = Offset;
            *(uint*)(slot + ShmLayout.DescLengthOffset) = Length;
            *(uint*)(slot + ShmLayout.DescGenOffset) = Gen;
        }

        // Per kind (index): payload 0 none, 1 required, 2 optional, 3 chunk reference; and the flags allowed.
        private static readonly byte[] Payload = { 0, 1, 1, 0, 0, 1, 3, 2, 1, 0, 0 };
        private static readonly byte[] Allowed =
        {
            0, ShmLayout.DfEnd | ShmLayout.DfMore, ShmLayout.DfEnd | ShmLayout.DfMore, 0, 0, ShmLayout.DfEnd | ShmLayout.DfMore,
            0, ShmLayout.DfMore, ShmLayout.DfEnd | ShmLayout.DfMore, 0, 0,
        };

        /// <summary>
        /// hw_shm_desc_check, exactly: ringRole is the role of the ring it came from; arenaSize and chunkSize
        /// describe the arena it points into; minEpoch is the lowest acceptable epoch, wantEpoch the expected one
        /// (0: any at or above minEpoch). Returns Ok, EDesc or EStale.
        /// </summary>
        public int Check(uint ringRole, ulong arenaSize, uint chunkSize, uint minEpoch, uint wantEpoch)
        {
            if (Kind == 0 || Kind >= ShmLayout.KindCount)
                return EDesc;
            if ((Kind == ShmLayout.KindRelease) != (ringRole == ShmLayout.RoleRelease))
                return EDesc;
            if ((Flags & ~Allowed[Kind]) != 0)
                return EDesc;
            if ((Flags & ShmLayout.DfEnd) != 0 && (Flags & ShmLayout.DfMore) != 0)
                return EDesc;
            if (Aux != 0 && Kind != ShmLayout.KindCancel)
                return EDesc;
            if (Epoch == 0)
                return EDesc;
            switch (Payload[Kind])
            {
                case 1:
                    if (Length == 0)
                        return EDesc;
                    break;
                case 0:
                    if (Length != 0 || Offset != 0 || Gen != 0)
                        return EDesc;
                    break;
                case 3:
                    if (Length != 0 || Gen == 0 || Offset >= arenaSize || Offset % chunkSize != 0)
                        return EDesc;
                    break;
                case 2:
                    if (Length == 0 && (Offset != 0 || Gen != 0))
                        return EDesc;
                    break;
            }
            if ((Flags & ShmLayout.DfMore) != 0 && Length == 0)
                return EDesc;
            if (Length != 0)
            {
                if (Gen == 0 || Offset >= arenaSize || (ulong)(Offset % chunkSize) + Length > chunkSize)
                    return EDesc;
            }
            if (Epoch < minEpoch || (wantEpoch != 0 && Epoch != wantEpoch))
                return EStale;
            return Ok;
        }
    }
}
