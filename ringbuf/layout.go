package ringbuf

import "unsafe"

// Ring layout: a control block of three 128-byte blocks, then SlotCount slots
// of SlotSize bytes each. Both counts are powers of two; the producer's and
// the consumer's indices each own a 128-byte block (two cache lines, which
// also defeats the adjacent-line prefetcher) so neither side's stores
// invalidate the line the other side writes.
//
//	0                 128               256               384
//	+-----------------+-----------------+-----------------+--------+--------+----
//	| geometry        | producer block  | consumer block  | slot 0 | slot 1 | ...
//	+-----------------+-----------------+-----------------+--------+--------+----
//
// Geometry block, written once by Init and read-only afterwards:
//
//	0               4               8               12              16         128
//	+---------------+---------------+---------------+---------------+-- ... --+
//	| magic "HWRG"  | slot_size     | slot_count    | flags (0)     | zero    |
//	+---------------+---------------+---------------+---------------+-- ... --+
//
// Producer block: tail (uint64) at offset 0, the number of slots ever
// published. Written only by the producer, with a release (here seq_cst)
// store after the slots it covers; loaded by the consumer with acquire.
//
// Consumer block: head (uint64) at offset 0, the number of slots ever
// consumed. Written only by the consumer after it has finished reading the
// slots it covers; loaded by the producer with acquire.
//
// Slot i of the ring lives at SlotsOffset + (i & (SlotCount-1)) * SlotSize.
// Invariant, in arithmetic modulo 2^64: tail - head <= SlotCount. All
// integers are little-endian.
const (
	// BlockLength is the size of each control block: two 64-byte cache lines.
	BlockLength = 128

	// GeometryOffset is where the geometry block starts.
	GeometryOffset = 0
	// MagicOffset holds Magic (uint32), written last by Init.
	MagicOffset = GeometryOffset
	// SlotSizeOffset holds the slot size in bytes (uint32).
	SlotSizeOffset = MagicOffset + 4
	// SlotCountOffset holds the number of slots (uint32).
	SlotCountOffset = SlotSizeOffset + 4
	// FlagsOffset holds flags (uint32); none are defined and it must be zero.
	FlagsOffset = SlotCountOffset + 4

	// TailOffset is the producer block; its first 8 bytes are the tail index.
	TailOffset = GeometryOffset + BlockLength
	// HeadOffset is the consumer block; its first 8 bytes are the head index.
	HeadOffset = TailOffset + BlockLength

	// HeaderLength is the size of the control block.
	HeaderLength = HeadOffset + BlockLength
	// SlotsOffset is where slot 0 starts.
	SlotsOffset = HeaderLength
)

// Geometry limits checked by Init and by NewProducer/NewConsumer.
const (
	// Magic identifies an initialised ring: the bytes "HWRG" little-endian.
	Magic = 0x47525748
	// MinSlotSize is the smallest slot: one 64-bit word.
	MinSlotSize = 8
	// MaxSlotSize is the largest slot; larger payloads belong in an arena.
	MaxSlotSize = 4096
	// MinSlots is the smallest ring.
	MinSlots = 2
	// MaxSlots is the largest ring (16 Mi slots).
	MaxSlots = 1 << 24
	// Alignment is the required alignment of the buffer's first byte.
	Alignment = 8
)

// Length returns the number of bytes a ring of slots slots of slotSize bytes
// occupies, control block included. It does not validate its arguments.
func Length(slotSize, slots int) int { return HeaderLength + slotSize*slots }

// controlBlock mirrors the layout above. It is never used to access memory
// (the algorithm reads through the offset constants); it exists so that the
// compiler checks the constants against a struct with the same fields, as
// the C header does with _Static_assert.
type controlBlock struct {
	magic     uint32
	slotSize  uint32
	slotCount uint32
	flags     uint32
	_         [BlockLength - 16]byte
	tail      uint64
	_         [BlockLength - 8]byte
	head      uint64
	_         [BlockLength - 8]byte
}

// Compile-time layout checks: indexing a one-element array with a non-zero
// constant fails to compile, and so does a negative difference (it wraps).
var (
	_ = [1]struct{}{}[unsafe.Offsetof(controlBlock{}.magic)-MagicOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(controlBlock{}.slotSize)-SlotSizeOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(controlBlock{}.slotCount)-SlotCountOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(controlBlock{}.flags)-FlagsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(controlBlock{}.tail)-TailOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(controlBlock{}.head)-HeadOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(controlBlock{})-HeaderLength]
)
