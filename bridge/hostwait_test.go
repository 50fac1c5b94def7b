package bridge

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/region"
)

// Requests that find no host wait for one (HostWait) instead of failing:
// a host that starts, restarts or leaves cleanly costs no 503 and no 502.
// The bounds checked here are the feature.

// A request that comes before any host waits, and is served by the host
// that attaches.
func TestBridgeRequestWaitsForHost(t *testing.T) {
	srv, b, dir := setup(t)
	got := make(chan string, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + srv.Addr().String() + "/early")
		if err != nil {
			got <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- strconv.Itoa(resp.StatusCode) + " " + string(body)
	}()
	// The request is held in the engine, waiting: no answer yet.
	bridgetest.WaitFor(t, "the request to reach the bridge", func() bool { return srv.Stats().Requests >= 1 })
	select {
	case g := <-got:
		t.Fatalf("answered %q before any host attached", g)
	default:
	}
	h, err := host.Attach(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Serve(ctx, echoHandler); close(done) }()
	defer func() { cancel(); <-done; h.Close() }()
	if g := <-got; !strings.HasPrefix(g, "200 GET /early") {
		t.Fatalf("the waiting request got %q; want 200 from the host", g)
	}
	if st := b.Stats(); st.NoHost != 0 {
		t.Fatalf("NoHost = %d; want 0", st.NoHost)
	}
}

// With no host within HostWait the answer is 503, after HostWait.
func TestBridgeHostWaitBound(t *testing.T) {
	srv, b, _ := setup(t)
	b.opts.HostWait = 300 * time.Millisecond
	start := time.Now()
	code, body, _ := get(t, srv, "/none")
	if took := time.Since(start); code != 503 || !strings.Contains(body, "no application host") ||
		took < 300*time.Millisecond || took > 5*time.Second {
		t.Fatalf("no host: %d %q after %v; want 503 after about 300 ms", code, body, took)
	}
}

// A host that leaves (SIGTERM: Leave, answer what came, detach) while
// clients keep sending, and a new host that comes after it: every request
// is answered 200, none 502 or 503.
func TestBridgeHostLeavesWithoutFailures(t *testing.T) {
	srv, b, dir := setup(t)
	a := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "host A", func() bool { return b.Stats().HostPID == a.Process.Pid })

	load := startLoad(8, func(int) string { return "http://" + srv.Addr().String() + "/leave?ms=1" })
	defer load.finish()
	bridgetest.WaitFor(t, "host A to serve under load", func() bool { return load.served(a.Process.Pid) >= 50 })
	a.Process.Signal(syscall.SIGTERM)
	if err := a.Wait(); err != nil {
		t.Errorf("host A after leaving: %v; want exit 0", err)
	}
	// Nobody serves now: the requests wait for the next host.
	bHost := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "host B to serve under load", func() bool { return load.served(bHost.Process.Pid) >= 50 })
	if failures := load.finish(); len(failures) > 0 {
		t.Fatalf("%d requests failed while host A left and B came, first: %s", len(failures), failures[0])
	}
	if st := b.Stats(); st.Failed != 0 || st.NoHost != 0 {
		t.Fatalf("stats = %+v; want no 502 and no 503", st)
	}
}
