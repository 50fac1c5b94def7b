package engine

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sendThenRead is a client that reads only once it has sent its whole
// request, as many simple ones do: it writes req, then reads one response
// and everything after it. A server that closes while such a client still
// sends resets the connection, and the client fails with "broken pipe" or
// "connection reset" instead of reading the answer.
func sendThenRead(t *testing.T, s *Server, req string) (r *response, rest []byte, err error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(c)
	if r, err = readResponse(br, false); err != nil {
		return nil, nil, err
	}
	rest, err = io.ReadAll(br)
	return r, rest, err
}

// An answer that closes the connection reaches a client that is still
// sending: the engine half-closes and drains instead of resetting. Each
// client sends several MiB past the point where the engine refuses it,
// and must get the whole answer, then a clean end of stream.
func TestLingeringCloseAnswersASendingClient(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	host := "Host: a\r\n"
	chunked := strings.Repeat(chunk(strings.Repeat("c", 64<<10), ""), 5*16) + "0\r\n\r\n"
	var fields strings.Builder
	for fields.Len() < 4*mib {
		fields.WriteString("X-Pad: " + strings.Repeat("p", 1000) + "\r\n")
	}
	for _, tt := range []struct {
		name   string
		req    string
		status int
	}{
		// Refused on its Content-Length, before any of the body is read.
		{"413 announced", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: " + strconv.Itoa(5*mib) + "\r\n\r\n" +
			strings.Repeat("b", 5*mib), 413},
		// Refused after 1 MiB of the body was read and decoded.
		{"413 chunked", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" + chunked, 413},
		// Refused while the head still comes.
		{"431", "GET / HTTP/1.1\r\n" + host + fields.String() + "\r\n", 431},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Config{})
			for try := range 3 {
				r, rest, err := sendThenRead(t, s, tt.req)
				if err != nil {
					t.Fatalf("try %d: %v; want the whole %d answer, then EOF", try, err, tt.status)
				}
				checkRefusal(t, r, tt.status)
				if len(rest) > 0 {
					t.Fatalf("try %d: after the answer got %q; want EOF", try, rest[:min(len(rest), 100)])
				}
			}
			waitFor(t, ioTimeout, "the connections to close", func() bool { return s.Stats().ConnectionsOpen == 0 })
			if st := s.Stats(); st.Requests != 0 || st.Refused != 3 {
				t.Errorf("requests %d, refused %d; want 0 and 3: drained bytes are no requests", st.Requests, st.Refused)
			}
		})
	}
}

// The drain stops at LingerBytes, long before LingerTime: the client sends
// without end, and the engine reads exactly LingerBytes past the refused
// request, serves none of the requests among them, and closes.
func TestLingeringCloseStopsAtItsSizeBound(t *testing.T) {
	t.Parallel()
	const bound = 300 << 10
	s := startServer(t, Config{MaxRequestSize: 1024, LingerBytes: bound, LingerTime: time.Hour})
	c := dial(t, s)
	head := "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n"
	r := c.do(head)
	checkRefusal(t, r, 413)
	// The half-close: the answer is followed by end of stream while the
	// engine still reads.
	c.expectClosed()
	before := s.Stats().BytesRead
	if before != uint64(len(head)) {
		t.Fatalf("read %d bytes before the drain; want the head's %d", before, len(head))
	}
	wrote := make(chan error, 1)
	go func() {
		tail := strings.Repeat(get("/"), 64<<10/len(get("/")))
		for {
			if err := c.sendErr(tail); err != nil {
				wrote <- err
				return
			}
		}
	}()
	waitFor(t, ioTimeout, "the connection to close", func() bool { return s.Stats().ConnectionsOpen == 0 })
	st := s.Stats()
	if drained := st.BytesRead - before; drained != bound {
		t.Errorf("drained %d bytes; want LingerBytes, %d", drained, bound)
	}
	if st.Requests != 0 {
		t.Errorf("%d requests served from the drained input; want 0", st.Requests)
	}
	// The client, still sending, sees its writes fail: the engine is gone.
	if err := <-wrote; err == nil {
		t.Fatal("client writes after the drain succeeded; want them to fail")
	}
}

// A held exchange that completes with "Connection: close" while the
// client is still sending the body of a later request: the connection
// lingers too, so the client's writes succeed and it reads the answer.
func TestLingeringCloseAfterAHeldClose(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	s := startServer(t, Config{MaxRequestSize: 64 * mib, LingerBytes: 64 * mib})
	release := make(chan struct{})
	s.HandleFunc("/held-close", func(x *Exchange) {
		x.Hold()
		go func() {
			<-release
			x.AddHeader([]byte("Connection"), []byte("close"))
			x.WriteString(strings.Repeat("h", 64<<10))
			x.Done()
		}()
	})
	c := dial(t, s)
	first := get("/held-close") + "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(32*mib) + "\r\n\r\n"
	c.send(first + strings.Repeat("b", mib))
	// The engine is reading the second request's body when the first
	// answer goes out and closes the connection.
	waitFor(t, ioTimeout, "the first MiB of the body to be read", func() bool {
		return s.Stats().BytesRead == uint64(len(first)+mib)
	})
	close(release)
	if err := c.sendErr(strings.Repeat("b", 16*mib)); err != nil {
		t.Fatalf("sending the rest of the body: %v; want the engine to drain it", err)
	}
	r := c.read()
	if r.status != 200 || r.header("Connection") != "close" || len(r.body) != 64<<10 {
		t.Fatalf("answer %d %q, %d body bytes; want 200, Connection: close, 65536", r.status, r.header("Connection"), len(r.body))
	}
	c.expectClosed()
}

// Keep-alive connections are not half-closed or drained: after answers
// that keep the connection, including a 404 to a request with a body,
// the next request is served on it.
func TestLingeringCloseSparesKeepAlive(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{LingerTime: time.Hour})
	c := dial(t, s)
	for _, req := range []string{
		get("/"),
		"POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello", "") + "0\r\n\r\n",
	} {
		if r := c.do(req); r.status >= 500 || r.header("Connection") == "close" {
			t.Fatalf("%q answered %q; want the connection kept", req, r.raw)
		}
		c.expectOpen()
	}
	if st := s.Stats(); st.Requests != 6 || st.ConnectionsOpen != 1 {
		t.Errorf("requests %d, open %d; want 6 on one connection", st.Requests, st.ConnectionsOpen)
	}
}
