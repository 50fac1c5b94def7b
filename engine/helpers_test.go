package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ioTimeout bounds every blocking read or write a test client does. It is
// generous on purpose: tests must not flake on a loaded 2-core machine, and
// no assertion depends on it except "this happens eventually".
const ioTimeout = 10 * time.Second

// startServer starts a server on 127.0.0.1, port 0, with the test routes
// installed, and stops it when the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	installTestRoutes(t, s)
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil && !errors.Is(err, ErrNotRunning) {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// installTestRoutes registers the routes most tests use:
//
//	/         "hello world"
//	/echo     the request body; X-Method, X-Path, X-Query, X-Minor headers
//	/seq      the query as the body (to check response order)
//	/hold     like /seq, but held and completed later from a goroutine
//	/status   status from ?code=, with a body "body"
//	/panic    panics
func installTestRoutes(t testing.TB, s *Server) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	must(s.HandleFunc("/", func(x *Exchange) {
		x.AddHeader([]byte("Content-Type"), []byte("text/plain"))
		x.WriteString("hello world")
	}))
	must(s.HandleFunc("/echo", func(x *Exchange) {
		r := x.Request()
		x.AddHeader([]byte("X-Method"), r.Method)
		x.AddHeader([]byte("X-Path"), r.Path)
		x.AddHeader([]byte("X-Query"), r.Query)
		x.AddHeader([]byte("X-Minor"), strconv.AppendInt(nil, int64(r.Minor), 10))
		x.AddHeader([]byte("X-Chunked"), strconv.AppendBool(nil, r.Chunked))
		x.Write(x.Body())
	}))
	must(s.HandleFunc("/seq", func(x *Exchange) {
		x.Write(x.Request().Query)
	}))
	must(s.HandleFunc("/hold", func(x *Exchange) {
		x.Hold()
		q := string(x.Request().Query)
		d := time.Duration(0)
		if i := strings.IndexByte(q, '&'); i >= 0 {
			n, _ := strconv.Atoi(q[i+1:])
			d, q = time.Duration(n)*time.Microsecond, q[:i]
		}
		go func() {
			time.Sleep(d)
			x.WriteString(q)
			x.Done()
		}()
	}))
	must(s.HandleFunc("/status", func(x *Exchange) {
		q := string(x.Request().Query)
		code, _ := strconv.Atoi(strings.TrimPrefix(q, "code="))
		x.SetStatus(code, "")
		x.WriteString("body")
	}))
	must(s.HandleFunc("/panic", func(x *Exchange) {
		panic("test panic (expected)")
	}))
}

// response is a response as read off the wire, kept exact.
type response struct {
	raw    string // every byte of it
	proto  string
	status int
	reason string
	fields [][2]string // in order, as sent
	body   string
}

func (r *response) header(name string) string {
	for _, f := range r.fields {
		if strings.EqualFold(f[0], name) {
			return f[1]
		}
	}
	return ""
}

func (r *response) has(name string) bool { return r.count(name) > 0 }

func (r *response) count(name string) int {
	n := 0
	for _, f := range r.fields {
		if strings.EqualFold(f[0], name) {
			n++
		}
	}
	return n
}

// readResponse reads one response strictly: CRLF line ends, a
// Content-Length on every response that may have a body, and no body for
// HEAD, 1xx, 204 and 304.
func readResponse(br *bufio.Reader, head bool) (*response, error) {
	var raw strings.Builder
	line, err := br.ReadString('\n')
	raw.WriteString(line)
	if err != nil {
		return nil, fmt.Errorf("reading status line (got %q): %w", raw.String(), err)
	}
	if !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("status line %q not ended by CRLF", line)
	}
	parts := strings.SplitN(strings.TrimSuffix(line, "\r\n"), " ", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "HTTP/1.") || len(parts[1]) != 3 {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	r := &response{proto: parts[0], reason: parts[2]}
	if r.status, err = strconv.Atoi(parts[1]); err != nil {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	for {
		line, err := br.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			return nil, fmt.Errorf("reading fields (got %q): %w", raw.String(), err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return nil, fmt.Errorf("field line %q not ended by CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ": ")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("malformed field line %q", line)
		}
		r.fields = append(r.fields, [2]string{name, value})
	}
	bodyless := head || r.status < 200 || r.status == 204 || r.status == 304
	if r.status >= 200 && r.status != 204 && r.status != 304 {
		if r.count("Content-Length") != 1 {
			return nil, fmt.Errorf("response %q has %d Content-Length fields; want 1", raw.String(), r.count("Content-Length"))
		}
	}
	if !bodyless {
		n, err := strconv.Atoi(r.header("Content-Length"))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad Content-Length in %q", raw.String())
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, fmt.Errorf("reading %d-byte body of %q: %w", n, raw.String(), err)
		}
		r.body = string(body)
		raw.Write(body)
	}
	r.raw = raw.String()
	return r, nil
}

// client is a raw HTTP/1.1 client over one TCP connection.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, s *Server) *client {
	t.Helper()
	addr := s.Addr()
	if addr == nil {
		t.Fatal("server has no address")
	}
	c, err := net.DialTimeout("tcp", addr.String(), ioTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendErr writes s, returning the error: for writes the server may refuse.
func (c *client) sendErr(s string) error {
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(c.c, s)
	return err
}

func (c *client) read() *response { c.t.Helper(); return c.readAs(false) }

func (c *client) readHead() *response { c.t.Helper(); return c.readAs(true) }

func (c *client) readAs(head bool) *response {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	r, err := readResponse(c.br, head)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return r
}

// do sends one request and reads its response.
func (c *client) do(req string) *response {
	c.t.Helper()
	c.send(req)
	return c.readAs(strings.HasPrefix(req, "HEAD "))
}

// expectClosed asserts that the server closes the connection without
// sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(c.br)
	if len(rest) > 0 {
		c.t.Fatalf("after the last response got %q; want the connection closed", rest)
	}
	if err != nil {
		c.t.Fatalf("waiting for close: %v; want EOF", err)
	}
}

// expectOpen asserts that the connection still serves requests.
func (c *client) expectOpen() {
	c.t.Helper()
	r := c.do("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.status != 200 || r.body != "hello world" {
		c.t.Fatalf("follow-up request got %q; want 200 hello world", r.raw)
	}
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n" }

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkResponse checks the fields every response must carry.
func checkResponse(t testing.TB, r *response, wantStatus int) {
	t.Helper()
	if r.status != wantStatus {
		t.Fatalf("status %d in %q; want %d", r.status, r.raw, wantStatus)
	}
	if r.count("Date") != 1 {
		t.Errorf("%d Date fields in %q; want 1", r.count("Date"), r.raw)
	}
}

// serveConn hands rwc to s as its accept loop would: for tests that wrap
// the connection (to count writes). s must be running.
func serveConn(t testing.TB, s *Server, rwc net.Conn) {
	t.Helper()
	c := newConn(s, rwc, s.connSeq.Add(1))
	s.mu.Lock()
	if !s.running || s.stopping.Load() {
		s.mu.Unlock()
		t.Fatal("serveConn: server not running")
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.stats.accepted.Add(1)
	go c.serve()
}

// countingConn records the server's reads and writes.
type countingConn struct {
	net.Conn
	reads, writes atomic.Int64 // calls that moved data
	written       atomic.Int64 // bytes written, counted after each write returns
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.writes.Add(1)
	c.written.Add(int64(n))
	return n, err
}

// countedPair returns a client connection to s whose server side is
// served through a countingConn.
func countedPair(t testing.TB, s *Server) (*client, *countingConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cc, err := net.DialTimeout("tcp", l.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConn{Conn: sc}
	serveConn(t, s, counted)
	return &client{t: t, c: cc, br: bufio.NewReader(cc)}, counted
}

// chunk encodes data as one chunk, with an optional extension.
func chunk(data, ext string) string {
	return strconv.FormatInt(int64(len(data)), 16) + ext + "\r\n" + data + "\r\n"
}

// splitWrites writes s in pieces of the given sizes (cycled), each with
// its own write call. It may run on any goroutine: it reports, not fails.
func (c *client) splitWrites(s string, sizes ...int) error {
	for i := 0; len(s) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(s))
		if err := c.sendErr(s[:n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

// bigString returns n bytes of a repeating, position-dependent pattern.
func bigString(n int) string {
	var b bytes.Buffer
	b.Grow(n)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%07d|", i)
	}
	return b.String()[:n]
}
