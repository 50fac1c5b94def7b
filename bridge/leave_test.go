package bridge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// A host that asks to leave at once, before the engine's watch has seen
// it attach, gets the drain notice and is never routed to: Serve with a
// context already ended returns ErrDrained.
func TestHostLeavesRightAfterAttaching(t *testing.T) {
	_, b := setupWith(t, Options{})
	for round := range 5 {
		h, err := host.Attach(b.Name(), region.Options{Dir: b.opts.Region.Dir, AttachTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- h.Serve(ctx, echoHandler) }()
		select {
		case err := <-done:
			if !errors.Is(err, host.ErrDrained) {
				t.Fatalf("round %d: Serve after leaving = %v; want host.ErrDrained", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Serve did not return within 10 s of leaving", round)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		for _, l := range b.Lanes() {
			if l.Serving {
				t.Fatalf("round %d: lane %+v serves a host that left", round, l)
			}
		}
	}
}

// The drain notice is owed, not lost, when the ring to the host is full:
// it follows the requests once the host makes room.
func TestDrainNoticeWaitsForRoom(t *testing.T) {
	const slots = 16
	srv, b := setupWith(t, Options{BodyInline: 1024, HostWait: -1, Region: region.Options{Dir: t.TempDir(),
		ChunkSize: 4096, Chunks: 64, DataSlots: slots, PeerTimeout: 500 * time.Millisecond}})
	h := attachRaw(t, b, b.opts.Region.Dir)
	codes := make(chan int, slots)
	for range slots {
		go func() {
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + srv.Addr().String() + "/fill")
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	bridgetest.WaitFor(t, "the ring to fill", func() bool { return b.Lanes()[0].Queued == slots })
	h.send(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelDrain}, nil) // leave
	bridgetest.WaitFor(t, "the engine to take the host out of service", func() bool { return !b.Lanes()[0].Serving })
	for range slots {
		req, _ := h.request()
		h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 2}, []byte("ok"))
	}
	if d, _ := h.next(); d.Kind != region.KindCancel || d.Aux != wire.CancelDrain || d.Stream != 0 {
		t.Fatalf("after the requests the host got %v; want the drain notice", d)
	}
	for range slots {
		if code := <-codes; code != 200 {
			t.Fatalf("a request sent before the notice got %d; want 200", code)
		}
	}
}

// A host that answers and then detaches at once (a drained host leaving)
// may be seen gone by the engine before the engine has read its last
// responses: those are on the ring still and are delivered, not failed
// with 502. The engine's receive loop is held (by its lane's lock) while
// the host answers and leaves, until the engine's verdict is "gone".
func TestResponsesBeforeDetachDelivered(t *testing.T) {
	const n = 100 // more than one batch of the receive loop
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	var l *lane
	for _, o := range b.lanes {
		if o.r.Lane() == h.r.Lane() {
			l = o
		}
	}
	codes := make(chan int, n)
	for i := range n {
		go func() {
			c := &http.Client{Timeout: 30 * time.Second}
			resp, err := c.Get("http://" + srv.Addr().String() + "/last?" + strconv.Itoa(i))
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	reqs := make([]region.Descriptor, n)
	for i := range reqs {
		reqs[i], _ = h.request()
	}
	l.mu.Lock()
	held := true
	defer func() {
		if held {
			l.mu.Unlock()
		}
	}()
	for _, req := range reqs {
		h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 2}, []byte("ok"))
	}
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, "the engine to see the host gone", func() bool { return l.r.Peer().State == region.PeerGone })
	held = false
	l.mu.Unlock()
	bad := 0
	for range n {
		if code := <-codes; code != 200 {
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d requests the host answered before it detached did not get its 200", bad, n)
	}
}
