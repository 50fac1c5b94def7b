package region

import (
	"encoding/binary"
	"testing"

	"github.com/haywireowin/haywire/region/arena"
)

// FuzzParseHeader feeds arbitrary header images to the validator: it must
// never panic nor read outside its input, and whatever it accepts must be
// a layout whose sections lie inside the region without overlapping, and
// which encodes back to the same tables. Inputs are the part of the header
// that is read (identity, tables, control and side blocks), padded with
// zeros to a page: short inputs keep the fuzzer's minimisation fast; short
// files are covered by the size argument.
func FuzzParseHeader(f *testing.F) {
	valid, l := validImage(f, 64, 8)
	hdr := valid[:sideOffset(SideCount)]
	f.Add(hdr, int64(l.TotalSize)) // a valid header
	f.Add(hdr, int64(HeaderSize))  // valid header, file cut after it
	f.Add(hdr, int64(100))         // file shorter than a header
	f.Add(hdr, int64(-1))          // nonsense size
	bad := append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint64(bad[ringEntryOffset(1):], l.Rings[0].Offset)
	f.Add(bad, int64(l.TotalSize)) // overlapping rings
	bad = append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint64(bad[ringEntryOffset(0):], ^uint64(127))
	f.Add(bad, int64(l.TotalSize)) // offset that wraps when the size is added
	bad = append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint32(bad[VersionOffset:], 2)
	f.Add(bad, int64(l.TotalSize)) // another version
	f.Add([]byte{}, int64(1<<20))  // all zero: no magic
	f.Fuzz(func(t *testing.T, in []byte, size int64) {
		b := make([]byte, HeaderSize)
		copy(b, in)
		got, err := ParseHeader(b, size)
		if err != nil {
			return
		}
		for r, ri := range got.Rings {
			if ri.Offset < HeaderSize || ri.Offset+ri.Size > got.TotalSize || ri.Offset+ri.Size < ri.Offset {
				t.Fatalf("accepted ring %d at %d+%d in %d bytes", r, ri.Offset, ri.Size, got.TotalSize)
			}
		}
		for a, ai := range got.Arenas {
			if ai.Offset < HeaderSize || ai.Offset+ai.Size > got.TotalSize || ai.Geometry.Check() != nil {
				t.Fatalf("accepted arena %d at %d+%d in %d bytes", a, ai.Offset, ai.Size, got.TotalSize)
			}
		}
		if uint64(size) < got.TotalSize {
			t.Fatalf("accepted total size %d in a %d-byte file", got.TotalSize, size)
		}
		again := make([]byte, HeaderSize)
		got.encode(again)
		copy(again, b[:8]) // magic
		copy(again[sideOffset(0):], b[sideOffset(0):])
		l2, err := ParseHeader(again, size)
		if err != nil || l2 != got {
			t.Fatalf("re-encoded header parses as %+v, %v; want %+v", l2, err, got)
		}
	})
}

// FuzzDecodeDescriptor feeds arbitrary slots to the decoder: it must never
// panic; an accepted descriptor must re-encode to the same bytes (no
// ignored bits), agree with the rule table written out independently
// below, and pass CheckSpan only for spans inside one chunk.
func FuzzDecodeDescriptor(f *testing.F) {
	enc := func(d Descriptor) []byte { b := make([]byte, DescriptorSize); d.Encode(b); return b }
	f.Add(enc(Descriptor{Kind: KindRequest, Flags: FlagEnd, Epoch: 1, Stream: 9, Offset: 64, Length: 10, Gen: 1})) // valid request
	f.Add(enc(Descriptor{Kind: KindBody, Flags: FlagMore, Epoch: 1, Offset: 4000, Length: 200, Gen: 5}))           // crosses a chunk
	f.Add(enc(Descriptor{Kind: KindCancel, Aux: 3, Epoch: 2}))                                                     // cancel with a reason
	f.Add(enc(Descriptor{Kind: KindRelease, Epoch: 1, Offset: 128, Gen: 2}))                                       // release
	f.Add(enc(Descriptor{Kind: KindEnd, Epoch: 1, Length: 1}))                                                     // end with payload
	f.Add(enc(Descriptor{Kind: 77, Epoch: 1}))                                                                     // unknown kind
	f.Add(make([]byte, DescriptorSize))                                                                            // zeroed slot
	f.Add([]byte{1, 2, 3})                                                                                         // short
	g := arena.Geometry{ChunkSize: 256, Chunks: 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDescriptor(b)
		if want := len(b) >= DescriptorSize && naiveValid(b); (err == nil) != want {
			t.Fatalf("DecodeDescriptor(%x) = %v; the rule table says valid=%v", b, err, want)
		}
		if err != nil {
			return
		}
		if again := enc(d); string(again) != string(b[:DescriptorSize]) {
			t.Fatalf("re-encoded %x; want %x", again, b[:DescriptorSize])
		}
		spanErr := d.CheckSpan(g)
		inside := uint64(d.Offset) < uint64(g.Length()) &&
			(d.Kind == KindRelease && d.Offset%256 == 0 ||
				d.Kind != KindRelease && uint64(d.Offset%256)+uint64(d.Length) <= 256) ||
			d.Kind != KindRelease && d.Length == 0 && d.Offset == 0
		if (spanErr == nil) != inside {
			t.Fatalf("CheckSpan(%v) = %v; want inside=%v", d, spanErr, inside)
		}
	})
}

// naiveValid restates the descriptor rules of include/haywire_shm.h
// section 5 directly on the bytes, as a second parser to agree with.
func naiveValid(b []byte) bool {
	kind, flags := b[0], b[1]
	aux := binary.LittleEndian.Uint16(b[2:])
	epoch := binary.LittleEndian.Uint32(b[4:])
	off, length, gen := binary.LittleEndian.Uint32(b[20:]), binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint32(b[28:])
	if kind < 1 || kind > 10 || epoch == 0 {
		return false
	}
	if aux != 0 && kind != 4 {
		return false
	}
	if flags&1 != 0 && flags&2 != 0 {
		return false
	}
	if flags&2 != 0 && length == 0 {
		return false
	}
	switch kind {
	case 1, 2, 5, 8: // payload required; END and MORE allowed
		return flags&^3 == 0 && length > 0 && gen != 0
	case 3, 4, 9, 10: // no payload, no flags
		return flags == 0 && length == 0 && off == 0 && gen == 0
	case 6: // release: chunk reference
		return flags == 0 && length == 0 && gen != 0
	case 7: // upgrade: optional payload, MORE only
		return flags&^2 == 0 && (length > 0 && gen != 0 || length == 0 && off == 0 && gen == 0)
	}
	return false
}
