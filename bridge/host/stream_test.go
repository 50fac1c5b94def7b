package host

import (
	"bytes"
	"errors"
	"hash/fnv"
	"io"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// Host side of streamed bodies against a fake engine (host_test.go): the
// test plays the engine's part descriptor by descriptor, so each rule of
// include/haywire_bridge.h section 1 that the host keeps is seen alone.

// sendStreamedRequest sends a view flagged ViewBodyStream (plus flags)
// whose inline part is inline.
func (e *fakeEngine) sendStreamedRequest(id uint64, flags uint16, inline []byte) {
	e.t.Helper()
	v := bridgetest.SampleView()
	v.RequestID, v.Body, v.ContentLength = id, inline, -1
	v.Flags |= wire.ViewBodyStream | wire.ViewChunked | flags
	d := region.Descriptor{Kind: region.KindRequest, Flags: region.FlagEnd, Stream: id, Conn: 7}
	if err := e.r.Sender().SendBytes(d, bridgetest.EncView(v)); err != nil {
		e.t.Fatal(err)
	}
}

// sendBody sends p as one BODY piece (p fits a chunk).
func (e *fakeEngine) sendBody(id uint64, p []byte, flags region.Flags) {
	e.t.Helper()
	if err := e.r.Sender().SendBytes(region.Descriptor{Kind: region.KindBody, Flags: flags, Stream: id, Conn: 7}, p); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fakeEngine) sendEnd(id uint64) {
	e.t.Helper()
	if ok, err := e.r.Sender().Send(&region.Descriptor{Kind: region.KindEnd, Stream: id, Conn: 7}); !ok || err != nil {
		e.t.Fatalf("sending END: %v %v", ok, err)
	}
}

// hostMsg is one descriptor the host sent, with a copy of its payload.
type hostMsg struct {
	d       region.Descriptor
	payload []byte
}

// collect reads what the host sent within d; release says whether the
// payload chunks go back at once (as an engine that wrote them does).
func (e *fakeEngine) collect(d time.Duration, release bool) []hostMsg {
	var got []hostMsg
	rc := e.r.Receiver()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		rc.Wait(time.Until(deadline), nil)
		n, _ := rc.Poll(64)
		for i := 0; i < n; i++ {
			d, err := rc.Get(i)
			if err != nil {
				e.t.Fatal(err)
			}
			got = append(got, hostMsg{d, append([]byte(nil), rc.Payload(&d)...)})
			if release {
				rc.Release(&d)
			}
		}
		rc.Consume(n)
	}
	return got
}

// readAll reads a request body with ReadBody in small steps.
func readAll(r *Request, timeout time.Duration) ([]byte, error) {
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := r.ReadBody(buf, timeout)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// The inline part, then BODY pieces, then END: read in order, each piece
// released once read (not at the end), by a reader that drives the ring
// itself while nobody calls Next.
func TestHostReadsStreamedBody(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendStreamedRequest(1, 0, []byte("inline-"))
	req, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e.lent() != 1 {
		t.Fatalf("the host holds %d engine chunks with the view only; want 1", e.lent())
	}
	var want []byte
	want = append(want, "inline-"...)
	for i := range 3 {
		piece := bytes.Repeat([]byte{byte('a' + i)}, 3000)
		want = append(want, piece...)
		e.sendBody(1, piece, 0)
	}
	buf := make([]byte, 7)
	if n, err := req.ReadBody(buf, time.Second); n != 7 || err != nil || string(buf) != "inline-" {
		t.Fatalf("first ReadBody = %d %q %v; want the inline part", n, buf[:n], err)
	}
	// Read the first piece to its end: its chunk goes back at once.
	first := make([]byte, 3000)
	if n, err := io.ReadFull(req.Body(), first); n != 3000 || err != nil {
		t.Fatalf("reading the first piece = %d, %v", n, err)
	}
	if n := e.lent(); n != 3 { // the view's chunk and the two unread pieces
		t.Fatalf("the host holds %d engine chunks after reading one piece of three; want 3", n)
	}
	done := make(chan []byte)
	go func() {
		rest, err := readAll(req, 5*time.Second)
		if err != io.EOF {
			t.Errorf("reading to the end: %v; want io.EOF", err)
		}
		done <- rest
	}()
	waitAsleep(t, h) // the reader waits for END, driving the ring
	e.sendBody(1, []byte("tail"), 0)
	e.sendEnd(1)
	rest := <-done
	got := append(append([]byte("inline-"), first...), rest...)
	want = append(want, "tail"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("body = %d bytes, equal %v; want %d bytes", len(got), bytes.Equal(got, want), len(want))
	}
	if n, err := req.ReadBody(buf, 0); n != 0 || err != io.EOF {
		t.Fatalf("ReadBody after the end = %d, %v; want io.EOF", n, err)
	}
	if n := e.lent(); n != 1 {
		t.Fatalf("the host holds %d engine chunks after reading the body; want 1 (the view)", n)
	}
	req.Respond(&wire.ResponseHead{Status: 204, ContentLength: -1}, nil)
	if n := e.lent(); n != 0 {
		t.Fatalf("the host holds %d engine chunks after the response; want 0", n)
	}
	if _, err := req.ReadBody(buf, 0); !errors.Is(err, ErrEnded) {
		t.Fatalf("ReadBody after the response = %v; want ErrEnded", err)
	}
}

// A body read on one goroutine while Next waits on another: Next drives
// the ring and feeds the reader; a BODY flagged END ends the body; a
// timeout with nothing to read is region.ErrTimeout.
func TestHostBodyReadWhileNextWaits(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendStreamedRequest(1, 0, nil)
	req, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nextDone := make(chan error, 1)
	go func() {
		_, err := h.Next(-1) // drives the ring until the drain notice
		nextDone <- err
	}()
	waitAsleep(t, h)
	buf := make([]byte, 100)
	start := time.Now()
	if n, err := req.ReadBody(buf, 30*time.Millisecond); n != 0 || !errors.Is(err, region.ErrTimeout) {
		t.Fatalf("ReadBody with nothing sent = %d, %v; want region.ErrTimeout", n, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > time.Second {
		t.Fatalf("ReadBody(30 ms) returned after %v", d)
	}
	sum := fnv.New64a()
	var want []byte
	for i := range 40 {
		piece := bytes.Repeat([]byte{byte(i)}, 1+i*97)
		want = append(want, piece...)
		flags := region.Flags(0)
		if i == 39 {
			flags = region.FlagEnd
		}
		e.sendBody(1, piece, flags)
		if i%8 == 7 {
			for {
				n, err := req.ReadBody(buf, time.Second)
				sum.Write(buf[:n])
				if err != nil {
					t.Fatalf("reading while Next waits: %v", err)
				}
				if e.lent() <= 1 {
					break
				}
			}
		}
	}
	rest, err := readAll(req, time.Second)
	sum.Write(rest)
	wantSum := fnv.New64a()
	wantSum.Write(want)
	if err != io.EOF || sum.Sum64() != wantSum.Sum64() {
		t.Fatalf("body read = %v, checksum %x; want io.EOF, %x", err, sum.Sum64(), wantSum.Sum64())
	}
	req.Respond(&wire.ResponseHead{Status: 204, ContentLength: -1}, nil)
	e.sendCancel(0, wire.CancelDrain)
	expectDrained(t, nextDone)
}

// Expect: 100-continue: the first read sends CONTINUE on the stream, once;
// a request answered without reading sends none.
func TestHostContinueOnFirstRead(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendStreamedRequest(1, wire.ViewExpectContinue, nil)
	e.sendStreamedRequest(2, wire.ViewExpectContinue, nil)
	r1, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.collect(30*time.Millisecond, true); len(got) != 0 {
		t.Fatalf("the host sent %d descriptors before any read; want none", len(got))
	}
	buf := make([]byte, 10)
	if _, err := r1.ReadBody(buf, 0); !errors.Is(err, region.ErrTimeout) {
		t.Fatalf("first ReadBody = %v; want a timeout (no body yet)", err)
	}
	r1.ReadBody(buf, 0)
	got := e.collect(30*time.Millisecond, true)
	if len(got) != 1 || got[0].d.Kind != region.KindContinue || got[0].d.Stream != 1 || got[0].d.Conn != 7 {
		t.Fatalf("after two reads the host sent %v; want one CONTINUE on stream 1", got)
	}
	e.sendBody(1, []byte("hello"), region.FlagEnd)
	if body, err := readAll(r1, time.Second); string(body) != "hello" || err != io.EOF {
		t.Fatalf("body = %q, %v", body, err)
	}
	r1.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil)
	r2.Respond(&wire.ResponseHead{Status: 417, ContentLength: -1}, nil)
	for _, m := range e.collect(30*time.Millisecond, true) {
		if m.d.Kind == region.KindContinue {
			t.Fatalf("CONTINUE sent for stream %d; want none for a request answered unread", m.d.Stream)
		}
	}
}

// CANCEL before END fails the read once the bytes received are read;
// pieces of streams answered or unknown go back to the engine unread.
func TestHostBodyCancelledAndStrayPieces(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendStreamedRequest(1, 0, nil)
	e.sendStreamedRequest(2, 0, nil)
	r1, _ := h.Next(time.Second)
	r2, _ := h.Next(time.Second)
	if r1 == nil || r2 == nil {
		t.Fatal("Next did not hand out both requests")
	}
	e.sendBody(1, []byte("partial"), 0)
	e.sendCancel(1, wire.CancelClientGone)
	body, err := readAll(r1, time.Second)
	if string(body) != "partial" || !errors.Is(err, ErrCancelled) || !r1.Cancelled() {
		t.Fatalf("read after a cancel = %q, %v, cancelled %v; want \"partial\", ErrCancelled", body, err, r1.Cancelled())
	}
	r1.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil)

	r2.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil) // answered with its body unread
	e.sendBody(2, []byte("late"), 0)
	e.sendBody(99, []byte("unknown"), region.FlagEnd)
	e.sendEnd(2)
	h.Next(20 * time.Millisecond)
	if n := e.lent(); n != 0 {
		t.Fatalf("the host holds %d engine chunks; want 0 (stray pieces released)", n)
	}
}

// A piece left unread when the request is answered goes back then.
func TestHostAnswerReleasesUnreadPieces(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendStreamedRequest(1, 0, nil)
	req, _ := h.Next(time.Second)
	e.sendBody(1, []byte("one"), 0)
	e.sendBody(1, []byte("two"), 0)
	buf := make([]byte, 2)
	if n, err := req.ReadBody(buf, time.Second); n != 2 || err != nil {
		t.Fatalf("ReadBody = %d, %v", n, err)
	}
	h.Next(10 * time.Millisecond) // takes the second piece too
	if n := e.lent(); n != 3 {
		t.Fatalf("the host holds %d engine chunks; want 3", n)
	}
	req.Respond(&wire.ResponseHead{Status: 413, ContentLength: -1}, nil)
	if n := e.lent(); n != 0 {
		t.Fatalf("the host holds %d engine chunks after answering; want 0", n)
	}
}

// A streamed response: the head flagged ResponseStream, BODY pieces of at
// most a chunk, END. The writer stops at streamChunks pieces the engine
// has not released, and goes on as the engine releases them, whatever
// stream the releases claim (the host keeps its own accounts).
func TestHostStreamedResponseBackpressure(t *testing.T) {
	e, h := newFakeEngine(t) // 4 kB chunks, 64 per arena
	e.sendRequest(1, nil)
	req, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.WriteBody([]byte("x")); !errors.Is(err, ErrNotStreaming) {
		t.Fatalf("WriteBody before StartResponse = %v; want ErrNotStreaming", err)
	}
	body := make([]byte, 20*4096+100)
	for i := range body {
		body[i] = byte(i*131 + 7)
	}
	if err := req.StartResponse(&wire.ResponseHead{Status: 200, Fields: []byte("X-A: b\r\n"), ContentLength: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if err := req.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil); !errors.Is(err, ErrStreaming) {
		t.Fatalf("Respond after StartResponse = %v; want ErrStreaming", err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := req.WriteBody(body)
		wrote <- err
	}()
	// Hold everything: the writer stops at streamChunks pieces.
	got := e.collect(50*time.Millisecond, false)
	if len(got) != 1+streamChunks {
		t.Fatalf("the host sent %d descriptors while the engine released nothing; want the head and %d pieces",
			len(got), streamChunks)
	}
	head, first, err := wire.DecodeResponse(got[0].payload)
	if err != nil || head.Flags != wire.ResponseStream || head.ContentLength != int64(len(body)) || len(first) != 0 ||
		string(head.Fields) != "X-A: b\r\n" {
		t.Fatalf("head = %+v, %d bytes, %v; want flagged wire.ResponseStream, Content-Length %d", head, len(first), err, len(body))
	}
	select {
	case err := <-wrote:
		t.Fatalf("WriteBody returned (%v) with %d pieces unreleased", err, streamChunks)
	default:
	}
	// Release them claiming another stream: the accounts do not care.
	rc := e.r.Receiver()
	rc.Release(&got[0].d)
	var received []byte
	for _, m := range got[1:] {
		if m.d.Kind != region.KindBody || m.d.Stream != 1 || m.d.Length > 4096 {
			t.Fatalf("piece %+v; want BODY on stream 1 of at most a chunk", m.d)
		}
		received = append(received, m.payload...)
		forged := m.d
		forged.Stream = 12345
		rc.Release(&forged)
	}
	rc.Flush()
	for _, m := range e.collect(300*time.Millisecond, true) {
		received = append(received, m.payload...)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(received, body) {
		t.Fatalf("received %d bytes, equal %v; want the %d written", len(received), bytes.Equal(received, body), len(body))
	}
	if err := req.EndResponse(); err != nil {
		t.Fatal(err)
	}
	end := e.collect(30*time.Millisecond, true)
	if len(end) != 1 || end[0].d.Kind != region.KindEnd || end[0].d.Stream != 1 {
		t.Fatalf("after EndResponse the host sent %v; want END on stream 1", end)
	}
	if err := req.EndResponse(); !errors.Is(err, ErrEnded) {
		t.Fatalf("second EndResponse = %v; want ErrEnded", err)
	}
	h.sendMu.Lock()
	h.r.Sender().Collect()
	_, _, lent := h.r.Sender().Chunks()
	h.sendMu.Unlock()
	if lent != 0 {
		t.Fatalf("%d host chunks still lent; want 0", lent)
	}
}

// Content-Length is kept: a write past it fails and sends nothing; an end
// short of it aborts. Abort before any response sends HOST_ABORT.
func TestHostStreamedResponseLengthAndAbort(t *testing.T) {
	e, h := newFakeEngine(t)
	for id := uint64(1); id <= 3; id++ {
		e.sendRequest(id, nil)
	}
	var reqs []*Request
	for range 3 {
		r, err := h.Next(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	if err := reqs[0].StartResponse(&wire.ResponseHead{Status: 200, ContentLength: 5}); err != nil {
		t.Fatal(err)
	}
	if n, err := reqs[0].WriteBody([]byte("123456")); n != 0 || !errors.Is(err, ErrBodyTooLong) {
		t.Fatalf("WriteBody past Content-Length = %d, %v; want 0, ErrBodyTooLong", n, err)
	}
	reqs[0].WriteBody([]byte("123"))
	if err := reqs[0].EndResponse(); !errors.Is(err, ErrBodyTooShort) {
		t.Fatalf("EndResponse 2 bytes short = %v; want ErrBodyTooShort", err)
	}
	if err := reqs[1].Abort(); err != nil {
		t.Fatal(err)
	}
	if err := reqs[2].StartResponse(&wire.ResponseHead{Status: 200, ContentLength: -2}); err == nil {
		t.Fatal("StartResponse with Content-Length -2 succeeded")
	}
	if err := reqs[2].StartResponse(&wire.ResponseHead{Status: 200, ContentLength: -1}); err != nil {
		t.Fatalf("StartResponse after a refused one = %v; want the request still open", err)
	}
	reqs[2].WriteBody([]byte("any length"))
	if err := reqs[2].EndResponse(); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range e.collect(50*time.Millisecond, true) {
		k := m.d.Kind.String()
		if m.d.Kind == region.KindCancel {
			if m.d.Aux != wire.CancelHostAbort {
				t.Fatalf("CANCEL with aux %d; want wire.CancelHostAbort", m.d.Aux)
			}
			k = "abort"
		}
		kinds = append(kinds, k+string(rune('0'+m.d.Stream)))
	}
	want := "[response1 body1 abort1 abort2 response3 body3 end3]"
	if got := fmtList(kinds); got != want {
		t.Fatalf("the host sent %s; want %s", got, want)
	}
	if h.InFlight() != 0 {
		t.Fatalf("InFlight = %d; want 0", h.InFlight())
	}
}

func fmtList(s []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	b.WriteByte(']')
	return b.String()
}

// A streaming writer blocked on a slow engine fails, rather than hangs,
// when the engine goes away.
func TestHostStreamWriterFailsWhenEngineGoes(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendRequest(1, nil)
	req, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req.StartResponse(&wire.ResponseHead{Status: 200, ContentLength: -1})
	wrote := make(chan error, 1)
	go func() {
		_, err := req.WriteBody(make([]byte, 64<<10))
		wrote <- err
	}()
	e.collect(30*time.Millisecond, false)
	e.r.Close()
	select {
	case err := <-wrote:
		if !errors.Is(err, region.ErrPeerGone) && !errors.Is(err, region.ErrPeerDead) {
			t.Fatalf("WriteBody after the engine closed = %v; want region.ErrPeerGone", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteBody still blocked 5 s after the engine closed the region")
	}
	req.Abort()
}
