package ringbuf

import (
	"encoding/binary"
	"testing"
)

// FuzzAttach feeds arbitrary control blocks and index values to both ends of
// a ring and drives them: nothing a peer writes may make this package panic
// or touch memory outside the buffer, and whatever is accepted must keep the
// ring invariants.
func FuzzAttach(f *testing.F) {
	seed := func(slotSize, slots uint32, head, tail uint64, flags uint32) []byte {
		b := make([]byte, HeaderLength)
		binary.LittleEndian.PutUint32(b[MagicOffset:], Magic)
		binary.LittleEndian.PutUint32(b[SlotSizeOffset:], slotSize)
		binary.LittleEndian.PutUint32(b[SlotCountOffset:], slots)
		binary.LittleEndian.PutUint32(b[FlagsOffset:], flags)
		binary.LittleEndian.PutUint64(b[TailOffset:], tail)
		binary.LittleEndian.PutUint64(b[HeadOffset:], head)
		return b
	}
	f.Add(seed(32, 8, 0, 0, 0), uint64(0), uint64(0))                    // empty ring
	f.Add(seed(32, 8, 3, 11, 0), uint64(3), uint64(11))                  // full ring, later rewritten as is
	f.Add(seed(32, 8, 5, 4, 0), uint64(5), uint64(4))                    // tail behind head
	f.Add(seed(32, 8, 0, 9, 0), uint64(0), uint64(9))                    // more than a ring published
	f.Add(seed(48, 8, 0, 0, 0), uint64(0), uint64(0))                    // slot size not a power of two
	f.Add(seed(32, 1<<30, 0, 0, 0), uint64(0), uint64(0))                // geometry larger than the buffer
	f.Add(seed(8, 2, ^uint64(0)-1, ^uint64(0), 0), uint64(1), uint64(2)) // indices near 2^64
	f.Add(seed(32, 8, 0, 0, 1), uint64(0), uint64(0))                    // non-zero flags
	f.Add([]byte{1, 2, 3}, uint64(0), uint64(0))                         // truncated control block
	f.Fuzz(func(t *testing.T, ctrl []byte, head2, tail2 uint64) {
		// Cap the buffer so huge geometries are rejected as short, not allocated.
		buf := make([]byte, HeaderLength+64*32)
		copy(buf, ctrl)
		p, perr := NewProducer(buf)
		c, cerr := NewConsumer(buf)
		if (perr == nil) != (cerr == nil) {
			t.Fatalf("NewProducer = %v but NewConsumer = %v", perr, cerr)
		}
		if perr != nil {
			return
		}
		// Drive both ends, then let the "peer" rewrite the indices and drive again.
		for round := range 2 {
			if round == 1 {
				binary.LittleEndian.PutUint64(buf[HeadOffset:], head2)
				binary.LittleEndian.PutUint64(buf[TailOffset:], tail2)
			}
			if n, err := p.Reserve(5); err == nil {
				for i := range n {
					clear(p.Slot(i))
				}
				p.Commit(n)
			}
			if n, err := c.Available(7); err == nil {
				for i := range n {
					_ = c.Slot(i)[0]
				}
				c.Consume(n)
			}
			if round == 0 && p.Position()-c.Position() > uint64(p.Geometry().SlotCount) {
				t.Fatalf("consumer at %d and producer at %d are more than a ring apart",
					c.Position(), p.Position())
			}
		}
	})
}
