package bridge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
)

// hostEnv makes the test binary act as a host process attached to the
// region it names (see TestMain).
const hostEnv = "HAYWIRE_BRIDGE_TEST_HOST"

func TestMain(m *testing.M) {
	if name := os.Getenv(hostEnv); name != "" {
		os.Exit(runHostProcess(name, os.Getenv(hostEnv+"_DIR")))
	}
	os.Exit(m.Run())
}

// echoHandler answers with what it saw; /slow?ms=N waits first.
func echoHandler(v wire.View, w *host.ResponseWriter) {
	if string(v.Path()) == "/slow" {
		q, _ := v.Query()
		ms, _ := strconv.Atoi(strings.TrimPrefix(string(q), "ms="))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	w.AddHeader("Content-Type", "text/plain")
	w.AddHeader("X-Pid", strconv.Itoa(os.Getpid()))
	q, _ := v.Query()
	fmt.Fprintf(w, "%s %s q=%s host=%s body=%s", v.Method(), v.Path(), q, v.Host(), v.Body())
}

func runHostProcess(name, dir string) int {
	h, err := host.Attach(name, region.Options{Dir: dir, AttachTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		return 1
	}
	fmt.Println("attached")
	// SIGTERM: leave (no more requests), answer what came, exit 0.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = h.Serve(ctx, echoHandler)
	h.Close()
	if err == host.ErrDrained {
		return 0
	}
	return 3
}

// setup starts an engine whose unrouted requests go through a bridge.
func setup(t *testing.T) (*engine.Server, *Bridge, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := New(Options{Region: region.Options{Dir: dir, ChunkSize: 4096, Chunks: 256, DataSlots: 1024,
		PeerTimeout: 500 * time.Millisecond}, SendTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.New(engine.Config{Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv.HandleFunc("/native", func(x *engine.Exchange) { x.WriteString("native") })
	srv.SetNotFound(b)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop(context.Background())
		b.Close()
	})
	return srv, b, dir
}

func get(t *testing.T, srv *engine.Server, path string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + srv.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestBridgeNoHost503(t *testing.T) {
	srv, b, _ := setup(t)
	b.opts.HostWait = -1 // answer at once (hostwait_test.go waits)
	if code, body, _ := get(t, srv, "/app"); code != 503 || !strings.Contains(body, "no application host") {
		t.Fatalf("GET /app without a host = %d %q; want 503", code, body)
	}
	if code, body, _ := get(t, srv, "/native"); code != 200 || body != "native" {
		t.Fatalf("native route without a host = %d %q; want 200 native", code, body)
	}
	if b.Stats().NoHost != 1 {
		t.Fatalf("Stats().NoHost = %d; want 1", b.Stats().NoHost)
	}
}

func TestBridgeInProcessHost(t *testing.T) {
	srv, b, dir := setup(t)
	h, err := host.Attach(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Serve(ctx, echoHandler); close(done) }()
	defer func() { cancel(); <-done; h.Close() }()
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID != 0 })

	code, body, hdr := get(t, srv, "/hello/world?x=1")
	if code != 200 || body != "GET /hello/world q=x=1 host="+srv.Addr().String()+" body=" || hdr.Get("Content-Type") != "text/plain" {
		t.Fatalf("GET through the bridge = %d %q %v", code, body, hdr)
	}
	// A body bigger than a chunk crosses as several parts both ways.
	big := strings.Repeat("0123456789", 3000)
	resp, err := http.Post("http://"+srv.Addr().String()+"/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "POST /echo q= host=" + srv.Addr().String() + " body=" + big; string(got) != want {
		t.Fatalf("POST of %d bytes came back as %d bytes", len(big), len(got))
	}

	lanes := b.Lanes()
	if len(lanes) != 2 || !lanes[0].Serving || lanes[0].HostPID != os.Getpid() || lanes[0].HostState != "alive" ||
		lanes[1].Serving || lanes[1].HostState != "absent" || lanes[0].InFlight != 0 || lanes[0].Published < 2 {
		t.Fatalf("Lanes() = %+v; want lane 0 alive and serving (this pid), lane 1 absent", lanes)
	}
	// The host releases request chunks as it reads them: all come back.
	bridgetest.WaitFor(t, "request chunks to return", func() bool {
		b.lanes[0].sendMu.Lock()
		b.lanes[0].r.Sender().Collect()
		b.lanes[0].sendMu.Unlock()
		return b.Lanes()[0].ChunksLent == 0
	})
}

// Pipelined requests on several connections, with random host delays:
// every response matches its request and each connection keeps its order.
func TestBridgePipelinedOrder(t *testing.T) {
	srv, b, dir := setup(t)
	h, err := host.Attach(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Serve(ctx, func(v wire.View, w *host.ResponseWriter) {
			time.Sleep(time.Duration(rand.Intn(3)) * time.Millisecond)
			w.Write(v.Path())
		})
		close(done)
	}()
	defer func() { cancel(); <-done; h.Close() }()
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID != 0 })

	const conns, depth, rounds = 8, 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			for r := 0; r < rounds; r++ {
				var batch strings.Builder
				for i := 0; i < depth; i++ {
					fmt.Fprintf(&batch, "GET /c%d/r%d/i%d HTTP/1.1\r\nHost: t\r\n\r\n", c, r, i)
				}
				nc.Write([]byte(batch.String()))
				nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				for i := 0; i < depth; i++ {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- err
						return
					}
					body, _ := io.ReadAll(resp.Body)
					if want := fmt.Sprintf("/c%d/r%d/i%d", c, r, i); string(body) != want {
						errs <- fmt.Errorf("conn %d: got %q; want %q", c, body, want)
						return
					}
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Completed != conns*depth*rounds || st.InFlight != 0 {
		t.Fatalf("stats = %+v; want %d completed, none in flight", st, conns*depth*rounds)
	}
}

// A host that answers garbage fails that request with 502; the engine
// keeps serving.
func TestBridgeInvalidResponse502(t *testing.T) {
	srv, b, dir := setup(t)
	r, err := region.Open(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stop, stopped := make(chan struct{}), make(chan struct{})
	// The host goroutine ends before Close: no region call may race it.
	defer func() { close(stop); r.Wake(); <-stopped }()
	go func() { // a faulty host: answers every request with a bad message
		defer close(stopped)
		rc := r.Receiver()
		for {
			if err := rc.Wait(time.Second, stop); err != nil && err != region.ErrTimeout {
				return
			}
			n, _ := rc.Poll(16)
			for i := 0; i < n; i++ {
				d, err := rc.Get(i)
				if err != nil {
					continue
				}
				rc.Release(&d)
				r.Sender().SendBytes(region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Stream: d.Stream},
					[]byte("\xff\xff\xff\xff garbage that is no response"))
			}
			rc.Consume(n)
		}
	}()
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID != 0 })
	for i := 0; i < 3; i++ {
		if code, _, _ := get(t, srv, "/x"); code != 502 {
			t.Fatalf("garbage response = %d; want 502", code)
		}
	}
	if code, body, _ := get(t, srv, "/native"); code != 200 || body != "native" {
		t.Fatalf("native route after garbage = %d %q", code, body)
	}
	if st := b.Stats(); st.Invalid < 3 || st.Failed < 3 {
		t.Fatalf("stats = %+v; want the garbage counted", st)
	}
}

func startHostProcess(t *testing.T, name, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hostEnv+"="+name, hostEnv+"_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "attached\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("host process said %q; want \"attached\"", line)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// kill -9 of the host: its requests in flight are answered 502 within the
// liveness bound, the engine keeps serving, and a new host process serves.
func TestBridgeHostKilled(t *testing.T) {
	srv, b, dir := setup(t)
	hostCmd := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID == hostCmd.Process.Pid })
	if code, body, hdr := get(t, srv, "/first"); code != 200 || !strings.HasPrefix(body, "GET /first") ||
		hdr.Get("X-Pid") != strconv.Itoa(hostCmd.Process.Pid) {
		t.Fatalf("GET via host process = %d %q", code, body)
	}

	const inflight = 5
	codes := make(chan int, inflight)
	for i := 0; i < inflight; i++ {
		go func() {
			resp, err := http.Get("http://" + srv.Addr().String() + "/slow?ms=60000")
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	bridgetest.WaitFor(t, "requests in flight", func() bool { return b.Stats().InFlight == inflight })
	killed := time.Now()
	hostCmd.Process.Kill()
	for i := 0; i < inflight; i++ {
		if code := <-codes; code != 502 {
			t.Fatalf("in-flight request after kill -9 = %d; want 502", code)
		}
	}
	// The bound is the region's liveness timeout (500 ms here) plus a tick.
	if d := time.Since(killed); d > 3*time.Second {
		t.Fatalf("502s came %v after the kill; want within the liveness bound", d)
	}
	if code, body, _ := get(t, srv, "/native"); code != 200 || body != "native" {
		t.Fatalf("native route after the host died = %d %q", code, body)
	}

	next := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "the new host to attach", func() bool { return b.Stats().HostPID == next.Process.Pid })
	if code, _, hdr := get(t, srv, "/again"); code != 200 || hdr.Get("X-Pid") != strconv.Itoa(next.Process.Pid) {
		t.Fatalf("GET after a new host attached = %d from pid %s; want 200 from %d", code, hdr.Get("X-Pid"), next.Process.Pid)
	}
}

// Hot swap under load: a second host process attaches while the first
// serves; new requests go to it, the first drains and exits by itself,
// and no request fails.
func TestBridgeHotSwapUnderLoad(t *testing.T) {
	srv, b, dir := setup(t)
	a := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "host A", func() bool { return b.Stats().HostPID == a.Process.Pid })

	base := "http://" + srv.Addr().String()
	load := startLoad(8, func(i int) string {
		if i%5 == 0 {
			return base + "/slow?ms=30" // in flight while the swap happens
		}
		return base + "/swap?ms=0"
	})
	defer load.finish()
	bridgetest.WaitFor(t, "host A to serve under load", func() bool { return load.served(a.Process.Pid) >= 50 })
	bHost := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "host B to take over", func() bool { return b.Stats().HostPID == bHost.Process.Pid })
	exited := make(chan error, 1)
	go func() { exited <- a.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("host A after draining: %v; want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("host A did not drain and exit within 10 s")
	}
	bridgetest.WaitFor(t, "host B to serve under load", func() bool { return load.served(bHost.Process.Pid) >= 50 })
	if failures := load.finish(); len(failures) != 0 {
		t.Fatalf("%d requests failed during the hot swap, first: %s", len(failures), failures[0])
	}
	if st := b.Stats(); st.Failed != 0 || st.NoHost != 0 {
		t.Fatalf("stats = %+v; want no failures", st)
	}
	// Host A's lane is free again for the next swap.
	c := startHostProcess(t, b.Name(), dir)
	bridgetest.WaitFor(t, "host C to take over", func() bool { return b.Stats().HostPID == c.Process.Pid })
}

// A client that disconnects mid-request: the host receives a cancel for
// that request's stream.
func TestBridgeClientGoneCancels(t *testing.T) {
	srv, b, dir := setup(t)
	r, err := region.OpenAnyLane(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID != 0 })
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET /never-answered HTTP/1.1\r\nHost: t\r\n\r\n"))

	// A host that reads requests and cancels, and never answers.
	rc := r.Receiver()
	var stream uint64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rc.Wait(50*time.Millisecond, nil)
		n, _ := rc.Poll(16)
		for i := 0; i < n; i++ {
			d, err := rc.Get(i)
			if err != nil {
				continue
			}
			switch d.Kind {
			case region.KindRequest:
				stream = d.Stream
				c.Close() // the client gives up while the host works
			case region.KindCancel:
				if d.Stream != stream || d.Aux != wire.CancelClientGone {
					t.Fatalf("cancel for stream %d aux %d; want stream %d aux %d", d.Stream, d.Aux, stream, wire.CancelClientGone)
				}
				rc.Consume(n)
				if b.Stats().Cancelled != 1 {
					t.Fatalf("Stats().Cancelled = %d; want 1", b.Stats().Cancelled)
				}
				return
			}
			rc.Release(&d)
		}
		rc.Consume(n)
	}
	t.Fatal("the host saw no cancel within 10 s of the client disconnecting")
}
