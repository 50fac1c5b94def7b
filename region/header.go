package region

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

// Limits checked when planning and when validating a header.
const (
	MaxTotalSize   = 1 << 34 // 16 GiB: far above any valid layout, below anything absurd
	MinPeerTimeout = 10 * time.Millisecond
	MaxPeerTimeout = time.Hour
)

// RingInfo describes one ring as recorded in the ring table.
type RingInfo struct {
	Offset   uint64           // from the start of the region, control block included
	Size     uint64           // ringbuf.Length of the geometry
	Geometry ringbuf.Geometry // slot size is always SlotSize
	Producer int              // side that produces on the ring
	Role     int              // RoleData or RoleRelease
}

// ArenaInfo describes one arena as recorded in the arena table.
type ArenaInfo struct {
	Offset   uint64
	Size     uint64
	Geometry arena.Geometry
	Writer   int // side that owns the arena's allocator
}

// Layout is the validated content of a region header's immutable part.
type Layout struct {
	TotalSize    uint64
	CreatorPID   int
	CreatorToken uint64
	Created      time.Time
	PeerTimeout  time.Duration // liveness bound both sides use
	UUID         uuid.UUID
	Lane         int // this region's lane, in [0, Lanes)
	Lanes        int // the engine's lane count, in [1, MaxLanes]
	Rings        [RingCount]RingInfo
	Arenas       [ArenaCount]ArenaInfo
}

// plan computes a layout for the given geometry: rings packed after the
// header on 128-byte boundaries, arenas after them on page boundaries.
// Release rings get at least one slot per chunk of the arena they serve, so
// an honest reader can always give back every chunk it holds.
func plan(dataSlots int, ag arena.Geometry, timeout time.Duration) (Layout, error) {
	if err := ag.Check(); err != nil {
		return Layout{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	dg := ringbuf.Geometry{SlotSize: SlotSize, SlotCount: dataSlots}
	if err := dg.Check(); err != nil {
		return Layout{}, fmt.Errorf("%w: data ring: %w", ErrConfig, err)
	}
	rg := ringbuf.Geometry{SlotSize: SlotSize, SlotCount: max(ringbuf.MinSlots, 1<<bits.Len(uint(ag.Chunks-1)))}
	if err := rg.Check(); err != nil {
		return Layout{}, fmt.Errorf("%w: release ring: %w", ErrConfig, err)
	}
	if timeout < MinPeerTimeout || timeout > MaxPeerTimeout {
		return Layout{}, fmt.Errorf("%w: peer timeout %v not in [%v, %v]", ErrConfig, timeout, MinPeerTimeout, MaxPeerTimeout)
	}
	var l Layout
	l.PeerTimeout = timeout
	l.Lanes = 1
	off := uint64(HeaderSize)
	for r := range RingCount {
		g := dg
		if ringRole[r] == RoleRelease {
			g = rg
		}
		off = alignUp(off, SectionAlign)
		l.Rings[r] = RingInfo{Offset: off, Size: uint64(g.Length()), Geometry: g, Producer: ringProducer[r], Role: ringRole[r]}
		off += l.Rings[r].Size
	}
	for a := range ArenaCount {
		off = alignUp(off, ArenaAlign)
		l.Arenas[a] = ArenaInfo{Offset: off, Size: uint64(ag.Length()), Geometry: ag, Writer: a}
		off += l.Arenas[a].Size
	}
	l.TotalSize = alignUp(off, ArenaAlign)
	if l.TotalSize > MaxTotalSize {
		return Layout{}, fmt.Errorf("%w: region of %d bytes exceeds %d", ErrConfig, l.TotalSize, MaxTotalSize)
	}
	return l, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

// encode writes the identity block (magic excluded: the creator stores it
// last) and both tables into hdr, which is HeaderSize zeroed bytes.
func (l *Layout) encode(hdr []byte) {
	le := binary.LittleEndian
	le.PutUint32(hdr[VersionOffset:], LayoutVersion)
	le.PutUint32(hdr[HeaderSizeOffset:], HeaderSize)
	le.PutUint64(hdr[TotalSizeOffset:], l.TotalSize)
	le.PutUint32(hdr[CreatorPIDOffset:], uint32(l.CreatorPID))
	le.PutUint32(hdr[LivenessOffset:], uint32(l.PeerTimeout/time.Millisecond))
	le.PutUint64(hdr[CreatorTokenOffset:], l.CreatorToken)
	le.PutUint64(hdr[CreatedOffset:], uint64(l.Created.UnixNano()))
	copy(hdr[UUIDOffset:UUIDOffset+16], l.UUID[:])
	le.PutUint32(hdr[RingCountOffset:], RingCount)
	le.PutUint32(hdr[ArenaCountOffset:], ArenaCount)
	le.PutUint32(hdr[LaneOffset:], uint32(l.Lane))
	le.PutUint32(hdr[LanesOffset:], uint32(l.Lanes))
	for r, ri := range l.Rings {
		e := hdr[ringEntryOffset(r):]
		le.PutUint64(e[RingEntryOffsetOffset:], ri.Offset)
		le.PutUint64(e[RingEntrySizeOffset:], ri.Size)
		le.PutUint32(e[RingEntrySlotSizeOffset:], uint32(ri.Geometry.SlotSize))
		le.PutUint32(e[RingEntrySlotCountOffset:], uint32(ri.Geometry.SlotCount))
		le.PutUint32(e[RingEntryProducerOffset:], uint32(ri.Producer))
		le.PutUint32(e[RingEntryRoleOffset:], uint32(ri.Role))
	}
	for a, ai := range l.Arenas {
		e := hdr[arenaEntryOffset(a):]
		le.PutUint64(e[ArenaEntryOffsetOffset:], ai.Offset)
		le.PutUint64(e[ArenaEntrySizeOffset:], ai.Size)
		le.PutUint32(e[ArenaEntryChunkSizeOffset:], uint32(ai.Geometry.ChunkSize))
		le.PutUint32(e[ArenaEntryChunkCountOffset:], uint32(ai.Geometry.Chunks))
		le.PutUint32(e[ArenaEntryWriterOffset:], uint32(ai.Writer))
	}
}

// ParseHeader validates the header at the start of b, the first bytes of a
// region file of fileSize bytes, and returns its layout. It checks the
// magic, version and header size; that the file is as long as the recorded
// total size; the lane fields (lane < lanes <= MaxLanes; both 0 reads as
// lane 0 of 1); every table entry (role, geometry, alignment, bounds, no
// overlap, release rings big enough); and the side claims. It does not
// look beyond the header: see checkRings for the ring control blocks, and
// Open for the checks against the name.
// Errors wrap ErrTruncated, ErrMagic, ErrVersion or ErrLayout and carry the
// offending values.
func ParseHeader(b []byte, fileSize int64) (Layout, error) {
	le := binary.LittleEndian
	if len(b) < HeaderSize || fileSize < HeaderSize {
		return Layout{}, fmt.Errorf("%w: %d bytes, the header alone needs %d", ErrTruncated, min(int64(len(b)), fileSize), HeaderSize)
	}
	if m := le.Uint64(b[MagicOffset:]); m != Magic {
		return Layout{}, fmt.Errorf("%w: %#016x, want %#016x (not a region, or not initialised yet)", ErrMagic, m, uint64(Magic))
	}
	if v := le.Uint32(b[VersionOffset:]); v != LayoutVersion {
		return Layout{}, fmt.Errorf("%w: region has version %d, this build reads version %d", ErrVersion, v, LayoutVersion)
	}
	if hs := le.Uint32(b[HeaderSizeOffset:]); hs != HeaderSize {
		return Layout{}, fmt.Errorf("%w: header size %d, want %d", ErrLayout, hs, HeaderSize)
	}
	var l Layout
	l.TotalSize = le.Uint64(b[TotalSizeOffset:])
	if l.TotalSize < HeaderSize || l.TotalSize > MaxTotalSize || l.TotalSize%ArenaAlign != 0 {
		return Layout{}, fmt.Errorf("%w: total size %d not a multiple of %d in [%d, %d]",
			ErrLayout, l.TotalSize, ArenaAlign, HeaderSize, uint64(MaxTotalSize))
	}
	if uint64(fileSize) < l.TotalSize {
		return Layout{}, fmt.Errorf("%w: file is %d bytes, header says %d", ErrTruncated, fileSize, l.TotalSize)
	}
	pid := le.Uint32(b[CreatorPIDOffset:])
	if pid == 0 || pid > 1<<31-1 {
		return Layout{}, fmt.Errorf("%w: creator pid %d", ErrLayout, pid)
	}
	l.CreatorPID = int(pid)
	ms := le.Uint32(b[LivenessOffset:])
	l.PeerTimeout = time.Duration(ms) * time.Millisecond
	if l.PeerTimeout < MinPeerTimeout || l.PeerTimeout > MaxPeerTimeout {
		return Layout{}, fmt.Errorf("%w: liveness %d ms not in [%v, %v]", ErrLayout, ms, MinPeerTimeout, MaxPeerTimeout)
	}
	l.CreatorToken = le.Uint64(b[CreatorTokenOffset:])
	l.Created = time.Unix(0, int64(le.Uint64(b[CreatedOffset:])))
	copy(l.UUID[:], b[UUIDOffset:UUIDOffset+16])
	if rc, ac := le.Uint32(b[RingCountOffset:]), le.Uint32(b[ArenaCountOffset:]); rc != RingCount || ac != ArenaCount {
		return Layout{}, fmt.Errorf("%w: %d rings and %d arenas, want %d and %d", ErrLayout, rc, ac, RingCount, ArenaCount)
	}
	lane, lanes := le.Uint32(b[LaneOffset:]), le.Uint32(b[LanesOffset:])
	if lanes == 0 && lane == 0 {
		lanes = 1 // written before lanes existed: a single lane
	}
	if lane >= lanes || lanes > MaxLanes {
		return Layout{}, fmt.Errorf("%w: lane %d of %d lanes, want lane < lanes <= %d", ErrLayout, lane, lanes, MaxLanes)
	}
	l.Lane, l.Lanes = int(lane), int(lanes)
	type section struct {
		name      string
		off, size uint64
	}
	var secs []section
	inside := func(name string, off, size uint64) error {
		if off < HeaderSize || off > l.TotalSize || size > l.TotalSize-off {
			return fmt.Errorf("%w: %s at %d+%d outside [%d, %d)", ErrLayout, name, off, size, HeaderSize, l.TotalSize)
		}
		secs = append(secs, section{name, off, size})
		return nil
	}
	for r := range RingCount {
		e := b[ringEntryOffset(r):]
		ri := RingInfo{
			Offset:   le.Uint64(e[RingEntryOffsetOffset:]),
			Size:     le.Uint64(e[RingEntrySizeOffset:]),
			Geometry: ringbuf.Geometry{SlotSize: int(le.Uint32(e[RingEntrySlotSizeOffset:])), SlotCount: int(le.Uint32(e[RingEntrySlotCountOffset:]))},
			Producer: int(le.Uint32(e[RingEntryProducerOffset:])),
			Role:     int(le.Uint32(e[RingEntryRoleOffset:])),
		}
		name := fmt.Sprintf("ring %d", r)
		if ri.Producer != ringProducer[r] || ri.Role != ringRole[r] {
			return Layout{}, fmt.Errorf("%w: %s has producer %d and role %d, want %d and %d",
				ErrLayout, name, ri.Producer, ri.Role, ringProducer[r], ringRole[r])
		}
		if ri.Geometry.SlotSize != SlotSize {
			return Layout{}, fmt.Errorf("%w: %s slot size %d, want %d", ErrLayout, name, ri.Geometry.SlotSize, SlotSize)
		}
		if err := ri.Geometry.Check(); err != nil {
			return Layout{}, fmt.Errorf("%w: %s: %w", ErrLayout, name, err)
		}
		if ri.Size != uint64(ri.Geometry.Length()) || ri.Offset%SectionAlign != 0 {
			return Layout{}, fmt.Errorf("%w: %s at %d size %d, want %d-aligned and %d bytes",
				ErrLayout, name, ri.Offset, ri.Size, SectionAlign, ri.Geometry.Length())
		}
		if err := inside(name, ri.Offset, ri.Size); err != nil {
			return Layout{}, err
		}
		l.Rings[r] = ri
	}
	for a := range ArenaCount {
		e := b[arenaEntryOffset(a):]
		ai := ArenaInfo{
			Offset:   le.Uint64(e[ArenaEntryOffsetOffset:]),
			Size:     le.Uint64(e[ArenaEntrySizeOffset:]),
			Geometry: arena.Geometry{ChunkSize: int(le.Uint32(e[ArenaEntryChunkSizeOffset:])), Chunks: int(le.Uint32(e[ArenaEntryChunkCountOffset:]))},
			Writer:   int(le.Uint32(e[ArenaEntryWriterOffset:])),
		}
		name := fmt.Sprintf("arena %d", a)
		if ai.Writer != a {
			return Layout{}, fmt.Errorf("%w: %s has writer %d, want %d", ErrLayout, name, ai.Writer, a)
		}
		if err := ai.Geometry.Check(); err != nil {
			return Layout{}, fmt.Errorf("%w: %s: %w", ErrLayout, name, err)
		}
		if ai.Size != uint64(ai.Geometry.Length()) || ai.Offset%ArenaAlign != 0 {
			return Layout{}, fmt.Errorf("%w: %s at %d size %d, want %d-aligned and %d bytes",
				ErrLayout, name, ai.Offset, ai.Size, ArenaAlign, ai.Geometry.Length())
		}
		if err := inside(name, ai.Offset, ai.Size); err != nil {
			return Layout{}, err
		}
		if rs := l.Rings[releaseRing(a)].Geometry.SlotCount; rs < ai.Geometry.Chunks {
			return Layout{}, fmt.Errorf("%w: release ring %d has %d slots for %d chunks of %s",
				ErrLayout, releaseRing(a), rs, ai.Geometry.Chunks, name)
		}
		l.Arenas[a] = ai
	}
	slices.SortFunc(secs, func(x, y section) int {
		if x.off < y.off {
			return -1
		} else if x.off > y.off {
			return 1
		}
		return 0
	})
	for i := 1; i < len(secs); i++ {
		if p := secs[i-1]; p.off+p.size > secs[i].off {
			return Layout{}, fmt.Errorf("%w: %s at %d+%d overlaps %s at %d",
				ErrLayout, p.name, p.off, p.size, secs[i].name, secs[i].off)
		}
	}
	for s := range SideCount {
		claim := le.Uint64(b[sideOffset(s)+SideClaimOffset:])
		if st := claim & 0xffffffff; st > StateDetached {
			return Layout{}, fmt.Errorf("%w: side %d claim %#x has unknown state %d", ErrLayout, s, claim, st)
		}
	}
	return l, nil
}

// checkRings validates each ring's own control block in the mapping against
// the ring table (the table is the creator's intent; the control block is
// what the peer reads).
func checkRings(mem []byte, l *Layout) error {
	for r, ri := range l.Rings {
		g, err := ringbuf.ReadGeometry(mem[ri.Offset : ri.Offset+ri.Size])
		if err != nil {
			return fmt.Errorf("%w: ring %d: %w", ErrLayout, r, err)
		}
		if g != ri.Geometry {
			return fmt.Errorf("%w: ring %d control block says %+v, table says %+v", ErrLayout, r, g, ri.Geometry)
		}
	}
	return nil
}
