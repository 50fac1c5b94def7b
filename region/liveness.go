package region

import (
	"errors"
	"fmt"
	"time"
)

// PeerState is this side's verdict on the other side.
type PeerState int32

const (
	// PeerAbsent: the peer side is free; nobody is attached.
	PeerAbsent PeerState = iota
	// PeerAttaching: a process has claimed the peer side and is setting up.
	PeerAttaching
	// PeerAlive: the peer is attached, its process runs and it beats.
	PeerAlive
	// PeerGone: the peer detached cleanly; call ReclaimPeer.
	PeerGone
	// PeerDead: the peer's process exited, or it stopped beating for the
	// liveness bound; it has been fenced. Call ReclaimPeer.
	PeerDead
)

// String returns the state's name.
func (s PeerState) String() string {
	switch s {
	case PeerAbsent:
		return "absent"
	case PeerAttaching:
		return "attaching"
	case PeerAlive:
		return "alive"
	case PeerGone:
		return "gone"
	case PeerDead:
		return "dead"
	}
	return fmt.Sprintf("PeerState(%d)", int32(s))
}

// PeerInfo is a snapshot of the peer side.
type PeerInfo struct {
	State     PeerState
	PID       int    // occupant's pid, 0 when absent
	Epoch     uint32 // occupant's incarnation (the last one, once absent)
	Heartbeat uint64
	Reason    string    // why it was declared dead
	Since     time.Time // when the verdict last changed
}

// peerObservation is what the monitor remembers between ticks; guarded by
// Region.mu.
type peerObservation struct {
	claim     uint64    // claim word last seen
	heartbeat uint64    // heartbeat last seen
	changed   time.Time // when claim or heartbeat last changed
	quiet     int       // consecutive ticks without a change
	declared  uint64    // claim word (pid, state) we declared dead, 0 if none
	reason    string
	since     time.Time
}

// Peer returns the current verdict on the peer and what the side block
// says. The verdict is refreshed by the monitor every heartbeat interval
// (PeerTimeout/10).
func (r *Region) Peer() PeerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return PeerInfo{State: PeerState(r.verdict.Load()), Reason: r.obs.reason, Since: r.obs.since}
	}
	c := r.peer.claim.Load()
	return PeerInfo{
		State:     PeerState(r.verdict.Load()),
		PID:       claimPID(c),
		Epoch:     r.peer.epoch.Load(),
		Heartbeat: r.peer.heartbeat.Load(),
		Reason:    r.obs.reason,
		Since:     r.obs.since,
	}
}

// PeerTimeout returns the liveness bound recorded in the header.
func (r *Region) PeerTimeout() time.Duration { return r.layout.PeerTimeout }

// monitor beats this side's heartbeat and judges the peer every interval.
func (r *Region) monitor() {
	defer close(r.monDone)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.stopMon:
			return
		case <-t.C:
		}
		r.mu.Lock() // Rejoin changes the claim and the fenced flag under it
		if r.own.claim.Load() == claimWord(r.pid, StateActive) {
			r.own.heartbeat.Add(1)
		} else {
			// The peer declared us dead (we stalled): stop using the
			// region, and stop beating on a side that is no longer
			// ours (a successor's beats would be muddled with ours);
			// every wait and send now fails with ErrFenced until
			// Rejoin.
			r.fence()
		}
		r.observePeer(time.Now())
		r.mu.Unlock()
	}
}

// observePeer updates the verdict from the peer's side block. A peer is
// dead when its process is gone (or its pid now names another process)
// and its heartbeat has not moved since our previous tick, or when its
// heartbeat has not moved for PeerTimeout minus one interval AND for as
// many of our ticks: counting ticks keeps a stall of this process (which
// also stops our ticks) from being blamed on the peer, and requiring a
// still heartbeat with the pid checks keeps a peer in another pid
// namespace (where its pid means nothing to us) alive while it beats. A
// dead peer is fenced by swapping its claim to DETACHED. Called with r.mu
// held.
func (r *Region) observePeer(now time.Time) {
	o := &r.obs
	c := r.peer.claim.Load()
	pid, st := claimPID(c), claimState(c)
	if c != o.claim {
		o.claim = c
		o.changed = now
		o.quiet = 0
	}
	verdict := PeerAbsent
	switch st {
	case StateFree:
		o.declared = 0
	case StateDetached:
		verdict = PeerGone
		if o.declared == claimWord(pid, StateDetached) {
			verdict = PeerDead
		}
	case StateAttaching, StateActive:
		if hb := r.peer.heartbeat.Load(); hb != o.heartbeat {
			o.heartbeat = hb
			o.changed = now
			o.quiet = 0
		} else {
			o.quiet++
		}
		verdict = PeerAlive
		if st == StateAttaching {
			verdict = PeerAttaching
		}
		alive, token := processStatus(pid)
		// The token is the occupant's only once it is ACTIVE: while
		// attaching it may still be a predecessor's.
		recorded := uint64(0)
		if st == StateActive {
			recorded = r.peer.token.Load()
		}
		stale := r.layout.PeerTimeout - r.interval
		var reason string
		switch {
		case !alive && o.quiet > 0:
			reason = fmt.Sprintf("process %d exited", pid)
		case recorded != 0 && token != 0 && token != recorded && o.quiet > 0:
			reason = fmt.Sprintf("pid %d now belongs to another process", pid)
		case now.Sub(o.changed) >= stale && o.quiet >= int(stale/r.interval):
			reason = fmt.Sprintf("no heartbeat from pid %d for %v", pid, now.Sub(o.changed).Round(time.Millisecond))
		}
		if reason != "" {
			r.declareDead(c, reason, now)
			return
		}
	default:
		r.declareDead(c, fmt.Sprintf("invalid claim %#x", c), now)
		return
	}
	r.setVerdict(verdict, now)
}

// declareDead fences the occupant described by claim word c. Called with
// r.mu held.
func (r *Region) declareDead(c uint64, reason string, now time.Time) {
	fenced := claimWord(claimPID(c), StateDetached)
	if !r.peer.claim.CompareAndSwap(c, fenced) {
		return // changed under us (e.g. a clean detach): judge again next tick
	}
	r.obs.claim = fenced
	r.obs.declared = fenced
	r.obs.reason = reason
	r.count(CounterPeerDeaths, 1)
	r.setVerdict(PeerDead, now)
}

func (r *Region) setVerdict(v PeerState, now time.Time) {
	if PeerState(r.verdict.Swap(int32(v))) != v {
		r.obs.since = now
		if v == PeerDead || v == PeerGone {
			r.wakeOwn() // sleepers must see the news now, not at their next slice
		}
	}
}

// Reclaimed reports what ReclaimPeer took back.
type Reclaimed struct {
	PID          int    // the reclaimed occupant
	Epoch        uint32 // its incarnation; its descriptors are now stale
	Reason       string // why it was declared dead; empty if it detached
	DiscardedIn  uint64 // descriptors it had published that were never received
	DiscardedOut uint64 // descriptors sent to it that it never consumed
	Chunks       int    // chunks of our arena that it held (lent, not released), now free
}

// ReclaimPeer takes back everything a dead or departed peer held, so that a
// new peer can attach: it takes back the chunks the peer had released (as
// Collect would, OnReturn included), discards the descriptors in flight
// both ways, frees every chunk of this side's arena still lent to the
// peer, clears
// the peer's sleeping flags, makes descriptors of the peer's epoch stale,
// and frees the peer side.
//
// Before calling it, drop every payload slice obtained from the Receiver:
// the next peer will reuse its arena. Descriptors the peer published
// before it died may still be drained with the Receiver first, if they are
// useful. The streams the peer was serving are gone: answer them locally
// (the engine: 502/503) and send nothing more about them.
//
// ReclaimPeer must not run concurrently with Sender or Receiver calls, and
// it ends any reservation in progress (do not Commit after it). It fails
// with ErrPeerAlive unless the peer is dead or gone, and with ErrFenced if
// this side was itself declared dead. Ring indices the dead peer left
// corrupt are repaired and reported as an error alongside the result.
func (r *Region) ReclaimPeer() (Reclaimed, error) {
	if err := r.halted(); err != nil {
		return Reclaimed{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reclaimLocked(true)
}

// reclaimLocked is ReclaimPeer with r.mu held, for Close too; notify says
// whether collected chunks are reported to OnReturn.
func (r *Region) reclaimLocked(notify bool) (Reclaimed, error) {
	now := time.Now()
	r.observePeer(now)
	c := r.peer.claim.Load()
	switch claimState(c) {
	case StateFree:
		return Reclaimed{}, nil
	case StateDetached:
	default:
		return Reclaimed{}, fmt.Errorf("%w: pid %d is %s", ErrPeerAlive, claimPID(c), stateName(claimState(c)))
	}
	res := Reclaimed{PID: claimPID(c), Epoch: r.peer.epoch.Load()}
	if r.obs.declared == c {
		res.Reason = r.obs.reason
	}
	var errs []error
	// Releases the peer published before it left are chunks it gave
	// back, not chunks it held: take them first, so that Chunks (and
	// the reclaimed_chunks counter) blame only what it really kept.
	// Invalid releases are counted by Collect; a corrupt index is
	// repaired and reported below.
	r.send.collect(notify)
	var err error
	// Rings the peer consumed: rewrite its head to our tail.
	res.DiscardedOut, err = r.send.out.Reclaim()
	errs = append(errs, err)
	r.recv.relMu.Lock()
	r.recv.staged, r.recv.relReserved = 0, 0
	_, err = r.recv.relOut.Reclaim()
	r.recv.relMu.Unlock()
	errs = append(errs, err)
	// Rings the peer produced: skip to its tail (or repair it).
	res.DiscardedIn, err = r.recv.in.Reclaim()
	errs = append(errs, err)
	_, err = r.send.relIn.Reclaim()
	errs = append(errs, err)
	res.Chunks = r.send.alloc.ReclaimLent()
	// The peer's sleeping flags: a successor starts awake.
	r.send.outData.sleeping.Store(0)
	r.recv.relData.sleeping.Store(0)
	r.recv.inSpace.sleeping.Store(0)
	r.send.relSpace.sleeping.Store(0)
	if e := res.Epoch + 1; e > r.recv.minEpoch {
		r.recv.minEpoch = e
	}
	r.recv.peerEpoch = 0
	r.peer.token.Store(0)
	r.peer.claim.CompareAndSwap(c, 0)
	r.count(CounterReclaims, 1)
	r.count(CounterReclaimedDescs, res.DiscardedIn+res.DiscardedOut)
	r.count(CounterReclaimedChunks, uint64(res.Chunks))
	r.obs = peerObservation{claim: 0, changed: now}
	r.setVerdict(PeerAbsent, now)
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("region: reclaim repaired corrupt indices: %w", err)
	}
	return res, nil
}
