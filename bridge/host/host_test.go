package host

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// fakeEngine is side 0 of a one-lane region, driven by the test: it sends
// request views and cancels and reads the host's responses.
type fakeEngine struct {
	t *testing.T
	r *region.Region
}

func newFakeEngine(t *testing.T) (*fakeEngine, *Host) {
	t.Helper()
	return newFakeEngineWith(t, 0)
}

// newFakeEngineWith is newFakeEngine with the liveness bound given (0:
// the default), which sets how long one doorbell sleep lasts (a tenth).
func newFakeEngineWith(t *testing.T, peerTimeout time.Duration) (*fakeEngine, *Host) {
	t.Helper()
	dir := t.TempDir()
	r, err := region.Create(region.Options{Dir: dir, ChunkSize: 4096, Chunks: 64, DataSlots: 256, PeerTimeout: peerTimeout})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Attach(r.Name(), region.Options{Dir: dir, PeerTimeout: peerTimeout})
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { h.r.Close(); r.Close() })
	// A host announces itself with a NOP on stream 0 (haywire_bridge.h).
	rc := r.Receiver()
	rc.Wait(5*time.Second, nil)
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("the host sent nothing on attaching; want a NOP")
	}
	if d, err := rc.Get(0); err != nil || d.Kind != region.KindNop || d.Stream != 0 {
		t.Fatalf("the host's first descriptor = %v, %v; want a NOP on stream 0", d, err)
	}
	rc.Consume(1)
	return &fakeEngine{t, r}, h
}

func (e *fakeEngine) sendRequest(id uint64, body []byte) {
	e.t.Helper()
	v := bridgetest.SampleView()
	v.RequestID, v.Body, v.ContentLength = id, body, int64(len(body))
	d := region.Descriptor{Kind: region.KindRequest, Flags: region.FlagEnd, Stream: id, Conn: 7}
	if err := e.r.Sender().SendBytes(d, bridgetest.EncView(v)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fakeEngine) sendCancel(id uint64, aux uint16) {
	e.t.Helper()
	if ok, err := e.r.Sender().Send(&region.Descriptor{Kind: region.KindCancel, Stream: id, Aux: aux}); !ok || err != nil {
		e.t.Fatalf("sending a cancel: %v %v", ok, err)
	}
}

// lent returns how many of the engine's chunks the host holds.
func (e *fakeEngine) lent() int {
	e.r.Sender().Collect()
	_, _, lent := e.r.Sender().Chunks()
	return lent
}

// responses reads the response messages the host sent within d, by stream.
func (e *fakeEngine) responses(d time.Duration) map[uint64][]byte {
	got := map[uint64][]byte{}
	for _, m := range e.collect(d, true) {
		got[m.d.Stream] = append(got[m.d.Stream], m.payload...)
	}
	return got
}

func TestHostNextTimesOut(t *testing.T) {
	_, h := newFakeEngine(t)
	for _, timeout := range []time.Duration{0, 30 * time.Millisecond} {
		start := time.Now()
		req, err := h.Next(timeout)
		if req != nil || !errors.Is(err, region.ErrTimeout) {
			t.Fatalf("Next(%v) without a request = %v, %v; want region.ErrTimeout", timeout, req, err)
		}
		if d := time.Since(start); d < timeout || d > timeout+time.Second {
			t.Fatalf("Next(%v) returned after %v", timeout, d)
		}
	}
}

// A view in one chunk is read in place and its chunk goes back when the
// request is ended; a view over several chunks is copied (through the
// allocator) and its chunks go back at once.
func TestHostViewsInPlaceAndCopied(t *testing.T) {
	e, h := newFakeEngine(t)
	var allocs, frees atomic.Int32
	h.SetAllocator(func(n int) []byte { allocs.Add(1); return make([]byte, n) }, func([]byte) { frees.Add(1) })

	e.sendRequest(1, []byte("small"))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16 kB: five chunks
	e.sendRequest(2, big)
	small, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	large, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(small.View().Body()) != "small" || small.chunk.Length == 0 || small.buf != nil {
		t.Fatalf("small view: body %q, in place %v; want \"small\" in place", small.View().Body(), small.chunk.Length > 0)
	}
	if !bytes.Equal(large.View().Body(), big) || large.buf == nil || allocs.Load() != 1 {
		t.Fatalf("large view: body equal %v, copied %v, allocs %d; want a copy from one allocation",
			bytes.Equal(large.View().Body(), big), large.buf != nil, allocs.Load())
	}
	if n := e.lent(); n != 1 {
		t.Fatalf("the host holds %d engine chunks; want 1 (the small view, in place)", n)
	}
	if h.InFlight() != 2 || h.Request(1) != small || h.Request(2) != large || h.Request(3) != nil {
		t.Fatalf("InFlight %d, Request(1..3) wrong", h.InFlight())
	}
	if err := h.Close(); !errors.Is(err, ErrInFlight) {
		t.Fatalf("Close with requests out = %v; want ErrInFlight", err)
	}
	if err := large.Respond(&wire.ResponseHead{Status: 200, ContentLength: 2}, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if err := large.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil); !errors.Is(err, ErrEnded) {
		t.Fatalf("second Respond = %v; want ErrEnded", err)
	}
	if frees.Load() != 1 {
		t.Fatalf("frees = %d after the copied request ended; want 1", frees.Load())
	}
	if err := small.Respond(&wire.ResponseHead{Status: 201, ContentLength: -1}, []byte("made")); err != nil {
		t.Fatal(err)
	}
	// Next gives the chunk back.
	if _, err := h.Next(0); !errors.Is(err, region.ErrTimeout) {
		t.Fatal(err)
	}
	if n := e.lent(); n != 0 {
		t.Fatalf("the host holds %d engine chunks after ending everything; want 0", n)
	}
	got := e.responses(100 * time.Millisecond)
	for id, want := range map[uint64]string{1: "made", 2: "ok"} {
		_, body, err := wire.DecodeResponse(got[id])
		if err != nil || string(body) != want {
			t.Errorf("response to %d = %q, %v; want body %q", id, body, err, want)
		}
	}
}

// expectDrained waits for a Next running in another goroutine, whose error
// comes on done, to return ErrDrained after the drain notice.
func expectDrained(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, ErrDrained) {
			t.Fatalf("Next after the drain notice = %v; want ErrDrained", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after the drain notice")
	}
}

// Cancel: a request handed out is marked and its Done closed; one not
// handed out yet comes out marked. Both are still answered: the engine
// holds every request until its response comes (and a client that only
// half-closed still reads it).
func TestHostCancel(t *testing.T) {
	e, h := newFakeEngine(t)
	e.sendRequest(1, nil)
	req, err := h.Next(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done := req.Done()
	if req.Cancelled() {
		t.Fatal("cancelled before any cancel")
	}
	e.sendCancel(1, wire.CancelClientGone)
	e.sendCancel(99, wire.CancelClientGone) // unknown stream: ignored
	h.Next(10 * time.Millisecond)           // reads the cancels
	select {
	case <-done:
	default:
		t.Fatal("Done not closed after the cancel")
	}
	if !req.Cancelled() {
		t.Fatal("Cancelled() = false after the cancel")
	}
	if err := req.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, []byte("late")); err != nil {
		t.Fatal(err)
	}

	e.sendRequest(2, nil)
	e.sendCancel(2, wire.CancelClientGone)
	next, err := h.Next(time.Second)
	if err != nil || next.ID() != 2 || !next.Cancelled() {
		t.Fatalf("Next after a request and its cancel = %v, %v; want request 2, cancelled", next, err)
	}
	select {
	case <-next.Done():
	default:
		t.Fatal("Done of a request cancelled before Next returned it is not closed")
	}
	next.Respond(&wire.ResponseHead{Status: 200, ContentLength: -1}, nil)
	h.Next(0)
	if n := e.lent(); n != 0 {
		t.Fatalf("the host holds %d engine chunks; want 0", n)
	}
	if got := e.responses(50 * time.Millisecond); len(got) != 2 || got[1] == nil || got[2] == nil {
		t.Fatalf("responses for streams %v; want 1 and 2", keys(got))
	}
}

func keys(m map[uint64][]byte) []uint64 {
	var ks []uint64
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// A view that does not decode is answered 500 by the host itself.
func TestHostAnswersUndecodableView500(t *testing.T) {
	e, h := newFakeEngine(t)
	d := region.Descriptor{Kind: region.KindRequest, Flags: region.FlagEnd, Stream: 5, Conn: 1}
	if err := e.r.Sender().SendBytes(d, []byte("not a view")); err != nil {
		t.Fatal(err)
	}
	if req, err := h.Next(20 * time.Millisecond); !errors.Is(err, region.ErrTimeout) {
		t.Fatalf("Next with a bad view = %v, %v; want nothing handed out", req, err)
	}
	head, body, err := wire.DecodeResponse(e.responses(50 * time.Millisecond)[5])
	if err != nil || head.Status != 500 || !strings.Contains(string(body), "malformed request view") {
		t.Fatalf("answer to a bad view = %d %q %v; want 500 naming the problem", head.Status, body, err)
	}
}

// An allocator out of memory: the request is answered 503, nothing leaks.
func TestHostAllocatorFailure503(t *testing.T) {
	e, h := newFakeEngine(t)
	h.SetAllocator(func(int) []byte { return nil }, nil)
	e.sendRequest(9, bytes.Repeat([]byte("x"), 10000))
	if req, err := h.Next(20 * time.Millisecond); !errors.Is(err, region.ErrTimeout) {
		t.Fatalf("Next = %v, %v; want nothing handed out", req, err)
	}
	head, _, err := wire.DecodeResponse(e.responses(50 * time.Millisecond)[9])
	if err != nil || head.Status != 503 {
		t.Fatalf("answer without memory = %d, %v; want 503", head.Status, err)
	}
	if n := e.lent(); n != 0 {
		t.Fatalf("the host holds %d engine chunks; want 0", n)
	}
}
