//go:build cgo

package shmcheck

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

// TestLayoutMatchesHeader compares every numeric macro of haywire_shm.h with
// its Go twin. A macro without a twin fails the test too, so a field added
// on one side cannot be forgotten on the other.
func TestLayoutMatchesHeader(t *testing.T) {
	twins := map[string]uint64{
		"HW_SHM_LAYOUT_VERSION":                 region.LayoutVersion,
		"HW_SHM_MAGIC":                          region.Magic,
		"HW_SHM_HEADER_SIZE":                    region.HeaderSize,
		"HW_SHM_BLOCK":                          region.BlockLength,
		"HW_SHM_RING_COUNT":                     region.RingCount,
		"HW_SHM_ARENA_COUNT":                    region.ArenaCount,
		"HW_SHM_SIDE_COUNT":                     region.SideCount,
		"HW_SHM_MAX_TOTAL_SIZE":                 region.MaxTotalSize,
		"HW_SHM_MIN_LIVENESS_MS":                uint64(region.MinPeerTimeout.Milliseconds()),
		"HW_SHM_MAX_LIVENESS_MS":                uint64(region.MaxPeerTimeout.Milliseconds()),
		"HW_SHM_SECTION_ALIGN":                  region.SectionAlign,
		"HW_SHM_ARENA_ALIGN":                    region.ArenaAlign,
		"HW_SHM_NAME_LEN":                       uint64(len(region.NewName())),
		"HW_SHM_NAME_MAX":                       uint64(region.MaxNameLen),
		"HW_SHM_MAX_LANES":                      region.MaxLanes,
		"HW_SHM_RING_DATA0":                     region.RingData0,
		"HW_SHM_RING_DATA1":                     region.RingData1,
		"HW_SHM_RING_RELEASE0":                  region.RingRelease0,
		"HW_SHM_RING_RELEASE1":                  region.RingRelease1,
		"HW_SHM_ROLE_DATA":                      region.RoleData,
		"HW_SHM_ROLE_RELEASE":                   region.RoleRelease,
		"HW_SHM_STATE_FREE":                     region.StateFree,
		"HW_SHM_STATE_ATTACHING":                region.StateAttaching,
		"HW_SHM_STATE_ACTIVE":                   region.StateActive,
		"HW_SHM_STATE_DETACHED":                 region.StateDetached,
		"HW_SHM_FLAG_CLOSED":                    region.FlagClosed,
		"HW_SHM_COUNTER_WAKEUPS":                region.CounterWakeups,
		"HW_SHM_COUNTER_SLEEPS":                 region.CounterSleeps,
		"HW_SHM_COUNTER_RING_FULL":              region.CounterRingFull,
		"HW_SHM_COUNTER_ARENA_FULL":             region.CounterArenaFull,
		"HW_SHM_COUNTER_INVALID":                region.CounterInvalid,
		"HW_SHM_COUNTER_STALE":                  region.CounterStale,
		"HW_SHM_COUNTER_PEER_DEATHS":            region.CounterPeerDeaths,
		"HW_SHM_COUNTER_RECLAIMS":               region.CounterReclaims,
		"HW_SHM_COUNTER_RECLAIMED_DESCS":        region.CounterReclaimedDescs,
		"HW_SHM_COUNTER_RECLAIMED_CHUNKS":       region.CounterReclaimedChunks,
		"HW_SHM_COUNTER_ATTACHES":               region.CounterAttaches,
		"HW_SHM_COUNTER_SLEEP_TIMEOUTS":         region.CounterSleepTimeouts,
		"HW_SHM_NUM_COUNTERS":                   region.NumCounters,
		"HW_SHM_MAGIC_OFFSET":                   region.MagicOffset,
		"HW_SHM_VERSION_OFFSET":                 region.VersionOffset,
		"HW_SHM_HEADER_SIZE_OFFSET":             region.HeaderSizeOffset,
		"HW_SHM_TOTAL_SIZE_OFFSET":              region.TotalSizeOffset,
		"HW_SHM_CREATOR_PID_OFFSET":             region.CreatorPIDOffset,
		"HW_SHM_LIVENESS_OFFSET":                region.LivenessOffset,
		"HW_SHM_CREATOR_TOKEN_OFFSET":           region.CreatorTokenOffset,
		"HW_SHM_CREATED_OFFSET":                 region.CreatedOffset,
		"HW_SHM_UUID_OFFSET":                    region.UUIDOffset,
		"HW_SHM_RING_COUNT_OFFSET":              region.RingCountOffset,
		"HW_SHM_ARENA_COUNT_OFFSET":             region.ArenaCountOffset,
		"HW_SHM_LANE_OFFSET":                    region.LaneOffset,
		"HW_SHM_LANES_OFFSET":                   region.LanesOffset,
		"HW_SHM_RING_TABLE_OFFSET":              region.RingTableOffset,
		"HW_SHM_ARENA_TABLE_OFFSET":             region.ArenaTableOffset,
		"HW_SHM_CONTROL_OFFSET":                 region.ControlOffset,
		"HW_SHM_EPOCH_SOURCE_OFFSET":            region.EpochSourceOffset,
		"HW_SHM_FLAGS_OFFSET":                   region.FlagsOffset,
		"HW_SHM_SIDE_OFFSET":                    region.SideOffset,
		"HW_SHM_COUNTERS_OFFSET":                region.CountersOffset,
		"HW_SHM_BELLS_OFFSET":                   region.BellsOffset,
		"HW_SHM_RING_ENTRY_SIZE":                region.RingEntrySize,
		"HW_SHM_RING_ENTRY_OFFSET_OFFSET":       region.RingEntryOffsetOffset,
		"HW_SHM_RING_ENTRY_SIZE_OFFSET":         region.RingEntrySizeOffset,
		"HW_SHM_RING_ENTRY_SLOT_SIZE_OFFSET":    region.RingEntrySlotSizeOffset,
		"HW_SHM_RING_ENTRY_SLOT_COUNT_OFFSET":   region.RingEntrySlotCountOffset,
		"HW_SHM_RING_ENTRY_PRODUCER_OFFSET":     region.RingEntryProducerOffset,
		"HW_SHM_RING_ENTRY_ROLE_OFFSET":         region.RingEntryRoleOffset,
		"HW_SHM_ARENA_ENTRY_SIZE":               region.ArenaEntrySize,
		"HW_SHM_ARENA_ENTRY_OFFSET_OFFSET":      region.ArenaEntryOffsetOffset,
		"HW_SHM_ARENA_ENTRY_SIZE_OFFSET":        region.ArenaEntrySizeOffset,
		"HW_SHM_ARENA_ENTRY_CHUNK_SIZE_OFFSET":  region.ArenaEntryChunkSizeOffset,
		"HW_SHM_ARENA_ENTRY_CHUNK_COUNT_OFFSET": region.ArenaEntryChunkCountOffset,
		"HW_SHM_ARENA_ENTRY_WRITER_OFFSET":      region.ArenaEntryWriterOffset,
		"HW_SHM_MIN_CHUNK_SIZE":                 arena.MinChunkSize,
		"HW_SHM_MAX_CHUNK_SIZE":                 arena.MaxChunkSize,
		"HW_SHM_MAX_CHUNKS":                     arena.MaxChunks,
		"HW_SHM_MAX_ARENA_SIZE":                 arena.MaxLength,
		"HW_SHM_SIDE_CLAIM_OFFSET":              region.SideClaimOffset,
		"HW_SHM_SIDE_EPOCH_OFFSET":              region.SideEpochOffset,
		"HW_SHM_SIDE_BEAT_OFFSET":               region.SideBeatOffset,
		"HW_SHM_SIDE_HEARTBEAT_OFFSET":          region.SideHeartbeatOffset,
		"HW_SHM_SIDE_TOKEN_OFFSET":              region.SideTokenOffset,
		"HW_SHM_SIDE_ATTACHED_OFFSET":           region.SideAttachedOffset,
		"HW_SHM_BELL_SEQ_OFFSET":                region.BellSeqOffset,
		"HW_SHM_BELL_SLEEPING_OFFSET":           region.BellSleepingOffset,
		"HW_SHM_RING_MAGIC":                     ringbuf.Magic,
		"HW_SHM_RING_GEOMETRY_OFFSET":           ringbuf.GeometryOffset,
		"HW_SHM_RING_MAGIC_OFFSET":              ringbuf.MagicOffset,
		"HW_SHM_RING_SLOT_SIZE_OFFSET":          ringbuf.SlotSizeOffset,
		"HW_SHM_RING_SLOT_COUNT_OFFSET":         ringbuf.SlotCountOffset,
		"HW_SHM_RING_FLAGS_OFFSET":              ringbuf.FlagsOffset,
		"HW_SHM_RING_TAIL_OFFSET":               ringbuf.TailOffset,
		"HW_SHM_RING_HEAD_OFFSET":               ringbuf.HeadOffset,
		"HW_SHM_RING_HEADER_SIZE":               ringbuf.HeaderLength,
		"HW_SHM_RING_MIN_SLOTS":                 ringbuf.MinSlots,
		"HW_SHM_RING_MAX_SLOTS":                 ringbuf.MaxSlots,
		"HW_SHM_DESC_SIZE":                      region.DescriptorSize,
		"HW_SHM_DESC_KIND_OFFSET":               region.DescKindOffset,
		"HW_SHM_DESC_FLAGS_OFFSET":              region.DescFlagsOffset,
		"HW_SHM_DESC_AUX_OFFSET":                region.DescAuxOffset,
		"HW_SHM_DESC_EPOCH_OFFSET":              region.DescEpochOffset,
		"HW_SHM_DESC_STREAM_OFFSET":             region.DescStreamOffset,
		"HW_SHM_DESC_CONN_OFFSET":               region.DescConnOffset,
		"HW_SHM_DESC_OFFSET_OFFSET":             region.DescOffsetOffset,
		"HW_SHM_DESC_LENGTH_OFFSET":             region.DescLengthOffset,
		"HW_SHM_DESC_GEN_OFFSET":                region.DescGenOffset,
		"HW_SHM_KIND_REQUEST":                   uint64(region.KindRequest),
		"HW_SHM_KIND_BODY":                      uint64(region.KindBody),
		"HW_SHM_KIND_END":                       uint64(region.KindEnd),
		"HW_SHM_KIND_CANCEL":                    uint64(region.KindCancel),
		"HW_SHM_KIND_RESPONSE":                  uint64(region.KindResponse),
		"HW_SHM_KIND_RELEASE":                   uint64(region.KindRelease),
		"HW_SHM_KIND_UPGRADE":                   uint64(region.KindUpgrade),
		"HW_SHM_KIND_DATA":                      uint64(region.KindData),
		"HW_SHM_KIND_NOP":                       uint64(region.KindNop),
		"HW_SHM_KIND_CONTINUE":                  uint64(region.KindContinue),
		"HW_SHM_KIND_COUNT":                     uint64(region.KindContinue) + 1,
		"HW_SHM_DF_END":                         uint64(region.FlagEnd),
		"HW_SHM_DF_MORE":                        uint64(region.FlagMore),

		"sizeof(hw_shm_header)":            region.HeaderSize,
		"sizeof(hw_shm_ring_ctrl)":         ringbuf.HeaderLength,
		"sizeof(hw_shm_desc)":              region.DescriptorSize,
		"sizeof(hw_shm_side)":              region.BlockLength,
		"sizeof(hw_shm_bell)":              region.BlockLength,
		"sizeof(hw_shm_ring_entry)":        region.RingEntrySize,
		"sizeof(hw_shm_arena_entry)":       region.ArenaEntrySize,
		"offsetof(hw_shm_header, bells)":   region.BellsOffset,
		"offsetof(hw_shm_desc, gen)":       region.DescGenOffset,
		"offsetof(hw_shm_ring_ctrl, head)": ringbuf.HeadOffset,
	}
	macros := Macros()
	for name, c := range macros {
		g, ok := twins[name]
		if !ok {
			t.Errorf("%s = %d in haywire_shm.h has no Go twin in this test", name, c)
			continue
		}
		if c != g {
			t.Errorf("%s = %d in haywire_shm.h; Go has %d", name, c, g)
		}
	}
	for name := range twins {
		if _, ok := macros[name]; !ok {
			t.Errorf("%s has a Go twin but Macros() does not export it", name)
		}
	}
	if got := NamePrefix(); got != region.NamePrefix {
		t.Errorf("HW_SHM_NAME_PREFIX = %q; Go has %q", got, region.NamePrefix)
	}
}

// TestErrorCodes pins the C error codes: the Go tests that compare the C
// and Go validators (package region, cpeer_test.go) rely on these values,
// and C callers may have compiled them in.
func TestErrorCodes(t *testing.T) {
	want := map[string]int{
		"OK": 0, "ETRUNCATED": -101, "EMAGIC": -102, "EVERSION": -103, "ELAYOUT": -104, "EBUSY": -105,
		"EFENCED": -106, "EDESC": -107, "ESTALE": -108, "ECORRUPT": -109, "ETIMEDOUT": -110, "ENAME": -111,
	}
	got := ErrorCodes()
	if len(got) != len(want) {
		t.Errorf("%d error codes; want %d", len(got), len(want))
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("HW_SHM_%s = %d (present %v); want %d", name, g, ok, w)
		}
	}
}

// TestEveryMacroChecked reads the header itself: every object-like numeric
// HW_SHM_ macro must be exported by Macros (and so compared above).
func TestEveryMacroChecked(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "include", "haywire_shm.h"))
	if err != nil {
		t.Fatal(err)
	}
	// Object-like macros only: a name followed by a space, not "(".
	re := regexp.MustCompile(`(?m)^#define (HW_SHM_[A-Z0-9_]+) `)
	notNumeric := map[string]bool{"HW_SHM_NAME_PREFIX": true}
	macros := Macros()
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		name := m[1]
		if notNumeric[name] || regexp.MustCompile(`^HW_SHM__`).MatchString(name) {
			continue // strings and internal (HW_SHM__) macros
		}
		n++
		if _, ok := macros[name]; !ok {
			t.Errorf("%s is defined in haywire_shm.h but not compared with Go (add it to Macros)", name)
		}
	}
	if n < 100 {
		t.Errorf("found only %d macros; is the pattern still right?", n)
	}
}

// TestNameAgreement runs names through hw_shm_name_parse and
// region.ParseLaneName, and lane numbers through hw_shm_lane_name and
// region.LaneName: the two implementations of the naming rules must agree.
func TestNameAgreement(t *testing.T) {
	base := region.NewName()
	id := strings.TrimPrefix(base, region.NamePrefix)
	names := []string{
		base, base + ".1", base + ".9", base + ".10", base + ".63",
		base + ".0", base + ".00", base + ".01", base + ".64", base + ".99", base + ".100", base + ".630",
		base + ".", base + ".-1", base + ".+1", base + ". 1", base + ".1 ", base + ".a", base + ".1a", base + "..1",
		base + ".1.2", base + "/1", base + "1", base + "-1", base + ".٣",
		strings.ToUpper(base), region.NamePrefix + strings.ToUpper(id), region.NamePrefix + "{" + id + "}",
		region.NamePrefix + id[:35], region.NamePrefix + strings.ReplaceAll(id, "-", "") + "0000",
		region.NamePrefix + "../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaa", id, "", "haywire-", "haywire",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := "0123456789abcdefABCDEF-.x/ \x00"
	for range 3000 {
		b := []byte(base + []string{"", ".1", ".42", ".63"}[rng.IntN(4)])
		for range 1 + rng.IntN(2) {
			switch i := rng.IntN(len(b)); rng.IntN(3) {
			case 0:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			}
		}
		if !strings.ContainsRune(string(b), 0) { // C strings end at NUL
			names = append(names, string(b))
		}
	}
	accepted := 0
	for _, n := range names {
		gid, glane, gerr := region.ParseLaneName(n)
		code, cid, clane := ParseName(n)
		if (gerr == nil) != (code == 0) {
			t.Errorf("%q: C says %d, Go says %v", n, code, gerr)
			continue
		}
		if gerr == nil {
			accepted++
			if cid != gid || int(clane) != glane {
				t.Errorf("%q: C parses %x lane %d, Go %x lane %d", n, cid, clane, gid[:], glane)
			}
		}
	}
	if accepted < 10 {
		t.Errorf("only %d names accepted; the corpus is too weak", accepted)
	}
	for k := range uint32(region.MaxLanes + 2) {
		code, got := LaneName(base, k)
		want := region.LaneName(base, int(k))
		if _, _, err := region.ParseLaneName(want); err != nil {
			want = "" // Go builds it, but it is no name
		}
		if code != 0 {
			got = ""
		}
		if got != want {
			t.Errorf("lane %d: C builds %q (code %d), Go %q", k, got, code, want)
		}
	}
	if code, _ := LaneName(base+".3", 1); code == 0 {
		t.Errorf("hw_shm_lane_name accepted a lane-3 name as its base")
	}
}
