using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    /// <summary>
    /// A host's attachment to one lane of an engine's region (include/haywire_shm.h, side 1), speaking the bridge
    /// protocol (include/haywire_bridge.h): it hands out the engine's requests with <see cref="Next"/> and sends
    /// the responses back through <see cref="HostRequest"/>.
    /// </summary>
    /// <remarks>
    /// Threads. One thread at a time calls Next; requests may be answered, and their bodies read and written, from
    /// any threads concurrently. The engine's data ring (ring 0) has one consumer: whoever holds the "pump" (Next
    /// normally; a body reader or a thread-pool item when nobody calls Next, e.g. after a drain). Producers on
    /// ring 1 (responses) and the arena allocator share the send lock; releases on ring 2 have their own lock.
    /// A background thread beats this side's heartbeat every beat_ms and judges the engine's liveness.
    /// </remarks>
    internal sealed unsafe partial class HostConnection : IDisposable
    {
        /// <summary>Chunks of the host's arena one streamed response may hold unreleased (as the Go and C hosts).</summary>
        public const int StreamChunkLimit = 8;

        private const int PumpBatch = 64;
        private const int MaxAssembledView = 256 << 20; // a view in parts beyond this is refused (503)
        private const int MaxViewHint = 64 << 20;

        private readonly RegionMapping _map;
        private readonly byte* _base;
        private readonly int _pid;
        private readonly uint _epoch;
        private readonly int _lane;
        private readonly int _enginePid;
        private readonly uint _livenessMs;
        private readonly uint _beatMs;
        private readonly long _spinTicks;

        // Shared words of the header.
        private readonly ulong* _ownClaim, _ownHeartbeat, _ownToken;
        private readonly ulong* _engineClaim, _engineHeartbeat, _engineToken;
        private readonly uint* _engineEpochWord;
        private readonly uint* _regionFlags;
        private readonly ulong* _ownCounters;

        // Arenas: 0 is the engine's (read in place), 1 ours.
        private readonly byte* _arena0, _arena1;
        private readonly ulong _arena0Size;
        private readonly uint _chunk0;

        // Ring 0 (engine -> host data): the pump holder's.
        private readonly RingConsumer _in;
        private uint _engineEpoch;
        private uint _minEpoch = 1;
        private IntPtr _parts;          // a view arriving in parts, being assembled
        private long _partsLen, _partsCap;
        private ulong _partsStream;
        private uint _partsConn;
        private bool _inParts, _partsFailed;

        // Ring 1 (responses), ring 3 (our chunks coming back), the allocator: under _sendLock.
        private readonly object _sendLock = new object();
        private readonly RingProducer _out;
        private readonly RingConsumer _relIn;
        internal readonly ChunkAllocator Alloc;
        private readonly int _sendBatch;

        // Ring 2 (releases of the engine's chunks): under _releaseLock.
        private readonly object _releaseLock = new object();
        private readonly RingProducer _relOut;

        // Waiting for our chunks to come back: one thread sleeps on ring 3's bell, the others on _relMon.
        private readonly object _relMon = new object();
        private long _relGen;
        private int _relSleeper;

        // Requests: decoded and not completed (_live), decoded and not handed out (_ready). Under _stateLock;
        // Next waits on it while a body reader holds the pump.
        private readonly object _stateLock = new object();
        private readonly Dictionary<ulong, HostRequest> _live = new Dictionary<ulong, HostRequest>();
        private HostRequest[] _ready = new HostRequest[64];
        private int _readyHead, _readyCount;
        private int _nextWaiting;

        // The pump: 1 while a thread consumes ring 0. Threads that need it wait until it is released.
        private int _pumpHeld;
        private int _pumpWanters;
        private readonly List<HostRequest> _pumpWantersList = new List<HostRequest>();
        private int _sweepQueued;

        private volatile bool _draining;
        private int _leaveSent;           // 1 once Leave was called
        private volatile bool _leaveAsked; // Leave sent the host's CANCEL DRAIN (the engine's then answers it)
        private string _goneReason; // set once: the engine died, closed the region, or fenced us
        private volatile bool _fenced;
        private volatile bool _disposed;
        private int _activeOps;
        private int _inFlight;

        // Liveness: the beat thread's.
        private readonly Thread _beatThread;
        private readonly object _beatLock = new object();
        private ulong _obsClaim, _obsHeartbeat, _declared;
        private long _obsChanged;
        private int _obsQuiet;
        private string _deathReason;

        private HostConnection(RegionMapping map, int pid, uint epoch)
        {
            _map = map;
            _base = map.Base;
            _pid = pid;
            _epoch = epoch;
            byte* b = _base;
            _lane = (int)*(uint*)(b + ShmLayout.LaneOffset);
            _livenessMs = *(uint*)(b + ShmLayout.LivenessOffset);
            _beatMs = Math.Max(1u, _livenessMs / 10);
            _spinTicks = Environment.ProcessorCount > 1 ? Stopwatch.Frequency / 50000 : 0; // 20 µs, none on one CPU
            _ownClaim = (ulong*)(b + ShmLayout.SideAt(1) + ShmLayout.SideClaimOffset);
            _ownHeartbeat = (ulong*)(b + ShmLayout.SideAt(1) + ShmLayout.SideHeartbeatOffset);
            _ownToken = (ulong*)(b + ShmLayout.SideAt(1) + ShmLayout.SideTokenOffset);
            _engineClaim = (ulong*)(b + ShmLayout.SideAt(0) + ShmLayout.SideClaimOffset);
            _engineHeartbeat = (ulong*)(b + ShmLayout.SideAt(0) + ShmLayout.SideHeartbeatOffset);
            _engineToken = (ulong*)(b + ShmLayout.SideAt(0) + ShmLayout.SideTokenOffset);
            _engineEpochWord = (uint*)(b + ShmLayout.SideAt(0) + ShmLayout.SideEpochOffset);
            _regionFlags = (uint*)(b + ShmLayout.FlagsOffset);
            _ownCounters = (ulong*)(b + ShmLayout.CounterAt(1, 0));
            byte* a0 = b + ShmLayout.ArenaTableOffset, a1 = a0 + ShmLayout.ArenaEntrySize;
            _arena0 = b + *(ulong*)(a0 + ShmLayout.ArenaEntryOffsetOffset);
            _arena0Size = *(ulong*)(a0 + ShmLayout.ArenaEntrySizeOffset);
            _chunk0 = *(uint*)(a0 + ShmLayout.ArenaEntryChunkSizeOffset);
            _arena1 = b + *(ulong*)(a1 + ShmLayout.ArenaEntryOffsetOffset);
            Alloc = new ChunkAllocator(*(uint*)(a1 + ShmLayout.ArenaEntryChunkSizeOffset),
                                       (int)*(uint*)(a1 + ShmLayout.ArenaEntryChunkCountOffset));
            _in = new RingConsumer(b, ShmLayout.RingData0);
            _out = new RingProducer(b, ShmLayout.RingData1);
            _relOut = new RingProducer(b, ShmLayout.RingRelease0);
            _relIn = new RingConsumer(b, ShmLayout.RingRelease1);
            // A message larger than a quarter of the ring or the arena goes in several batches, so a response
            // of any size gets through while the engine takes the chunks back.
            _sendBatch = (int)Math.Max(1, Math.Min(_out.Capacity, (ulong)Alloc.ChunkCount) / 4);
            ulong ec = Volatile.Read(ref *_engineClaim);
            _enginePid = ShmLayout.ClaimPid(ec) != 0 ? ShmLayout.ClaimPid(ec) : (int)*(uint*)(b + ShmLayout.CreatorPidOffset);
            _engineEpoch = Volatile.Read(ref *_engineEpochWord);
            _obsClaim = ec;
            _obsHeartbeat = Volatile.Read(ref *_engineHeartbeat);
            _obsChanged = Stopwatch.GetTimestamp();
            _beatThread = new Thread(BeatLoop) { IsBackground = true, Name = "haywire heartbeat " + map.Name };
        }

        // ------------------------------------------------------------------ public state

        /// <summary>The name of the lane attached: haywire-UUID for lane 0, haywire-UUID.K otherwise.</summary>
        public string RegionName { get { return _map.Name; } }

        /// <summary>The lane attached, 0 .. lanes-1.</summary>
        public int Lane { get { return _lane; } }

        /// <summary>The engine's pid, as its side block recorded it at attach time.</summary>
        public int EnginePid { get { return _enginePid; } }

        /// <summary>This attachment's epoch (stamped on everything it sends).</summary>
        public uint Epoch { get { return _epoch; } }

        /// <summary>The file mapped.</summary>
        public string RegionPath { get { return _map.Path; } }

        /// <summary>
        /// True once the engine said DRAIN: a newer host takes the new requests, or the engine answered
        /// <see cref="Leave"/>. No request follows the notice.
        /// </summary>
        public bool Draining { get { return _draining; } }

        /// <summary>True once <see cref="Leave"/> asked the engine for no more requests.</summary>
        public bool Leaving { get { return Volatile.Read(ref _leaveSent) != 0; } }

        /// <summary>Requests handed out by Next and not answered yet.</summary>
        public int InFlight { get { return Volatile.Read(ref _inFlight); } }

        /// <summary>Why the engine is gone (died, closed the region, fenced this host), or null while it serves.</summary>
        public string EngineGoneReason { get { return Volatile.Read(ref _goneReason); } }

        /// <summary>One of this side's counters in the region (haywire_shm.h HW_SHM_COUNTER_*), 0 after Dispose.</summary>
        public long Counter(int counter)
        {
            if (counter < 0 || counter >= 16 || !TryEnter())
                return 0;
            try
            {
                return Volatile.Read(ref *(long*)(_ownCounters + counter));
            }
            finally
            {
                Exit();
            }
        }

        /// <summary>Chunks of the host's arena lent to the engine now, after taking back what it released (diagnostics).</summary>
        public int ChunksLent
        {
            get
            {
                if (!TryEnter())
                    return 0;
                try
                {
                    lock (_sendLock)
                    {
                        CollectLocked();
                        return Alloc.LentCount;
                    }
                }
                finally
                {
                    Exit();
                }
            }
        }

        // ------------------------------------------------------------------ leaving

        /// <summary>
        /// Asks the engine to send this host no more requests, so that it can stop without failing any
        /// (haywire_bridge.h, "Draining": a CANCEL with aux DRAIN on stream 0). The engine stops routing new requests
        /// to this lane at once (they go to another host, or wait for one up to its host_wait_ms) and answers with its
        /// own DRAIN, which follows every request it had sent. Keep calling <see cref="Next"/>: it hands out those
        /// requests, then throws <see cref="DrainedException"/>; answer them, then Dispose. Only the first call sends
        /// (none is sent once the engine said DRAIN by itself: that notice already ends the lane). Any thread.
        /// </summary>
        /// <exception cref="HaywireException">The engine is gone (closed the region, died, fenced this host):
        /// nothing more comes; answer what is in flight, if anyone listens, and dispose.</exception>
        /// <exception cref="ObjectDisposedException">This connection was disposed.</exception>
        public void Leave()
        {
            Enter();
            try
            {
                if (Interlocked.Exchange(ref _leaveSent, 1) != 0 || _draining)
                    return;
                try
                {
                    SendControl(ShmLayout.KindCancel, BridgeLayout.CancelDrain, 0, 0);
                    _leaveAsked = true;
                }
                catch (System.IO.IOException e)
                {
                    throw new HaywireException(e.Message.StartsWith("haywire: ", StringComparison.Ordinal) ? e.Message.Substring(9) : e.Message);
                }
                FlushWakes(); // a Leave from the thread that deferred its doorbells rings now: the engine acts at once
            }
            finally
            {
                Exit();
            }
        }

        // ------------------------------------------------------------------ request bookkeeping

        /// <summary>Retires an answered request: forgets it, gives its view back. Called once per request.</summary>
        internal void Retire(HostRequest r)
        {
            lock (_stateLock)
            {
                HostRequest cur;
                if (_live.Remove(r.RequestId, out cur) && cur != r)
                    _live.Add(r.RequestId, cur); // another request under that id (cannot happen: Accept keeps the first)
                if (r.HandedOut)
                    _inFlight--;
                if (_draining && _readyCount == 0 && _nextWaiting > 0)
                    Monitor.PulseAll(_stateLock);
            }
        }

        internal bool TryEnter()
        {
            Interlocked.Increment(ref _activeOps); // a full fence: ordered before the load of _disposed
            if (_disposed)
            {
                Interlocked.Decrement(ref _activeOps);
                return false;
            }
            return true;
        }

        internal void Enter()
        {
            if (!TryEnter())
                throw new ObjectDisposedException("HostConnection", "the connection to " + _map.Name + " was disposed");
        }

        internal void Exit()
        {
            Interlocked.Decrement(ref _activeOps);
        }

        internal bool Gone { get { return Volatile.Read(ref _goneReason) != null; } }
        internal bool Disposed { get { return _disposed; } }
        internal byte* Arena0 { get { return _arena0; } }
        internal uint Chunk0 { get { return _chunk0; } }

        internal void Count(int counter)
        {
            Interlocked.Increment(ref *(long*)(_ownCounters + counter));
        }
    }
}
