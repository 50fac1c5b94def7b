package region

import (
	"errors"
	"testing"

	"github.com/haywireowin/haywire/region/arena"
)

// Promises of include/haywire_shm.h sections 5 and 6 about RELEASE,
// checked against the Go implementation (named in the header).

// A RELEASE carries the released descriptor's epoch, gen and stream and
// conn, names the chunk by its start, and has no flags, aux or length;
// the owner takes releases in any order and identifies the chunk by
// epoch, offset and gen alone (stream and conn are not checked); a chunk
// that is lent cannot be named by a second descriptor.
func TestContractRelease(t *testing.T) {
	a, b := newPair(t)
	s, rc := a.Sender(), b.Receiver()
	const n = 3
	k, err := s.Reserve(n)
	if k != n || err != nil {
		t.Fatalf("Reserve = %d, %v", k, err)
	}
	var chunks [n]arena.Chunk
	for i := range n {
		c, ok := s.Alloc()
		if !ok {
			t.Fatal("Alloc failed")
		}
		chunks[i] = c
		// A payload that starts inside its chunk: the release names the
		// chunk's start.
		d := Descriptor{Kind: KindBody, Stream: uint64(100 + i), Conn: uint32(7 + i), Offset: c.Offset + 10, Length: 5, Gen: c.Gen}
		if err := s.Put(i, &d); err != nil {
			t.Fatal(err)
		}
	}
	s.Commit(n)

	// At most one descriptor per chunk: a lent chunk cannot be put again.
	if k, _ := s.Reserve(1); k != 1 {
		t.Fatal("no slot")
	}
	again := Descriptor{Kind: KindBody, Offset: chunks[0].Offset, Length: 1, Gen: chunks[0].Gen}
	if err := s.Put(0, &again); !errors.Is(err, arena.ErrNotHeld) {
		t.Fatalf("Put of a lent chunk = %v; want %v", err, arena.ErrNotHeld)
	}

	got, err := rc.Poll(16)
	if got != n || err != nil {
		t.Fatalf("Poll = %d, %v", got, err)
	}
	var ds [n]Descriptor
	for i := range n {
		if ds[i], err = rc.Get(i); err != nil {
			t.Fatal(err)
		}
	}
	rc.Consume(n)

	// Release the last first: any order.
	if err := rc.Release(&ds[2]); err != nil {
		t.Fatal(err)
	}
	rc.Flush()
	// What the release ring holds, as the owner reads it.
	if avail, _ := s.relIn.Available(16); avail != 1 {
		t.Fatalf("%d releases on the ring; want 1", avail)
	}
	rel, err := DecodeDescriptor(s.relIn.Slot(0))
	want := Descriptor{Kind: KindRelease, Epoch: s.Epoch(), Stream: 102, Conn: 9, Offset: chunks[2].Offset, Gen: chunks[2].Gen}
	if err != nil || rel != want {
		t.Fatalf("release %v, %v; want %v", rel, err, want)
	}

	// A valid release with the wrong stream and conn frees the chunk.
	k, err = rc.relOut.Reserve(1)
	if k != 1 || err != nil {
		t.Fatalf("release ring Reserve = %d, %v", k, err)
	}
	liar := Descriptor{Kind: KindRelease, Epoch: ds[1].Epoch, Stream: 999999, Conn: 0xDEAD, Offset: chunks[1].Offset, Gen: chunks[1].Gen}
	liar.Encode(rc.relOut.Slot(0))
	rc.relOut.Commit(1)
	if err := rc.Release(&ds[0]); err != nil {
		t.Fatal(err)
	}
	rc.Flush()
	var returned []uint32
	s.OnReturn = func(off uint32) { returned = append(returned, off) }
	freed, err := s.Collect()
	if freed != n || err != nil {
		t.Fatalf("Collect = %d, %v; want all %d chunks back (releases in any order, stream and conn unchecked)", freed, err, n)
	}
	if len(returned) != n || returned[0] != chunks[2].Offset || returned[1] != chunks[1].Offset || returned[2] != chunks[0].Offset {
		t.Errorf("returned %v; want chunks 2, 1, 0 at %d, %d, %d", returned, chunks[2].Offset, chunks[1].Offset, chunks[0].Offset)
	}
	if free, _, lent := s.Chunks(); lent != 0 || free != s.ArenaGeometry().Chunks {
		t.Errorf("%d free, %d lent after the releases", free, lent)
	}
	if c := a.Counter(CounterInvalid); c != 0 {
		t.Errorf("INVALID = %d; want 0", c)
	}
}
