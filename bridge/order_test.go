package bridge

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
)

// Ring order is byte order (include/haywire_bridge.h): what a host
// publishes before an event reaches the client before the event's effect.

// rawGet opens a connection to srv and sends a GET for path.
func rawGet(t *testing.T, srv *engine.Server, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// readHead reads a response head up to its blank line.
func readHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			t.Fatalf("reading the head: %v after %q", err, head.String())
		}
		if line == "\r\n" {
			return head.String()
		}
	}
}

// A host that publishes a streamed head, two pieces and then CANCEL
// HOST_ABORT in one go: the client gets the head and both pieces, then a
// cut connection -- never a 500, never a whole response -- every time.
func TestBridgeHostAbortFollowsPieces(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	const rounds = 200
	for i := range rounds {
		c, br := rawGet(t, srv, "/abort")
		req, _ := h.request()
		head, err := wire.EncodeResponse(nil, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.send(region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Stream: req.Stream, Conn: req.Conn}, head)
		h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, []byte("first piece;"))
		h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, []byte("second piece"))
		h.send(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelHostAbort, Stream: req.Stream, Conn: req.Conn}, nil)
		got, _ := io.ReadAll(br) // to the cut: EOF or a reset
		c.Close()
		want := "c\r\nfirst piece;\r\nc\r\nsecond piece\r\n"
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(got, []byte(want)) {
			t.Fatalf("round %d of %d: the client read %q; want a 200 head, then %q, then the cut", i+1, rounds, got, want)
		}
	}
	if st := b.Stats(); st.Aborted != rounds {
		t.Errorf("Aborted = %d; want %d", st.Aborted, rounds)
	}
}

// A streamed head with no body yet goes to the client at once: a host
// can start a long poll or an event stream with a head-only flush.
func TestBridgeHeadOnlyFlushReachesClient(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	_, br := rawGet(t, srv, "/events")
	req, _ := h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1,
		Fields: []byte("Content-Type: text/event-stream\r\n")}, nil)
	head := readHead(t, br) // nothing else was published: the head alone came
	if !strings.HasPrefix(head, "HTTP/1.1 200 ") || !strings.Contains(head, "Content-Type: text/event-stream\r\n") ||
		!strings.Contains(head, "Transfer-Encoding: chunked\r\n") {
		t.Fatalf("head %q", head)
	}
	h.send(region.Descriptor{Kind: region.KindBody, Flags: region.FlagEnd, Stream: req.Stream, Conn: req.Conn}, []byte("data: 1\n\n"))
	rest := make([]byte, len("9\r\ndata: 1\n\n\r\n0\r\n\r\n"))
	if _, err := io.ReadFull(br, rest); err != nil || string(rest) != "9\r\ndata: 1\n\n\r\n0\r\n\r\n" {
		t.Fatalf("body %q, %v", rest, err)
	}
}

// The Go host's Flush sends the head, and later what was written however
// little, before the handler returns.
func TestHostFlushSendsWhatWasWritten(t *testing.T) {
	step := make(chan struct{})
	base, _, _ := streamSetup(t, Options{}, func(v wire.View, w *host.ResponseWriter) {
		w.AddHeader("Content-Type", "text/event-stream")
		if err := w.Flush(); err != nil {
			panic(err)
		}
		<-step
		w.WriteString("data: tick\n\n")
		if err := w.Flush(); err != nil {
			panic(err)
		}
		<-step
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n")
	br := bufio.NewReader(c)
	if head := readHead(t, br); !strings.Contains(head, "text/event-stream") {
		t.Fatalf("head %q", head)
	}
	step <- struct{}{}
	want := "c\r\ndata: tick\n\n\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("after the second Flush the client read %q, %v; want %q", got, err, want)
	}
	step <- struct{}{}
	want = "0\r\n\r\n"
	got = make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("at the end the client read %q, %v; want %q", got, err, want)
	}
}

// A host's own Server and Date replace the engine's, whole and streamed:
// the client sees exactly one of each (RFC 9110 5.3).
func TestHostOwnServerAndDate(t *testing.T) {
	base, _, _ := streamSetup(t, Options{}, func(v wire.View, w *host.ResponseWriter) {
		w.AddHeader("Server", "app/1.0")
		w.AddHeader("date", "Tue, 01 Dec 2026 00:00:00 GMT")
		if string(v.Path()) == "/streamed" {
			w.Flush()
		}
		w.WriteString("hi")
	})
	for _, path := range []string{"/whole", "/streamed"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		head := readHead(t, bufio.NewReader(c))
		c.Close()
		lower := strings.ToLower(head)
		if strings.Count(lower, "\r\nserver:") != 1 || !strings.Contains(head, "Server: app/1.0\r\n") ||
			strings.Count(lower, "\r\ndate:") != 1 || !strings.Contains(head, "date: Tue, 01 Dec 2026 00:00:00 GMT\r\n") {
			t.Errorf("%s: head %q; want the host's Server and Date, once each", path, head)
		}
	}
}
