package bridge

import (
	"context"
	"errors"
	"net/http"
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
