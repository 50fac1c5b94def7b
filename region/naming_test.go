package region

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestParseLaneName: lane names round-trip through LaneName and
// ParseLaneName, and every other spelling is refused.
func TestParseLaneName(t *testing.T) {
	id := uuid.New()
	base := NamePrefix + id.String()
	tests := []struct {
		in      string
		lane    int
		want    error
		inMsg   string
		comment string
	}{
		{in: base, lane: 0},
		{in: base + ".1", lane: 1},
		{in: base + ".9", lane: 9},
		{in: base + ".10", lane: 10},
		{in: base + ".63", lane: 63},
		{in: base + ".0", want: ErrName, inMsg: "lane 0 has no suffix", comment: "lane 0 is the bare name"},
		{in: base + ".00", want: ErrName, inMsg: "leading zeros"},
		{in: base + ".01", want: ErrName, inMsg: "leading zeros", comment: "a second spelling of lane 1"},
		{in: base + ".64", want: ErrName, inMsg: "at most 63"},
		{in: base + ".99", want: ErrName, inMsg: "at most 63"},
		{in: base + ".100", want: ErrName, inMsg: "at most 63"},
		{in: base + ".18446744073709551617", want: ErrName, inMsg: "at most 63"},
		{in: base + ".", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".-1", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".+1", want: ErrName, inMsg: "not a decimal"},
		{in: base + ". 1", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".1 ", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".a", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".1a", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".0x1", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".1_0", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".٣", want: ErrName, inMsg: "not a decimal", comment: "an Arabic-Indic digit"},
		{in: base + "..1", want: ErrName, inMsg: "not a decimal"},
		{in: base + ".1.2", want: ErrName, inMsg: "not a decimal"},
		{in: base + "/1", want: ErrName, inMsg: "want nothing or .<lane>"},
		{in: base + "-1", want: ErrName, inMsg: "want nothing or .<lane>"},
		{in: base + "1", want: ErrName, inMsg: "want nothing or .<lane>"},
		{in: NamePrefix + strings.ToUpper(id.String()) + ".1", want: ErrName, inMsg: "canonical"},
		{in: NamePrefix + id.String()[:35] + ".1", want: ErrName, inMsg: "canonical"},
		{in: id.String() + ".1", want: ErrName, inMsg: "is not haywire-<uuid>"},
		{in: "haywire-.1", want: ErrName, inMsg: "is not haywire-<uuid>"},
		{in: "", want: ErrName},
	}
	for _, tt := range tests {
		gotID, lane, err := ParseLaneName(tt.in)
		switch {
		case !errors.Is(err, tt.want):
			t.Errorf("ParseLaneName(%q) = %v; want %v (%s)", tt.in, err, tt.want, tt.comment)
		case err != nil && !strings.Contains(err.Error(), tt.inMsg):
			t.Errorf("ParseLaneName(%q) = %q; want it to mention %q", tt.in, err, tt.inMsg)
		case err == nil && (gotID != id || lane != tt.lane):
			t.Errorf("ParseLaneName(%q) = %v, %d; want %v, %d", tt.in, gotID, lane, id, tt.lane)
		}
		// ParseName accepts the same names and returns the same uuid.
		if pid, perr := ParseName(tt.in); (perr == nil) != (err == nil) || pid != gotID {
			t.Errorf("ParseName(%q) = %v, %v; ParseLaneName says %v, %v", tt.in, pid, perr, gotID, err)
		}
	}
	for k := range MaxLanes {
		name := LaneName(base, k)
		if gotID, lane, err := ParseLaneName(name); err != nil || gotID != id || lane != k {
			t.Errorf("ParseLaneName(LaneName(base, %d) = %q) = %v, %d, %v", k, name, gotID, lane, err)
		}
		if again := LaneName(name, 5); again != base+".5" {
			t.Errorf("LaneName(%q, 5) = %q; want the suffix replaced", name, again)
		}
		if len(name) > MaxNameLen {
			t.Errorf("%q is longer than MaxNameLen %d", name, MaxNameLen)
		}
	}
	if LaneName(base, 0) != base || LaneName(base+".7", 0) != base {
		t.Errorf("LaneName(..., 0) = %q, %q; want %q", LaneName(base, 0), LaneName(base+".7", 0), base)
	}
	if n := LaneName(base, MaxLanes-1); len(n) != MaxNameLen {
		t.Errorf("longest name %q has %d bytes; MaxNameLen is %d", n, len(n), MaxNameLen)
	}
	for _, k := range []int{-1, MaxLanes} {
		if _, _, err := ParseLaneName(LaneName(base, k)); !errors.Is(err, ErrName) {
			t.Errorf("lane %d: ParseLaneName(%q) = %v; want %v", k, LaneName(base, k), err, ErrName)
		}
	}
}

// TestHeaderLanes: the lane fields round-trip, and a header written
// before lanes existed (both zero) reads as lane 0 of 1.
func TestHeaderLanes(t *testing.T) {
	b, l := validImage(t, 64, 8)
	l.Lane, l.Lanes = 5, 9
	l.encode(b)
	binary.LittleEndian.PutUint64(b[MagicOffset:], Magic)
	got, err := ParseHeader(b, int64(len(b)))
	if err != nil || got != l {
		t.Fatalf("ParseHeader = %+v, %v; want %+v", got, err, l)
	}
	binary.LittleEndian.PutUint64(b[LaneOffset:], 0) // lane and lanes
	got, err = ParseHeader(b, int64(len(b)))
	if err != nil || got.Lane != 0 || got.Lanes != 1 {
		t.Fatalf("ParseHeader(lanes 0) = lane %d of %d, %v; want lane 0 of 1", got.Lane, got.Lanes, err)
	}
	if p, err := plan(16, l.Arenas[0].Geometry, l.PeerTimeout); err != nil || p.Lane != 0 || p.Lanes != 1 {
		t.Errorf("plan: lane %d of %d, %v; want lane 0 of 1", p.Lane, p.Lanes, err)
	}
}
