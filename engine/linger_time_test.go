package engine

import (
	"testing"
	"time"
)

// The drain stops at LingerTime, counted from the half-close, however long
// the client keeps trickling bytes (well under LingerBytes): a lingering
// connection never holds its goroutine for longer. The bound is the
// feature, so this test times it.
func TestLingeringCloseStopsAtItsTimeBound(t *testing.T) {
	t.Parallel()
	const bound = 300 * time.Millisecond
	s := startServer(t, Config{MaxRequestSize: 1024, LingerTime: bound})
	c := dial(t, s)
	start := time.Now() // before the engine can have half-closed
	checkRefusal(t, c.do("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n"), 413)
	c.expectClosed()
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if c.sendErr("x") != nil {
					return // the engine closed
				}
			}
		}
	}()
	defer func() { close(stop); <-wrote }()
	waitFor(t, ioTimeout, "the connection to close", func() bool { return s.Stats().ConnectionsOpen == 0 })
	elapsed := time.Since(start)
	if elapsed < bound {
		t.Errorf("closed %v after the request; want no sooner than LingerTime, %v", elapsed, bound)
	}
	// Generous: the bound is 300 ms; 5 s tell a bounded drain from none
	// on a loaded machine.
	if elapsed > bound+5*time.Second {
		t.Errorf("closed %v after the request; want about LingerTime, %v", elapsed, bound)
	}
	if st := s.Stats(); st.Requests != 0 {
		t.Errorf("%d requests; want 0", st.Requests)
	}
}
