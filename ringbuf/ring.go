package ringbuf

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// Geometry is the shape of a ring as recorded in its control block.
type Geometry struct {
	SlotSize  int // bytes per slot, a power of two in [MinSlotSize, MaxSlotSize]
	SlotCount int // number of slots, a power of two in [MinSlots, MaxSlots]
}

// Length returns the number of bytes the ring occupies.
func (g Geometry) Length() int { return Length(g.SlotSize, g.SlotCount) }

// Check reports whether g is a valid geometry.
func (g Geometry) Check() error {
	if g.SlotSize < MinSlotSize || g.SlotSize > MaxSlotSize || !isPow2(g.SlotSize) {
		return fmt.Errorf("%w: slot size %d is not a power of two in [%d, %d]",
			ErrGeometry, g.SlotSize, MinSlotSize, MaxSlotSize)
	}
	if g.SlotCount < MinSlots || g.SlotCount > MaxSlots || !isPow2(g.SlotCount) {
		return fmt.Errorf("%w: slot count %d is not a power of two in [%d, %d]",
			ErrGeometry, g.SlotCount, MinSlots, MaxSlots)
	}
	return nil
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// Init formats buf as an empty ring with geometry g: it zeroes the control
// block, records the geometry and writes the magic last, so that a process
// attaching concurrently sees either ErrMagic or a complete ring. Slot memory
// is left as it is. Init must not run while a Producer or Consumer is
// attached to buf.
func Init(buf []byte, g Geometry) error {
	if err := g.Check(); err != nil {
		return err
	}
	if err := checkBuffer(buf, g.Length()); err != nil {
		return err
	}
	magic := word32(buf, MagicOffset)
	magic.Store(0)
	clear(buf[MagicOffset+4 : HeaderLength])
	binary.LittleEndian.PutUint32(buf[SlotSizeOffset:], uint32(g.SlotSize))
	binary.LittleEndian.PutUint32(buf[SlotCountOffset:], uint32(g.SlotCount))
	word64(buf, TailOffset).Store(0)
	word64(buf, HeadOffset).Store(0)
	magic.Store(Magic)
	return nil
}

// ReadGeometry validates the control block at the start of buf and returns
// the geometry it records. buf must hold the whole ring.
func ReadGeometry(buf []byte) (Geometry, error) {
	if err := checkBuffer(buf, HeaderLength); err != nil {
		return Geometry{}, err
	}
	if m := word32(buf, MagicOffset).Load(); m != Magic {
		return Geometry{}, fmt.Errorf("%w: %#08x, want %#08x", ErrMagic, m, Magic)
	}
	g := Geometry{
		SlotSize:  int(binary.LittleEndian.Uint32(buf[SlotSizeOffset:])),
		SlotCount: int(binary.LittleEndian.Uint32(buf[SlotCountOffset:])),
	}
	if f := binary.LittleEndian.Uint32(buf[FlagsOffset:]); f != 0 {
		return Geometry{}, fmt.Errorf("%w: flags %#x, want 0", ErrGeometry, f)
	}
	if err := g.Check(); err != nil {
		return Geometry{}, err
	}
	if len(buf) < g.Length() {
		return Geometry{}, fmt.Errorf("%w: %d bytes for %d slots of %d bytes (need %d)",
			ErrShort, len(buf), g.SlotCount, g.SlotSize, g.Length())
	}
	return g, nil
}

func checkBuffer(buf []byte, need int) error {
	if len(buf) < need {
		return fmt.Errorf("%w: %d bytes, need %d", ErrShort, len(buf), need)
	}
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(buf))); p%Alignment != 0 {
		return fmt.Errorf("%w: address %#x", ErrAlignment, p)
	}
	return nil
}

// word64 and word32 return atomic views of the aligned words at off. The
// caller has checked bounds and alignment; the pointers refer to buf's
// memory, which the caller keeps alive (Go heap) or mapped (shared memory).
func word64(buf []byte, off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&buf[off]))
}

func word32(buf []byte, off int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&buf[off]))
}

// ring holds what a Producer and a Consumer share: the geometry and the two
// index words. All of it is immutable after attach.
type ring struct {
	tail     *atomic.Uint64 // producer block: written by the producer only
	head     *atomic.Uint64 // consumer block: written by the consumer only
	slots    []byte         // SlotCount*SlotSize bytes of slot memory
	capacity uint64         // SlotCount
	mask     uint64         // SlotCount-1
	shift    uint           // log2(SlotSize)
	slotSize int
}

// attach validates buf and the two indices it holds.
func attach(buf []byte) (ring, uint64, uint64, error) {
	g, err := ReadGeometry(buf)
	if err != nil {
		return ring{}, 0, 0, err
	}
	r := ring{
		tail:     word64(buf, TailOffset),
		head:     word64(buf, HeadOffset),
		slots:    buf[SlotsOffset:g.Length():g.Length()],
		capacity: uint64(g.SlotCount),
		mask:     uint64(g.SlotCount - 1),
		shift:    uint(bits.TrailingZeros(uint(g.SlotSize))),
		slotSize: g.SlotSize,
	}
	head, tail := r.head.Load(), r.tail.Load()
	if tail-head > r.capacity { // modular: also catches tail behind head
		return ring{}, 0, 0, fmt.Errorf("%w: head %d, tail %d, capacity %d",
			ErrCorrupt, head, tail, r.capacity)
	}
	return r, head, tail, nil
}

// slot returns the slot of absolute position pos.
func (r *ring) slot(pos uint64) []byte {
	off := int(pos&r.mask) << r.shift
	return r.slots[off : off+r.slotSize : off+r.slotSize]
}

// Geometry returns the ring's geometry.
func (r *ring) geometry() Geometry {
	return Geometry{SlotSize: r.slotSize, SlotCount: int(r.capacity)}
}
