package bridge

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/region"
)

// Under SetAdmit the admitted hosts serve together, each getting requests;
// a host not admitted attaches and waits, unserved; one no longer admitted
// is drained (its process exits 0) and the others carry on.
func TestBridgeAdmitSpreadsAndDrains(t *testing.T) {
	dir := t.TempDir()
	srv, b := setupWith(t, Options{Lanes: 3, Region: region.Options{Dir: dir, PeerTimeout: 500 * time.Millisecond}})
	var mu sync.Mutex
	allowed := map[int]bool{}
	admit := func(pid int) bool { mu.Lock(); defer mu.Unlock(); return allowed[pid] }
	allow := func(pids ...int) {
		mu.Lock()
		clear(allowed)
		for _, p := range pids {
			allowed[p] = true
		}
		mu.Unlock()
		b.SetAdmit(admit)
	}
	allow()
	a := startHostProcess(t, b.Name(), dir)
	c := startHostProcess(t, b.Name(), dir)
	allow(a.Process.Pid, c.Process.Pid)
	served := func(n int) map[string]int {
		seen := map[string]int{}
		for range n { // one at a time: ties go round, so both hosts see requests
			code, _, hdr := get(t, srv, "/who")
			if code != 200 {
				t.Fatalf("GET /who = %d; want 200", code)
			}
			seen[hdr.Get("X-Pid")]++
		}
		return seen
	}
	bridgetest.WaitFor(t, "both hosts to serve", func() bool { return len(served(4)) == 2 })

	late := startHostProcess(t, b.Name(), dir) // attached, not admitted
	bridgetest.WaitFor(t, "the third host to attach", func() bool {
		for _, l := range b.Lanes() {
			if l.HostPID == late.Process.Pid && l.HostState == "alive" {
				return true
			}
		}
		return false
	})
	for pid, n := range served(20) {
		if pid == strconv.Itoa(late.Process.Pid) {
			t.Fatalf("the host not admitted got %d requests", n)
		}
	}

	allow(c.Process.Pid, late.Process.Pid) // a is no longer admitted: it drains and exits 0
	if err := waitExit(a, 10*time.Second); err != nil {
		t.Fatalf("host a after it was no longer admitted: %v; want a drain and exit 0", err)
	}
	bridgetest.WaitFor(t, "c and the third host to serve", func() bool {
		seen := served(6)
		return seen[strconv.Itoa(c.Process.Pid)] > 0 && seen[strconv.Itoa(late.Process.Pid)] > 0
	})
	if st := b.Stats(); st.Failed != 0 || st.NoHost != 0 {
		t.Fatalf("stats = %+v; want no failures", st)
	}
}

func waitExit(cmd interface{ Wait() error }, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return errTimeout
	}
}

var errTimeout = errors.New("timed out")

// A host that attaches when admit already accepts it but no longer accepts
// the host serving (a supervisor switched generations and its SetAdmit
// call is yet to come) takes no request before that host is told to
// drain: a swap is never seen mixed back.
func TestBridgeAdmitNewcomerAfterDrain(t *testing.T) {
	dir := t.TempDir()
	_, b := setupWith(t, Options{Region: region.Options{Dir: dir, PeerTimeout: 500 * time.Millisecond}})
	var mu sync.Mutex
	old := 0 // once set, admit accepts every host but old
	admit := func(pid int) bool { mu.Lock(); defer mu.Unlock(); return old != 0 && pid != old }
	b.SetAdmit(admit)
	a := startHostProcess(t, b.Name(), dir)
	mu.Lock()
	old = -1 // a is accepted
	mu.Unlock()
	b.SetAdmit(admit)
	lane := func(pid int) LaneStats {
		for _, l := range b.Lanes() {
			if l.HostPID == pid && l.HostState == "alive" {
				return l
			}
		}
		return LaneStats{}
	}
	bridgetest.WaitFor(t, "the first host to serve", func() bool { return lane(a.Process.Pid).Serving })
	mu.Lock()
	old = a.Process.Pid // the new generation is accepted; no SetAdmit yet
	mu.Unlock()
	c := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "the new host to serve", func() bool { return lane(c.Process.Pid).Serving })
	if la := lane(a.Process.Pid); la.HostPID != 0 && (la.Serving || !la.Draining) {
		t.Fatalf("the new host serves while the old one is %+v; want it told to drain first", la)
	}
	if err := waitExit(a, 10*time.Second); err != nil {
		t.Fatalf("the old host: %v; want a drain and exit 0", err)
	}
}
