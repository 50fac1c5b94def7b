package region

import (
	"errors"
	"fmt"
	"time"
)

// Fenced reports whether the peer revoked this side's claim: it declared
// this process dead, typically because it stalled (SIGSTOP, swapping, a
// debugger) for longer than PeerTimeout. The next Reserve, Poll or
// Collect notices it (as does the monitor at its next tick); from then on
// every Sender and Receiver call fails with ErrFenced and this side stops
// beating, until Rejoin succeeds.
func (r *Region) Fenced() bool { return r.fenced.Load() }

// Rejoined reports what Rejoin did.
type Rejoined struct {
	OldEpoch uint32 // the fenced incarnation: its descriptors are now stale
	Epoch    uint32 // the new one
	// ByPeer is true when the peer had reclaimed this side (freed it) as
	// the protocol asks; false when no live peer would (it left or died
	// without doing so) and Rejoin repaired this side's rings itself.
	ByPeer bool
	// Discarded counts the descriptors that Rejoin itself discarded from
	// the rings (only when !ByPeer).
	Discarded uint64
	// Chunks counts the chunks of this side's arena that were lent or held
	// when this side was fenced: all are free again.
	Chunks int
}

// Rejoin makes a fenced side usable again as a new incarnation, for a
// process that outlived its fencing (an engine that resumes after a
// stall): it claims the side again with a new epoch and rebuilds the
// Sender and Receiver from the rings' current indices, with every chunk of
// this side's arena free, as a successor attaching afresh would. The
// Sender and Receiver keep their identity (and OnReturn). Everything the
// old incarnation had in flight is lost: answer it locally.
//
// The side must first be given up by its fencer. If the peer reclaimed it
// (the side is FREE), Rejoin claims it. If it is still DETACHED under this
// pid and the peer is attached, the peer owes the reclaim: Rejoin fails
// with ErrSideBusy and may be retried (the peer's departure or death ends
// the wait: call it again each heartbeat). If the peer side is free or
// detached, nobody will reclaim this side: Rejoin repairs this side's
// rings itself, as Close does, and claims it; a detached peer is then
// reclaimed with ReclaimPeer as usual. A side claimed meanwhile by another
// process fails with ErrSideBusy.
//
// Rejoin on a side that is not fenced does nothing and returns the zero
// Rejoined. It has ReclaimPeer's concurrency rules: no Sender or Receiver
// call may run meanwhile, except Receiver.Release and Flush; and it fails
// between a Poll that returned slots and the Consume that follows.
func (r *Region) Rejoin() (Rejoined, error) {
	if r.closed.Load() {
		return Rejoined{}, ErrClosed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fenced.Load() {
		return Rejoined{}, nil
	}
	if r.recv.batch {
		// A caller's Get or Consume of that batch would address the
		// rebuilt ring with positions of the old one.
		return Rejoined{}, errors.New("region: Rejoin between Poll and Consume: consume the batch first")
	}
	res := Rejoined{OldEpoch: r.epoch.Load()}
	mine := claimWord(r.pid, StateDetached)
	switch c := r.own.claim.Load(); c {
	case 0:
		res.ByPeer = true
	case mine:
		p := r.peer.claim.Load()
		if st := claimState(p); st == StateAttaching || st == StateActive {
			return Rejoined{}, fmt.Errorf("%w: side %d awaits its reclaim by pid %d, still %s",
				ErrSideBusy, r.side, claimPID(p), stateName(st))
		}
		// The peer left or was declared dead without reclaiming us:
		// do for our rings what it would have done (its own are
		// ReclaimPeer's), then free the side to claim it below.
		r.recv.relMu.Lock()
		r.recv.staged, r.recv.relReserved = 0, 0
		n, _ := r.recv.relOut.Reclaim()
		r.recv.relMu.Unlock()
		res.Discarded += n
		n, _ = r.send.out.Reclaim()
		res.Discarded += n
		n, _ = r.send.relIn.Reclaim()
		res.Discarded += n
		n, _ = r.recv.in.Reclaim()
		res.Discarded += n
		r.own.token.Store(0)
		if !r.own.claim.CompareAndSwap(c, 0) {
			return Rejoined{}, fmt.Errorf("%w: side %d changed while rejoining", ErrSideBusy, r.side)
		}
	default:
		return Rejoined{}, fmt.Errorf("%w: side %d is now %s by pid %d", ErrSideBusy, r.side,
			stateName(claimState(c)), claimPID(c))
	}
	if err := r.claim(0); err != nil {
		return Rejoined{}, err
	}
	e, err := r.endpoints()
	if err != nil {
		// Only a peer that corrupted the rings gets here: stay fenced,
		// and leave the side for it to reclaim.
		r.own.claim.CompareAndSwap(claimWord(r.pid, StateActive), claimWord(r.pid, StateDetached))
		return Rejoined{}, err
	}
	s := r.send
	res.Chunks = s.alloc.HeldCount() + s.alloc.LentCount()
	res.Epoch = r.epoch.Load()
	s.out, s.relIn, s.alloc, s.epoch = e.out, e.relIn, e.alloc, res.Epoch
	s.collected.Store(e.relIn.Position())
	rc := r.recv
	rc.relMu.Lock()
	rc.relOut, rc.staged, rc.relReserved = e.relOut, 0, 0
	rc.relMu.Unlock()
	rc.in = e.in
	rc.peerEpoch = 0 // minEpoch stays: reclaimed peers remain stale
	r.observePeer(time.Now())
	r.fenced.Store(false)
	return res, nil
}
