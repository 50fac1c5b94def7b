package ringbuf

import "fmt"

// Consumer is the reading end of a ring. It must be used by one goroutine at
// a time; a Producer may run concurrently in another goroutine or process.
//
// Batched use:
//
//	n, err := c.Available(64) // 0 when empty
//	for i := range n {
//		handle(c.Slot(i))
//	}
//	c.Consume(n) // one store hands all n slots back to the producer
type Consumer struct {
	ring
	next      uint64 // private copy of head: position of the first unconsumed slot
	tailCache uint64 // last tail loaded and validated; refreshed only when the ring looks empty
}

// NewConsumer attaches a consumer to the ring in buf, which Init has
// formatted (in this or another process). It validates the geometry and the
// indices found in buf and resumes at the recorded head.
func NewConsumer(buf []byte) (*Consumer, error) {
	r, head, tail, err := attach(buf)
	if err != nil {
		return nil, err
	}
	return &Consumer{ring: r, next: head, tailCache: tail}, nil
}

// Geometry returns the ring's geometry.
func (c *Consumer) Geometry() Geometry { return c.geometry() }

// Position returns the number of slots consumed so far (the head index).
func (c *Consumer) Position() uint64 { return c.next }

// Available returns how many published slots can be read, at most max: 0
// means the ring is empty. The tail is reloaded only when no published slot
// remains from the last load. A non-nil error wraps ErrCorrupt.
func (c *Consumer) Available(max int) (int, error) {
	n := c.tailCache - c.next
	if n == 0 {
		if err := c.refresh(); err != nil {
			return 0, err
		}
		n = c.tailCache - c.next
	}
	if max <= 0 {
		return 0, nil
	}
	if n > uint64(max) {
		return max, nil
	}
	return int(n), nil
}

// refresh reloads tail (acquire) and checks it: it may only have moved
// forward, and never more than a ring's worth ahead of head.
func (c *Consumer) refresh() error {
	t := c.tail.Load()
	// Modular comparison: t must lie in [tailCache, next+capacity] even
	// when the 64-bit counters wrap.
	if t-c.tailCache > c.next+c.capacity-c.tailCache {
		return fmt.Errorf("%w: tail %d outside [%d, %d] (cached tail, head+capacity)",
			ErrCorrupt, t, c.tailCache, c.next+c.capacity)
	}
	c.tailCache = t
	return nil
}

// Slot returns available slot i (0 <= i < what Available returned). The
// slice aliases ring memory: it is valid until Consume covers it and must not
// be retained after that. Slot panics if i is beyond the published slots.
func (c *Consumer) Slot(i int) []byte {
	if uint64(uint(i)) >= c.tailCache-c.next {
		panic("ringbuf: Consumer.Slot beyond the published slots")
	}
	return c.slot(c.next + uint64(i))
}

// Consume hands the first n available slots back to the producer with one
// atomic store of the head. Slot slices covering them must no longer be
// used. Consume panics if n exceeds the published slots.
func (c *Consumer) Consume(n int) {
	if uint64(uint(n)) > c.tailCache-c.next {
		panic("ringbuf: Consumer.Consume beyond the published slots")
	}
	if n == 0 {
		return
	}
	c.next += uint64(n)
	// Release: our reads of the slots happen-before the producer's acquire
	// load that observes this head, after which it may overwrite them.
	c.head.Store(c.next)
}

// Read copies up to len(dst)/SlotSize available slots into dst, consumes
// them and returns how many it copied.
func (c *Consumer) Read(dst []byte) (int, error) {
	n, err := c.Available(len(dst) >> c.shift)
	if n == 0 {
		return 0, err
	}
	for i := range n {
		copy(dst[i<<c.shift:], c.slot(c.next+uint64(i)))
	}
	c.Consume(n)
	return n, nil
}

// Reclaim is for recovery after the producer died: it discards every
// published, unconsumed slot by moving head to tail, and returns how many it
// discarded. If the tail found in memory is invalid it writes the producer's
// index instead (tail = head) to make the ring consistent and returns an
// error wrapping ErrCorrupt; it must therefore only be called when no
// producer is attached.
func (c *Consumer) Reclaim() (discarded uint64, err error) {
	if err = c.refresh(); err != nil {
		c.tail.Store(c.next)
		c.tailCache = c.next
		return 0, err
	}
	discarded = c.tailCache - c.next
	c.next = c.tailCache
	c.head.Store(c.next)
	return discarded, nil
}

// ProducerPosition loads the producer's tail index: how many slots it has
// published. The value comes from the other side and is not validated; use
// it for monitoring (queue depth) and recovery accounting only.
func (c *Consumer) ProducerPosition() uint64 { return c.tail.Load() }
