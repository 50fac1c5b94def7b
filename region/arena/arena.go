package arena

import (
	"fmt"
	"math"
	"math/bits"
)

// Limits on arena geometry. Offsets travel as uint32 in descriptors, so an
// arena is at most MaxLength bytes.
const (
	MinChunkSize = 64      // one cache line
	MaxChunkSize = 1 << 20 // 1 MiB
	MaxChunks    = 1 << 20
	MaxLength    = 1 << 31 // keeps offsets positive in languages without uint32 (C#)
)

// Geometry is the shape of an arena: Chunks chunks of ChunkSize bytes, chunk
// i at offset i*ChunkSize.
type Geometry struct {
	ChunkSize int // power of two in [MinChunkSize, MaxChunkSize]
	Chunks    int // in [1, MaxChunks]
}

// Length returns the arena's size in bytes.
func (g Geometry) Length() int { return g.ChunkSize * g.Chunks }

// Check reports whether g is a valid geometry.
func (g Geometry) Check() error {
	if g.ChunkSize < MinChunkSize || g.ChunkSize > MaxChunkSize || g.ChunkSize&(g.ChunkSize-1) != 0 {
		return fmt.Errorf("%w: chunk size %d is not a power of two in [%d, %d]",
			ErrGeometry, g.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if g.Chunks < 1 || g.Chunks > MaxChunks {
		return fmt.Errorf("%w: chunk count %d not in [1, %d]", ErrGeometry, g.Chunks, MaxChunks)
	}
	if uint64(g.ChunkSize)*uint64(g.Chunks) > MaxLength {
		return fmt.Errorf("%w: %d chunks of %d bytes exceed %d bytes",
			ErrGeometry, g.Chunks, g.ChunkSize, MaxLength)
	}
	return nil
}

// CheckSpan reports whether [off, off+length) lies inside a single chunk.
// A zero length is accepted only at offset 0 (no payload).
func (g Geometry) CheckSpan(off, length uint32) error {
	if length == 0 {
		if off != 0 {
			return fmt.Errorf("%w: empty span at offset %d, want 0", ErrSpan, off)
		}
		return nil
	}
	size := uint64(g.ChunkSize)
	if uint64(off) >= uint64(g.Length()) {
		return fmt.Errorf("%w: offset %d beyond arena of %d bytes", ErrSpan, off, g.Length())
	}
	if uint64(off)%size+uint64(length) > size {
		return fmt.Errorf("%w: %d bytes at offset %d cross a %d-byte chunk boundary",
			ErrSpan, length, off, size)
	}
	return nil
}

// ChunkStart returns the offset of the chunk containing off.
func (g Geometry) ChunkStart(off uint32) uint32 { return off &^ uint32(g.ChunkSize-1) }

func checkMem(mem []byte, g Geometry) error {
	if err := g.Check(); err != nil {
		return err
	}
	if len(mem) < g.Length() {
		return fmt.Errorf("%w: %d bytes of memory for %d chunks of %d bytes",
			ErrGeometry, len(mem), g.Chunks, g.ChunkSize)
	}
	return nil
}

// Chunk is one chunk handed out by Alloc.
type Chunk struct {
	Offset uint32 // offset of the chunk in the arena; put it in the descriptor
	Gen    uint32 // generation of this hand-out, never 0; put it in the descriptor
	Buf    []byte // the chunk's memory, ChunkSize bytes; write the payload here
}

// Chunk states.
const (
	stateFree uint8 = iota
	stateHeld
	stateLent
)

// Allocator hands out the chunks of an arena to the side that writes it.
// It must be used by one goroutine at a time. Its bookkeeping is private
// memory; only the chunk bytes are shared.
type Allocator struct {
	mem   []byte   // the arena; chunk i is mem[i<<shift:][:ChunkSize]
	g     Geometry // immutable
	shift uint     // log2(ChunkSize)
	free  []uint32 // stack of free chunk indices; LIFO keeps recently used chunks warm
	state []uint8  // per chunk: stateFree, stateHeld or stateLent
	gen   []uint32 // per chunk: generation of the current or last hand-out
	held  int      // chunks in stateHeld
	lent  int      // chunks in stateLent
}

// NewAllocator returns an allocator over mem with every chunk free. All
// bookkeeping is allocated here, so Alloc, Lend, Free and Return never
// allocate.
func NewAllocator(mem []byte, g Geometry) (*Allocator, error) {
	if err := checkMem(mem, g); err != nil {
		return nil, err
	}
	a := &Allocator{
		mem:   mem[:g.Length():g.Length()],
		g:     g,
		shift: uint(bits.TrailingZeros(uint(g.ChunkSize))),
		free:  make([]uint32, g.Chunks),
		state: make([]uint8, g.Chunks),
		gen:   make([]uint32, g.Chunks),
	}
	for i := range a.free {
		// Pop order 0, 1, 2... so fresh arenas fill from the start.
		a.free[i] = uint32(g.Chunks - 1 - i)
	}
	return a, nil
}

// Geometry returns the arena's geometry.
func (a *Allocator) Geometry() Geometry { return a.g }

// Alloc takes a free chunk and reports false when none is free. The chunk is
// held by the caller until it is lent (Lend) or given back (Free).
func (a *Allocator) Alloc() (Chunk, bool) {
	n := len(a.free)
	if n == 0 {
		return Chunk{}, false
	}
	i := a.free[n-1]
	a.free = a.free[:n-1]
	a.state[i] = stateHeld
	a.held++
	g := a.gen[i] + 1
	if g == 0 { // 0 means "no chunk" in descriptors
		g = 1
	}
	a.gen[i] = g
	off := int(i) << a.shift
	return Chunk{Offset: uint32(off), Gen: g, Buf: a.mem[off : off+a.g.ChunkSize : off+a.g.ChunkSize]}, true
}

// index validates a chunk offset and returns its index.
func (a *Allocator) index(off uint32, err error) (uint32, error) {
	if uint64(off) >= uint64(a.g.Length()) || off&uint32(a.g.ChunkSize-1) != 0 {
		return 0, fmt.Errorf("%w: offset %d is not the start of one of %d chunks of %d bytes",
			err, off, a.g.Chunks, a.g.ChunkSize)
	}
	return off >> a.shift, nil
}

// Lend marks a held chunk as lent to the reader: call it when publishing a
// descriptor that names the chunk. It fails with ErrNotHeld if the chunk is
// not held with that generation.
func (a *Allocator) Lend(off, gen uint32) error {
	i, err := a.index(off, ErrNotHeld)
	if err != nil {
		return err
	}
	if a.state[i] != stateHeld || a.gen[i] != gen {
		return fmt.Errorf("%w: chunk at %d (state %d, generation %d, want held generation %d)",
			ErrNotHeld, off, a.state[i], a.gen[i], gen)
	}
	a.state[i] = stateLent
	a.held--
	a.lent++
	return nil
}

// Free gives back a held chunk that was never lent.
func (a *Allocator) Free(off, gen uint32) error {
	i, err := a.index(off, ErrNotHeld)
	if err != nil {
		return err
	}
	if a.state[i] != stateHeld || a.gen[i] != gen {
		return fmt.Errorf("%w: chunk at %d (state %d, generation %d, want held generation %d)",
			ErrNotHeld, off, a.state[i], a.gen[i], gen)
	}
	a.push(i)
	a.held--
	return nil
}

// Return takes back a lent chunk that the reader released. off and gen come
// from the reader and are untrusted: anything but a currently lent chunk
// with that generation fails with ErrRelease and changes nothing.
func (a *Allocator) Return(off, gen uint32) error {
	i, err := a.index(off, ErrRelease)
	if err != nil {
		return err
	}
	if a.state[i] != stateLent || a.gen[i] != gen {
		return fmt.Errorf("%w: chunk at %d generation %d (state %d, generation %d)",
			ErrRelease, off, gen, a.state[i], a.gen[i])
	}
	a.push(i)
	a.lent--
	return nil
}

func (a *Allocator) push(i uint32) {
	a.state[i] = stateFree
	a.free = append(a.free, i) // never grows: at most Chunks entries
}

// ReclaimLent frees every lent chunk, for use after the reader died, and
// returns how many it freed. Held chunks stay with the caller.
func (a *Allocator) ReclaimLent() int {
	n := 0
	for i, s := range a.state {
		if s == stateLent {
			a.push(uint32(i))
			n++
		}
	}
	a.lent -= n
	return n
}

// FreeCount returns the number of free chunks. FreeCount, HeldCount and
// LentCount always sum to the number of chunks.
func (a *Allocator) FreeCount() int { return len(a.free) }

// HeldCount returns the number of chunks allocated and not yet lent.
func (a *Allocator) HeldCount() int { return a.held }

// LentCount returns the number of chunks lent to the reader.
func (a *Allocator) LentCount() int { return a.lent }

// View is the reader's bounds-checked window on an arena it does not own.
// It is immutable and safe for concurrent use.
type View struct {
	mem []byte
	g   Geometry
}

// NewView returns a view of the arena in mem.
func NewView(mem []byte, g Geometry) (View, error) {
	if err := checkMem(mem, g); err != nil {
		return View{}, err
	}
	return View{mem: mem[:g.Length():g.Length()], g: g}, nil
}

// Geometry returns the arena's geometry.
func (v View) Geometry() Geometry { return v.g }

// Bytes returns the length bytes at off after checking that they lie inside
// one chunk. The slice aliases shared memory written by the other side: it
// is valid until the chunk is released and must not be retained after that.
func (v View) Bytes(off, length uint32) ([]byte, error) {
	if err := v.g.CheckSpan(off, length); err != nil {
		return nil, err
	}
	end := uint64(off) + uint64(length)
	if end > math.MaxInt {
		return nil, fmt.Errorf("%w: end %d overflows", ErrSpan, end)
	}
	return v.mem[off:end:end], nil
}
