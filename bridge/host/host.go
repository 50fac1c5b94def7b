package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// Handler serves one request on a host. The view and its bytes are
// valid until the handler returns; w is sent when it returns.
type Handler func(req wire.View, w *ResponseWriter)

// Host is the host side: attached to one lane of an engine's region, it
// hands out the engine's requests and sends the responses back. Pull them
// one at a time with Next and answer each with Request.Respond or
// Send (whole responses) or StartResponse, WriteBody and EndResponse
// (streamed), or let Serve run a handler for each.
//
// Requests are read in place: a request view that fits in one chunk of
// the engine's arena stays there, and its chunk goes back to the engine
// when the request is ended. A view spread over several chunks is copied
// into memory from the host's allocator (SetAllocator) and its chunks go
// back at once. A streamed request body (ViewBodyStream) is read with
// Request.Body or ReadBody; each piece goes back to the engine as soon
// as it has been read, which is what lets the engine read more from the
// client.
//
// Driving the region: descriptors from the engine (requests, body pieces,
// cancels) are taken by whichever goroutine needs one and finds no other
// doing it: Next, or a body read with nothing to read. While one goroutine
// waits in Next, body reads on others are fed by it; with no Next running,
// a body read takes the ring itself (a single-threaded host can read a
// body between two Next calls). Requests it meets on the way are queued
// for Next. Only a host that calls neither leaves the ring unread: keep
// calling Next while requests are out, to learn of cancellations.
//
// Concurrency: Next and Serve from one goroutine at a time; a Request
// from any goroutine, one at a time per request (its body may be read on
// one goroutine while another answers it); Cancelled, Done, Request,
// InFlight and Region from any goroutine. Close must not overlap Next.
type Host struct {
	r *region.Region

	// pump holds a token while no goroutine drives the Receiver: taking
	// it is the right to Poll, take and Wait on the engine's data ring.
	pump chan struct{}

	// Owned by the goroutine holding the pump token.
	parts       []byte // the parts of a view spread over several chunks, so far
	inParts     bool   // parts holds the start of a view
	partsFailed bool   // the allocator failed: skip the view's parts, answer 503
	alloc       func(n int) []byte
	free        func(b []byte)

	mu        sync.Mutex          // guards the fields below and the body state of requests
	queue     []*Request          // decoded, in ring order, not yet returned by Next
	live      map[uint64]*Request // decoded and not ended: queued or handed out
	out       int                 // handed out by Next and not ended
	draining  bool                // the engine sent the drain notice
	stop      chan struct{}       // non-nil while the pump holder sleeps; closed to make it re-check
	nextReady chan struct{}       // 1-buffered: a request was queued or the drain completed

	// sendMu serialises the region's Sender and guards the fields below.
	sendMu      sync.Mutex
	chunkStream []uint64            // by chunk index: the stream a lent BODY chunk belongs to, 0 if none
	streams     map[uint64]*Request // streamed responses not ended, by stream
	returned    chan struct{}       // made by a writer about to wait; closed when Collect takes chunks back
	collected   bool                // Collect took chunks back since sendMu was locked

	// collector holds a token while nobody sleeps on the release doorbell
	// (the doorbell has one sleeper); the sleeper holds no sendMu.
	collector         chan struct{}
	collectorSleeping atomic.Bool
}

// Attach attaches to a free lane of the region an engine created, by the
// name the engine printed.
func Attach(name string, opts region.Options) (*Host, error) {
	r, err := region.OpenAnyLane(name, opts)
	if err != nil {
		return nil, err
	}
	g := r.Sender().ArenaGeometry()
	h := &Host{r: r, live: map[uint64]*Request{}, alloc: goAlloc,
		pump: make(chan struct{}, 1), nextReady: make(chan struct{}, 1), collector: make(chan struct{}, 1),
		chunkStream: make([]uint64, g.Chunks), streams: map[uint64]*Request{}}
	h.pump <- struct{}{}
	h.collector <- struct{}{}
	r.Sender().OnReturn = h.chunkReturned
	// Wake the engine: it routes to us at once, not at its next look.
	r.Sender().Send(&region.Descriptor{Kind: region.KindNop})
	return h, nil
}

func goAlloc(n int) []byte { return make([]byte, n) }

// Region returns the host's attachment.
func (h *Host) Region() *region.Region { return h.r }

// SetAllocator sets where views spread over several chunks are copied:
// alloc returns n bytes (len n; shorter or nil when out of memory: the
// request is then answered 503), free takes back a slice alloc returned
// (the whole of it, as returned) once its request is ended. The default
// allocates Go memory and leaves it to the collector. Call it before the
// first Next; it lets a C host keep such views out of Go memory.
func (h *Host) SetAllocator(alloc func(n int) []byte, free func(b []byte)) {
	if alloc == nil {
		alloc, free = goAlloc, nil
	}
	h.alloc, h.free = alloc, free
}

// Close detaches from the region. It fails with ErrInFlight, detaching
// nothing, while requests Next handed out are not ended; requests
// received but not handed out yet are dropped (the engine answers them
// 502 when it sees the host gone).
func (h *Host) Close() error {
	h.mu.Lock()
	out := h.out
	queue := h.queue
	if out == 0 {
		h.queue = nil
	}
	h.mu.Unlock()
	if out > 0 {
		return fmt.Errorf("%w: %d requests handed out and not ended; end them first", ErrInFlight, out)
	}
	for _, req := range queue {
		h.freeBuf(req)
	}
	if h.inParts {
		h.freeSlice(h.parts)
		h.parts, h.inParts = nil, false
	}
	return h.r.Close()
}

// Leave asks the engine to send this host no more requests, so that it
// can exit without failing any: the engine stops routing to it at once
// and answers with the drain notice, which follows every request it sent
// before. Keep calling Next: it returns those requests, then ErrDrained
// once each is ended; then Close. It fails with the region's error when
// the engine is gone (Close at once then).
func (h *Host) Leave() error {
	return h.sendControl(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelDrain})
}

// drainNoticed reports whether the engine's drain notice came.
func (h *Host) drainNoticed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining
}

// InFlight returns how many requests Next handed out that are not ended.
func (h *Host) InFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out
}

// Request returns the request with the given id that Next handed out and
// that is not ended yet, or nil.
func (h *Host) Request(id uint64) *Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.live[id]; r != nil && r.given {
		return r
	}
	return nil
}

// Next returns the next request, waiting up to timeout for one (0: do not
// wait; negative: without limit). The caller must end it (Respond, Send,
// EndResponse or Abort), from any goroutine, even if its client went away
// (Cancelled): the engine holds every request until its response comes.
//
// Errors: region.ErrTimeout when no request came in time; ErrDrained once
// the engine told this host to drain and every request was ended;
// region.ErrPeerDead or region.ErrPeerGone when the engine died or closed
// the region (a host should end what it holds and Close); region.ErrClosed
// or region.ErrFenced when this attachment is unusable.
//
// Next is also where the host learns of cancellations and, while a
// body read waits on another goroutine, where body pieces arrive (see
// Host): a host should keep calling it while it holds requests.
func (h *Host) Next(timeout time.Duration) (*Request, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		h.mu.Lock()
		if len(h.queue) > 0 {
			req := h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
			req.given = true
			h.out++
			h.mu.Unlock()
			return req, nil
		}
		drained := h.draining && len(h.live) == 0
		h.mu.Unlock()
		if drained {
			return nil, ErrDrained
		}
		if err := h.await(h.nextReadyLocked, h.nextReady, deadline, timeout < 0); err != nil {
			return nil, err
		}
	}
}

// nextReadyLocked reports whether Next has something to return.
func (h *Host) nextReadyLocked() bool { return len(h.queue) > 0 || (h.draining && len(h.live) == 0) }

// await waits until readyLocked (called with h.mu held) holds, until the
// deadline (unless forever), or until the region fails. It drives the
// Receiver itself when no other goroutine does; otherwise it sleeps on
// signal, which the goroutine driving it pokes when it routes something
// this waiter may want, and takes over when that goroutine stops.
func (h *Host) await(readyLocked func() bool, signal <-chan struct{}, deadline time.Time, forever bool) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if h.ready(readyLocked) {
			return nil
		}
		select {
		case <-h.pump:
			return h.lead(readyLocked, deadline, forever)
		default:
		}
		var expired <-chan time.Time
		if !forever {
			left := time.Until(deadline)
			if left <= 0 {
				return h.timeoutErr()
			}
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			expired = timer.C
		}
		select {
		case <-h.pump:
			return h.lead(readyLocked, deadline, forever)
		case <-signal:
		case <-expired:
			timer = nil // fired
			if h.ready(readyLocked) {
				return nil
			}
			return h.timeoutErr()
		}
	}
}

func (h *Host) ready(readyLocked func() bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return readyLocked()
}

// lead drives the Receiver, holding the pump token (given back on
// return), until readyLocked holds, the deadline passes or the region
// fails.
func (h *Host) lead(readyLocked func() bool, deadline time.Time, forever bool) error {
	defer func() { h.pump <- struct{}{} }()
	rc := h.r.Receiver()
	for {
		n, err := rc.Poll(64)
		if err != nil {
			return err
		}
		if n > 0 {
			h.take(rc, n)
		}
		if h.ready(readyLocked) {
			return nil
		}
		if n > 0 {
			continue
		}
		left := time.Duration(-1)
		if !forever {
			if left = time.Until(deadline); left <= 0 {
				return h.timeoutErr()
			}
		}
		stop := h.sleeping(readyLocked)
		if stop == nil {
			return nil // ready meanwhile
		}
		err = rc.Wait(left, stop)
		h.awake(stop)
		switch {
		case err == nil, errors.Is(err, region.ErrStopped), errors.Is(err, region.ErrTimeout):
		default:
			return err
		}
		if h.r.CreatorClosed() {
			return region.ErrPeerGone
		}
	}
}

// timeoutErr is what a wait that ran out of time returns: ErrTimeout, or
// why the engine will send nothing more.
func (h *Host) timeoutErr() error {
	if h.r.CreatorClosed() {
		return region.ErrPeerGone
	}
	if p := h.r.Peer(); p.State == region.PeerDead {
		return fmt.Errorf("%w: %s", region.ErrPeerDead, p.Reason)
	}
	return region.ErrTimeout
}

// sleeping registers the pump holder as about to sleep and returns the
// channel closed to make it re-check, or nil if it is ready already.
func (h *Host) sleeping(readyLocked func() bool) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if readyLocked() {
		return nil
	}
	h.stop = make(chan struct{})
	return h.stop
}

func (h *Host) awake(stop chan struct{}) {
	h.mu.Lock()
	if h.stop == stop {
		h.stop = nil
	}
	h.mu.Unlock()
}

// pokeLocked makes a sleeping pump holder re-check its condition; it
// returns true when the caller must then call h.r.Wake (outside h.mu).
func (h *Host) pokeLocked() bool {
	if h.stop == nil {
		return false
	}
	close(h.stop)
	h.stop = nil
	return true
}

// notify pokes a 1-buffered signal channel without blocking.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// take applies the n descriptors Poll found.
func (h *Host) take(rc *region.Receiver, n int) {
	for i := 0; i < n; i++ {
		d, err := rc.Get(i)
		if err != nil {
			continue // stale, or counted as invalid by the region
		}
		switch {
		case d.Kind == region.KindRequest:
			h.request(rc, &d)
		case d.Kind == region.KindBody:
			h.bodyPiece(rc, d)
		case d.Kind == region.KindEnd:
			h.bodyEnd(d.Stream)
		case d.Kind == region.KindCancel && d.Stream == 0 && d.Aux == wire.CancelDrain:
			// Every request the engine sent before the notice precedes it.
			h.mu.Lock()
			h.draining = true
			h.mu.Unlock()
			notify(h.nextReady)
		case d.Kind == region.KindCancel && d.Aux == wire.CancelClientGone:
			h.cancel(d.Stream)
		default:
			rc.Release(&d) // kinds a host does not act upon
		}
	}
	rc.Consume(n)
}

// maxViewHint bounds the buffer allocated up front for a view spread over
// several chunks, from the size its first part announces.
const maxViewHint = 64 << 20

// request takes one part of a request view: a whole view in one chunk is
// kept in place; parts are copied and their chunks released at once.
func (h *Host) request(rc *region.Receiver, d *region.Descriptor) {
	payload := rc.Payload(d)
	if d.Flags&region.FlagEnd != 0 && !h.inParts {
		h.accept(rc, d.Stream, d.Conn, payload, *d, nil)
		return
	}
	if !h.inParts {
		h.inParts, h.partsFailed = true, false
		hint := len(payload)
		if len(payload) >= wire.ViewHeaderLen { // body_off + body_len is the view's length
			le := binary.LittleEndian
			if total := int64(le.Uint32(payload[wire.ViewBodyOffOffset:])) + int64(le.Uint32(payload[wire.ViewBodyLenOffset:])); total > int64(hint) && total <= maxViewHint {
				hint = int(total)
			}
		}
		if h.parts = h.alloc(hint); len(h.parts) < hint {
			h.parts, h.partsFailed = nil, true
		}
		h.parts = h.parts[:0]
	}
	if !h.partsFailed && !h.appendPart(payload) {
		h.freeSlice(h.parts)
		h.parts, h.partsFailed = nil, true
	}
	rc.Release(d)
	if d.Flags&region.FlagEnd == 0 {
		return
	}
	msg, failed := h.parts, h.partsFailed
	h.parts, h.inParts, h.partsFailed = nil, false, false
	if failed {
		h.refuse(d.Stream, d.Conn, 503, "host: out of memory for a "+strconv.Itoa(len(msg))+"-byte request view")
		return
	}
	h.accept(rc, d.Stream, d.Conn, msg, region.Descriptor{}, msg)
}

// appendPart appends p to h.parts, growing it through the allocator; false
// when the allocator has no memory.
func (h *Host) appendPart(p []byte) bool {
	if need := len(h.parts) + len(p); need > cap(h.parts) {
		n := max(need, 2*cap(h.parts))
		nb := h.alloc(n)
		if len(nb) < n {
			return false
		}
		nb = nb[:len(h.parts)]
		copy(nb, h.parts)
		h.freeSlice(h.parts)
		h.parts = nb
	}
	h.parts = append(h.parts, p...)
	return true
}

// refuse answers a request the host cannot take with a plain-text error.
func (h *Host) refuse(stream uint64, conn uint32, status int, reason string) {
	msg, _ := wire.EncodeResponse(nil, &wire.ResponseHead{Status: status, ContentLength: -1}, []byte(reason+"\n"))
	h.send(stream, conn, msg)
}

// accept decodes a complete view and queues its request. A view that does
// not decode is answered 500 with the reason, as the protocol asks.
func (h *Host) accept(rc *region.Receiver, stream uint64, conn uint32, b []byte, chunk region.Descriptor, buf []byte) {
	v, err := wire.DecodeView(b)
	if err != nil {
		if chunk.Length > 0 {
			rc.Release(&chunk)
		}
		h.freeSlice(buf)
		h.refuse(stream, conn, 500, "host: "+err.Error())
		return
	}
	req := &Request{h: h, view: v, raw: b, id: stream, conn: conn, chunk: chunk, buf: buf,
		bodyStream: v.Flags()&wire.ViewBodyStream != 0, expectContinue: v.Flags()&wire.ViewExpectContinue != 0}
	if req.bodyStream {
		req.bodySignal = make(chan struct{}, 1)
	}
	h.mu.Lock()
	h.live[stream] = req
	h.queue = append(h.queue, req)
	h.mu.Unlock()
	notify(h.nextReady)
}

// bodyPiece routes a BODY piece to its request. Pieces of a stream that is
// not streaming a body (answered, unknown, or already complete) are given
// back and dropped, as the protocol asks.
func (h *Host) bodyPiece(rc *region.Receiver, d region.Descriptor) {
	payload := rc.Payload(&d)
	h.mu.Lock()
	req := h.live[d.Stream]
	if req == nil || !req.bodyStream || req.bodyEnded || req.bodyErr != nil || len(payload) == 0 {
		h.mu.Unlock()
		rc.Release(&d)
		return
	}
	req.pieces = append(req.pieces, bodyPiece{d, payload})
	if d.Flags&region.FlagEnd != 0 {
		req.bodyEnded = true
	}
	h.mu.Unlock()
	notify(req.bodySignal)
}

// bodyEnd marks the end of a request's streamed body.
func (h *Host) bodyEnd(id uint64) {
	h.mu.Lock()
	req := h.live[id]
	if req == nil || !req.bodyStream || req.bodyEnded || req.bodyErr != nil {
		h.mu.Unlock()
		return
	}
	req.bodyEnded = true
	h.mu.Unlock()
	notify(req.bodySignal)
}

// cancel marks request id cancelled: its client went away. A body still
// streaming fails.
func (h *Host) cancel(id uint64) {
	h.mu.Lock()
	req := h.live[id]
	if req == nil || req.cancelled.Load() {
		h.mu.Unlock()
		return
	}
	req.cancelled.Store(true)
	if req.done != nil {
		close(req.done)
	}
	if req.bodyStream && !req.bodyEnded && req.bodyErr == nil {
		req.bodyErr = ErrCancelled
	}
	h.mu.Unlock()
	if req.bodySignal != nil {
		notify(req.bodySignal)
	}
}

// finish retires an ended request: its chunk and unread body pieces go
// back to the engine, its copy is freed, and a Next waiting for the drain
// to complete is woken.
func (h *Host) finish(req *Request) {
	h.mu.Lock()
	delete(h.live, req.id)
	if req.given {
		h.out--
	}
	pieces := req.pieces
	req.pieces = nil
	drained := h.draining && len(h.live) == 0
	wake := drained && h.pokeLocked()
	h.mu.Unlock()
	rc := h.r.Receiver()
	released := false
	if req.chunk.Length > 0 {
		rc.Release(&req.chunk) // fails only with a faulty engine: nothing to do then
		released = true
	}
	for i := range pieces {
		rc.Release(&pieces[i].d)
		released = true
	}
	if released {
		rc.Flush()
	}
	h.freeBuf(req)
	if drained {
		notify(h.nextReady)
	}
	if wake {
		h.r.Wake()
	}
}

func (h *Host) freeBuf(req *Request) {
	h.freeSlice(req.buf)
	req.buf = nil
}

func (h *Host) freeSlice(b []byte) {
	if h.free != nil && cap(b) > 0 {
		h.free(b[:cap(b)])
	}
}

// Serve runs handler for every request, each on its own goroutine, until
// the engine tells this host to drain (a newer host took over, or ctx
// ended: Serve then asks to Leave) and every request it sent is answered,
// which returns ErrDrained (ErrLeaveUnanswered if an engine never answers
// the Leave), or until the engine goes away; it waits for
// the handlers in progress before it returns. Its loop on Next also feeds
// the handlers' body reads.
func (h *Host) Serve(ctx context.Context, handler Handler) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var leftAt time.Time
	for {
		if leftAt.IsZero() && ctx.Err() != nil {
			leftAt = time.Now()
			if err := h.Leave(); err != nil {
				return err
			}
		}
		req, err := h.Next(50 * time.Millisecond)
		if errors.Is(err, region.ErrTimeout) {
			if !leftAt.IsZero() && time.Since(leftAt) > 10*time.Second && !h.drainNoticed() {
				return ErrLeaveUnanswered
			}
			continue
		}
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveOne(req, handler)
		}()
	}
}

func serveOne(req *Request, handler Handler) {
	w := &ResponseWriter{req: req, status: 200}
	panicked := false
	func() {
		defer func() {
			if p := recover(); p != nil {
				panicked = true
			}
		}()
		handler(req.View(), w)
	}()
	switch {
	case w.streaming && (panicked || w.err != nil):
		req.Abort() // the head is out: only an abort tells the client
	case w.streaming:
		if err := w.Flush(); err != nil {
			req.Abort()
			return
		}
		req.EndResponse() // a short body aborts
	case panicked:
		req.Respond(&wire.ResponseHead{Status: 500, ContentLength: -1}, []byte("host: handler panic\n"))
	default:
		req.Respond(&wire.ResponseHead{Status: w.status, Fields: w.fields, ContentLength: int64(len(w.body))}, w.body)
	}
}
