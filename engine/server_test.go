package engine

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haywireowin/haywire/http1"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		field string // "" when valid
	}{
		{"zero", Config{}, ""},
		{"address", Config{Address: "not-an-ip"}, "address"},
		{"address with port", Config{Address: "127.0.0.1:80"}, "address"},
		{"port negative", Config{Port: -1}, "port"},
		{"port too big", Config{Port: 65536}, "port"},
		{"balancer", Config{Balancer: "roundrobin"}, "balancer"},
		{"listeners negative", Config{Listeners: -1}, "listeners"},
		{"listeners too many", Config{Listeners: 1025, Balancer: BalancerReusePort}, "listeners"},
		{"backlog", Config{Backlog: -1}, "backlog"},
		{"max request size", Config{MaxRequestSize: -1}, "max_request_size"},
		{"limits target", Config{Limits: http1.Limits{MaxTargetBytes: -1}}, "limits"},
		{"limits header", Config{Limits: http1.Limits{MaxHeaderBytes: -1}}, "limits"},
		{"limits count", Config{Limits: http1.Limits{MaxHeaderCount: -1}}, "limits"},
		{"header timeout", Config{HeaderTimeout: -time.Second}, "header_timeout"},
		{"body timeout", Config{BodyTimeout: -1}, "body_timeout"},
		{"idle timeout", Config{IdleTimeout: -1}, "idle_timeout"},
		{"write timeout", Config{WriteTimeout: -1}, "write_timeout"},
		{"lingering time", Config{LingerTime: -1}, "lingering_time"},
		{"lingering bytes", Config{LingerBytes: -1}, "lingering_bytes"},
		{"server name CRLF", Config{ServerName: "x\r\nSet-Cookie: a"}, "server_name"},
		{"server name DEL", Config{ServerName: "x\x7f"}, "server_name"},
		{"localhost", Config{Address: "localhost"}, ""},
		{"ipv6", Config{Address: "::1"}, ""},
		{"max port", Config{Port: 65535}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.field == "" {
				if err != nil || s == nil {
					t.Fatalf("New: %v; want a server", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New: got %v; want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field+" = ") {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
			if s != nil {
				t.Errorf("New returned a server with an error")
			}
		})
	}
	s, _ := New(Config{Listeners: 8})
	got := s.Config()
	want := Config{
		Address: "0.0.0.0", Listeners: 1, Balancer: BalancerIPC,
		MaxRequestSize: DefaultMaxRequestSize, Limits: http1.DefaultLimits,
		HeaderTimeout: DefaultHeaderTimeout, BodyTimeout: DefaultBodyTimeout,
		IdleTimeout: DefaultIdleTimeout, WriteTimeout: DefaultWriteTimeout,
		LingerTime: DefaultLingerTime, LingerBytes: DefaultLingerBytes,
		ServerName: DefaultServerName,
	}
	if got != want {
		t.Errorf("defaults: got %+v; want %+v", got, want)
	}
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	installTestRoutes(t, s)
	ctx := context.Background()
	if err := s.Stop(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Stop before Start: got %v; want %v", err, ErrNotRunning)
	}
	if s.Addr() != nil {
		t.Errorf("Addr before Start: got %v; want nil", s.Addr())
	}
	for round := 0; round < 2; round++ {
		if err := s.Start(); err != nil {
			t.Fatalf("round %d: Start: %v", round, err)
		}
		if err := s.Start(); !errors.Is(err, ErrRunning) {
			t.Fatalf("round %d: second Start: got %v; want %v", round, err, ErrRunning)
		}
		c := dial(t, s)
		c.expectOpen() // routes survive a restart
		addr := s.Addr().String()
		if err := s.Stop(ctx); err != nil {
			t.Fatalf("round %d: Stop: %v", round, err)
		}
		c.expectClosed()
		if err := s.Stop(ctx); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("round %d: second Stop: got %v; want %v", round, err, ErrNotRunning)
		}
		if s.Addr() != nil {
			t.Errorf("Addr after Stop: got %v; want nil", s.Addr())
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("round %d: dial after Stop succeeded; want refused", round)
		}
	}
	if st := s.Stats(); st.ConnectionsOpen != 0 || st.ConnectionsAccepted != 2 {
		t.Errorf("Stats: %+v; want 2 accepted, 0 open", st)
	}
}

func TestStartListenError(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := New(Config{Address: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		s.Stop(context.Background())
		t.Fatalf("Start on a used port: got %v; want EADDRINUSE", err)
	}
	if err := s.Stop(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Stop after a failed Start: got %v; want %v", err, ErrNotRunning)
	}
}

// TestGracefulStop: Stop lets in-flight requests finish (a sleeping
// handler, a held exchange completed later), answering them with
// "Connection: close", closes idle connections at once and refuses new
// ones.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s.HandleFunc("/slow", func(x *Exchange) {
		entered <- struct{}{}
		<-release
		x.WriteString("slow done")
	})
	heldc := make(chan *Exchange, 1)
	s.HandleFunc("/held", func(x *Exchange) {
		x.Hold()
		heldc <- x
	})
	addr := s.Addr().String()

	idle := dial(t, s)
	idle.expectOpen()
	slow := dial(t, s)
	slow.send(get("/slow"))
	<-entered
	held := dial(t, s)
	held.send(get("/held"))
	x := <-heldc

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()

	// New connections are refused once Stop has begun.
	waitFor(t, 10*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// Idle connections are closed promptly.
	idle.expectClosed()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v with requests in flight", err)
	default:
	}

	close(release)
	r := slow.read()
	checkResponse(t, r, 200)
	if r.body != "slow done" || r.header("Connection") != "close" {
		t.Errorf("in-flight response %q; want slow done with Connection: close", r.raw)
	}
	slow.expectClosed()

	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v with an exchange held", err)
	case <-time.After(50 * time.Millisecond):
	}
	x.WriteString("held done")
	x.Done()
	r = held.read()
	checkResponse(t, r, 200)
	if r.body != "held done" || r.header("Connection") != "close" {
		t.Errorf("held response %q; want held done with Connection: close", r.raw)
	}
	held.expectClosed()

	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return after the last request finished")
	}
	if st := s.Stats(); st.ConnectionsOpen != 0 {
		t.Errorf("ConnectionsOpen after Stop: got %d; want 0", st.ConnectionsOpen)
	}
}

// TestGracefulStopPipelined: a request in flight with more pipelined
// behind it; the in-flight one is answered (closing), the rest dropped.
func TestGracefulStopPipelined(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s.HandleFunc("/slow", func(x *Exchange) {
		entered <- struct{}{}
		<-release
		x.WriteString("slow done")
	})
	c := dial(t, s)
	c.send(get("/seq?1") + get("/slow") + get("/seq?3"))
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	waitFor(t, 10*time.Second, "Stop to begin", func() bool { return s.stopping.Load() })
	close(release)
	if r := c.read(); r.body != "1" {
		t.Fatalf("first response %q; want body 1", r.raw)
	}
	r := c.read()
	if r.body != "slow done" || r.header("Connection") != "close" {
		t.Errorf("in-flight response %q; want slow done with Connection: close", r.raw)
	}
	c.expectClosed()
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestStopTimeout: Stop's deadline passes; the stuck connections are cut
// and Stop says so.
func TestStopTimeout(t *testing.T) {
	t.Parallel()
	for _, stuck := range []string{"partial head", "held exchange", "held behind close", "partial body"} {
		t.Run(stuck, func(t *testing.T) {
			s := startServer(t, Config{})
			heldc := make(chan *Exchange, 1)
			s.HandleFunc("/held", func(x *Exchange) {
				x.Hold()
				heldc <- x
			})
			c := dial(t, s)
			var x *Exchange
			switch stuck {
			case "partial head":
				c.send("GET / HTTP/1.1\r\nHost: a\r\n")
				waitFor(t, 10*time.Second, "the head to be read", func() bool { return s.Stats().BytesRead > 0 })
			case "held exchange":
				c.send(get("/held"))
				x = <-heldc
			case "held behind close":
				c.send(get("/held") + "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
				x = <-heldc
				waitFor(t, 10*time.Second, "the second request", func() bool { return s.Stats().Requests == 2 })
			case "partial body":
				c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
				waitFor(t, 10*time.Second, "the body to be read", func() bool { return s.Stats().BytesRead > 40 })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- s.Stop(ctx) }()
			select {
			case err := <-stopped:
				if !errors.Is(err, ErrStopTimeout) {
					t.Fatalf("Stop: got %v; want %v", err, ErrStopTimeout)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not return after its deadline")
			}
			c.c.SetReadDeadline(time.Now().Add(ioTimeout))
			var buf [1]byte
			if n, err := c.c.Read(buf[:]); n != 0 || err == nil {
				t.Errorf("stuck connection: read %d bytes, %v; want it closed", n, err)
			}
			if x != nil {
				x.WriteString("too late")
				x.Done() // must neither block nor panic
			}
			if st := s.Stats(); st.ConnectionsOpen != 0 {
				t.Errorf("ConnectionsOpen after Stop: got %d; want 0", st.ConnectionsOpen)
			}
			// The server starts again.
			if err := s.Start(); err != nil {
				t.Fatalf("Start after a timed-out Stop: %v", err)
			}
			dial(t, s).expectOpen()
		})
	}
}

// TestManyConnections: 500 connections open at once, each doing several
// keep-alive requests.
func TestManyConnections(t *testing.T) {
	t.Parallel()
	const conns, reqs = 500, 5
	raiseFDLimit(t, 2*conns+500)
	s := startServer(t, Config{})
	clients := make([]*client, conns)
	for i := range clients {
		clients[i] = dial(t, s)
	}
	waitFor(t, 20*time.Second, "every connection to be accepted", func() bool {
		return s.Stats().ConnectionsOpen == conns
	})
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < reqs; j++ {
				id := strconv.Itoa(i) + "-" + strconv.Itoa(j)
				path := "/seq?" + id
				if j%2 == 1 {
					path = "/hold?" + id
				}
				if err := c.sendErr(get(path)); err != nil {
					errs <- err
					return
				}
				c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
				r, err := readResponse(c.br, false)
				if err != nil {
					errs <- err
					return
				}
				if r.status != 200 || r.body != id {
					errs <- errors.New("got " + strconv.Quote(r.raw) + "; want body " + id)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.ConnectionsAccepted != conns || st.Requests != conns*reqs {
		t.Errorf("Stats: %d accepted, %d requests; want %d, %d", st.ConnectionsAccepted, st.Requests, conns, conns*reqs)
	}
}

func TestReusePort(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Balancer: BalancerReusePort, Listeners: 4, Backlog: 64})
	s.mu.Lock()
	ls := append([]net.Listener(nil), s.listeners...)
	s.mu.Unlock()
	if len(ls) != 4 {
		t.Fatalf("got %d listeners; want 4", len(ls))
	}
	port := s.Addr().(*net.TCPAddr).Port
	for i, l := range ls {
		if p := l.Addr().(*net.TCPAddr).Port; p != port {
			t.Errorf("listener %d on port %d; want %d", i, p, port)
		}
	}
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c := dial(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.sendErr(get("/seq?" + strconv.Itoa(i))); err != nil {
				t.Error(err)
				return
			}
			c.c.SetReadDeadline(time.Now().Add(ioTimeout))
			r, err := readResponse(c.br, false)
			if err != nil || r.body != strconv.Itoa(i) {
				t.Errorf("connection %d: %v %v", i, r, err)
			}
		}()
	}
	wg.Wait()
	if got := s.Stats().ConnectionsAccepted; got != n {
		t.Errorf("ConnectionsAccepted: got %d; want %d", got, n)
	}
	for _, q := range listenBacklogs(t, port) {
		if q != 64 {
			t.Errorf("listen backlog: got %d; want 64", q)
		}
	}
	// Restart on the same port: the listeners were all closed.
	ctx := context.Background()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, Config{Port: port, Balancer: BalancerReusePort, Listeners: 2})
	dial(t, s2).expectOpen()
}

func TestBacklog(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Backlog: 7})
	dial(t, s).expectOpen()
	qs := listenBacklogs(t, s.Addr().(*net.TCPAddr).Port)
	if len(qs) != 1 || qs[0] != 7 {
		t.Errorf("listen backlogs: got %v; want [7]", qs)
	}
}

// listenBacklogs returns the backlog of each socket listening on port, as
// ss(8) reports it (Send-Q of a listening socket). It skips the test when
// ss is missing.
func listenBacklogs(t testing.TB, port int) []int {
	t.Helper()
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss(8) not installed; cannot read the listen backlog")
	}
	out, err := exec.Command("ss", "-Hltn", "sport = :"+strconv.Itoa(port)).Output()
	if err != nil {
		t.Skipf("ss: %v", err)
	}
	var qs []int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		q, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("ss output %q", line)
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		t.Fatalf("ss found no socket listening on port %d", port)
	}
	return qs
}

func TestStats(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	if st := s.Stats(); st != (Stats{}) {
		t.Fatalf("initial Stats: %+v; want zero", st)
	}
	sent, received := 0, 0
	exchange := func(c *client, req string, n int) {
		c.send(req)
		sent += len(req)
		for i := 0; i < n; i++ {
			received += len(c.read().raw)
		}
	}
	c1 := dial(t, s)
	exchange(c1, get("/")+get("/seq?2")+get("/nowhere"), 3)
	exchange(c1, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 1)
	waitFor(t, 10*time.Second, "one open connection", func() bool { return s.Stats().ConnectionsOpen == 1 })
	c2 := dial(t, s)
	exchange(c2, "GET / HTTP/1.1\r\n\r\n", 1) // 400
	c2.expectClosed()
	c3 := dial(t, s)
	exchange(c3, get("/panic"), 1)
	c3.expectClosed()
	c1.c.Close()
	waitFor(t, 10*time.Second, "every connection to close", func() bool { return s.Stats().ConnectionsOpen == 0 })
	want := Stats{
		ConnectionsAccepted: 3,
		Requests:            5,
		Refused:             1,
		HandlerPanics:       1,
		BytesRead:           uint64(sent),
		BytesWritten:        uint64(received),
	}
	if got := s.Stats(); got != want {
		t.Errorf("Stats:\n got %+v\nwant %+v", got, want)
	}
}
