namespace Haywire.Owin.Transport.Shm
{
    /// <summary>
    /// The host's allocator of arena 1 (haywire_shm.h section 6): FREE -> HELD (gen incremented, skipping 0) ->
    /// LENT (named by a published descriptor) -> FREE (a valid RELEASE came back). Private memory of this
    /// process. Not thread-safe: HostConnection calls it under its send lock.
    /// </summary>
    internal sealed class ChunkAllocator
    {
        private const byte Free = 0, Held = 1, Lent = 2;

        public readonly uint ChunkSize;
        public readonly int ChunkCount;
        public readonly ulong ArenaSize;
        private readonly uint[] _gen;
        private readonly byte[] _state;
        private readonly HostRequest[] _owner; // the stream a lent chunk belongs to, for its per-stream count
        private readonly int[] _free;          // stack of free chunk indices
        private int _freeCount;

        public ChunkAllocator(uint chunkSize, int chunkCount)
        {
            ChunkSize = chunkSize;
            ChunkCount = chunkCount;
            ArenaSize = (ulong)chunkSize * (ulong)chunkCount;
            _gen = new uint[chunkCount];
            _state = new byte[chunkCount];
            _owner = new HostRequest[chunkCount];
            _free = new int[chunkCount];
            // Low indices on top: the first chunks used stay warm in cache.
            for (int i = 0; i < chunkCount; i++)
                _free[i] = chunkCount - 1 - i;
            _freeCount = chunkCount;
        }

        public int FreeCount { get { return _freeCount; } }

        /// <summary>Takes a free chunk: its index, and its new generation in gen. -1 when none is free.</summary>
        public int Alloc(out uint gen)
        {
            if (_freeCount == 0)
            {
                gen = 0;
                return -1;
            }
            int i = _free[--_freeCount];
            uint g = _gen[i] + 1;
            if (g == 0)
                g = 1;
            _gen[i] = g;
            _state[i] = Held;
            gen = g;
            return i;
        }

        /// <summary>Gives back a held chunk that no descriptor named.</summary>
        public void Unhold(int i)
        {
            if (_state[i] != Held)
                return;
            _state[i] = Free;
            _free[_freeCount++] = i;
        }

        /// <summary>Marks a held chunk lent to the engine on behalf of owner (may be null).</summary>
        public void Lend(int i, HostRequest owner)
        {
            _state[i] = Lent;
            _owner[i] = owner;
        }

        /// <summary>
        /// A RELEASE for the chunk at offset with gen came back: frees it and returns its owner in owner. False
        /// (nothing changes) when offset is not a chunk start or the chunk is not lent under that gen.
        /// </summary>
        public bool Return(uint offset, uint gen, out HostRequest owner)
        {
            owner = null;
            if (offset % ChunkSize != 0 || offset >= ArenaSize)
                return false;
            int i = (int)(offset / ChunkSize);
            if (_state[i] != Lent || _gen[i] != gen)
                return false;
            owner = _owner[i];
            _owner[i] = null;
            _state[i] = Free;
            _free[_freeCount++] = i;
            return true;
        }

        /// <summary>How many chunks are lent now (for tests and diagnostics).</summary>
        public int LentCount
        {
            get
            {
                int n = 0;
                for (int i = 0; i < ChunkCount; i++)
                    if (_state[i] == Lent)
                        n++;
                return n;
            }
        }
    }
}
