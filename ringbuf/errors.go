package ringbuf

import "errors"

// Errors returned by this package. Each is wrapped with the offending values
// (fmt.Errorf("%w: ...")); test with errors.Is. A full or empty ring is not
// an error: Reserve and Available return 0.
var (
	// ErrShort means the buffer is smaller than the ring it must hold.
	ErrShort = errors.New("ringbuf: buffer too short")
	// ErrAlignment means the buffer does not start on an 8-byte boundary,
	// so its 64-bit indices could not be accessed atomically.
	ErrAlignment = errors.New("ringbuf: buffer not 8-byte aligned")
	// ErrMagic means the control block does not start with Magic: the
	// buffer was never initialised or belongs to something else.
	ErrMagic = errors.New("ringbuf: bad magic")
	// ErrGeometry means a slot size or slot count is out of range or not a
	// power of two, or the flags word is not zero.
	ErrGeometry = errors.New("ringbuf: invalid geometry")
	// ErrCorrupt means an index read from the buffer breaks the protocol
	// (head beyond tail, more than a ring's worth published, an index that
	// went backwards). The other side is faulty or the memory was
	// overwritten; the ring must not be used further until reclaimed.
	ErrCorrupt = errors.New("ringbuf: corrupt index")
)
