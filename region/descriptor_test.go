package region

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/haywireowin/haywire/region/arena"
)

func TestDescriptorRoundTrip(t *testing.T) {
	d := Descriptor{Kind: KindBody, Flags: FlagEnd, Epoch: 7, Stream: 1<<63 + 5, Conn: 0xdeadbeef, Offset: 4096 + 10, Length: 100, Gen: 3}
	b := make([]byte, DescriptorSize)
	d.Encode(b)
	want := []byte{2, 1, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x80, 0xef, 0xbe, 0xad, 0xde, 10, 16, 0, 0, 100, 0, 0, 0, 3, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("Encode = %v; want %v", b, want)
	}
	got, err := DecodeDescriptor(b)
	if err != nil || got != d {
		t.Fatalf("DecodeDescriptor = %v, %v; want %v, nil", got, err, d)
	}
	if _, err := DecodeDescriptor(b[:31]); !errors.Is(err, ErrDescriptor) {
		t.Fatalf("DecodeDescriptor(31 bytes) = %v; want %v", err, ErrDescriptor)
	}
}

// TestDescriptorValidate covers every rule of the per-kind table.
func TestDescriptorValidate(t *testing.T) {
	ok := func(k Kind) Descriptor { return Descriptor{Kind: k, Epoch: 1, Offset: 64, Length: 10, Gen: 1} }
	none := func(k Kind) Descriptor { return Descriptor{Kind: k, Epoch: 1} }
	with := func(d Descriptor, f func(*Descriptor)) Descriptor { f(&d); return d }
	tests := []struct {
		d     Descriptor
		valid bool
		inMsg string
	}{
		{ok(KindRequest), true, ""},
		{ok(KindBody), true, ""},
		{ok(KindResponse), true, ""},
		{ok(KindData), true, ""},
		{ok(KindUpgrade), true, ""},
		{none(KindUpgrade), true, ""},
		{none(KindEnd), true, ""},
		{none(KindCancel), true, ""},
		{none(KindNop), true, ""},
		{none(KindContinue), true, ""},
		{with(ok(KindContinue), func(d *Descriptor) {}), false, "want none"},
		{with(none(KindCancel), func(d *Descriptor) { d.Aux = 499 }), true, ""},
		{with(ok(KindBody), func(d *Descriptor) { d.Flags = FlagEnd }), true, ""},
		{with(ok(KindBody), func(d *Descriptor) { d.Flags = FlagMore }), true, ""},
		{with(ok(KindUpgrade), func(d *Descriptor) { d.Flags = FlagMore }), true, ""},
		{Descriptor{Kind: KindRelease, Epoch: 1, Offset: 128, Gen: 2}, true, ""},

		{Descriptor{}, false, "unknown kind 0"},
		{with(ok(KindBody), func(d *Descriptor) { d.Kind = 11 }), false, "unknown kind 11"},
		{with(ok(KindBody), func(d *Descriptor) { d.Kind = 255 }), false, "unknown kind 255"},
		{with(ok(KindBody), func(d *Descriptor) { d.Flags = 4 }), false, "flags 0x4"},
		{with(ok(KindBody), func(d *Descriptor) { d.Flags = FlagEnd | FlagMore }), false, "both end and more"},
		{with(ok(KindUpgrade), func(d *Descriptor) { d.Flags = FlagEnd }), false, "flags 0x1"},
		{with(none(KindEnd), func(d *Descriptor) { d.Flags = FlagEnd }), false, "flags 0x1"},
		{with(none(KindUpgrade), func(d *Descriptor) { d.Flags = FlagMore }), false, "more flag and no payload"},
		{with(ok(KindBody), func(d *Descriptor) { d.Aux = 1 }), false, "aux 1"},
		{with(ok(KindBody), func(d *Descriptor) { d.Epoch = 0 }), false, "epoch 0"},
		{none(KindRequest), false, "without payload"},
		{none(KindBody), false, "without payload"},
		{none(KindResponse), false, "without payload"},
		{none(KindData), false, "without payload"},
		{ok(KindEnd), false, "want none"},
		{with(none(KindCancel), func(d *Descriptor) { d.Offset = 64 }), false, "want none"},
		{with(none(KindNop), func(d *Descriptor) { d.Gen = 1 }), false, "want none"},
		{with(none(KindUpgrade), func(d *Descriptor) { d.Gen = 1 }), false, "without payload has"},
		{with(ok(KindBody), func(d *Descriptor) { d.Gen = 0 }), false, "generation 0"},
		{Descriptor{Kind: KindRelease, Epoch: 1, Offset: 128}, false, "gen 0"},
		{Descriptor{Kind: KindRelease, Epoch: 1, Offset: 128, Length: 5, Gen: 2}, false, "length 5"},
	}
	for _, tt := range tests {
		err := tt.d.Validate()
		if tt.valid && err != nil {
			t.Errorf("Validate(%v) = %v; want nil", tt.d, err)
		}
		if !tt.valid && (!errors.Is(err, ErrDescriptor) || !strings.Contains(err.Error(), tt.inMsg)) {
			t.Errorf("Validate(%v) = %v; want %v mentioning %q", tt.d, err, ErrDescriptor, tt.inMsg)
		}
	}
}

func TestDescriptorCheckSpan(t *testing.T) {
	g := arena.Geometry{ChunkSize: 64, Chunks: 4} // 256 bytes
	tests := []struct {
		d     Descriptor
		valid bool
	}{
		{Descriptor{Kind: KindBody, Offset: 0, Length: 64}, true},
		{Descriptor{Kind: KindBody, Offset: 200, Length: 56}, true},
		{Descriptor{Kind: KindBody, Offset: 200, Length: 57}, false},
		{Descriptor{Kind: KindBody, Offset: 256, Length: 1}, false},
		{Descriptor{Kind: KindBody, Offset: 0xffffffff, Length: 0xffffffff}, false},
		{Descriptor{Kind: KindEnd}, true},
		{Descriptor{Kind: KindRelease, Offset: 192}, true},
		{Descriptor{Kind: KindRelease, Offset: 100}, false},
		{Descriptor{Kind: KindRelease, Offset: 256}, false},
	}
	for _, tt := range tests {
		err := tt.d.CheckSpan(g)
		if (err == nil) != tt.valid || (err != nil && !errors.Is(err, ErrDescriptor)) {
			t.Errorf("CheckSpan(%v) = %v; want valid %v", tt.d, err, tt.valid)
		}
	}
}

func TestKindString(t *testing.T) {
	if got := KindRequest.String(); got != "request" {
		t.Errorf("KindRequest.String() = %q; want %q", got, "request")
	}
	if got := Kind(200).String(); got != "kind(200)" {
		t.Errorf("Kind(200).String() = %q; want %q", got, "kind(200)")
	}
}
