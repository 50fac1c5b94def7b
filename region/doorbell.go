package region

import (
	"fmt"
	"sync/atomic"
	"time"
)

// bell is one doorbell block in the header: a futex word and a sleeping
// flag. Each ring has two: its data bell, on which the consumer sleeps when
// the ring is empty, and its space bell, on which the producer sleeps when
// it is full.
//
// The handshake (Dekker's, with sequentially consistent atomics on both
// sides; Go's sync/atomic operations are all seq_cst):
//
//	sleeper                              waker
//	s := seq.Load()                      publish: tail.Store(t)   (or head)
//	sleeping.Store(1)                    if sleeping.Load() != 0 &&
//	if ready() { sleeping.Store(0) }        sleeping.Swap(0) != 0 {
//	else futex_wait(&seq, s, timeout)        seq.Add(1)
//	sleeping.Store(0)                        futex_wake(&seq)
//	                                     }
//
// Either the waker's load sees the flag, or the sleeper's ready() sees the
// publication: both cannot miss, since each side's store precedes its load
// in the single total order of seq_cst operations. If the wake lands after
// the sleeper read seq but before it sleeps, futex_wait finds seq changed
// and returns at once. The Swap lets exactly one waker pay for the syscall
// per sleep, so under load (the sleeper never sleeps) wakes cost one
// uncontended load per publish.
type bell struct {
	seq      *atomic.Uint32 // futex word: bumped by each wake
	sleeping *atomic.Uint32 // 1 while the sleeper may be in futex_wait
}

// wake is the waker's half, called right after the publishing store.
func (b bell) wake(wakeups *atomic.Uint64) {
	if b.sleeping.Load() != 0 && b.sleeping.Swap(0) != 0 {
		b.seq.Add(1)
		futexWake(b.seq)
		wakeups.Add(1)
	}
}

// interrupt wakes the sleeper whatever its flag says: used for local
// shutdown, peer death and fencing, when the sleeper must re-check state
// rather than a ring.
func (b bell) interrupt() {
	b.seq.Add(1)
	futexWake(b.seq)
}

// wait blocks until ready reports true, timeout elapses (negative: never),
// stop is closed, or the region's state makes waiting pointless: closed,
// fenced, or (when needPeer) the peer dead or gone. It runs prelude (if
// not nil) first, inside the registration. It spins for opts.Spin, then
// sleeps on b in slices of at most the heartbeat interval so it notices
// state changes even if nobody rings.
//
// Stop latency: stop is looked at before each slice, not during one, so a
// close of stop alone ends a sleep at the end of the current slice: at
// most min(timeout left, interval) later, interval being PeerTimeout/10
// (100 ms with the default PeerTimeout). Region.Wake interrupts the sleep
// at once; a caller that needs a prompt stop closes stop, then calls Wake.
// Waking a sleeper from a closing channel would take a goroutine per
// sleep, a cost every sleep would pay for the rare stop.
func (r *Region) wait(b bell, ready func() bool, needPeer bool, timeout time.Duration, stop <-chan struct{}, prelude func()) error {
	// Register before touching the mapping: while we are registered,
	// Close does not unmap it (see leaveWait).
	r.waiters.Add(1)
	defer r.leaveWait()
	if r.closed.Load() {
		return ErrClosed
	}
	if prelude != nil {
		prelude()
	}
	if ready() {
		return nil
	}
	start := time.Now()
	if r.opts.Spin > 0 {
		for i := 1; ; i++ {
			if ready() {
				return nil
			}
			// Polling a line the peer is writing costs the peer a cache
			// miss on its next store: pause between polls.
			pause(spinPause)
			// Reading the clock costs ~20 ns; look at it every 16 polls.
			if i&15 == 0 && time.Since(start) >= r.opts.Spin {
				break
			}
		}
	}
	for {
		if err := r.waitErr(needPeer); err != nil {
			return err
		}
		select {
		case <-stop:
			return ErrStopped
		default:
		}
		slice := r.interval
		if timeout >= 0 {
			left := timeout - time.Since(start)
			if left <= 0 {
				return ErrTimeout
			}
			slice = min(slice, left)
		}
		seq := b.seq.Load()
		b.sleeping.Store(1)
		if ready() {
			b.sleeping.Store(0)
			return nil
		}
		r.counters[CounterSleeps].Add(1)
		if futexWait(b.seq, seq, slice) {
			r.counters[CounterSleepTimeouts].Add(1)
		}
		b.sleeping.Store(0)
		if r.closed.Load() {
			return ErrClosed
		}
		if ready() {
			return nil
		}
	}
}

// spinPause is the pause between polls in a wait's spin phase, in pause
// iterations (a few tens of nanoseconds).
const spinPause = 8

// waitErr reports why waiting should stop, if it should.
func (r *Region) waitErr(needPeer bool) error {
	switch {
	case r.closed.Load():
		return ErrClosed
	case r.fenced.Load():
		return ErrFenced
	case needPeer:
		switch PeerState(r.verdict.Load()) {
		case PeerDead:
			return fmt.Errorf("%w: %s", ErrPeerDead, r.Peer().Reason)
		case PeerGone:
			return ErrPeerGone
		}
	}
	return nil
}

// Wake interrupts every Wait of this process on r, so that each re-checks
// its stop channel at once instead of at the end of its current sleep
// slice (up to PeerTimeout/10 later). It does nothing after Close.
func (r *Region) Wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem != nil {
		r.wakeOwn()
	}
}

// wakeOwn interrupts the bells this side sleeps on.
func (r *Region) wakeOwn() {
	r.recv.inData.interrupt()
	r.send.relData.interrupt()
	r.send.outSpace.interrupt()
	r.recv.relSpace.interrupt()
}

// wakePeer interrupts the bells the peer sleeps on, so it notices a state
// change (our detach) at once.
func (r *Region) wakePeer() {
	r.send.outData.interrupt()
	r.recv.relData.interrupt()
	r.recv.inSpace.interrupt()
	r.send.relSpace.interrupt()
}
