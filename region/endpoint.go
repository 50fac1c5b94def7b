package region

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

// Sender is the sending half of an attachment: it owns this side's arena,
// publishes descriptors on this side's data ring and takes chunks back from
// the release ring. It must be used by one goroutine at a time.
//
// Zero-copy use, batched:
//
//	c, ok := s.Alloc()                 // a chunk of our arena; false if none
//	n := copy(c.Buf, payload)
//	k, err := s.Reserve(1)             // ring slots; 0 if the ring is full
//	err = s.Put(0, &Descriptor{Kind: KindBody, Stream: id, Offset: c.Offset, Length: uint32(n), Gen: c.Gen})
//	s.Commit(k)                        // publish, ring the peer's bell if it sleeps
//	s.Collect()                        // now and then: take released chunks back
type Sender struct {
	r     *Region
	out   *ringbuf.Producer // our data ring: we write tail
	relIn *ringbuf.Consumer // releases of our chunks: we write head
	alloc *arena.Allocator
	epoch uint32

	outData  bell // the peer sleeps here waiting for our data
	outSpace bell // we sleep here waiting for room in our data ring
	relData  bell // we sleep here waiting for chunks to come back
	relSpace bell // the peer would sleep here waiting for room to release

	// OnReturn, if set, is called by Collect with the offset of each chunk
	// the peer gave back, after it is free again: a user that lends
	// chunks on behalf of several streams keeps its own accounts with it.
	OnReturn func(offset uint32)

	// collected mirrors relIn's head after each Collect, so that
	// WaitReleases can tell pending releases from atomics alone while
	// another goroutine drives the Sender.
	collected atomic.Uint64
}

// Epoch returns the epoch stamped on everything this Sender publishes.
func (s *Sender) Epoch() uint32 { return s.epoch }

// Position returns the number of descriptors published on the data ring.
func (s *Sender) Position() uint64 { return s.out.Position() }

// Taken returns how many descriptors of the data ring the peer has
// consumed: those published before that position have been taken.
func (s *Sender) Taken() uint64 { return s.out.ConsumerPosition() }

// Capacity returns the number of slots in the data ring.
func (s *Sender) Capacity() int { return s.out.Geometry().SlotCount }

// ArenaGeometry returns the geometry of this side's arena.
func (s *Sender) ArenaGeometry() arena.Geometry { return s.alloc.Geometry() }

// Chunks returns how many chunks of this side's arena are free, held by
// this process and lent to the peer.
func (s *Sender) Chunks() (free, held, lent int) {
	return s.alloc.FreeCount(), s.alloc.HeldCount(), s.alloc.LentCount()
}

// Alloc takes a free chunk of this side's arena. It reports false when none
// is free; Collect may then take some back. The chunk's Buf may be written
// until a descriptor naming it is committed; then it belongs to the peer
// until released. Give back an unused chunk with Free.
func (s *Sender) Alloc() (arena.Chunk, bool) {
	c, ok := s.alloc.Alloc()
	if !ok {
		s.r.count(CounterArenaFull, 1)
	}
	return c, ok
}

// Free gives back a chunk that Alloc returned and no descriptor named.
func (s *Sender) Free(c arena.Chunk) error { return s.alloc.Free(c.Offset, c.Gen) }

// Reserve reserves up to n slots of the data ring and returns how many: 0
// when the ring is full. Fill them with Put, publish them with Commit.
func (s *Sender) Reserve(n int) (int, error) {
	if err := s.r.halted(); err != nil {
		return 0, err
	}
	k, err := s.out.Reserve(n)
	if err != nil {
		return 0, fmt.Errorf("region: data ring %d: %w", dataRing(s.r.side), err)
	}
	if k == 0 && n > 0 {
		s.r.count(CounterRingFull, 1)
	}
	return k, nil
}

// Put writes d into reserved slot i. It stamps d.Epoch with this side's
// epoch, validates d (an error here is a local bug: the descriptor is not
// written) and, if d carries a payload, marks its chunk lent: Put once per
// chunk, and commit what you put.
func (s *Sender) Put(i int, d *Descriptor) error {
	d.Epoch = s.epoch
	if err := d.Validate(); err != nil {
		return err
	}
	if d.Kind == KindRelease {
		return fmt.Errorf("%w: release descriptors go on release rings", ErrDescriptor)
	}
	if d.Length != 0 {
		if err := d.CheckSpan(s.alloc.Geometry()); err != nil {
			return err
		}
		if err := s.alloc.Lend(s.alloc.Geometry().ChunkStart(d.Offset), d.Gen); err != nil {
			return err
		}
	}
	d.Encode(s.out.Slot(i))
	return nil
}

// Commit publishes the first n reserved slots with one store and wakes the
// peer if it sleeps on the ring. Commit panics if n exceeds the reservation.
// Once this side is fenced it publishes nothing: the ring is the peer's to
// reclaim.
func (s *Sender) Commit(n int) {
	if s.r.fenced.Load() {
		return
	}
	s.out.Commit(n)
	s.outData.wake(&s.r.counters[CounterWakeups])
}

// CommitQuiet publishes like Commit but leaves the wake-up to a later
// Ring: a producer that publishes from several places in one pass (one
// request per connection) rings once at its end, so a peer sharing the CPU
// is not woken, and does not preempt the producer, once per descriptor.
// Every CommitQuiet must be followed by a Ring, or the peer may sleep
// through what it published until its sleep slice ends.
func (s *Sender) CommitQuiet(n int) {
	if s.r.fenced.Load() {
		return
	}
	s.out.Commit(n)
}

// Ring wakes the peer if it sleeps waiting for data: the wake-up Commit
// makes, for what CommitQuiet published before. Unlike the Sender's other
// methods it may run on any goroutine while another uses the Sender (it
// touches only the doorbell's atomics), until Close.
func (s *Sender) Ring() {
	if s.r.fenced.Load() {
		return
	}
	s.outData.wake(&s.r.counters[CounterWakeups])
}

// Send publishes one descriptor. It reports false when the ring is full.
func (s *Sender) Send(d *Descriptor) (bool, error) {
	n, err := s.Reserve(1)
	if n == 0 {
		return false, err
	}
	if err := s.Put(0, d); err != nil {
		return false, err
	}
	s.Commit(1)
	return true, nil
}

// SendBytes copies payload into as many chunks as it needs and publishes
// one descriptor per chunk, all at once: every part but the last carries
// FlagMore, the last carries d.Flags. d gives Kind, Flags, Aux, Stream and
// Conn; its Offset, Length and Gen are filled in. An empty payload sends d
// alone. Nothing is sent when the ring or the arena lacks room: the error
// then wraps ErrRingFull or ErrArenaFull, and the caller may wait
// (WaitSpace, WaitChunks) and retry.
func (s *Sender) SendBytes(d Descriptor, payload []byte) error {
	cs := s.alloc.Geometry().ChunkSize
	k := max(1, (len(payload)+cs-1)/cs)
	if k > s.Capacity() {
		return fmt.Errorf("%w: %d bytes need %d descriptors, the ring holds %d", ErrRingFull, len(payload), k, s.Capacity())
	}
	if len(payload) > 0 {
		// Validate the shape once before taking anything.
		probe := d
		probe.Epoch, probe.Length, probe.Gen = s.epoch, 1, 1
		if err := probe.Validate(); err != nil {
			return err
		}
		if s.alloc.FreeCount() < k {
			s.Collect()
			if s.alloc.FreeCount() < k {
				s.r.count(CounterArenaFull, 1)
				return fmt.Errorf("%w: %d bytes need %d chunks, %d free", ErrArenaFull, len(payload), k, s.alloc.FreeCount())
			}
		}
	}
	n, err := s.Reserve(k)
	if err != nil {
		return err
	}
	if n < k {
		return fmt.Errorf("%w: %d descriptors needed, %d slots free", ErrRingFull, k, n)
	}
	for i := range k {
		part := d
		if len(payload) > 0 {
			c, _ := s.alloc.Alloc()
			m := copy(c.Buf, payload[i*cs:])
			part.Offset, part.Length, part.Gen = c.Offset, uint32(m), c.Gen
		}
		if i < k-1 {
			part.Flags = d.Flags&^FlagEnd | FlagMore
		}
		if err := s.Put(i, &part); err != nil {
			// Only reachable for an empty payload of a kind that needs
			// one: nothing was allocated.
			return err
		}
	}
	s.Commit(k)
	return nil
}

// Collect takes back the chunks the peer released and returns how many.
// Releases of an earlier epoch of ours are skipped (counted as stale);
// malformed ones, or ones naming chunks that are not out, are skipped and
// counted as invalid, and the first such error is returned after the
// available releases have been processed.
//
// One call processes at most one release ring's worth of releases (its
// capacity, at least the arena's chunk count): an honest peer never has
// more pending, since it can release only chunks that are lent, and a
// peer that keeps publishing releases cannot keep Collect from returning.
// What is left is taken by the next call.
func (s *Sender) Collect() (int, error) {
	if err := s.r.halted(); err != nil {
		return 0, err
	}
	return s.collect(true)
}

// collect is Collect without the halted check, for a reclaim in Close,
// which passes notify false: OnReturn is not called from Close.
func (s *Sender) collect(notify bool) (int, error) {
	freed := 0
	var first error
	budget := s.relIn.Geometry().SlotCount
	for {
		n := 0
		if budget > 0 {
			var err error
			n, err = s.relIn.Available(min(64, budget))
			if err != nil {
				return freed, fmt.Errorf("region: release ring %d: %w", releaseRing(s.r.side), err)
			}
		}
		if n == 0 {
			s.collected.Store(s.relIn.Position())
			return freed, first
		}
		budget -= n
		for i := range n {
			d, err := DecodeDescriptor(s.relIn.Slot(i))
			if err == nil && d.Kind != KindRelease {
				err = fmt.Errorf("%w: %v on a release ring", ErrDescriptor, d.Kind)
			}
			if err == nil && d.Epoch != s.epoch {
				s.r.count(CounterStale, 1)
				continue
			}
			if err == nil {
				err = s.alloc.Return(d.Offset, d.Gen)
			}
			if err == nil && notify && s.OnReturn != nil {
				s.OnReturn(d.Offset)
			}
			if err != nil {
				s.r.count(CounterInvalid, 1)
				if first == nil {
					first = err
				}
				continue
			}
			freed++
		}
		s.relIn.Consume(n)
		s.relSpace.wake(&s.r.counters[CounterWakeups])
	}
}

// WaitSpace waits until the data ring has a free slot, spinning then
// sleeping on the ring's space doorbell. A reservation in progress is kept.
// See Receiver.Wait for the timeout, stop and error rules.
func (s *Sender) WaitSpace(timeout time.Duration, stop <-chan struct{}) error {
	return s.r.wait(s.outSpace, s.hasSpace, true, timeout, stop, nil)
}

func (s *Sender) hasSpace() bool {
	n, err := s.out.Remaining()
	return n > 0 || err != nil
}

// WaitChunks waits until the peer has released chunks (Collect will find
// some) or a chunk is already free.
func (s *Sender) WaitChunks(timeout time.Duration, stop <-chan struct{}) error {
	return s.r.wait(s.relData, s.hasReleases, true, timeout, stop, nil)
}

// WaitReleases waits until the peer has published releases that Collect
// has not taken yet, whether or not chunks are free meanwhile: for a
// caller limited by its own accounts rather than by the arena. Unlike the
// Sender's other methods it may run while another goroutine uses the
// Sender (it reads only atomics), so a caller can wait for releases
// without holding the lock that serialises its sends; one such waiter at
// a time (the doorbell has one sleeper). Before the first Collect it may
// return at once, spuriously.
func (s *Sender) WaitReleases(timeout time.Duration, stop <-chan struct{}) error {
	return s.r.wait(s.relData, s.releasesPending, true, timeout, stop, nil)
}

// releasesPending compares the peer's tail with the head Collect last
// stored; the tail is not validated here: Collect does that.
func (s *Sender) releasesPending() bool {
	return s.relIn.ProducerPosition() != s.collected.Load()
}

func (s *Sender) hasReleases() bool {
	if s.alloc.FreeCount() > 0 {
		return true
	}
	n, err := s.relIn.Available(1)
	return n > 0 || err != nil
}

// Receiver is the receiving half of an attachment: it consumes the peer's
// data ring, reads payloads in the peer's arena in place and releases the
// chunks. It must be used by one goroutine at a time, except Release and
// Flush, which any goroutine may call at any time: a chunk may be given
// back by whoever finished with its bytes.
//
//	n, err := rc.Poll(64)
//	for i := range n {
//		d, err := rc.Get(i)           // decoded and validated
//		if err != nil { ... }         // ErrStale: skip it; ErrDescriptor: peer is faulty
//		use(rc.Payload(&d))           // in place, no copy
//		rc.Release(&d)                // or later, in any order, once done with the bytes
//	}
//	rc.Consume(n)                     // frees the slots, publishes staged releases
type Receiver struct {
	r      *Region
	in     *ringbuf.Consumer // peer's data ring: we write head
	relOut *ringbuf.Producer // releases of the peer's chunks: we write tail
	view   arena.View        // the peer's arena

	inData   bell // we sleep here waiting for the peer's data
	inSpace  bell // the peer sleeps here waiting for room in its data ring
	relData  bell // the peer sleeps here waiting for its chunks
	relSpace bell // we would sleep here waiting for room to release

	batch       bool       // Poll returned slots that Consume has not covered yet
	peerEpoch   uint32     // epoch of the current peer, 0 until seen
	minEpoch    uint32     // epochs below this belong to reclaimed peers
	relMu       sync.Mutex // guards relOut, staged and relReserved
	staged      int        // releases written into relOut's reservation, not yet committed
	relReserved int        // size of that reservation
}

// Position returns the number of descriptors consumed from the data ring.
func (rc *Receiver) Position() uint64 { return rc.in.Position() }

// ArenaGeometry returns the geometry of the peer's arena.
func (rc *Receiver) ArenaGeometry() arena.Geometry { return rc.view.Geometry() }

// Poll returns how many descriptors can be read, at most max; 0 when none.
func (rc *Receiver) Poll(max int) (int, error) {
	if err := rc.r.halted(); err != nil {
		return 0, err
	}
	n, err := rc.in.Available(max)
	if err != nil {
		rc.r.count(CounterInvalid, 1)
		return 0, fmt.Errorf("region: data ring %d: %w", dataRing(1-rc.r.side), err)
	}
	if n > 0 {
		rc.batch = true
	}
	return n, nil
}

// Get decodes and validates available descriptor i (i < what Poll
// returned). The descriptor must be well formed, carry the current peer's
// epoch, and its payload must lie inside one chunk of the peer's arena.
// ErrStale: it comes from a reclaimed incarnation of the peer, skip it.
// ErrDescriptor: the peer is faulty (counted in CounterInvalid).
func (rc *Receiver) Get(i int) (Descriptor, error) {
	d, err := DecodeDescriptor(rc.in.Slot(i))
	if err == nil && d.Kind == KindRelease {
		err = fmt.Errorf("%w: release on a data ring", ErrDescriptor)
	}
	if err != nil {
		rc.r.count(CounterInvalid, 1)
		return d, err
	}
	if d.Epoch != rc.peerEpoch && !rc.refreshEpoch(d.Epoch) {
		rc.r.count(CounterStale, 1)
		return d, fmt.Errorf("%w: epoch %d, peer is at %d", ErrStale, d.Epoch, rc.peerEpoch)
	}
	if d.Length != 0 {
		if err := d.CheckSpan(rc.view.Geometry()); err != nil {
			rc.r.count(CounterInvalid, 1)
			return d, err
		}
	}
	return d, nil
}

// refreshEpoch accepts e if it is the epoch the peer side records now and
// not one of a reclaimed occupant.
func (rc *Receiver) refreshEpoch(e uint32) bool {
	cur := rc.r.peer.epoch.Load()
	if e != cur || e < rc.minEpoch {
		return false
	}
	rc.peerEpoch = cur
	return true
}

// Payload returns the bytes d carries, in place in the peer's arena, or nil
// if it carries none. d must come from Get. The slice is shared memory: it
// is valid until d is released (or the peer reclaimed) and must not be
// retained after that.
func (rc *Receiver) Payload(d *Descriptor) []byte {
	b, err := rc.view.Bytes(d.Offset, d.Length)
	if err != nil {
		return nil
	}
	return b
}

// Consume hands the first n available slots back to the peer (descriptors
// already obtained with Get stay valid; their payloads stay valid until
// released), publishes staged releases, and wakes the peer if it waits for
// room. Once this side is fenced it stores nothing: the ring is the peer's
// to reclaim.
func (rc *Receiver) Consume(n int) {
	rc.batch = false
	if rc.r.fenced.Load() {
		return
	}
	rc.in.Consume(n)
	rc.inSpace.wake(&rc.r.counters[CounterWakeups])
	rc.Flush()
}

// Release gives the chunk d carries back to the peer. Releases are staged
// and published in batches by Flush, Consume and Wait, in any order
// relative to the data ring. Releasing a descriptor without payload does
// nothing. Release a chunk once: the peer rejects a second release.
func (rc *Receiver) Release(d *Descriptor) error {
	if d.Length == 0 {
		return nil
	}
	rc.relMu.Lock()
	defer rc.relMu.Unlock()
	if rc.staged == rc.relReserved {
		rc.flushLocked()
		n, err := rc.relOut.Reserve(64)
		if err != nil {
			return fmt.Errorf("region: release ring %d: %w", releaseRing(1-rc.r.side), err)
		}
		if n == 0 {
			// Cannot happen with an honest peer: the ring has a slot
			// per chunk of its arena.
			rc.r.count(CounterRingFull, 1)
			return fmt.Errorf("%w: release ring %d, peer is not taking chunks back", ErrRingFull, releaseRing(1-rc.r.side))
		}
		rc.relReserved = n
	}
	rel := Descriptor{
		Kind:   KindRelease,
		Epoch:  d.Epoch, // the owner's epoch: a release outlives nothing
		Stream: d.Stream,
		Conn:   d.Conn,
		Offset: rc.view.Geometry().ChunkStart(d.Offset),
		Gen:    d.Gen,
	}
	rel.Encode(rc.relOut.Slot(rc.staged))
	rc.staged++
	return nil
}

// Flush publishes staged releases and wakes the peer if it waits for them.
func (rc *Receiver) Flush() {
	rc.relMu.Lock()
	rc.flushLocked()
	rc.relMu.Unlock()
}

func (rc *Receiver) flushLocked() {
	if rc.staged == 0 {
		return
	}
	if rc.r.fenced.Load() { // the staged releases go with the old incarnation
		rc.staged, rc.relReserved = 0, 0
		return
	}
	rc.relOut.Commit(rc.staged)
	rc.staged, rc.relReserved = 0, 0
	rc.relData.wake(&rc.r.counters[CounterWakeups])
}

// Wait blocks until a descriptor is available, spinning for Options.Spin
// and then sleeping on the ring's doorbell. It publishes staged releases
// first. A negative timeout waits without limit. It returns nil when data
// is available, ErrTimeout, ErrStopped when stop is closed, ErrPeerDead or
// ErrPeerGone when the ring is empty and the peer will not fill it,
// ErrFenced or ErrClosed. Waiting while no peer is attached is allowed.
//
// Stop is checked before each sleep slice, not during it: closing stop
// alone ends a sleep at the end of its slice, up to PeerTimeout/10 later
// (100 ms by default). To stop a sleeper at once, close stop and then call
// Region.Wake. A peer's death, the peer's detach, fencing and Close do wake
// sleepers at once.
func (rc *Receiver) Wait(timeout time.Duration, stop <-chan struct{}) error {
	return rc.r.wait(rc.inData, rc.hasData, true, timeout, stop, rc.Flush)
}

func (rc *Receiver) hasData() bool {
	n, err := rc.in.Available(1)
	return n > 0 || err != nil
}
