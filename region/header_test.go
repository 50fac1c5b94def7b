package region

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

// validImage returns a complete, valid region image as Create writes it.
func validImage(t testing.TB, chunkSize, chunks int) ([]byte, Layout) {
	t.Helper()
	l, err := plan(16, arena.Geometry{ChunkSize: chunkSize, Chunks: chunks}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l.CreatorPID, l.CreatorToken, l.Created, l.UUID = 1234, 99, time.Unix(1, 2), uuid.New()
	b := make([]byte, l.TotalSize)
	l.encode(b)
	for _, ri := range l.Rings {
		if err := ringbuf.Init(b[ri.Offset:ri.Offset+ri.Size], ri.Geometry); err != nil {
			t.Fatal(err)
		}
	}
	binary.LittleEndian.PutUint64(b[MagicOffset:], Magic)
	return b, l
}

func TestPlan(t *testing.T) {
	b, l := validImage(t, 64, 8)
	got, err := ParseHeader(b, int64(len(b)))
	if err != nil {
		t.Fatalf("ParseHeader(valid image) = %v", err)
	}
	if got != l {
		t.Fatalf("ParseHeader = %+v; want %+v", got, l)
	}
	if err := checkRings(b, &got); err != nil {
		t.Fatalf("checkRings(valid image) = %v", err)
	}
	for r, ri := range l.Rings {
		if ri.Offset%SectionAlign != 0 || ri.Offset < HeaderSize {
			t.Errorf("ring %d at %d", r, ri.Offset)
		}
		if ri.Role == RoleRelease && ri.Geometry.SlotCount < 8 {
			t.Errorf("release ring %d has %d slots for 8 chunks", r, ri.Geometry.SlotCount)
		}
	}
	for a, ai := range l.Arenas {
		if ai.Offset%ArenaAlign != 0 {
			t.Errorf("arena %d at %d", a, ai.Offset)
		}
	}
	bad := []struct {
		slots   int
		g       arena.Geometry
		timeout time.Duration
	}{
		{15, arena.Geometry{ChunkSize: 64, Chunks: 8}, time.Second},
		{16, arena.Geometry{ChunkSize: 48, Chunks: 8}, time.Second},
		{16, arena.Geometry{ChunkSize: 64, Chunks: 0}, time.Second},
		{16, arena.Geometry{ChunkSize: 64, Chunks: 8}, time.Millisecond},
		{16, arena.Geometry{ChunkSize: 64, Chunks: 8}, 2 * time.Hour},
	}
	for _, tt := range bad {
		if _, err := plan(tt.slots, tt.g, tt.timeout); !errors.Is(err, ErrConfig) {
			t.Errorf("plan(%d, %+v, %v) = %v; want %v", tt.slots, tt.g, tt.timeout, err, ErrConfig)
		}
	}
}

// headerMutation breaks one thing in a valid image (8 chunks of 64 bytes,
// or of 128 bytes when chunks128 is set).
type headerMutation struct {
	name      string
	mut       func([]byte, Layout)
	size      int64 // file size if not 0
	want      error
	inMsg     string
	chunks128 bool
}

func headerMutations() []headerMutation {
	le := binary.LittleEndian
	ring := func(r, field int) int { return ringEntryOffset(r) + field }
	ar := func(a, field int) int { return arenaEntryOffset(a) + field }
	put32 := func(off int, v uint32) func([]byte, Layout) {
		return func(b []byte, _ Layout) { le.PutUint32(b[off:], v) }
	}
	put64 := func(off int, v uint64) func([]byte, Layout) {
		return func(b []byte, _ Layout) { le.PutUint64(b[off:], v) }
	}
	return []headerMutation{
		{name: "file shorter than header", size: 100, want: ErrTruncated, inMsg: "100 bytes"},
		{name: "file shorter than total", size: HeaderSize + 4096, want: ErrTruncated, inMsg: "file is 8192 bytes"},
		{name: "magic", mut: put64(MagicOffset, 0x1122334455667788), want: ErrMagic, inMsg: "0x1122334455667788"},
		{name: "zero magic", mut: put64(MagicOffset, 0), want: ErrMagic, inMsg: "not initialised"},
		{name: "version", mut: put32(VersionOffset, 1), want: ErrVersion, inMsg: "version 1"},
		{name: "header size", mut: put32(HeaderSizeOffset, 8192), want: ErrLayout, inMsg: "header size 8192"},
		{name: "total size unaligned", mut: put64(TotalSizeOffset, 12345), want: ErrLayout, inMsg: "total size 12345"},
		{name: "total size huge", mut: put64(TotalSizeOffset, 1<<40), want: ErrLayout, inMsg: "1099511627776"},
		{name: "total size beyond file", mut: func(b []byte, l Layout) { le.PutUint64(b[TotalSizeOffset:], l.TotalSize+4096) }, want: ErrTruncated, inMsg: "header says"},
		{name: "creator pid 0", mut: put32(CreatorPIDOffset, 0), want: ErrLayout, inMsg: "creator pid 0"},
		{name: "liveness too short", mut: put32(LivenessOffset, 5), want: ErrLayout, inMsg: "liveness 5 ms"},
		{name: "liveness zero", mut: put32(LivenessOffset, 0), want: ErrLayout, inMsg: "liveness 0 ms"},
		{name: "liveness just too long", mut: put32(LivenessOffset, 3600001), want: ErrLayout, inMsg: "liveness 3600001 ms"},
		{name: "liveness huge", mut: put32(LivenessOffset, 0xffffffff), want: ErrLayout, inMsg: "liveness 4294967295 ms"},
		{name: "ring count", mut: put32(RingCountOffset, 3), want: ErrLayout, inMsg: "3 rings"},
		{name: "arena count", mut: put32(ArenaCountOffset, 1), want: ErrLayout, inMsg: "1 arenas"},
		{name: "lane not below lanes", mut: put64(LaneOffset, 3<<32|3), want: ErrLayout, inMsg: "lane 3 of 3 lanes"},
		{name: "lane beyond lanes", mut: put64(LaneOffset, 2<<32|7), want: ErrLayout, inMsg: "lane 7 of 2 lanes"},
		{name: "lane without lanes", mut: put64(LaneOffset, 0<<32|1), want: ErrLayout, inMsg: "lane 1 of 0 lanes"},
		{name: "too many lanes", mut: put32(LanesOffset, MaxLanes+1), want: ErrLayout, inMsg: "lane 0 of 65 lanes"},
		{name: "lane count huge", mut: put64(LaneOffset, 0xffffffff<<32|5), want: ErrLayout, inMsg: "lane 5 of 4294967295 lanes"},
		{name: "ring producer", mut: put32(ring(1, RingEntryProducerOffset), 0), want: ErrLayout, inMsg: "ring 1 has producer 0"},
		{name: "ring role", mut: put32(ring(2, RingEntryRoleOffset), RoleData), want: ErrLayout, inMsg: "role 1"},
		{name: "ring slot size", mut: put32(ring(0, RingEntrySlotSizeOffset), 64), want: ErrLayout, inMsg: "slot size 64"},
		{name: "ring slot count", mut: put32(ring(0, RingEntrySlotCountOffset), 17), want: ErrLayout, inMsg: "slot count 17"},
		{name: "ring size", mut: put64(ring(0, RingEntrySizeOffset), 1000), want: ErrLayout, inMsg: "size 1000"},
		{name: "ring unaligned", mut: func(b []byte, l Layout) { le.PutUint64(b[ring(3, 0):], l.Rings[3].Offset+8) }, want: ErrLayout, inMsg: "128-aligned"},
		{name: "ring in header", mut: put64(ring(0, RingEntryOffsetOffset), 0), want: ErrLayout, inMsg: "ring 0 at 0+"},
		{name: "ring beyond end", mut: put64(ring(0, RingEntryOffsetOffset), 1<<30), want: ErrLayout, inMsg: "outside"},
		{name: "ring offset wraps", mut: put64(ring(0, RingEntryOffsetOffset), ^uint64(127)), want: ErrLayout, inMsg: "outside"},
		{name: "rings overlap", mut: func(b []byte, l Layout) { le.PutUint64(b[ring(1, 0):], l.Rings[0].Offset) }, want: ErrLayout, inMsg: "overlaps"},
		{name: "arena writer", mut: put32(ar(0, ArenaEntryWriterOffset), 1), want: ErrLayout, inMsg: "writer 1"},
		{name: "arena chunk size", mut: put32(ar(1, ArenaEntryChunkSizeOffset), 96), want: ErrLayout, inMsg: "chunk size 96"},
		{name: "arena size", mut: put64(ar(1, ArenaEntrySizeOffset), 4096), want: ErrLayout, inMsg: "size 4096"},
		{name: "arena unaligned", mut: func(b []byte, l Layout) { le.PutUint64(b[ar(0, 0):], l.Arenas[0].Offset+128) }, want: ErrLayout, inMsg: "4096-aligned"},
		{name: "arena beyond end", mut: func(b []byte, l Layout) { le.PutUint64(b[ar(1, 0):], l.TotalSize) }, want: ErrLayout, inMsg: "outside"},
		{name: "arena over ring", mut: func(b []byte, l Layout) { le.PutUint64(b[ar(0, 0):], HeaderSize) }, want: ErrLayout, inMsg: "overlaps"},
		{name: "release ring too small", chunks128: true, mut: func(b []byte, l Layout) {
			le.PutUint32(b[ar(0, ArenaEntryChunkSizeOffset):], 64)
			le.PutUint32(b[ar(0, ArenaEntryChunkCountOffset):], 16)
		}, want: ErrLayout, inMsg: "release ring 2 has 8 slots for 16 chunks"},
		{name: "side claim state", mut: put64(sideOffset(1)+SideClaimOffset, 42<<32|9), want: ErrLayout, inMsg: "unknown state 9"},
	}
}

// applyMutation returns the image and file size for m.
func applyMutation(t testing.TB, m headerMutation) ([]byte, int64) {
	cs := 64
	if m.chunks128 {
		cs = 128
	}
	b, l := validImage(t, cs, 8)
	if m.mut != nil {
		m.mut(b, l)
	}
	size := int64(len(b))
	if m.size != 0 {
		size = m.size
		b = b[:min(len(b), int(size))]
	}
	return b, size
}

// TestParseHeaderErrors breaks one thing at a time in a valid image and
// checks the error and that its message carries the offending value.
func TestParseHeaderErrors(t *testing.T) {
	for _, tt := range headerMutations() {
		b, size := applyMutation(t, tt)
		_, err := ParseHeader(b, size)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseHeader = %v; want %v", tt.name, err, tt.want)
		} else if !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: ParseHeader = %q; want it to mention %q", tt.name, err, tt.inMsg)
		}
	}
}

func TestCheckRingsErrors(t *testing.T) {
	tests := []struct {
		name  string
		mut   func([]byte, Layout)
		inMsg string
	}{
		{"ring magic", func(b []byte, l Layout) { b[l.Rings[2].Offset+ringbuf.MagicOffset] ^= 0xff }, "ring 2: ringbuf: bad magic"},
		{"ring geometry disagrees", func(b []byte, l Layout) {
			binary.LittleEndian.PutUint32(b[l.Rings[1].Offset+ringbuf.SlotCountOffset:], 8)
		}, "ring 1 control block says"},
		{"ring flags", func(b []byte, l Layout) { b[l.Rings[0].Offset+ringbuf.FlagsOffset] = 1 }, "invalid geometry"},
	}
	for _, tt := range tests {
		b, l := validImage(t, 64, 8)
		tt.mut(b, l)
		err := checkRings(b, &l)
		if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: checkRings = %v; want %v mentioning %q", tt.name, err, ErrLayout, tt.inMsg)
		}
	}
}

func TestParseName(t *testing.T) {
	id := uuid.New()
	tests := []struct {
		in   string
		want error
	}{
		{NamePrefix + id.String(), nil},
		{NewName(), nil},
		{id.String(), ErrName},
		{NamePrefix + strings.ToUpper(id.String()), ErrName},
		{NamePrefix + "{" + id.String() + "}", ErrName},
		{NamePrefix + "urn:uuid:" + id.String(), ErrName},
		{NamePrefix + "../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaa", ErrName},
		{"", ErrName},
	}
	for _, tt := range tests {
		if _, err := ParseName(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("ParseName(%q) = %v; want %v", tt.in, err, tt.want)
		}
	}
}
