package supervisor

import (
	"io"
	"testing"
	"time"
)

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Status shows the hosts and their states; Restart replaces one host,
// which then shows as dead with its successor counting a restart; SwapFor
// records its reason and result in the timeline.
func TestStatusRestartSwap(t *testing.T) {
	s, err := Start(Options{Command: []string{"sleep", "1000"}, Processes: 2, Log: io.Discard,
		StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ready := func(n int) func() bool {
		return func() bool {
			c := 0
			for _, h := range s.Status().Hosts {
				if h.State == "ready" {
					c++
				}
			}
			return c == n
		}
	}
	waitUntil(t, "2 ready hosts", ready(2))
	if !s.Ready() {
		t.Error("Ready() = false with 2 ready hosts")
	}
	victim := s.Status().Hosts[0]
	if victim.Generation != 1 || victim.Restarts != 0 || victim.Started.IsZero() {
		t.Errorf("host %+v", victim)
	}
	if err := s.Restart(victim.PID); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(-5); err == nil {
		t.Error("Restart of no host: no error")
	}
	waitUntil(t, "the restarted host to be replaced", func() bool {
		st := s.Status()
		if len(st.Exited) != 1 || len(st.Hosts) != 2 {
			return false
		}
		for _, h := range st.Hosts {
			if h.Restarts == 1 && h.State == "ready" {
				return true
			}
		}
		return false
	})
	if e := s.Status().Exited[0]; e.PID != victim.PID || e.State != "dead" || e.Exit != "signal: terminated" {
		t.Errorf("exited %+v", e)
	}
	if err := s.SwapFor("console"); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if len(st.Swaps) != 1 || st.Swaps[0].Reason != "console" || st.Swaps[0].Result != "ok" ||
		st.Swaps[0].From != 1 || st.Swaps[0].To != 2 || st.Generation != 2 {
		t.Errorf("after a swap: %+v", st)
	}
	s.Hold()
	if s.Ready() {
		t.Error("Ready() after Hold")
	}
}
