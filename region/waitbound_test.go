package region

import (
	"errors"
	"testing"
	"time"
)

// The tests in this file assert time bounds that are features: how soon a
// sleeper learns of a stop or of the peer's death. Everything else waits
// on state with generous deadlines.

// TestWaitStopLatency: closing stop alone ends a sleep at the end of its
// slice (PeerTimeout/10, 200 ms here), as documented; it does not wait
// for the timeout.
func TestWaitStopLatency(t *testing.T) {
	_, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 2 * time.Second, Spin: -1})
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- b.Receiver().Wait(time.Minute, stop) }()
	if !eventually(10*time.Second, func() bool { return b.recv.inData.sleeping.Load() == 1 }) {
		t.Fatal("receiver never went to sleep")
	}
	close(stop)
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Wait after stop = %v; want %v", err, ErrStopped)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("closing stop never ended the wait")
	}
	if took, slice := time.Since(start), b.PeerTimeout()/10; took > slice+500*time.Millisecond {
		t.Fatalf("closing stop ended the wait after %v; want at most a slice, %v (+ slack)", took, slice)
	}
}

// TestWaitPeerDeadBound: a sleeper learns that the peer stopped beating
// within the liveness bound (plus the scheduling slack of the kill tests).
func TestWaitPeerDeadBound(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Second, Spin: -1})
	done := make(chan error, 1)
	go func() { done <- b.Receiver().Wait(time.Minute, nil) }()
	if !eventually(10*time.Second, func() bool { return b.recv.inData.sleeping.Load() == 1 }) {
		t.Fatal("receiver never went to sleep")
	}
	a.stopMonitor()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, ErrPeerDead) {
			t.Fatalf("wait while the peer stops beating = %v; want %v", err, ErrPeerDead)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("waiter not woken; peer %v", b.Peer())
	}
	if took := time.Since(start); took > b.PeerTimeout()+detectionSlack {
		t.Errorf("ErrPeerDead after %v; the bound is %v (+ %v slack)", took, b.PeerTimeout(), detectionSlack)
	}
}
