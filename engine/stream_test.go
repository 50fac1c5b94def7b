package engine

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamer is a handler that takes bodies as streams: it records the
// pieces and answers, when the body is complete, with its length and
// CRC-32 ("n crc"). Hooks let tests stall or refuse pieces.
type streamer struct {
	mu        sync.Mutex
	pieces    []int          // sizes of the pieces delivered
	cancelled chan *Exchange // Cancel calls
	held      chan *Exchange // exchanges, once held
	// onPiece runs for each piece before it is recorded; an error stops
	// the body.
	onPiece func(x *Exchange, p []byte) error
	// answerEarly answers at once, without waiting for (or asking for) the body.
	answerEarly bool
	// noContinue: with Expect: 100-continue, do not call Continue; the
	// test does (through held).
	noContinue bool
}

func newStreamer() *streamer {
	return &streamer{cancelled: make(chan *Exchange, 16), held: make(chan *Exchange, 16)}
}

func (s *streamer) StreamBody(x *Exchange) bool { return true }

func (s *streamer) ServeExchange(x *Exchange) {
	if !x.BodyStreamed() {
		fmt.Fprintf(x, "whole %d %08x", len(x.Body()), crc32.ChecksumIEEE(x.Body()))
		return
	}
	x.Hold()
	if s.answerEarly {
		x.WriteString("early")
		go x.Done()
		s.held <- x
		return
	}
	var n int
	crc := crc32.NewIEEE()
	x.Cancel = func(x *Exchange) { s.cancelled <- x }
	x.BodyFunc = func(x *Exchange, p []byte, end bool) error {
		if s.onPiece != nil {
			if err := s.onPiece(x, p); err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.pieces = append(s.pieces, len(p))
		s.mu.Unlock()
		n += len(p)
		crc.Write(p)
		if end {
			fmt.Fprintf(x, "%d %08x", n, crc.Sum32())
			x.Done()
		}
		return nil
	}
	if x.Request().ExpectContinue && !s.noContinue {
		x.Continue()
	}
	s.held <- x
}

func streamServer(t *testing.T, h Handler, cfg Config) *Server {
	t.Helper()
	srv := startServer(t, cfg)
	if err := srv.Handle("/stream", h); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestStreamedBodyContentLength(t *testing.T) {
	st := newStreamer()
	srv := streamServer(t, st, Config{MaxRequestSize: 64 << 20})
	body := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
	resp, err := http.Post("http://"+srv.Addr().String()+"/stream", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %08x", len(body), crc32.ChecksumIEEE(body)); string(got) != want {
		t.Fatalf("got %q; want %q", got, want)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.pieces) < 5<<20/streamBufSize {
		t.Errorf("%d pieces for 5 MiB; want it in pieces of at most %d bytes", len(st.pieces), streamBufSize)
	}
	for _, n := range st.pieces {
		if n > streamBufSize {
			t.Fatalf("a piece of %d bytes; want at most %d", n, streamBufSize)
		}
	}
}

// A chunked body arrives de-chunked, in pieces, and the next request on
// the connection is served after it.
func TestStreamedBodyChunkedThenPipelined(t *testing.T) {
	st := newStreamer()
	srv := streamServer(t, st, Config{})
	c := dial(t, srv)
	var req strings.Builder
	req.WriteString("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
	var want []byte
	for i := 1; i <= 300; i++ {
		data := strings.Repeat(string(rune('a'+i%26)), i)
		want = append(want, data...)
		req.WriteString(chunk(data, ""))
	}
	req.WriteString("0\r\nX-Trailer: yes\r\n\r\n")
	req.WriteString(get("/"))
	c.send(req.String())
	r := c.read()
	checkResponse(t, r, 200)
	if w := fmt.Sprintf("%d %08x", len(want), crc32.ChecksumIEEE(want)); r.body != w {
		t.Fatalf("body %q; want %q", r.body, w)
	}
	if r2 := c.read(); r2.body != "hello world" {
		t.Fatalf("pipelined response %q; want hello world", r2.body)
	}
}

// A small body the handler could take whole still streams when the
// handler asks for it; one that is not asked for arrives whole.
func TestStreamBodyChoice(t *testing.T) {
	st := newStreamer()
	srv := streamServer(t, st, Config{})
	c := dial(t, srv)
	r := c.do("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
	if w := fmt.Sprintf("5 %08x", crc32.ChecksumIEEE([]byte("hello"))); r.body != w {
		t.Fatalf("streamed: %q; want %q", r.body, w)
	}
	r = c.do("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
	if r.body != "hello" {
		t.Fatalf("whole: %q", r.body)
	}
}

func TestStreamedBodyTooLarge(t *testing.T) {
	st := newStreamer()
	srv := streamServer(t, st, Config{MaxRequestSize: 1000})
	c := dial(t, srv)
	r := c.do("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
	checkResponse(t, r, 413)
	// Chunked: found out on the way; the handler hears of it and the
	// connection ends.
	c = dial(t, srv)
	c.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(bigString(600), "") + chunk(bigString(600), ""))
	select {
	case <-st.cancelled:
	case <-time.After(ioTimeout):
		t.Fatal("handler not told that the body broke off")
	}
	c.expectClosed()
}

// Expect: 100-continue: the interim response comes only when the handler
// asks for the body.
func TestStreamedBodyContinue(t *testing.T) {
	st := newStreamer()
	st.noContinue = true
	srv := streamServer(t, st, Config{})
	c := dial(t, srv)
	c.send("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	x := <-st.held
	c.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if b, err := c.br.Peek(1); err == nil {
		t.Fatalf("got %q before the handler asked for the body", b)
	}
	x.Continue()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want the 100 Continue status line", line, err)
	}
	if blank, _ := c.br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	c.send("hello")
	r := c.read()
	if w := fmt.Sprintf("5 %08x", crc32.ChecksumIEEE([]byte("hello"))); r.body != w {
		t.Fatalf("body %q; want %q", r.body, w)
	}
	c.expectOpen()
}

// A handler that answers without asking for the body: no 100 Continue,
// and the connection closes after the response.
func TestStreamedBodyAnsweredWithoutContinue(t *testing.T) {
	st := newStreamer()
	st.answerEarly = true
	srv := streamServer(t, st, Config{})
	c := dial(t, srv)
	r := c.do("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if r.status != 200 || r.body != "early" || r.header("Connection") != "close" {
		t.Fatalf("got %d %q Connection %q; want 200 early, close", r.status, r.body, r.header("Connection"))
	}
	c.expectClosed()
}

// A client that goes away mid-body: Cancel, and nothing hangs.
func TestStreamedBodyClientGone(t *testing.T) {
	st := newStreamer()
	srv := streamServer(t, st, Config{})
	c := dial(t, srv)
	c.send("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + bigString(1000))
	<-st.held
	c.c.Close()
	select {
	case <-st.cancelled:
	case <-time.After(ioTimeout):
		t.Fatal("no Cancel after the client left mid-body")
	}
	waitFor(t, ioTimeout, "connection to end", func() bool { return srv.Stats().ConnectionsOpen == 0 })
}

// A handler that stops taking the body: the connection closes after its
// response.
func TestStreamedBodyRefused(t *testing.T) {
	st := newStreamer()
	st.onPiece = func(x *Exchange, p []byte) error {
		x.WriteString("enough")
		x.Done()
		return errors.New("enough")
	}
	srv := streamServer(t, st, Config{})
	c := dial(t, srv)
	r := c.do("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
	if r.body != "enough" {
		t.Fatalf("body %q", r.body)
	}
	c.expectClosed()
}

// A handler blocking in BodyFunc holds the client back: the engine stops
// reading, so the client's writes stall once the socket buffers are full.
func TestStreamedBodyBackpressure(t *testing.T) {
	st := newStreamer()
	release := make(chan struct{})
	st.onPiece = func(x *Exchange, p []byte) error { <-release; return nil }
	srv := streamServer(t, st, Config{MaxRequestSize: 1 << 30})
	c := dial(t, srv)
	c.send("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n")
	buf := make([]byte, 1<<20)
	var sent int
	c.c.SetWriteDeadline(time.Now().Add(time.Second))
	for sent < 1<<30 {
		n, err := c.c.Write(buf)
		sent += n
		if err != nil {
			break
		}
	}
	close(release)
	// Loopback buffers hold a few MiB at most; without backpressure all
	// 1 GiB would have gone in a second.
	if sent >= 256<<20 {
		t.Fatalf("client wrote %d MiB while the handler took nothing", sent>>20)
	}
	t.Logf("client stalled after %d KiB", sent>>10)
}

// readHTTP reads one response with net/http's reader (chunked bodies).
func readHTTP(t *testing.T, c *client, method string) (*http.Response, []byte, error) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// streamOut is a handler whose response is streamed by the test.
type streamOut struct{ held chan *Exchange }

func (s streamOut) ServeExchange(x *Exchange) {
	x.Hold()
	s.held <- x
}

func streamOutServer(t *testing.T) (*Server, chan *Exchange) {
	held := make(chan *Exchange, 16)
	srv := streamServer(t, streamOut{held}, Config{})
	return srv, held
}

func TestStreamedResponseChunked(t *testing.T) {
	srv, held := streamOutServer(t)
	c := dial(t, srv)
	c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
	x := <-held
	x.SetStatus(201, "")
	x.AddHeader([]byte("X-Stream"), []byte("yes"))
	x.StartStream(-1)
	var want []byte
	for i := 0; i < 50; i++ {
		p := bytes.Repeat([]byte{byte('A' + i%26)}, 1000*i)
		want = append(want, p...)
		if err := x.WriteStream(p); err != nil {
			t.Fatal(err)
		}
	}
	x.Done()
	resp, body, err := readHTTP(t, c, "GET")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || resp.Header.Get("X-Stream") != "yes" || len(resp.TransferEncoding) != 1 ||
		!bytes.Equal(body, want) {
		t.Fatalf("got %d %v TE %v, %d bytes; want 201 chunked %d bytes", resp.StatusCode, resp.Header,
			resp.TransferEncoding, len(body), len(want))
	}
	if r := c.read(); r.body != "hello world" {
		t.Fatalf("next response %q", r.body)
	}
}

func TestStreamedResponseContentLength(t *testing.T) {
	srv, held := streamOutServer(t)
	c := dial(t, srv)
	c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
	x := <-held
	x.StartStream(10)
	x.WriteStream([]byte("01234"))
	x.WriteStream([]byte("56789"))
	x.Done()
	r := c.read()
	if r.body != "0123456789" || r.header("Transfer-Encoding") != "" {
		t.Fatalf("got %q TE %q", r.body, r.header("Transfer-Encoding"))
	}
	c.expectOpen()
}

// Fewer bytes than announced: the client must not take the response for
// whole. More: WriteStream fails and the connection is reset.
func TestStreamedResponseLengthMismatch(t *testing.T) {
	srv, held := streamOutServer(t)
	for _, tc := range []struct {
		name   string
		writes []string
	}{{"short", []string{"01234"}}, {"long", []string{"01234", "567890"}}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv)
			c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
			x := <-held
			x.StartStream(10)
			var err error
			for _, w := range tc.writes {
				if err = x.WriteStream([]byte(w)); err != nil {
					break
				}
			}
			if tc.name == "long" && !errors.Is(err, ErrStreamLength) {
				t.Fatalf("WriteStream past the length = %v; want %v", err, ErrStreamLength)
			}
			if err == nil {
				x.Done()
			}
			_, body, err := readHTTP(t, c, "GET")
			if err == nil {
				t.Fatalf("read a whole response (%q); want it cut short", body)
			}
		})
	}
}

// Responses on a connection keep their order: a fast one waits behind a
// streamed one.
func TestStreamedResponseOrder(t *testing.T) {
	srv, held := streamOutServer(t)
	c := dial(t, srv)
	c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
	x := <-held
	done := make(chan error, 1)
	go func() {
		x.StartStream(-1)
		time.Sleep(50 * time.Millisecond) // the fast response is queued by now
		err := x.WriteStream([]byte("first"))
		x.Done()
		done <- err
	}()
	_, body, err := readHTTP(t, c, "GET")
	if err != nil || string(body) != "first" {
		t.Fatalf("first response %q, %v", body, err)
	}
	if r := c.read(); r.body != "hello world" {
		t.Fatalf("second %q", r.body)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A stream behind a pending response (held 200 ms) waits for it.
	c.send(get("/hold?a&200000") + "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
	x = <-held
	x.StartStream(-1)
	wrote := make(chan error, 1)
	go func() { wrote <- x.WriteStream([]byte("second")) }()
	select {
	case err := <-wrote:
		t.Fatalf("WriteStream returned (%v) while an earlier response was pending", err)
	case <-time.After(50 * time.Millisecond):
	}
	r := c.read() // /hold answers after a moment
	if r.body != "a" {
		t.Fatalf("held response %q", r.body)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	x.Done()
	if _, body, err := readHTTP(t, c, "GET"); err != nil || string(body) != "second" {
		t.Fatalf("stream %q, %v", body, err)
	}
}

// HTTP/1.0 has no chunks: the body ends with the connection.
func TestStreamedResponseHTTP10(t *testing.T) {
	srv, held := streamOutServer(t)
	c := dial(t, srv)
	c.send("GET /stream HTTP/1.0\r\n\r\n")
	x := <-held
	x.StartStream(-1)
	x.WriteStream([]byte("until close"))
	x.Done()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	all, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(all), "\r\n\r\n")
	if body != "until close" || strings.Contains(head, "Transfer-Encoding") || strings.Contains(head, "Content-Length") ||
		!strings.Contains(head, "Connection: close") {
		t.Fatalf("got %q", all)
	}
}

// HEAD: the head says what GET would, and no body follows.
func TestStreamedResponseHead(t *testing.T) {
	srv, held := streamOutServer(t)
	c := dial(t, srv)
	c.send("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
	x := <-held
	x.StartStream(int64(len("ignored")))
	x.WriteStream([]byte("ignored"))
	x.Done()
	r := c.readHead()
	if r.header("Content-Length") != strconv.Itoa(len("ignored")) {
		t.Fatalf("HEAD got %q", r.raw)
	}
	if r := c.read(); r.body != "hello world" {
		t.Fatalf("after HEAD: %q", r.body)
	}
}

func TestAbort(t *testing.T) {
	srv, held := streamOutServer(t)
	c := dial(t, srv)
	c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
	x := <-held
	x.StartStream(-1)
	x.WriteStream([]byte("partial"))
	x.Abort()
	if _, _, err := readHTTP(t, c, "GET"); err == nil {
		t.Fatal("read a whole response after Abort")
	}
	if err := x.WriteStream([]byte("more")); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("WriteStream after Abort = %v; want %v", err, ErrConnClosed)
	}
	waitFor(t, ioTimeout, "connection to end", func() bool { return srv.Stats().ConnectionsOpen == 0 })
}
