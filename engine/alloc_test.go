package engine

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// The steady-state path is measured with a hello-world server and a client
// that allocates nothing itself: requests are prebuilt, and since every
// response has the same length (Date is fixed-width), responses are read
// with io.ReadFull into a preallocated buffer. Whatever is allocated in
// the process during the measurement is then the server's.

const helloReq = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

func startHello(tb testing.TB) *Server {
	s, err := New(Config{Address: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	hello := []byte("hello world")
	ct, plain := []byte("Content-Type"), []byte("text/plain")
	s.HandleFunc("/", func(x *Exchange) {
		x.AddHeader(ct, plain)
		x.Write(hello)
	})
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			tb.Errorf("Stop: %v", err)
		}
	})
	return s
}

// helloConn is an allocation-free pipelining client.
type helloConn struct {
	c     net.Conn
	batch []byte // depth requests
	resp  []byte // room for depth responses
	one   int    // length of one response
}

func newHelloConn(tb testing.TB, s *Server, depth int) *helloConn {
	c, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	// A deadline far enough away for the whole run, set once: setting it
	// per call would not allocate either, but keeps the loop minimal.
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	h := &helloConn{c: c, batch: bytes.Repeat([]byte(helloReq), depth)}
	// Learn the response length from one request.
	if _, err := c.Write([]byte(helloReq)); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 4096)
	n := 0
	for !bytes.Contains(buf[:n], []byte("hello world")) {
		m, err := c.Read(buf[n:])
		if err != nil {
			tb.Fatalf("reading the first response: %v (got %q)", err, buf[:n])
		}
		n += m
	}
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(buf[:n], []byte("\r\n\r\nhello world")) {
		tb.Fatalf("first response %q", buf[:n])
	}
	h.one = n
	h.resp = make([]byte, depth*n)
	return h
}

// roundTrip sends one batch and reads all its responses.
func (h *helloConn) roundTrip() error {
	if _, err := h.c.Write(h.batch); err != nil {
		return err
	}
	_, err := io.ReadFull(h.c, h.resp)
	return err
}

// check verifies the last batch's responses.
func (h *helloConn) check(tb testing.TB) {
	for i := 0; i < len(h.resp); i += h.one {
		r := h.resp[i : i+h.one]
		if !bytes.HasPrefix(r, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(r, []byte("hello world")) {
			tb.Fatalf("response %d: %q", i/h.one, r)
		}
	}
}

// TestServeAllocs asserts that serving keep-alive hello-world requests
// allocates nothing per request in the steady state, measured as the
// process's malloc count over 10,240 requests pipelined 16 deep on one
// connection. The slack (< 0.05 per request) covers allocations that are
// per second, not per request: the Date header's text is formatted anew
// each second (a couple of allocations shared by every connection), and a
// runtime or test-framework goroutine may allocate once in a while. A
// per-request allocation would show as 1 or more. The run is repeated up
// to three times and the best kept, so a background burst cannot fail it.
func TestServeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, depth := range []int{1, 16} {
		s := startHello(t)
		h := newHelloConn(t, s, depth)
		const requests = 10240
		rounds := requests / depth
		for i := 0; i < 200; i++ { // warm up: buffers, exchanges, timers
			if err := h.roundTrip(); err != nil {
				t.Fatal(err)
			}
		}
		h.check(t)
		best := -1.0
		for attempt := 0; attempt < 3 && (best < 0 || best >= 0.05); attempt++ {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := 0; i < rounds; i++ {
				if err := h.roundTrip(); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			per := float64(after.Mallocs-before.Mallocs) / requests
			t.Logf("depth %d, attempt %d: %d mallocs over %d requests = %.4f per request",
				depth, attempt, after.Mallocs-before.Mallocs, requests, per)
			if best < 0 || per < best {
				best = per
			}
		}
		h.check(t)
		if best >= 0.05 {
			t.Errorf("depth %d: %.4f allocations per request; want ~0 (< 0.05)", depth, best)
		}
	}
}

func benchmarkServe(b *testing.B, depth int) {
	s := startHello(b)
	h := newHelloConn(b, s, depth)
	for i := 0; i < 100; i++ {
		if err := h.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		if err := h.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	h.check(b)
}

// BenchmarkServeHello: one request at a time on a keep-alive connection
// over loopback; allocs/op counts client and server (the client allocates
// nothing).
func BenchmarkServeHello(b *testing.B) { benchmarkServe(b, 1) }

// BenchmarkServeHelloPipelined: 16 requests per write; ns/op is per request.
func BenchmarkServeHelloPipelined(b *testing.B) { benchmarkServe(b, 16) }
