package region

import (
	"unsafe"

	"github.com/haywireowin/haywire/ringbuf"
)

// Region layout: one mapping, a 4096-byte header, then the four rings
// (128-byte aligned) and the two arenas (4096-byte aligned). Every section's
// offset and size is recorded in the header tables, so readers never assume
// positions beyond the header itself.
//
//	0        4096                                                        total_size
//	+--------+--------+--------+-----------+-----------+--...--+---------+---------+
//	| header | ring 0 | ring 1 | ring 2    | ring 3    |  pad  | arena 0 | arena 1 |
//	+--------+--------+--------+-----------+-----------+--...--+---------+---------+
//	           data     data     release     release             side 0    side 1
//	           0 -> 1   1 -> 0   of arena 0  of arena 1          writes    writes
//	                             1 -> 0      0 -> 1
//
// Side 0 is the creator (the engine), side 1 the attacher (a host). Each side
// writes one arena and publishes descriptors naming its chunks on its data
// ring; the reader gives chunks back on the release ring of that arena.
//
// Header:
//
//	   0 +---------------------------+
//	     | identity        (128)     |  written once by the creator
//	 128 | ring table      (4 x 32)  |  written once by the creator
//	 256 | arena table     (2 x 32)  |  written once, then 64 zero bytes
//	 384 | control         (128)     |  epoch source, region flags
//	 512 | side 0          (128)     |  claim, epoch, heartbeat, ...
//	 640 | side 1          (128)     |
//	 768 | counters side 0 (128)     |  16 x uint64, written by side 0 only
//	 896 | counters side 1 (128)     |
//	1024 | doorbells       (8 x 128) |  ring r: data bell, then space bell
//	2048 | zero                      |
//	4096 +---------------------------+
//
// Identity block (immutable after creation):
//
//	0       8        12         16          24          28          32
//	+-------+--------+----------+-----------+-----------+-----------+
//	| magic |version |hdr_size  |total_size |creator_pid|liveness_ms|
//	+-------+--------+----------+-----------+-----------+-----------+
//	32             40              48          64          68          72     76      80 .. 128
//	+--------------+---------------+-----------+-----------+-----------+------+-------+------
//	|creator_token |created_unix_ns| uuid (16) |ring_count |arena_count| lane | lanes | zero
//	+--------------+---------------+-----------+-----------+-----------+------+-------+------
//
// lane is the region's lane number and lanes the engine's lane count, 0 <=
// lane < lanes <= MaxLanes (see LaneName). Creators of this version always
// write lanes >= 1. The fields were added during layout version 1 in bytes
// that had been zero, and readers still take lanes == 0 (with lane == 0)
// as a single lane; that tolerance is all that remains of it, since a
// region of version 1 is refused anyway (ErrVersion).
//
// All integers are little-endian; every field is naturally aligned.
const (
	// HeaderSize is the size of the header, one page.
	HeaderSize = 4096
	// BlockLength is the unit of the header's mutable blocks: two cache
	// lines, so blocks written by different sides never share a line.
	BlockLength = 128

	// Magic is the first 8 bytes of a region: "HAYWSHM1" in memory order.
	Magic = 0x314D485357594148
	// LayoutVersion is bumped whenever a field moves or changes meaning.
	LayoutVersion = 2

	RingCount  = 4 // rings in a region
	ArenaCount = 2 // arenas in a region
	SideCount  = 2 // sides in a region

	// Identity block.
	IdentityOffset     = 0
	MagicOffset        = IdentityOffset
	VersionOffset      = MagicOffset + 8
	HeaderSizeOffset   = VersionOffset + 4
	TotalSizeOffset    = HeaderSizeOffset + 4
	CreatorPIDOffset   = TotalSizeOffset + 8
	LivenessOffset     = CreatorPIDOffset + 4
	CreatorTokenOffset = LivenessOffset + 4
	CreatedOffset      = CreatorTokenOffset + 8
	UUIDOffset         = CreatedOffset + 8
	RingCountOffset    = UUIDOffset + 16
	ArenaCountOffset   = RingCountOffset + 4
	LaneOffset         = ArenaCountOffset + 4
	LanesOffset        = LaneOffset + 4
	identityEnd        = LanesOffset + 4

	// Ring table: RingCount entries of RingEntrySize bytes.
	RingTableOffset = IdentityOffset + BlockLength
	RingEntrySize   = 32
	// Arena table: ArenaCount entries of ArenaEntrySize bytes.
	ArenaTableOffset = RingTableOffset + RingCount*RingEntrySize
	ArenaEntrySize   = 32
	// Control block.
	ControlOffset = ArenaTableOffset + BlockLength
	// Side blocks: SideCount blocks of BlockLength bytes.
	SideOffset = ControlOffset + BlockLength
	// Counter blocks: SideCount blocks of BlockLength bytes.
	CountersOffset = SideOffset + SideCount*BlockLength
	// Doorbells: for ring r, the data bell at BellsOffset + r*2*BlockLength
	// and the space bell one block later.
	BellsOffset = CountersOffset + SideCount*BlockLength
	bellsEnd    = BellsOffset + RingCount*2*BlockLength
)

// Ring table entry (32 bytes):
//
//	0            8            16           20           24           28          32
//	+------------+------------+------------+------------+------------+-----------+
//	| offset     | size       | slot_size  | slot_count | producer   | role      |
//	+------------+------------+------------+------------+------------+-----------+
//
// offset and size locate the ring (control block included) in the region;
// producer is the side that produces on it; role is RoleData or RoleRelease.
const (
	RingEntryOffsetOffset    = 0
	RingEntrySizeOffset      = RingEntryOffsetOffset + 8
	RingEntrySlotSizeOffset  = RingEntrySizeOffset + 8
	RingEntrySlotCountOffset = RingEntrySlotSizeOffset + 4
	RingEntryProducerOffset  = RingEntrySlotCountOffset + 4
	RingEntryRoleOffset      = RingEntryProducerOffset + 4
)

// Arena table entry (32 bytes):
//
//	0            8            16           20           24           28          32
//	+------------+------------+------------+------------+------------+-----------+
//	| offset     | size       | chunk_size | chunk_count| writer     | zero      |
//	+------------+------------+------------+------------+------------+-----------+
const (
	ArenaEntryOffsetOffset     = 0
	ArenaEntrySizeOffset       = ArenaEntryOffsetOffset + 8
	ArenaEntryChunkSizeOffset  = ArenaEntrySizeOffset + 8
	ArenaEntryChunkCountOffset = ArenaEntryChunkSizeOffset + 4
	ArenaEntryWriterOffset     = ArenaEntryChunkCountOffset + 4
)

// Control block (128 bytes): epoch_source (uint32) is the last epoch handed
// out, incremented atomically by each attaching side; flags (uint32) holds
// FlagClosed once the creator has closed the region.
const (
	EpochSourceOffset = ControlOffset
	FlagsOffset       = EpochSourceOffset + 4

	// FlagClosed is set in the control flags by the creator's clean Close:
	// the name is gone and no creator will come back.
	FlagClosed = 1
)

// Side block (128 bytes), one per side, written by the side's occupant
// except where noted:
//
//	0                 8        12        16          24        32              40 .. 128
//	+-----------------+--------+---------+-----------+---------+---------------+------
//	| claim           | epoch  | beat_ms | heartbeat | token   | attach_unix_ns| zero
//	+-----------------+--------+---------+-----------+---------+---------------+------
//
// claim = pid<<32 | state, changed only by compare-and-swap (the survivor
// of a dead occupant swaps it too). epoch is the occupant's incarnation,
// unique in the region. heartbeat is a counter the occupant increments every
// beat_ms milliseconds. token identifies the occupant process beyond its pid
// (Linux: start time in clock ticks from /proc/pid/stat; 0 if unknown).
const (
	SideClaimOffset     = 0
	SideEpochOffset     = SideClaimOffset + 8
	SideBeatOffset      = SideEpochOffset + 4
	SideHeartbeatOffset = SideBeatOffset + 4
	SideTokenOffset     = SideHeartbeatOffset + 8
	SideAttachedOffset  = SideTokenOffset + 8
	sideEnd             = SideAttachedOffset + 8
)

// Side states, the low 32 bits of a claim word.
const (
	StateFree      = 0 // no occupant, nothing to reclaim: may be claimed
	StateAttaching = 1 // claimed by pid, initialising
	StateActive    = 2 // occupied by a live pid
	StateDetached  = 3 // occupant left or was declared dead; awaiting reclaim by the peer
)

// Counter indices in a side's counter block; each is a uint64 written only
// by that side (atomic add), readable by anyone at any time.
const (
	CounterWakeups         = iota // futex wakes this side issued
	CounterSleeps                 // futex waits this side entered
	CounterRingFull               // sends refused because the ring was full
	CounterArenaFull              // allocations refused because the arena was full
	CounterInvalid                // invalid descriptors or releases received
	CounterStale                  // descriptors of an old epoch ignored
	CounterPeerDeaths             // peers this side declared dead
	CounterReclaims               // reclaims this side performed
	CounterReclaimedDescs         // descriptors discarded by reclaims
	CounterReclaimedChunks        // own chunks a departed peer still held (lent, not released)
	CounterAttaches               // times this side was claimed
	CounterSleepTimeouts          // futex waits that ended by timeout, not by a wake
	NumCounters                   // number of defined counters (at most 16)
)

// Doorbell (128 bytes): seq (uint32) at 0 is the futex word, bumped by each
// wake; sleeping (uint32) at 4 is 1 while a waiter may be asleep on seq.
const (
	BellSeqOffset      = 0
	BellSleepingOffset = BellSeqOffset + 4
)

// Ring and arena numbers, and their roles.
const (
	RingData0    = 0 // side 0 -> side 1, chunks of arena 0
	RingData1    = 1 // side 1 -> side 0, chunks of arena 1
	RingRelease0 = 2 // side 1 -> side 0, returns chunks of arena 0
	RingRelease1 = 3 // side 0 -> side 1, returns chunks of arena 1

	RoleData    = 1
	RoleRelease = 2

	// SlotSize is the slot size of every ring: one descriptor.
	SlotSize = DescriptorSize
	// SectionAlign aligns rings; ArenaAlign aligns arenas (a page).
	SectionAlign = BlockLength
	ArenaAlign   = 4096
)

// ringProducer and ringRole give the fixed assignment of rings to
// producers and roles, the same in every region.
var (
	ringProducer = [RingCount]int{RingData0: 0, RingData1: 1, RingRelease0: 1, RingRelease1: 0}
	ringRole     = [RingCount]int{RingData0: RoleData, RingData1: RoleData, RingRelease0: RoleRelease, RingRelease1: RoleRelease}
)

// dataRing, releaseRing: side s publishes data on dataRing(s), and the
// chunks of its arena s come back on releaseRing(s).
func dataRing(s int) int    { return RingData0 + s }
func releaseRing(s int) int { return RingRelease0 + s }

// headerBlocks mirrors the header for compile-time checks, as ringbuf does.
type headerBlocks struct {
	magic        uint64
	version      uint32
	headerSize   uint32
	totalSize    uint64
	creatorPID   uint32
	livenessMS   uint32
	creatorToken uint64
	created      uint64
	uuid         [16]byte
	ringCount    uint32
	arenaCount   uint32
	lane         uint32
	lanes        uint32
	_            [BlockLength - identityEnd]byte
	rings        [RingCount][RingEntrySize]byte
	arenas       [ArenaCount][ArenaEntrySize]byte
	_            [BlockLength - ArenaCount*ArenaEntrySize]byte
	epochSource  uint32
	flags        uint32
	_            [BlockLength - 8]byte
	sides        [SideCount]sideBlock
	counters     [SideCount][BlockLength / 8]uint64
	bells        [RingCount * 2]bellBlock
	_            [HeaderSize - bellsEnd]byte
}

type sideBlock struct {
	claim     uint64
	epoch     uint32
	beatMS    uint32
	heartbeat uint64
	token     uint64
	attached  uint64
	_         [BlockLength - sideEnd]byte
}

type bellBlock struct {
	seq      uint32
	sleeping uint32
	_        [BlockLength - 8]byte
}

var (
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.version)-VersionOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.headerSize)-HeaderSizeOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.totalSize)-TotalSizeOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.creatorPID)-CreatorPIDOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.livenessMS)-LivenessOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.creatorToken)-CreatorTokenOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.created)-CreatedOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.uuid)-UUIDOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.ringCount)-RingCountOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.arenaCount)-ArenaCountOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.lane)-LaneOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.lanes)-LanesOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.rings)-RingTableOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.arenas)-ArenaTableOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.epochSource)-EpochSourceOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.flags)-FlagsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.sides)-SideOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.counters)-CountersOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(headerBlocks{}.bells)-BellsOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(headerBlocks{})-HeaderSize]
	_ = [1]struct{}{}[unsafe.Sizeof(sideBlock{})-BlockLength]
	_ = [1]struct{}{}[unsafe.Offsetof(sideBlock{}.epoch)-SideEpochOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(sideBlock{}.beatMS)-SideBeatOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(sideBlock{}.heartbeat)-SideHeartbeatOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(sideBlock{}.token)-SideTokenOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(sideBlock{}.attached)-SideAttachedOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(bellBlock{}.sleeping)-BellSleepingOffset]
	_ = [1]struct{}{}[NumCounters/17] // at most 16 counters fit a block
	// A ring's control block is a whole number of sections.
	_ = [1]struct{}{}[ringbuf.HeaderLength%SectionAlign]
)

// sideOffset, countersOffset, bellOffset locate per-side and per-ring blocks.
func sideOffset(s int) int           { return SideOffset + s*BlockLength }
func counterOffset(s, c int) int     { return CountersOffset + s*BlockLength + 8*c }
func dataBellOffset(ring int) int    { return BellsOffset + ring*2*BlockLength }
func spaceBellOffset(ring int) int   { return dataBellOffset(ring) + BlockLength }
func ringEntryOffset(ring int) int   { return RingTableOffset + ring*RingEntrySize }
func arenaEntryOffset(arena int) int { return ArenaTableOffset + arena*ArenaEntrySize }
