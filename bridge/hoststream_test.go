package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// The Go host (package bridge/host) through a real engine (New +
// engine.Server): the tests that need both sides. The host's own rules,
// against a fake engine, are tested in package bridge/host.

// streamSetup starts an engine whose unrouted requests go through a
// bridge with default region sizes (4 kB chunks, 1024 per arena: a 1 MiB
// body window) and room for large bodies, and a Go host serving handler.
func streamSetup(t *testing.T, opts Options, handler host.Handler) (base string, b *Bridge, h *host.Host) {
	t.Helper()
	dir := t.TempDir()
	opts.Region.Dir = dir
	if opts.Region.PeerTimeout == 0 {
		opts.Region.PeerTimeout = 500 * time.Millisecond
	}
	srv, b := setupWith(t, opts)
	h, err := host.Attach(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		h.Serve(ctx, handler)
	}()
	t.Cleanup(func() { // before setupWith's, which then finds both closed
		// The engine goes first: a handler stuck on a body that never
		// comes then fails (region.ErrPeerGone) instead of hanging Serve.
		cancel()
		srv.Stop(context.Background())
		b.Close()
		<-served
		h.Close()
	})
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID != 0 })
	return "http://" + srv.Addr().String(), b, h
}

// streamHandler: /echo streams the body back piece by piece (reading
// first: that asks for an Expect: 100-continue body); /sum reads it and
// answers its length and FNV-1a; /download?N streams N pattern bytes with
// Content-Length, /download?chunked&N without.
func streamHandler(v wire.View, w *host.ResponseWriter) {
	switch string(v.Path()) {
	case "/echo":
		buf := make([]byte, 64<<10)
		body := w.Request().Body()
		n, err := body.Read(buf)
		if err != nil && err != io.EOF {
			w.Request().Abort()
			return
		}
		w.Stream(-1)
		for n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if err == io.EOF {
				break
			}
			n, err = body.Read(buf)
			if err != nil && err != io.EOF {
				w.Request().Abort()
				return
			}
		}
	case "/sum":
		n, sum, err := fnvOf(w.Request().Body())
		if err != nil {
			w.SetStatus(400)
			fmt.Fprintf(w, "%v", err)
			return
		}
		fmt.Fprintf(w, "bytes=%d fnv1a64=%s", n, sum)
	case "/download":
		q, _ := v.Query()
		chunked := bytes.HasPrefix(q, []byte("chunked&"))
		n, _ := strconv.ParseInt(string(bytes.TrimPrefix(q, []byte("chunked&"))), 10, 64)
		cl := n
		if chunked {
			cl = -1
		}
		if err := w.Stream(cl); err != nil {
			return
		}
		io.CopyBuffer(w, &pattern{n: n}, make([]byte, 50000))
	}
}

func fnvOf(r io.Reader) (int64, string, error) {
	h := fnv.New64a()
	n, err := io.CopyBuffer(h, r, make([]byte, 100000))
	return n, fmt.Sprintf("%016x", h.Sum64()), err
}

// pattern yields n bytes: byte i is (i * 131 + 7) & 0xFF.
type pattern struct{ i, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.i >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.i)
	for j := range b[:k] {
		b[j] = byte((p.i+int64(j))*131 + 7)
	}
	p.i += k
	return int(k), nil
}

// streamClient bounds each exchange: a stalled stream fails its test
// instead of hanging the package.
var streamClient = &http.Client{Timeout: 30 * time.Second}

// noLength hides a reader's length, so net/http sends the body chunked.
type noLength struct{ io.Reader }

// Bodies both ways through a real engine, with checksums: uploads with
// Content-Length and chunked, an echo, downloads with Content-Length and
// chunked. 20 MB each: twenty times the body window.
func TestHostStreamsBodiesThroughEngine(t *testing.T) {
	base, b, _ := streamSetup(t, Options{}, streamHandler)
	const size = 20 << 20
	_, want, _ := fnvOf(&pattern{n: size})
	for _, chunked := range []bool{false, true} {
		var body io.Reader = &pattern{n: size}
		if chunked {
			body = noLength{body}
		}
		req, _ := http.NewRequest("POST", base+"/sum", body)
		if !chunked {
			req.ContentLength = size
		}
		resp, err := streamClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if w := fmt.Sprintf("bytes=%d fnv1a64=%s", size, want); resp.StatusCode != 200 || string(got) != w {
			t.Fatalf("POST /sum of 20 MB (chunked %v) = %d %q; want %q", chunked, resp.StatusCode, got, w)
		}
	}

	resp, err := streamClient.Post(base+"/echo", "application/octet-stream", &pattern{n: size})
	if err != nil {
		t.Fatal(err)
	}
	n, got, err := fnvOf(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != size || got != want || err != nil {
		t.Fatalf("POST /echo of 20 MB = %d, %d bytes, fnv %s, %v; want %d bytes, fnv %s", resp.StatusCode, n, got, err, size, want)
	}

	for _, q := range []string{"", "chunked&"} {
		resp, err := streamClient.Get(base + "/download?" + q + strconv.Itoa(size))
		if err != nil {
			t.Fatal(err)
		}
		n, got, err := fnvOf(resp.Body)
		resp.Body.Close()
		wantCL, wantTE := int64(size), []string(nil)
		if q != "" {
			wantCL, wantTE = -1, []string{"chunked"}
		}
		if resp.StatusCode != 200 || n != size || got != want || err != nil || resp.ContentLength != wantCL ||
			fmt.Sprint(resp.TransferEncoding) != fmt.Sprint(wantTE) {
			t.Fatalf("GET /download?%s%d = %d, %d bytes, fnv %s, %v, Content-Length %d, Transfer-Encoding %v",
				q, size, resp.StatusCode, n, got, err, resp.ContentLength, resp.TransferEncoding)
		}
	}
	if st := b.Stats(); st.InFlight != 0 {
		t.Fatalf("%d requests still in flight after all responses", st.InFlight)
	}
}

// rawRequest writes a request head on a new connection.
func rawRequest(t *testing.T, base, head string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, head); err != nil {
		t.Fatal(err)
	}
	return nc, bufio.NewReader(nc)
}

// Expect: 100-continue: the client gets "100 Continue" only once the host
// reads the body; a host that answers without reading sends no CONTINUE:
// the client gets the response, then the connection closes.
func TestHostContinueThroughEngine(t *testing.T) {
	letRead := make(chan struct{})
	base, _, _ := streamSetup(t, Options{}, func(v wire.View, w *host.ResponseWriter) {
		if string(v.Path()) == "/refuse" {
			w.SetStatus(417)
			w.WriteString("no body wanted")
			return
		}
		<-letRead
		n, sum, err := fnvOf(w.Request().Body())
		fmt.Fprintf(w, "%d %s %v", n, sum, err)
	})
	nc, br := rawRequest(t, base, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if b, err := br.Peek(1); err == nil {
		t.Fatalf("the client got %q before the host read the body; want nothing", b)
	}
	close(letRead)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" || err != nil {
		t.Fatalf("after the host read: %q, %v; want 100 Continue", line, err)
	}
	br.ReadString('\n')
	io.WriteString(nc, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_, want, _ := fnvOf(strings.NewReader("hello"))
	if resp.StatusCode != 200 || string(got) != "5 "+want+" <nil>" {
		t.Fatalf("response = %d %q; want 200 \"5 %s <nil>\"", resp.StatusCode, got, want)
	}

	nc, br = rawRequest(t, base, "POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 417 || string(got) != "no body wanted" {
		t.Fatalf("refused request = %d %q; want 417", resp.StatusCode, got)
	}
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after a response without CONTINUE the connection gave %q, %v; want EOF (closed)", b, err)
	}
}

// Abort: before any response the client gets 500; after the response
// began, the connection ends early and the client sees a truncated body.
func TestHostAbortThroughEngine(t *testing.T) {
	base, _, _ := streamSetup(t, Options{}, func(v wire.View, w *host.ResponseWriter) {
		if string(v.Path()) == "/late" {
			w.Stream(1 << 20)
			w.Write(make([]byte, 100<<10))
			w.Flush() // ordered before the abort: the client has the head and part of the body
		}
		w.Request().Abort()
	})
	resp, err := streamClient.Get(base + "/early")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("abort before the response = %d; want 500", resp.StatusCode)
	}
	resp, err = streamClient.Get(base + "/late")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || len(got) >= 1<<20 {
		t.Fatalf("abort after 100 kB of 1 MiB = %d, %d bytes, %v; want 200 and a read error", resp.StatusCode, len(got), err)
	}
}

// A client that disconnects in the middle of its upload: the host's read
// fails with ErrCancelled (after the bytes that came), and the host serves
// on.
func TestHostClientGoneMidUploadThroughEngine(t *testing.T) {
	readErr := make(chan error, 1)
	base, b, _ := streamSetup(t, Options{}, func(v wire.View, w *host.ResponseWriter) {
		n, err := io.Copy(io.Discard, w.Request().Body())
		if string(v.Path()) == "/gone" {
			if n == 0 {
				err = fmt.Errorf("nothing read before the error %v", err)
			}
			readErr <- err
		}
		fmt.Fprintf(w, "%d", n)
	})
	nc, _ := rawRequest(t, base, "POST /gone HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
	nc.Write(make([]byte, 1<<20))
	bridgetest.WaitFor(t, "body bytes to reach the host", func() bool { return b.Stats().BodyIn > 0 })
	nc.Close()
	select {
	case err := <-readErr:
		if !errors.Is(err, host.ErrCancelled) {
			t.Fatalf("the host's read after the client left = %v; want host.ErrCancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the host's read did not fail within 5 s of the client leaving")
	}
	resp, err := streamClient.Post(base+"/next", "text/plain", strings.NewReader("still here"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "10" {
		t.Fatalf("the next request = %q; want \"10\"", got)
	}
}

// Backpressure: while the host does not read, the engine stops reading
// the client (the upload stalls) and the host holds at most the body
// window of the engine's arena; once the host reads, everything arrives.
func TestHostBackpressureThroughEngine(t *testing.T) {
	letRead := make(chan struct{})
	base, b, _ := streamSetup(t, Options{}, func(v wire.View, w *host.ResponseWriter) {
		<-letRead
		n, sum, err := fnvOf(w.Request().Body())
		fmt.Fprintf(w, "%d %s %v", n, sum, err)
	})
	var release sync.Once
	let := func() { release.Do(func() { close(letRead) }) }
	t.Cleanup(let) // runs before the server's stop, which would wait for the handler
	const size = 64 << 20
	nc, br := rawRequest(t, base, fmt.Sprintf("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", size))
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	var sent atomic.Int64
	wrote := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(writerFunc(func(p []byte) (int, error) {
			n, err := nc.Write(p)
			sent.Add(int64(n))
			return n, err
		}), &pattern{n: size}, make([]byte, 64<<10))
		wrote <- err
	}()
	// Wait for the upload to stop moving (200 ms without progress), up to
	// 10 s: how soon depends on the machine's load, the stall does not.
	stalled := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(200 * time.Millisecond)
		now := sent.Load()
		if now == stalled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upload to a host that reads nothing never stalled: %d bytes sent so far", now)
		}
		stalled = now
	}
	if stalled > 24<<20 {
		t.Fatalf("the client sent %d bytes to a host that reads nothing; want a stall well under 24 MB", stalled)
	}
	for _, l := range b.Lanes() {
		// The window (a quarter of 1024 chunks) plus the view's chunk.
		if l.ChunksLent > 256+1 {
			t.Fatalf("lane %d: the host holds %d engine chunks; want at most the 256 of the window and the view", l.Lane, l.ChunksLent)
		}
	}
	t.Logf("upload stalled at %.1f MB while the host did not read", float64(stalled)/(1<<20))
	let()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_, want, _ := fnvOf(&pattern{n: size})
	if string(got) != fmt.Sprintf("%d %s <nil>", size, want) {
		t.Fatalf("after the host read: %q; want the 64 MB checksum %s", got, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Through a real engine: requests answered out of order from other
// goroutines, and a response larger than the ring and arena can hold at
// once (it goes in batches).
func TestHostPullAPIThroughEngine(t *testing.T) {
	srv, b, dir := setup(t) // 256 chunks of 4 kB: 1 MiB per arena
	h, err := host.Attach(b.Name(), region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bridgetest.WaitFor(t, "the host to attach", func() bool { return b.Stats().HostPID != 0 })

	big := bytes.Repeat([]byte("abcdefgh"), 3<<20/8) // 3 MiB
	const n = 4
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := http.Get("http://" + srv.Addr().String() + "/r" + string(rune('0'+i)))
			if err != nil {
				results[i] = err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Equal(body, big) {
				results[i] = resp.Status + " the 3 MiB body"
			} else {
				results[i] = resp.Status + " " + string(body)
			}
		}(i)
	}
	var held []*host.Request
	for len(held) < n {
		req, err := h.Next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, req)
	}
	// Answer in reverse order, each from its own goroutine.
	var ends sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		ends.Add(1)
		go func(req *host.Request) {
			defer ends.Done()
			path := string(req.View().Path())
			body := []byte("answer " + path)
			if path == "/r0" {
				body = big
			}
			if err := req.Respond(&wire.ResponseHead{Status: 200, ContentLength: int64(len(body))}, body); err != nil {
				t.Error(err)
			}
		}(held[i])
	}
	// Keep Next running so chunks go back while the big response crosses.
	stop := make(chan struct{})
	go func() { ends.Wait(); wg.Wait(); close(stop) }()
	for {
		select {
		case <-stop:
		default:
			h.Next(10 * time.Millisecond)
			continue
		}
		break
	}
	for i, want := range []string{"200 OK the 3 MiB body", "200 OK answer /r1", "200 OK answer /r2", "200 OK answer /r3"} {
		if results[i] != want {
			t.Errorf("GET /r%d = %q; want %q", i, results[i], want)
		}
	}
}
