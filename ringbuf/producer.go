package ringbuf

import "fmt"

// Producer is the writing end of a ring. It must be used by one goroutine at
// a time; a Consumer may run concurrently in another goroutine or process.
//
// Zero-copy use, batched:
//
//	n, err := p.Reserve(len(msgs)) // n may be smaller, 0 when full
//	for i := range n {
//		copy(p.Slot(i), msgs[i])
//	}
//	p.Commit(n) // one release-store publishes all n
type Producer struct {
	ring
	next      uint64 // private copy of tail: position of the first unpublished slot
	headCache uint64 // last head loaded and validated; refreshed only when the ring looks full
	reserved  int    // slots handed out by the last Reserve and not yet committed
}

// NewProducer attaches a producer to the ring in buf, which Init has
// formatted (in this or another process). It validates the geometry and the
// indices found in buf and resumes at the recorded tail.
func NewProducer(buf []byte) (*Producer, error) {
	r, head, tail, err := attach(buf)
	if err != nil {
		return nil, err
	}
	return &Producer{ring: r, next: tail, headCache: head}, nil
}

// Geometry returns the ring's geometry.
func (p *Producer) Geometry() Geometry { return p.geometry() }

// Position returns the number of slots published so far (the tail index).
func (p *Producer) Position() uint64 { return p.next }

// Reserve reserves up to n free slots and returns how many it reserved: 0
// means the ring is full, which is not an error. The cached head index is
// reloaded only when fewer than n slots look free. The reservation lasts
// until the next Commit or Reserve; unused reserved slots are simply not
// published. A non-nil error wraps ErrCorrupt.
func (p *Producer) Reserve(n int) (int, error) {
	p.reserved = 0
	if n <= 0 {
		return 0, nil
	}
	free := p.capacity - (p.next - p.headCache)
	if free < uint64(n) {
		if err := p.refresh(); err != nil {
			return 0, err
		}
		free = p.capacity - (p.next - p.headCache)
	}
	if uint64(n) > free {
		n = int(free)
	}
	p.reserved = n
	return n, nil
}

// Remaining returns the number of free slots without touching the
// reservation; like Reserve, it reloads the head only when the ring looks
// full. A non-nil error wraps ErrCorrupt.
func (p *Producer) Remaining() (int, error) {
	free := p.capacity - (p.next - p.headCache)
	if free == 0 {
		if err := p.refresh(); err != nil {
			return 0, err
		}
		free = p.capacity - (p.next - p.headCache)
	}
	return int(free), nil
}

// refresh reloads head (acquire) and checks it: it may only have moved
// forward, and never past what was published.
func (p *Producer) refresh() error {
	h := p.head.Load()
	// Modular comparison: h must lie in [headCache, next] even when the
	// 64-bit counters wrap.
	if h-p.headCache > p.next-p.headCache {
		return fmt.Errorf("%w: head %d outside [%d, %d] (cached head, tail)",
			ErrCorrupt, h, p.headCache, p.next)
	}
	p.headCache = h
	return nil
}

// Slot returns reserved slot i (0 <= i < the count Reserve returned). The
// slice aliases ring memory; it may be written until Commit and must not be
// retained after it. Its previous contents are unspecified. Slot panics if i
// is outside the reservation.
func (p *Producer) Slot(i int) []byte {
	if uint(i) >= uint(p.reserved) {
		panic("ringbuf: Producer.Slot outside the reservation")
	}
	return p.slot(p.next + uint64(i))
}

// Commit publishes the first n reserved slots with one atomic store of the
// tail and ends the reservation. Slot contents must be fully written before
// Commit; the consumer may read them as soon as the store lands. Commit
// panics if n exceeds the reservation.
func (p *Producer) Commit(n int) {
	if uint(n) > uint(p.reserved) {
		panic("ringbuf: Producer.Commit beyond the reservation")
	}
	p.reserved = 0
	if n == 0 {
		return
	}
	p.next += uint64(n)
	// Release: every slot write above happens-before a consumer's acquire
	// load that observes this value. sync/atomic stores are seq_cst, which
	// the doorbell handshake built on top also needs (store tail, then load
	// the sleeper's flag).
	p.tail.Store(p.next)
}

// Offer copies src into one slot and publishes it. src must not be longer
// than a slot; the rest of the slot is zeroed. It reports false when the
// ring is full.
func (p *Producer) Offer(src []byte) (bool, error) {
	if len(src) > p.slotSize {
		panic("ringbuf: Producer.Offer message longer than a slot")
	}
	n, err := p.Reserve(1)
	if n == 0 {
		return false, err
	}
	s := p.Slot(0)
	copy(s, src)
	clear(s[len(src):])
	p.Commit(1)
	return true, nil
}

// Write copies as many whole slots from src as fit (len(src) must be a
// multiple of the slot size) and publishes them with one store. It returns
// the number of slots written.
func (p *Producer) Write(src []byte) (int, error) {
	if len(src)%p.slotSize != 0 {
		panic("ringbuf: Producer.Write length not a multiple of the slot size")
	}
	n, err := p.Reserve(len(src) >> p.shift)
	if n == 0 {
		return 0, err
	}
	for i := range n {
		copy(p.slot(p.next+uint64(i)), src[i<<p.shift:])
	}
	p.Commit(n)
	return n, nil
}

// Reclaim is for recovery after the consumer died: it sets the shared head
// to the tail, as if every published slot had been consumed, and returns how
// many published slots the consumer had not consumed. It writes the
// consumer's index, so it must only be called when no consumer is attached.
// If the head found in memory is invalid, the head is still reset and the
// error wraps ErrCorrupt; discarded then counts from the last valid head.
func (p *Producer) Reclaim() (discarded uint64, err error) {
	p.reserved = 0
	err = p.refresh() // on error headCache keeps the last valid head
	discarded = p.next - p.headCache
	p.head.Store(p.next)
	p.headCache = p.next
	return discarded, err
}

// ConsumerPosition loads the consumer's head index: how many slots it has
// consumed. The value comes from the other side and is not validated; use
// it for monitoring (queue depth) and recovery accounting only.
func (p *Producer) ConsumerPosition() uint64 { return p.head.Load() }
