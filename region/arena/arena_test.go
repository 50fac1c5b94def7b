package arena

import (
	"errors"
	"strings"
	"testing"
)

func newAlloc(t testing.TB, size, n int) *Allocator {
	t.Helper()
	g := Geometry{ChunkSize: size, Chunks: n}
	a, err := NewAllocator(make([]byte, g.Length()), g)
	if err != nil {
		t.Fatalf("NewAllocator(%+v) = %v", g, err)
	}
	return a
}

func TestGeometryCheck(t *testing.T) {
	tests := []struct {
		g    Geometry
		want error
	}{
		{Geometry{64, 1}, nil},
		{Geometry{4096, 1024}, nil},
		{Geometry{MaxChunkSize, MaxLength / MaxChunkSize}, nil},
		{Geometry{32, 4}, ErrGeometry},
		{Geometry{96, 4}, ErrGeometry},
		{Geometry{2 * MaxChunkSize, 1}, ErrGeometry},
		{Geometry{64, 0}, ErrGeometry},
		{Geometry{64, MaxChunks + 1}, ErrGeometry},
		{Geometry{MaxChunkSize, MaxLength/MaxChunkSize + 1}, ErrGeometry},
	}
	for _, tt := range tests {
		if got := tt.g.Check(); !errors.Is(got, tt.want) {
			t.Errorf("%+v.Check() = %v; want %v", tt.g, got, tt.want)
		}
	}
	if _, err := NewAllocator(make([]byte, 100), Geometry{64, 2}); !errors.Is(err, ErrGeometry) {
		t.Errorf("NewAllocator(short memory) = %v; want %v", err, ErrGeometry)
	}
	if _, err := NewView(make([]byte, 100), Geometry{64, 2}); !errors.Is(err, ErrGeometry) {
		t.Errorf("NewView(short memory) = %v; want %v", err, ErrGeometry)
	}
}

func TestCheckSpan(t *testing.T) {
	g := Geometry{ChunkSize: 64, Chunks: 4} // 256 bytes
	tests := []struct {
		off, n uint32
		want   error
	}{
		{0, 0, nil},
		{0, 1, nil},
		{0, 64, nil},
		{10, 54, nil},
		{192, 64, nil},
		{255, 1, nil},
		{5, 0, ErrSpan},          // empty span must be at 0
		{0, 65, ErrSpan},         // longer than a chunk
		{10, 55, ErrSpan},        // crosses into the next chunk
		{256, 1, ErrSpan},        // past the end
		{0xffffffff, 1, ErrSpan}, // far past the end
		{200, 0xffffffff, ErrSpan},
	}
	for _, tt := range tests {
		if got := g.CheckSpan(tt.off, tt.n); !errors.Is(got, tt.want) {
			t.Errorf("CheckSpan(%d, %d) = %v; want %v", tt.off, tt.n, got, tt.want)
		}
	}
	v, _ := NewView(make([]byte, 256), g)
	if b, err := v.Bytes(70, 10); err != nil || len(b) != 10 || cap(b) != 10 {
		t.Errorf("Bytes(70, 10) = len %d cap %d, %v; want len 10 cap 10, nil", len(b), cap(b), err)
	}
	if _, err := v.Bytes(250, 10); !errors.Is(err, ErrSpan) {
		t.Errorf("Bytes(250, 10) = %v; want %v", err, ErrSpan)
	}
}

func TestLifecycle(t *testing.T) {
	a := newAlloc(t, 64, 3)
	var cs []Chunk
	for i := range 3 {
		c, ok := a.Alloc()
		if !ok {
			t.Fatalf("Alloc #%d = false; want true", i)
		}
		if c.Offset != uint32(64*i) || c.Gen == 0 || len(c.Buf) != 64 || cap(c.Buf) != 64 {
			t.Fatalf("Alloc #%d = offset %d gen %d len %d cap %d", i, c.Offset, c.Gen, len(c.Buf), cap(c.Buf))
		}
		cs = append(cs, c)
	}
	if _, ok := a.Alloc(); ok {
		t.Fatal("Alloc on exhausted arena = true; want false")
	}
	for _, c := range cs {
		if err := a.Lend(c.Offset, c.Gen); err != nil {
			t.Fatalf("Lend(%d) = %v", c.Offset, err)
		}
	}
	// Out-of-order release.
	for _, i := range []int{2, 0, 1} {
		if err := a.Return(cs[i].Offset, cs[i].Gen); err != nil {
			t.Fatalf("Return(chunk %d) = %v", i, err)
		}
	}
	if a.FreeCount() != 3 || a.LentCount() != 0 || a.HeldCount() != 0 {
		t.Fatalf("counts = %d/%d/%d; want 3/0/0", a.FreeCount(), a.HeldCount(), a.LentCount())
	}
	// A re-allocated chunk gets a new generation.
	c, _ := a.Alloc()
	if c.Offset != cs[1].Offset || c.Gen == cs[1].Gen {
		t.Fatalf("re-Alloc = offset %d gen %d; want offset %d and a generation other than %d",
			c.Offset, c.Gen, cs[1].Offset, cs[1].Gen)
	}
	if err := a.Free(c.Offset, c.Gen); err != nil {
		t.Fatalf("Free(held) = %v", err)
	}
}

// TestReturnValidation feeds every kind of bad release the reader could
// send; each must be refused with ErrRelease and leave the counts alone.
func TestReturnValidation(t *testing.T) {
	a := newAlloc(t, 64, 4)
	lent, _ := a.Alloc()
	a.Lend(lent.Offset, lent.Gen)
	held, _ := a.Alloc()
	returned, _ := a.Alloc()
	a.Lend(returned.Offset, returned.Gen)
	a.Return(returned.Offset, returned.Gen)
	tests := []struct {
		name     string
		off, gen uint32
		inMsg    string
	}{
		{"beyond arena", 256, 1, "offset 256"},
		{"far beyond", 0xffffffc0, 1, "offset 4294967232"},
		{"not aligned", lent.Offset + 8, lent.Gen, "offset 8"},
		{"wrong generation", lent.Offset, lent.Gen + 1, "generation"},
		{"zero generation", lent.Offset, 0, "generation 0"},
		{"held, not lent", held.Offset, held.Gen, "state 1"},
		{"already returned", returned.Offset, returned.Gen, "state 0"},
		{"never allocated", 192, 1, "state 0"},
	}
	for _, tt := range tests {
		err := a.Return(tt.off, tt.gen)
		if !errors.Is(err, ErrRelease) {
			t.Errorf("%s: Return(%d, %d) = %v; want %v", tt.name, tt.off, tt.gen, err, ErrRelease)
		} else if !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: Return = %q; want it to mention %q", tt.name, err, tt.inMsg)
		}
	}
	if a.FreeCount() != 2 || a.HeldCount() != 1 || a.LentCount() != 1 {
		t.Fatalf("counts after bad releases = %d/%d/%d; want 2/1/1", a.FreeCount(), a.HeldCount(), a.LentCount())
	}
	// Local misuse of Lend and Free.
	if err := a.Lend(lent.Offset, lent.Gen); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Lend(lent) = %v; want %v", err, ErrNotHeld)
	}
	if err := a.Free(lent.Offset, lent.Gen); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Free(lent) = %v; want %v", err, ErrNotHeld)
	}
	if err := a.Free(999, 1); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Free(999) = %v; want %v", err, ErrNotHeld)
	}
}

func TestReclaimLent(t *testing.T) {
	a := newAlloc(t, 64, 8)
	var held Chunk
	for i := range 6 {
		c, _ := a.Alloc()
		if i == 5 {
			held = c
			continue
		}
		a.Lend(c.Offset, c.Gen)
		if i == 0 {
			a.Return(c.Offset, c.Gen)
		}
	}
	if n := a.ReclaimLent(); n != 4 {
		t.Fatalf("ReclaimLent = %d; want 4", n)
	}
	if a.FreeCount() != 7 || a.HeldCount() != 1 || a.LentCount() != 0 {
		t.Fatalf("counts = %d/%d/%d; want 7/1/0", a.FreeCount(), a.HeldCount(), a.LentCount())
	}
	if err := a.Lend(held.Offset, held.Gen); err != nil {
		t.Fatalf("held chunk survives reclaim: Lend = %v", err)
	}
}

func TestGenerationSkipsZero(t *testing.T) {
	a := newAlloc(t, 64, 1)
	a.gen[0] = ^uint32(0)
	c, _ := a.Alloc()
	if c.Gen != 1 {
		t.Fatalf("generation after wrap = %d; want 1", c.Gen)
	}
}

func TestZeroAllocs(t *testing.T) {
	a := newAlloc(t, 64, 16)
	v, _ := NewView(a.mem, a.g)
	got := testing.AllocsPerRun(1000, func() {
		c, _ := a.Alloc()
		a.Lend(c.Offset, c.Gen)
		v.Bytes(c.Offset, 10)
		a.Return(c.Offset, c.Gen)
	})
	if got != 0 {
		t.Fatalf("Alloc/Lend/Bytes/Return: AllocsPerRun = %v; want 0", got)
	}
}

// FuzzAllocator drives an allocator with an arbitrary sequence of
// operations, releases included with arbitrary offsets and generations, and
// checks the accounting invariants after each step.
func FuzzAllocator(f *testing.F) {
	// Each op is 5 bytes: opcode, then a little-endian uint32 argument.
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0}) // alloc, lend, return
	f.Add([]byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0})                // return a held chunk
	f.Add([]byte{2, 0xff, 0xff, 0xff, 0xff})                   // return a wild offset
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0}) // alloc, lend, reclaim
	f.Fuzz(func(t *testing.T, ops []byte) {
		a := newAlloc(t, 64, 8)
		var out []Chunk
		for len(ops) >= 5 {
			op, arg := ops[0]%5, uint32(ops[1])|uint32(ops[2])<<8|uint32(ops[3])<<16|uint32(ops[4])<<24
			ops = ops[5:]
			switch op {
			case 0:
				if c, ok := a.Alloc(); ok {
					out = append(out, c)
				}
			case 1:
				if len(out) > 0 {
					c := out[int(arg%uint32(len(out)))]
					a.Lend(c.Offset, c.Gen)
				}
			case 2:
				if len(out) > 0 && arg&1 == 0 {
					c := out[int(arg>>1)%len(out)]
					a.Return(c.Offset, c.Gen)
				} else {
					a.Return(arg, arg>>3)
				}
			case 3:
				a.ReclaimLent()
			case 4:
				if len(out) > 0 {
					c := out[int(arg%uint32(len(out)))]
					a.Free(c.Offset, c.Gen)
				}
			}
			if a.FreeCount()+a.HeldCount()+a.LentCount() != 8 || a.HeldCount() < 0 || a.LentCount() < 0 {
				t.Fatalf("counts %d/%d/%d do not sum to 8", a.FreeCount(), a.HeldCount(), a.LentCount())
			}
			seen := map[uint32]bool{}
			for _, i := range a.free {
				if seen[i] || a.state[i] != stateFree {
					t.Fatalf("free list holds chunk %d twice or in state %d", i, a.state[i])
				}
				seen[i] = true
			}
		}
	})
}
