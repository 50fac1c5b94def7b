package lifecycle

import (
	"errors"
	"io"
	"net/http"
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
	if err := e.AddRoute("no-slash", engine.HandlerFunc(func(*engine.Exchange) {})); err == nil {
		t.Fatal("AddRoute(\"no-slash\") succeeded; want an error")
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
