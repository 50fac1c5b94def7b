package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edsrzf/mmap-go"
	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/ringbuf"
)

// These tests drive the engine side of the bridge with a raw host: the
// test attaches to the region with the transport alone and speaks the
// protocol of include/haywire_bridge.h by hand, so each rule is checked
// without the Go host in between.

// setupWith starts an engine whose unrouted requests go through a bridge
// with opts (region directory and geometry filled in when empty).
func setupWith(t *testing.T, opts Options) (*engine.Server, *Bridge) {
	t.Helper()
	if opts.Region.Dir == "" {
		opts.Region = region.Options{Dir: t.TempDir(), ChunkSize: 4096, Chunks: 256, DataSlots: 1024,
			PeerTimeout: 500 * time.Millisecond}
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.New(engine.Config{Address: "127.0.0.1", MaxRequestSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetNotFound(b)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop(context.Background())
		b.Close()
	})
	return srv, b
}

// rawHost is a host made of the transport alone.
type rawHost struct {
	t   *testing.T
	r   *region.Region
	rc  *region.Receiver
	snd *region.Sender
	buf []region.Descriptor // polled, not yet returned
}

func attachRaw(t *testing.T, b *Bridge, dir string) *rawHost {
	t.Helper()
	r, err := region.OpenAnyLane(b.Name(), region.Options{Dir: dir, AttachTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	h := &rawHost{t: t, r: r, rc: r.Receiver(), snd: r.Sender()}
	bridgetest.WaitFor(t, "the engine to see the host", func() bool { return b.Stats().HostPID != 0 })
	return h
}

// next returns the next descriptor and its payload (in place: valid until
// released), failing the test after 10 s.
func (h *rawHost) next() (region.Descriptor, []byte) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.buf) == 0 {
		if time.Now().After(deadline) {
			h.t.Fatal("no descriptor from the engine in 10 s")
		}
		h.rc.Wait(50*time.Millisecond, nil)
		n, err := h.rc.Poll(64)
		if err != nil {
			h.t.Fatal(err)
		}
		for i := range n {
			d, err := h.rc.Get(i)
			if err != nil {
				h.t.Fatal(err)
			}
			h.buf = append(h.buf, d)
		}
		h.rc.Consume(n)
	}
	d := h.buf[0]
	h.buf = h.buf[1:]
	return d, h.rc.Payload(&d)
}

// request reads a request view (one part) and releases it.
func (h *rawHost) request() (region.Descriptor, wire.View) {
	h.t.Helper()
	d, p := h.next()
	if d.Kind != region.KindRequest || d.Flags != region.FlagEnd {
		h.t.Fatalf("got %v; want a one-part request", d)
	}
	v, err := wire.DecodeView(append([]byte(nil), p...))
	if err != nil {
		h.t.Fatal(err)
	}
	h.rc.Release(&d)
	h.rc.Flush()
	return d, v
}

// send publishes d with payload, waiting (up to 10 s) for room in the
// ring and the arena as the engine takes and releases.
func (h *rawHost) send(d region.Descriptor, payload []byte) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.snd.Collect()
		err := h.snd.SendBytes(d, payload)
		switch {
		case err == nil:
			return
		case time.Now().After(deadline):
			h.t.Fatalf("no room to send %v in 10 s: %v", d, err)
		case errors.Is(err, region.ErrRingFull):
			h.snd.WaitSpace(100*time.Millisecond, nil)
		case errors.Is(err, region.ErrArenaFull):
			h.snd.WaitReleases(100*time.Millisecond, nil)
		default:
			h.t.Fatal(err)
		}
	}
}

func (h *rawHost) respond(req region.Descriptor, head *wire.ResponseHead, body []byte) {
	h.t.Helper()
	msg, err := wire.EncodeResponse(nil, head, body)
	if err != nil {
		h.t.Fatal(err)
	}
	h.send(region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Stream: req.Stream, Conn: req.Conn}, msg)
}

func checksum(b []byte) string { return fmt.Sprintf("%d %08x", len(b), crc32.ChecksumIEEE(b)) }

// A large upload streams as BODY pieces; a host that holds them gets no
// more than the window, and the client is held back meanwhile.
func TestBridgeStreamedUpload(t *testing.T) {
	const window = 8 // chunks of 4 KiB
	srv, b := setupWith(t, Options{BodyInline: 1024, BodyWindow: window * 4096})
	h := attachRaw(t, b, b.opts.Region.Dir)
	body := bytes.Repeat([]byte("streamed upload "), 2<<20/16) // 2 MiB
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+srv.Addr().String()+"/up", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			done <- result{err: err}
			return
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(got), nil}
	}()
	req, v := h.request()
	if v.Flags()&wire.ViewBodyStream == 0 || len(v.Body()) != 0 || v.ContentLength() != int64(len(body)) {
		t.Fatalf("view flags %#x, inline body %d, content length %d; want a streamed body", v.Flags(), len(v.Body()), v.ContentLength())
	}
	// Hold what comes: the engine must stop at the window.
	var held []region.Descriptor
	var got []byte
	for len(held) < window {
		d, p := h.next()
		if d.Kind != region.KindBody || d.Stream != req.Stream {
			t.Fatalf("got %v; want body pieces of stream %d", d, req.Stream)
		}
		held = append(held, d)
		got = append(got, p...)
	}
	time.Sleep(200 * time.Millisecond)
	if n, _ := h.rc.Poll(64); n != 0 || len(h.buf) != 0 {
		t.Fatalf("%d more descriptors while the host held the window", n+len(h.buf))
	}
	if len(done) != 0 {
		t.Fatal("the upload finished while the host held the window")
	}
	for i := range held {
		h.rc.Release(&held[i])
	}
	h.rc.Flush()
	for {
		d, p := h.next()
		if d.Kind == region.KindEnd {
			break
		}
		got = append(got, p...)
		h.rc.Release(&d)
		if d.Flags&region.FlagEnd != 0 {
			break
		}
	}
	h.rc.Flush()
	if !bytes.Equal(got, body) {
		t.Fatalf("host got %d bytes (%s); want %s", len(got), checksum(got), checksum(body))
	}
	h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: -1}, []byte(checksum(got)))
	r := <-done
	if r.err != nil || r.status != 200 || r.body != checksum(body) {
		t.Fatalf("client got %d %q, %v", r.status, r.body, r.err)
	}
	if st := b.Stats(); st.BodyIn != uint64(len(body)) {
		t.Errorf("BodyIn = %d; want %d", st.BodyIn, len(body))
	}
}

// A streamed response: head, pieces, end; the engine writes it chunked and
// gives every chunk back.
func TestBridgeStreamedDownload(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + srv.Addr().String() + "/down")
		if err != nil {
			done <- result{err: err}
			return
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp, got, err}
	}()
	req, _ := h.request()
	want := []byte("first:")
	h.respond(req, &wire.ResponseHead{Status: 201, Flags: wire.ResponseStream, Fields: []byte("X-Kind: stream\r\n"), ContentLength: -1}, want)
	for i := 0; i < 300; i++ {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*37%4096)
		want = append(want, p...)
		h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, p)
	}
	h.send(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
	r := <-done
	if r.err != nil || r.resp.StatusCode != 201 || r.resp.Header.Get("X-Kind") != "stream" ||
		len(r.resp.TransferEncoding) != 1 || !bytes.Equal(r.body, want) {
		t.Fatalf("client got %v (TE %v), %s, %v; want 201 chunked %s", r.resp.Status, r.resp.TransferEncoding,
			checksum(r.body), r.err, checksum(want))
	}
	bridgetest.WaitFor(t, "every host chunk back", func() bool {
		h.snd.Collect()
		_, _, lent := h.snd.Chunks()
		return lent == 0
	})
}

// sendExpectContinue connects and sends the head of a 5-byte PUT that
// waits for 100 Continue; the connection closes with the test.
func sendExpectContinue(t *testing.T, srv *engine.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "PUT /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	return c, bufio.NewReader(c)
}

// readContinueThenSend expects the interim 100 Continue, then sends body.
func readContinueThenSend(t *testing.T, c net.Conn, br *bufio.Reader, body string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, _ := br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q; want 100 Continue", line)
	}
	br.ReadString('\n')
	io.WriteString(c, body)
}

// Expect: 100-continue: the client is told to send only when the host asks.
func TestBridgeContinue(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	c, br := sendExpectContinue(t, srv)
	req, v := h.request()
	if v.Flags()&(wire.ViewExpectContinue|wire.ViewBodyStream) != wire.ViewExpectContinue|wire.ViewBodyStream {
		t.Fatalf("view flags %#x; want expect-continue and a streamed body", v.Flags())
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := br.Peek(1); err == nil {
		t.Fatal("the client heard back before the host asked for the body")
	}
	h.send(region.Descriptor{Kind: region.KindContinue, Stream: req.Stream, Conn: req.Conn}, nil)
	readContinueThenSend(t, c, br, "hello")
	var got []byte
	for {
		d, p := h.next()
		got = append(got, p...)
		h.rc.Release(&d)
		if d.Kind == region.KindEnd || d.Flags&region.FlagEnd != 0 {
			break
		}
	}
	h.rc.Flush()
	h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: -1}, got)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "hello" {
		t.Fatalf("got %q", body)
	}
}

// CANCEL HOST_ABORT: 500 before the response began, a cut connection after.
func TestBridgeHostAbort(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	errc := make(chan error, 1)
	go func() {
		status, body, _ := get(t, srv, "/abort")
		if status != 500 || !strings.Contains(body, "application failed") {
			errc <- fmt.Errorf("before the response: got %d %q; want 500", status, body)
		}
		errc <- nil
	}()
	req, _ := h.request()
	h.send(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelHostAbort, Stream: req.Stream, Conn: req.Conn}, nil)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	go func() {
		resp, err := http.Get("http://" + srv.Addr().String() + "/abort")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	req, _ = h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: 100}, []byte("part of it"))
	h.send(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelHostAbort, Stream: req.Stream, Conn: req.Conn}, nil)
	if err := <-errc; err == nil {
		t.Fatal("the client read a whole response the host abandoned")
	}
	if st := b.Stats(); st.Aborted != 2 {
		t.Errorf("Aborted = %d; want 2", st.Aborted)
	}
}

// A live host that does not take requests off the ring: 503 after
// TakeTimeout, and the engine keeps serving.
func TestBridgeTakeTimeout(t *testing.T) {
	srv, b := setupWith(t, Options{TakeTimeout: 300 * time.Millisecond})
	attachRaw(t, b, b.opts.Region.Dir) // attached, never reads
	start := time.Now()
	status, body, _ := get(t, srv, "/stuck")
	if status != 503 || !strings.Contains(body, "did not take") {
		t.Fatalf("got %d %q; want 503", status, body)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("answered after %v; want about 300 ms", d)
	}
	if st := b.Stats(); st.NoHost != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v; want 1 no-host, 0 in flight", st)
	}
	if l := b.Lanes()[0]; l.Queued != 1 || l.Published != 1 || l.Chunks != 256 || l.ChunksLent != 1 {
		t.Errorf("lane %+v; want the request still queued on the ring, its chunk lent", l)
	}
}

// A host that dies while streaming a response: the client's connection is
// cut, not left hanging.
func TestBridgeHostDiesMidStream(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	errc := make(chan error, 1)
	headRead := make(chan struct{})
	go func() {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + srv.Addr().String() + "/dies")
		close(headRead)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	req, _ := h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1}, []byte("begun"))
	<-headRead  // the response has begun
	h.r.Close() // detaches: the engine fails its streams
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client: %v; want a cut connection", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client still waits 5 s after its host left")
	}
}

// A host that writes descriptors pointing outside its arena: the streams
// they name get 502, and the engine serves on (also through that host).
func TestBridgeOutOfRangeDescriptors502(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	// Our own mapping of the region, to write ring 1 behind the
	// Sender's back, as a buggy host written in any language could.
	f, err := os.OpenFile(h.r.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	mem, err := mmap.Map(f, mmap.RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Unmap()
	layout, err := region.ParseHeader(mem, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	ring := layout.Rings[1]
	raw, err := ringbuf.NewProducer(mem[ring.Offset : ring.Offset+ring.Size])
	if err != nil {
		t.Fatal(err)
	}
	arena := layout.Arenas[1]
	bad := []func(d *region.Descriptor){
		func(d *region.Descriptor) { d.Offset = uint32(arena.Size) },                   // past the arena
		func(d *region.Descriptor) { d.Length = uint32(arena.Geometry.ChunkSize) + 1 }, // past the chunk
		func(d *region.Descriptor) { d.Offset, d.Length = 0xFFFFFFF0, 0x20 },           // wraps
	}
	for i, corrupt := range bad {
		errc := make(chan error, 1)
		go func() {
			status, _, _ := get(t, srv, "/bad")
			if status != 502 {
				errc <- fmt.Errorf("case %d: got %d; want 502", i, status)
			}
			errc <- nil
		}()
		req, _ := h.request()
		d := region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Epoch: h.snd.Epoch(),
			Stream: req.Stream, Conn: req.Conn, Offset: 0, Length: 16, Gen: 1}
		corrupt(&d)
		if n, _ := raw.Reserve(1); n != 1 {
			t.Fatal("ring 1 full")
		}
		d.Encode(raw.Slot(0))
		raw.Commit(1)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.Invalid < uint64(len(bad)) || st.Failed < uint64(len(bad)) {
		t.Errorf("stats %+v; want the bad descriptors counted", st)
	}
	// The engine still serves through that host: an honest answer (in
	// a chunk of its arena, published the same raw way) goes through.
	go func() {
		req, _ := h.request()
		msg, _ := wire.EncodeResponse(nil, &wire.ResponseHead{Status: 200, ContentLength: -1}, []byte("fine"))
		c, _ := h.snd.Alloc()
		n := copy(c.Buf, msg)
		d := region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Epoch: h.snd.Epoch(),
			Stream: req.Stream, Conn: req.Conn, Offset: c.Offset, Length: uint32(n), Gen: c.Gen}
		raw.Reserve(1)
		d.Encode(raw.Slot(0))
		raw.Commit(1)
	}()
	if status, body, _ := get(t, srv, "/good"); status != 200 || body != "fine" {
		t.Fatalf("after bad descriptors: %d %q", status, body)
	}
}

// A host may begin a streamed response before it asks for the body of an
// Expect: 100-continue request (an echo that sends its head first).
func TestBridgeContinueAfterStreamedHead(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	c, br := sendExpectContinue(t, srv)
	req, _ := h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1}, nil)
	h.send(region.Descriptor{Kind: region.KindContinue, Stream: req.Stream, Conn: req.Conn}, nil)
	readContinueThenSend(t, c, br, "hello")
	for {
		d, p := h.next()
		if len(p) > 0 {
			h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, append([]byte(nil), p...))
		}
		h.rc.Release(&d)
		if d.Kind == region.KindEnd || d.Flags&region.FlagEnd != 0 {
			break
		}
	}
	h.rc.Flush()
	h.send(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "hello" {
		t.Fatalf("echo %q", body)
	}
}
