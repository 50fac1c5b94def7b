package host

import (
	"errors"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// Wake-ups on the host side: an End wakes a Next asleep on the doorbell
// at once, not at the end of its sleep. The bounds are the feature; the
// liveness bound is set to a minute so that one sleep lasts 6 s and a
// generous 3 s bound still tells a wake-up from a slept-out slice.

const longPeerTimeout = time.Minute

// waitAsleep waits until a Next on another goroutine sleeps on the
// doorbell (it holds the pump and registered to be poked).
func waitAsleep(t *testing.T, h *Host) {
	t.Helper()
	bridgetest.WaitFor(t, "Next to sleep", h.asleep)
}

func (h *Host) asleep() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stop != nil
}

// An End on another goroutine wakes a Next that sleeps without limit, so
// the chunk goes back at once and not at the next request.
func TestHostEndWakesNext(t *testing.T) {
	e, h := newFakeEngineWith(t, longPeerTimeout)
	e.sendRequest(1, nil)
	req, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Next(-1)
		done <- err
	}()
	waitAsleep(t, h)
	ended := time.Now()
	req.Respond(&wire.ResponseHead{Status: 204, ContentLength: -1}, nil)
	for e.lent() != 0 {
		if time.Since(ended) > 3*time.Second { // half a doorbell sleep
			t.Fatal("the chunk did not come back within 3 s of the End")
		}
		time.Sleep(time.Millisecond)
	}
	e.sendCancel(0, wire.CancelDrain)
	expectDrained(t, done)
}

// Drain: Next hands out what came before the notice, then waits for those
// requests to end, then returns ErrDrained (again and again) right after
// the last End.
func TestHostDrainWaitsForRequests(t *testing.T) {
	e, h := newFakeEngineWith(t, longPeerTimeout)
	e.sendRequest(1, nil)
	e.sendRequest(2, nil)
	e.sendCancel(0, wire.CancelDrain)
	var reqs []*Request
	for range 2 {
		req, err := h.Next(time.Second)
		if err != nil {
			t.Fatalf("Next before the drain completes = %v", err)
		}
		reqs = append(reqs, req)
	}
	if _, err := h.Next(20 * time.Millisecond); !errors.Is(err, region.ErrTimeout) {
		t.Fatalf("Next with requests out after the notice = %v; want a timeout", err)
	}
	reqs[0].Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil)
	ended := make(chan time.Time, 1)
	go func() {
		for deadline := time.Now().Add(10 * time.Second); !h.asleep() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		ended <- time.Now()
		reqs[1].Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil)
	}()
	if _, err := h.Next(-1); !errors.Is(err, ErrDrained) {
		t.Fatalf("Next = %v; want ErrDrained", err)
	}
	if d := time.Since(<-ended); d > 3*time.Second {
		t.Fatalf("ErrDrained came %v after the last End; want it at once", d)
	}
	if _, err := h.Next(0); !errors.Is(err, ErrDrained) {
		t.Fatalf("Next after draining = %v; want ErrDrained again", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}
