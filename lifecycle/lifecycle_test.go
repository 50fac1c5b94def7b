package lifecycle

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/engine"
)

func get(t *testing.T, e *Engine, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + e.Server().Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode) + " " + string(b)
}

func TestEngineLifecycle(t *testing.T) {
	var e Engine
	if got := e.Config().Port; got != DefaultPort {
		t.Fatalf("unconfigured port = %d; want Haywire's %d", got, DefaultPort)
	}
	if err := e.Configure(engine.Config{Balancer: "nope"}); !errors.Is(err, engine.ErrConfig) {
		t.Fatalf("Configure(bad) = %v; want ErrConfig", err)
	}
	if err := e.Configure(engine.Config{Address: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddRoute("", engine.HandlerFunc(func(*engine.Exchange) {})); err == nil {
		t.Fatal("AddRoute(\"\") succeeded; want an error")
	}
	e.AddRoute("/a", engine.HandlerFunc(func(x *engine.Exchange) { x.WriteString("a") }))
	if err := e.Stop(time.Second); !errors.Is(err, ErrState) {
		t.Fatalf("Stop before Start = %v; want ErrState", err)
	}
	for round := 0; round < 2; round++ {
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); !errors.Is(err, ErrState) {
			t.Fatalf("second Start = %v; want ErrState", err)
		}
		if err := e.Set("server_name", "x"); !errors.Is(err, ErrState) {
			t.Fatalf("Set while running = %v; want ErrState", err)
		}
		// Routes added while running serve now and after a restart.
		e.AddRoute("/b", engine.HandlerFunc(func(x *engine.Exchange) { x.WriteString("b") }))
		if got := get(t, &e, "/a") + "|" + get(t, &e, "/b"); got != "200 a|200 b" {
			t.Fatalf("round %d: GET /a, /b = %q", round, got)
		}
		if err := e.Stop(5 * time.Second); err != nil || e.Running() {
			t.Fatalf("Stop = %v, running %v", err, e.Running())
		}
	}
}

func TestRunReturnsAfterStop(t *testing.T) {
	var e Engine
	e.Configure(engine.Config{Address: "127.0.0.1"})
	done := make(chan error, 1)
	go func() { done <- e.Run() }()
	deadline := time.Now().Add(10 * time.Second)
	for !e.Running() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before Stop", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := e.Stop(-1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v; want nil after Stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Stop")
	}
}

func TestHostRoutesLimitWhatIsBridged(t *testing.T) {
	var e Engine
	s := e.Settings()
	s.Engine.Address, s.Engine.Port = "127.0.0.1", 0
	s.Bridge, s.HostRoutes = true, []string{"/app", "/api/*"}
	s.BridgeOptions.Region.Dir = t.TempDir()
	if err := e.ConfigureSettings(s); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(5 * time.Second)
	if e.RegionName() == "" {
		t.Fatal("RegionName() is empty with the bridge on")
	}
	for path, want := range map[string]string{"/app": "503", "/api/x": "503", "/other": "404"} {
		if got := get(t, &e, path); !strings.HasPrefix(got, want) {
			t.Errorf("GET %s = %q; want %s (503: bridged with no host; 404: not bridged)", path, got, want)
		}
	}
}

// Two concurrent Stops (two C threads calling hw_stop) both closed the
// stopped channel: the second panicked, and since the panic unwound past
// a Lock without a deferred Unlock, every later call deadlocked. Now the
// second waits for the first and returns ErrState.
func TestConcurrentStopsWaitForTheFirst(t *testing.T) {
	var e Engine
	e.Configure(engine.Config{Address: "127.0.0.1"})
	entered, release := make(chan struct{}), make(chan struct{})
	e.AddRoute("/slow", engine.HandlerFunc(func(x *engine.Exchange) {
		close(entered)
		<-release
		x.WriteString("slow")
	}))
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() { got <- get(t, &e, "/slow") }()
	<-entered // a request in flight: the first Stop waits for it

	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- e.Stop(10 * time.Second) }()
	waitFor(t, "the first Stop to begin", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.stopping
	})
	go func() { second <- e.Stop(10 * time.Second) }()
	select {
	case err := <-second:
		t.Fatalf("second Stop returned %v while the first was still draining; want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := e.Start(); !errors.Is(err, ErrState) {
		t.Fatalf("Start while stopping = %v; want ErrState", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Stop = %v; want nil (the request finished in time)", err)
	}
	if err := <-second; !errors.Is(err, ErrState) {
		t.Fatalf("second Stop = %v; want ErrState", err)
	}
	if g := <-got; g != "200 slow" {
		t.Fatalf("request in flight during Stop = %q; want \"200 slow\"", g)
	}
	// Nothing is left locked: the engine restarts and stops again.
	if err := e.Start(); err != nil {
		t.Fatalf("Start after the concurrent Stops = %v", err)
	}
	if err := e.Stop(5 * time.Second); err != nil || e.Running() {
		t.Fatalf("Stop = %v, running %v", err, e.Running())
	}
}

// Many Stops at once: exactly one stops the server, every other returns
// ErrState, and none panics (run with -race).
func TestManyConcurrentStops(t *testing.T) {
	var e Engine
	e.Configure(engine.Config{Address: "127.0.0.1"})
	for round := 0; round < 3; round++ {
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() { errs <- e.Stop(time.Second) }()
		}
		var ok, state int
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, ErrState):
				state++
			default:
				t.Fatalf("round %d: Stop = %v; want nil or ErrState", round, err)
			}
		}
		if ok != 1 || state != n-1 || e.Running() {
			t.Fatalf("round %d: %d Stops succeeded, %d got ErrState, running %v; want 1, %d, false", round, ok, state, e.Running(), n-1)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hw_stats says its counters are cumulative since the configuration was
// last set; handler errors counted outside the engine were not reset.
func TestHandlerErrorsResetWithTheConfiguration(t *testing.T) {
	var e Engine
	e.Configure(engine.Config{Address: "127.0.0.1"})
	e.AddRoute("/", engine.HandlerFunc(func(x *engine.Exchange) {
		e.CountHandlerError()
		x.SetStatus(500, "")
	}))
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := get(t, &e, "/"); !strings.HasPrefix(got, "500") {
			t.Fatalf("GET / = %q; want 500", got)
		}
	}
	if st := e.Stats(); st.HandlerPanics != 2 || st.Requests != 2 {
		t.Fatalf("Stats() = %d handler errors, %d requests; want 2, 2", st.HandlerPanics, st.Requests)
	}
	e.Stop(5 * time.Second)
	if st := e.Stats(); st.HandlerPanics != 2 || st.Requests != 2 {
		t.Fatalf("Stats() after Stop = %d handler errors, %d requests; want 2, 2 (kept until reconfigured)", st.HandlerPanics, st.Requests)
	}
	for name, reconfigure := range map[string]func() error{
		"Configure": func() error { return e.Configure(engine.Config{Address: "127.0.0.1"}) },
		"Set":       func() error { return e.Set("server_name", "x") },
	} {
		e.CountHandlerError()
		if err := reconfigure(); err != nil {
			t.Fatal(err)
		}
		if st := e.Stats(); st != (engine.Stats{}) {
			t.Fatalf("Stats() after %s = %+v; want all zero", name, st)
		}
	}
}

// tcp_nodelay is honoured as in Haywire: Nagle stays on unless it is set,
// whether the configuration is the defaults, an INI file or a key.
func TestTCPNoDelayDefaultsToHaywires(t *testing.T) {
	var e Engine
	if !e.Config().NoTCPNoDelay {
		t.Fatal("unconfigured: NoTCPNoDelay = false; want true (Haywire's tcp_nodelay default is false)")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		ini  string
		want bool // NoTCPNoDelay
	}{
		{"[http]\nlisten_port = 0\n", true},
		{"[http]\ntcp_nodelay = 1\n", false},
		{"[http]\ntcp_nodelay = false\n", true},
	} {
		path := dir + "/hw.conf"
		if err := os.WriteFile(path, []byte(c.ini), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := e.ConfigureFile(path); err != nil {
			t.Fatal(err)
		}
		if got := e.Config().NoTCPNoDelay; got != c.want {
			t.Errorf("ConfigureFile(%q): NoTCPNoDelay = %v; want %v", c.ini, got, c.want)
		}
	}
	var fresh Engine
	if err := fresh.Set("tcp_nodelay", "1"); err != nil {
		t.Fatal(err)
	}
	if fresh.Config().NoTCPNoDelay {
		t.Error(`Set("tcp_nodelay", "1"): NoTCPNoDelay = true; want false`)
	}
}

// Addr is what hw_listen_address reports: the bound address while
// running (the picked port for port 0), nil otherwise.
func TestAddrWhileRunning(t *testing.T) {
	var e Engine
	e.Configure(engine.Config{Address: "127.0.0.1"}) // port 0
	if a := e.Addr(); a != nil {
		t.Fatalf("Addr() before Start = %v; want nil", a)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	a := e.Addr()
	if a == nil || a.IP.String() != "127.0.0.1" || a.Port == 0 {
		t.Fatalf("Addr() while running = %v; want 127.0.0.1 and the picked port", a)
	}
	e.Stop(5 * time.Second)
	if a := e.Addr(); a != nil {
		t.Fatalf("Addr() after Stop = %v; want nil", a)
	}
}

// The library has no admin listener unless admin_address is set; set, it
// runs while the engine does.
func TestAdminListenerOnlyWhenConfigured(t *testing.T) {
	var e Engine
	e.Set("listen_address", "127.0.0.1")
	e.Set("listen_port", "0")
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	if e.Admin() != nil {
		t.Error("an admin listener without admin_address")
	}
	e.Stop(time.Second)
	if err := e.Set("admin_address", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	a := e.Admin()
	if a == nil {
		t.Fatal("no admin listener with admin_address set")
	}
	resp, err := http.Get(a.URL() + "healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	e.Stop(time.Second)
	if e.Admin() != nil {
		t.Error("the admin listener outlived Stop")
	}
	if _, err := http.Get(a.URL() + "healthz"); err == nil {
		t.Error("the admin listener still answers after Stop")
	}
}
