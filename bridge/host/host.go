package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// Host errors.
var (
	// ErrDrained is returned by Next and Serve when the engine handed this
	// host's work to a newer host (hot swap) and every request it had was
	// ended: the host should detach.
	ErrDrained = errors.New("host: drained: a newer host took over")
	// ErrLeaveUnanswered is returned by Serve when the engine did not
	// answer a Leave with its drain notice within 10 s (an engine that
	// predates Leave): the host should Close; requests the engine still
	// sends it get 502.
	ErrLeaveUnanswered = errors.New("host: the engine did not answer the request to leave")
	// ErrEnded is returned when a request is answered a second time, or
	// used after it was answered.
	ErrEnded = errors.New("host: request already ended")
	// ErrInFlight is returned by Close while requests Next handed out
	// have not been ended: their views may point into the region.
	ErrInFlight = errors.New("host: requests still in flight")
	// ErrCancelled is returned by a request body read when the engine
	// said the client went away (or its body failed: malformed chunk,
	// too large, too slow) before the body was complete.
	ErrCancelled = errors.New("host: the client went away before the request body was complete")
	// ErrStreaming is returned by Respond and Send after StartResponse:
	// the response has begun; end it with EndResponse or Abort.
	ErrStreaming = errors.New("host: the response is streaming; end it with EndResponse or Abort")
	// ErrNotStreaming is returned by WriteBody and EndResponse before
	// StartResponse.
	ErrNotStreaming = errors.New("host: the response was not started with StartResponse")
	// ErrBodyTooLong is returned by WriteBody when the bytes would exceed
	// the Content-Length announced by StartResponse; nothing is sent.
	ErrBodyTooLong = errors.New("host: response body longer than its Content-Length")
	// ErrBodyTooShort is returned by EndResponse when fewer bytes than the
	// announced Content-Length were written: the response is aborted
	// instead (the client connection is reset) and the request ended.
	ErrBodyTooShort = errors.New("host: response body shorter than its Content-Length: aborted")
)

// streamChunks is how many BODY chunks one streamed response may have lent
// to the engine at once (include/haywire_bridge.h section 1): the engine
// gives each back once its bytes are on the client's socket, so a slow
// client holds at most this much of the host's arena.
const streamChunks = 8

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

// unlockSend unlocks sendMu, first telling writers waiting for chunks that
// Collect took some back.
func (h *Host) unlockSend() {
	var returned chan struct{}
	if h.collected && h.returned != nil {
		returned = h.returned
		h.returned = nil
	}
	h.collected = false
	h.sendMu.Unlock()
	if returned != nil {
		close(returned)
		if h.collectorSleeping.Load() {
			// The collector sleeps on the doorbell for releases that were
			// just taken by someone else: cut its sleep short.
			h.r.Wake()
		}
	}
}

// chunkReturned is the Sender's OnReturn: it runs inside Collect, under
// sendMu, for each chunk the engine gave back, and keeps the per-stream
// accounts of streamed responses. The host's own table says whose chunk
// it was: the stream the engine echoes in a release is not trusted.
func (h *Host) chunkReturned(off uint32) {
	h.collected = true
	i := off / uint32(h.r.Sender().ArenaGeometry().ChunkSize)
	if int(i) >= len(h.chunkStream) {
		return
	}
	id := h.chunkStream[i]
	if id == 0 {
		return
	}
	h.chunkStream[i] = 0
	if req := h.streams[id]; req != nil {
		req.bodyOut--
	}
}

// send publishes a response message, waiting for room in the ring and the
// arena. A message larger than a quarter of the ring or the arena goes in
// several batches (parts flagged FlagMore, the last FlagEnd), so a
// response of any size gets through while the engine takes the chunks.
func (h *Host) send(stream uint64, conn uint32, msg []byte) error {
	h.sendMu.Lock()
	defer h.unlockSend()
	snd := h.r.Sender()
	g := snd.ArenaGeometry()
	batch := max(1, min(snd.Capacity(), g.Chunks)/4) * g.ChunkSize
	for {
		part, flags := msg, region.FlagEnd
		if len(part) > batch {
			part, flags = msg[:batch], region.FlagMore
		}
		d := region.Descriptor{Kind: region.KindResponse, Flags: flags, Stream: stream, Conn: conn}
		if err := h.sendBatch(snd, d, part); err != nil {
			return err
		}
		if flags == region.FlagEnd {
			return nil
		}
		msg = msg[len(part):]
	}
}

// sendBatch sends one batch, with sendMu held, waiting for room while the
// engine lives.
func (h *Host) sendBatch(snd *region.Sender, d region.Descriptor, part []byte) error {
	for {
		err := snd.SendBytes(d, part)
		if err == nil {
			return nil
		}
		start := time.Now()
		switch {
		case errors.Is(err, region.ErrRingFull):
			err = snd.WaitSpace(time.Second, nil)
		case errors.Is(err, region.ErrArenaFull):
			err = h.waitReleasesLocked(snd)
		default:
			return err
		}
		if err != nil && !errors.Is(err, region.ErrTimeout) {
			return err
		}
		if time.Since(start) < 10*time.Microsecond {
			// Some room, not enough for the batch: let the engine catch up.
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// waitReleasesLocked waits, with sendMu held, for the engine to give
// chunks back. When a streamed writer already sleeps on the release
// doorbell (which has one sleeper) it cannot collect while we hold
// sendMu: we poll instead.
func (h *Host) waitReleasesLocked(snd *region.Sender) error {
	select {
	case <-h.collector:
		err := snd.WaitReleases(time.Second, nil)
		h.collector <- struct{}{}
		return err
	default:
		time.Sleep(200 * time.Microsecond)
		return h.peerErr()
	}
}

// sendControl publishes a descriptor without payload (CONTINUE, END,
// CANCEL) on a request's stream, waiting for room in the ring.
func (h *Host) sendControl(d region.Descriptor) error {
	h.sendMu.Lock()
	defer h.unlockSend()
	snd := h.r.Sender()
	for {
		ok, err := snd.Send(&d)
		if err != nil || ok {
			return err
		}
		if err := snd.WaitSpace(time.Second, nil); err != nil && !errors.Is(err, region.ErrTimeout) {
			return err
		}
	}
}

// collectSlice bounds one sleep on the release doorbell: a wake lost to
// the race between another goroutine's Collect and our sleep costs at
// most this.
const collectSlice = 20 * time.Millisecond

// awaitReturns waits, without sendMu, until chunks come back: returned
// is closed (someone else collected), or this goroutine, as the one
// sleeper on the release doorbell, sees releases to collect.
func (h *Host) awaitReturns(returned <-chan struct{}) error {
	select {
	case <-returned:
		return nil
	case <-h.collector:
	}
	defer func() { h.collector <- struct{}{} }()
	h.collectorSleeping.Store(true)
	err := h.r.Sender().WaitReleases(collectSlice, returned)
	h.collectorSleeping.Store(false)
	if err == nil || errors.Is(err, region.ErrStopped) || errors.Is(err, region.ErrTimeout) {
		return nil
	}
	return err
}

// putBody publishes the first bytes of p as BODY pieces of req's stream,
// as many chunks as its allowance and the arena permit, waiting until at
// least one can go. It returns how many bytes went.
func (h *Host) putBody(req *Request, p []byte) (int, error) {
	for {
		h.sendMu.Lock()
		snd := h.r.Sender()
		snd.Collect() // a faulty release is counted and skipped; the ring's state is checked below
		n, err := h.putBodyLocked(snd, req, p)
		var returned chan struct{}
		if n == 0 && err == nil {
			if h.returned == nil {
				h.returned = make(chan struct{})
			}
			returned = h.returned
		}
		h.unlockSend()
		if n > 0 || err != nil {
			return n, err
		}
		if err := h.awaitReturns(returned); err != nil {
			return 0, err
		}
	}
}

func (h *Host) putBodyLocked(snd *region.Sender, req *Request, p []byte) (int, error) {
	cs := snd.ArenaGeometry().ChunkSize
	free, _, _ := snd.Chunks()
	want := min((len(p)+cs-1)/cs, streamChunks-req.bodyOut, free)
	if want <= 0 {
		return 0, nil
	}
	k, err := snd.Reserve(want)
	if err != nil {
		return 0, err
	}
	if k == 0 {
		// The ring is full: the engine is behind on everything, not on
		// this stream; wait for a slot holding sendMu, as send does.
		err := snd.WaitSpace(time.Second, nil)
		if err != nil && !errors.Is(err, region.ErrTimeout) {
			return 0, err
		}
		if err == nil {
			return h.putBodyLocked(snd, req, p)
		}
		return 0, nil
	}
	sent := 0
	for i := range k {
		c, ok := snd.Alloc()
		if !ok { // cannot happen: free counted above
			snd.Commit(i)
			return sent, nil
		}
		m := copy(c.Buf, p[sent:])
		d := region.Descriptor{Kind: region.KindBody, Stream: req.id, Conn: req.conn, Offset: c.Offset,
			Length: uint32(m), Gen: c.Gen}
		if err := snd.Put(i, &d); err != nil {
			snd.Free(c)
			snd.Commit(i)
			return sent, err
		}
		h.chunkStream[c.Offset/uint32(cs)] = req.id
		req.bodyOut++
		sent += m
	}
	snd.Commit(k)
	return sent, nil
}

// peerErr says why the engine will take nothing more, or nil.
func (h *Host) peerErr() error {
	if h.r.CreatorClosed() {
		return region.ErrPeerGone
	}
	switch p := h.r.Peer(); p.State {
	case region.PeerDead:
		return fmt.Errorf("%w: %s", region.ErrPeerDead, p.Reason)
	case region.PeerGone:
		return region.ErrPeerGone
	}
	return nil
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

// Response states of a Request.
const (
	stateOpen      = iota // no response yet
	stateStreaming        // StartResponse sent the head; BODY pieces may follow
	stateEnded            // answered: Send, EndResponse or Abort
)

// Request is one request Next handed out. End it exactly once, with
// Respond, Send, EndResponse (after StartResponse) or Abort; until then it
// holds the engine's chunk (or a copy).
type Request struct {
	h     *Host
	view  wire.View
	raw   []byte            // the encoded view: in the engine's arena, or buf
	id    uint64            // the stream
	conn  uint32            // echoed in the response's descriptors
	chunk region.Descriptor // the chunk raw lies in; Length 0 when raw is a copy
	buf   []byte            // the copy, from the host's allocator; nil when in place

	state     atomic.Int32  // stateOpen, stateStreaming, stateEnded
	cancelled atomic.Bool   // written under h.mu
	given     bool          // handed out by Next; under h.mu
	done      chan struct{} // made on demand, closed on cancel; under h.mu

	// The request body. Immutable after accept:
	bodyStream     bool          // the view says BODY pieces follow
	expectContinue bool          // the engine waits for CONTINUE before it reads the body
	bodySignal     chan struct{} // 1-buffered: a piece, the end or a failure arrived
	// Under h.mu, written by the pump holder:
	pieces    []bodyPiece // BODY pieces received, not yet read to their end
	bodyEnded bool        // END came (or a BODY flagged END)
	bodyErr   error       // the body failed before its end
	// The reader's (one at a time):
	inlineRead int  // bytes of the view's inline body read
	pieceRead  int  // bytes of pieces[0] read
	continued  bool // CONTINUE was sent

	// The streamed response, the answering goroutine's:
	contentLength int64 // announced by StartResponse, -1 if not
	written       int64 // body bytes sent so far
	bodyOut       int   // BODY chunks lent to the engine; under h.sendMu
}

// bodyPiece is one BODY descriptor and its bytes, in place in the engine's
// arena until the descriptor is released.
type bodyPiece struct {
	d    region.Descriptor
	data []byte
}

// View returns the request. Its bytes are valid until the request is
// ended and must not be retained after that: they may be the engine's
// shared memory. Its Body is the part of the body carried in the view:
// all of it unless the view is flagged ViewBodyStream (see Body).
func (r *Request) View() wire.View { return r.view }

// Raw returns the encoded view (include/haywire_bridge.h section 3), with
// the lifetime of View's bytes.
func (r *Request) Raw() []byte { return r.raw }

// ID returns the request id (the stream), unique within the engine.
func (r *Request) ID() uint64 { return r.id }

// Cancelled reports whether the engine said the client went away: it
// closed the connection, or only its sending side (a half-close, after
// which it still reads the response, as with net/http). The host may stop
// working on the request and end it at once; it must still end it. The
// host learns of it while Next, or a body read, drives the region.
func (r *Request) Cancelled() bool { return r.cancelled.Load() }

// Done returns a channel closed when the client goes away (see
// Cancelled). It is never closed for a request answered normally.
func (r *Request) Done() <-chan struct{} {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
		if r.cancelled.Load() {
			close(r.done)
		}
	}
	return r.done
}

// Body returns the request body as a reader: ReadBody without a time
// limit.
func (r *Request) Body() io.Reader { return bodyReader{r} }

type bodyReader struct{ r *Request }

func (b bodyReader) Read(p []byte) (int, error) { return b.r.ReadBody(p, -1) }

// ReadBody reads the request body into p: the bytes carried in the view,
// then, for a view flagged ViewBodyStream, the BODY pieces that follow,
// waiting up to timeout for one (0: do not wait; negative: without
// limit). It returns io.EOF at the end of the body; ErrCancelled when the
// client went away before the end (the bytes received before are read
// first); region.ErrTimeout when nothing came in time; the region's error
// when the engine is gone; ErrEnded after the request was ended.
//
// Each piece goes back to the engine as soon as it has been read: the
// engine holds a stream to a window of unread bytes, so a host that stops
// reading stops the client's upload. For a request that expects
// 100-continue, the first call tells the engine to send "100 Continue"
// and the body. One goroutine at a time per request.
func (r *Request) ReadBody(p []byte, timeout time.Duration) (int, error) {
	if r.state.Load() == stateEnded {
		return 0, ErrEnded
	}
	if r.expectContinue && r.bodyStream && !r.continued {
		r.continued = true
		if err := r.h.sendControl(region.Descriptor{Kind: region.KindContinue, Stream: r.id, Conn: r.conn}); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if inline := r.view.Body(); r.inlineRead < len(inline) {
		n := copy(p, inline[r.inlineRead:])
		r.inlineRead += n
		return n, nil
	}
	if !r.bodyStream {
		return 0, io.EOF
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	h := r.h
	for {
		h.mu.Lock()
		if len(r.pieces) > 0 {
			pc := r.pieces[0]
			h.mu.Unlock()
			// The bytes stay put until we release them: copy unlocked.
			n := copy(p, pc.data[r.pieceRead:])
			if r.pieceRead += n; r.pieceRead == len(pc.data) {
				h.mu.Lock()
				r.pieces[0] = bodyPiece{}
				r.pieces = r.pieces[1:]
				h.mu.Unlock()
				r.pieceRead = 0
				rc := h.r.Receiver()
				rc.Release(&pc.d)
				rc.Flush()
			}
			return n, nil
		}
		ended, err := r.bodyEnded, r.bodyErr
		h.mu.Unlock()
		switch {
		case err != nil:
			return 0, err
		case ended:
			return 0, io.EOF
		}
		if err := h.await(r.bodyReadyLocked, r.bodySignal, deadline, timeout < 0); err != nil {
			return 0, err
		}
	}
}

// bodyReadyLocked reports whether ReadBody has something to return.
func (r *Request) bodyReadyLocked() bool {
	return len(r.pieces) > 0 || r.bodyEnded || r.bodyErr != nil
}

// Respond encodes a response (see EncodeResponse) and sends it as Send
// does. An unencodable head is answered 500 and reported.
func (r *Request) Respond(head *wire.ResponseHead, body []byte) error {
	msg, err := wire.EncodeResponse(nil, head, body)
	if err != nil {
		msg, _ = wire.EncodeResponse(nil, &wire.ResponseHead{Status: 500, ContentLength: -1}, []byte("host: "+err.Error()+"\n"))
	}
	if serr := r.Send(msg); serr != nil {
		return serr
	}
	return err
}

// Send sends msg, a complete response message (include/haywire_bridge.h
// section 4), and ends the request: the view's bytes go back to the
// engine and must not be used any more. msg may be any memory, the view
// included; it is copied before Send returns. It fails with ErrEnded when
// the request was already ended, ErrStreaming after StartResponse, and
// with the region's error when the engine is gone (the request is ended
// all the same).
func (r *Request) Send(msg []byte) error {
	if !r.state.CompareAndSwap(stateOpen, stateEnded) {
		return r.stateErr()
	}
	err := r.h.send(r.id, r.conn, msg)
	r.h.finish(r)
	return err
}

func (r *Request) stateErr() error {
	switch r.state.Load() {
	case stateStreaming:
		return ErrStreaming
	case stateOpen:
		return ErrNotStreaming
	}
	return ErrEnded
}

// StartResponse sends the response's status line and fields now and
// streams its body: WriteBody sends it piece by piece, EndResponse ends
// it. head.ContentLength is the whole body's length, or -1 not to announce
// it (the engine then sends it chunked to HTTP/1.1 clients); head.Flags
// gets ResponseStream. It fails, leaving the request open, for a head
// EncodeResponse refuses or a ContentLength below -1; with ErrEnded or
// ErrStreaming when already answered or started.
func (r *Request) StartResponse(head *wire.ResponseHead) error {
	hd := *head
	hd.Flags |= wire.ResponseStream
	msg, err := wire.EncodeResponse(nil, &hd, nil)
	if err != nil {
		return err
	}
	return r.StartStream(msg)
}

// StartStream is StartResponse for a response message already encoded
// (include/haywire_bridge.h section 4) with the STREAM flag: its body, if
// any, is the first bytes of the response body and counts toward its
// content_length. msg is copied before StartStream returns. When the
// engine is gone the error is the region's and the request is streaming
// all the same: end it.
func (r *Request) StartStream(msg []byte) error {
	head, body, err := wire.DecodeResponse(msg)
	if err != nil {
		return err
	}
	if head.Flags&wire.ResponseStream == 0 || head.ContentLength < -1 ||
		(head.ContentLength >= 0 && head.ContentLength < int64(len(body))) {
		return fmt.Errorf("%w: flags %#x, content length %d with %d bytes: not a streamed response head",
			wire.ErrResponse, head.Flags, head.ContentLength, len(body))
	}
	if !r.state.CompareAndSwap(stateOpen, stateStreaming) {
		if r.state.Load() == stateStreaming {
			return ErrStreaming
		}
		return ErrEnded
	}
	r.contentLength, r.written = head.ContentLength, int64(len(body))
	h := r.h
	h.sendMu.Lock()
	h.streams[r.id] = r
	h.unlockSend()
	return h.send(r.id, r.conn, msg)
}

// WriteBody sends p as the next bytes of the streamed response body, in
// pieces of the host's arena. It blocks while the engine still holds
// streamChunks of this response's pieces (it gives each back once the
// client's socket took it: a slow client slows the writer) or the arena
// is full. It returns how many bytes were sent: all of p, unless the
// engine went away (the region's error) or p would exceed the announced
// Content-Length (ErrBodyTooLong, nothing sent). A client that went away
// does not fail it (one that only half-closed still reads): check
// Cancelled or Done to stop early. p is copied before WriteBody returns.
func (r *Request) WriteBody(p []byte) (int, error) {
	if r.state.Load() != stateStreaming {
		return 0, r.stateErr()
	}
	if r.contentLength >= 0 && r.written+int64(len(p)) > r.contentLength {
		return 0, fmt.Errorf("%w: %d bytes written, %d more, Content-Length %d",
			ErrBodyTooLong, r.written, len(p), r.contentLength)
	}
	sent := 0
	for sent < len(p) {
		n, err := r.h.putBody(r, p[sent:])
		sent += n
		r.written += int64(n)
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// EndResponse ends the streamed response (END on the stream) and the
// request. When fewer bytes than the announced Content-Length were
// written it aborts instead (see Abort) and returns ErrBodyTooShort.
func (r *Request) EndResponse() error {
	if r.state.Load() != stateStreaming {
		return r.stateErr()
	}
	if r.contentLength >= 0 && r.written < r.contentLength {
		if err := r.Abort(); err != nil {
			return err
		}
		return fmt.Errorf("%w: %d of %d bytes written", ErrBodyTooShort, r.written, r.contentLength)
	}
	if !r.state.CompareAndSwap(stateStreaming, stateEnded) {
		return ErrEnded
	}
	err := r.h.sendControl(region.Descriptor{Kind: region.KindEnd, Stream: r.id, Conn: r.conn})
	r.h.unstream(r)
	r.h.finish(r)
	return err
}

// Abort gives up on the response and ends the request: the engine
// answers 500 if nothing of the response reached the client yet, and
// otherwise resets the client connection (CANCEL with CancelHostAbort).
// It fails with ErrEnded when the request was already ended, and with the
// region's error when the engine is gone (the request is ended all the
// same).
func (r *Request) Abort() error {
	if !r.state.CompareAndSwap(stateOpen, stateEnded) && !r.state.CompareAndSwap(stateStreaming, stateEnded) {
		return ErrEnded
	}
	err := r.h.sendControl(region.Descriptor{Kind: region.KindCancel, Stream: r.id, Conn: r.conn, Aux: wire.CancelHostAbort})
	r.h.unstream(r)
	r.h.finish(r)
	return err
}

// unstream forgets a streamed response's accounts; its chunks still out
// are taken back as usual when the engine releases them.
func (h *Host) unstream(r *Request) {
	h.sendMu.Lock()
	delete(h.streams, r.id)
	h.unlockSend()
}

// streamFlushSize is how much a streaming ResponseWriter buffers before it
// sends a piece: small writes would otherwise take a chunk each.
const streamFlushSize = 32 << 10

// ResponseWriter builds a host's response for a Handler. By default
// the response is buffered and sent whole, with Content-Length, when the
// handler returns; Stream (or Flush) sends the head at once and the body
// as it is written.
type ResponseWriter struct {
	req       *Request
	status    int
	fields    []byte
	body      []byte // the whole body, or, streaming, what is not sent yet
	streaming bool
	err       error // the first failure while streaming: the response is aborted
}

// Request returns the request being answered: its body (Body, ReadBody)
// and whether its client went away (Cancelled, Done).
func (w *ResponseWriter) Request() *Request { return w.req }

// SetStatus sets the status code (default 200). It has no effect once
// the response streams.
func (w *ResponseWriter) SetStatus(code int) { w.status = code }

// AddHeader adds a header field; the engine validates it and writes
// Content-Length itself, and Date and Server unless added here (the
// host's then replace the engine's). It has no effect once the
// response streams.
func (w *ResponseWriter) AddHeader(name, value string) {
	if w.streaming {
		return
	}
	w.fields = append(w.fields, name...)
	w.fields = append(w.fields, ": "...)
	w.fields = append(w.fields, value...)
	w.fields = append(w.fields, "\r\n"...)
}

// Stream sends the status and fields now and streams the body from here
// on: the bytes written so far and later ones go to the engine in pieces
// of up to 32 KiB as they accumulate (Flush sends a partial one), and the
// response ends when the handler returns. contentLength is the whole
// body's length, the bytes written before included, or -1 (chunked to
// HTTP/1.1 clients). A body that ends up shorter or longer than announced
// aborts the response. Calling Stream again does nothing.
func (w *ResponseWriter) Stream(contentLength int64) error {
	if w.streaming {
		return w.err
	}
	if w.req == nil {
		return ErrNotStreaming
	}
	err := w.req.StartResponse(&wire.ResponseHead{Status: w.status, Fields: w.fields, ContentLength: contentLength})
	if err != nil && w.req.state.Load() != stateStreaming {
		return err // nothing was sent: the response can still be buffered
	}
	w.streaming, w.err = true, err
	if err == nil && len(w.body) >= streamFlushSize {
		err = w.Flush()
	}
	return err
}

// Flush sends what was written so far, however little: it starts
// streaming (Stream(-1)) if the response does not stream yet, so the
// head reaches the client now even with no body written (the idiom of
// long polls and event streams).
func (w *ResponseWriter) Flush() error {
	if !w.streaming {
		if err := w.Stream(-1); err != nil {
			return err
		}
	}
	if w.err != nil {
		return w.err
	}
	if len(w.body) > 0 {
		_, w.err = w.req.WriteBody(w.body)
		w.body = w.body[:0]
	}
	return w.err
}

// Write appends to the body; streaming, it sends full pieces and fails
// once the response cannot be completed.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.streaming && w.err != nil {
		return 0, w.err
	}
	w.body = append(w.body, p...)
	if w.streaming && len(w.body) >= streamFlushSize {
		if err := w.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// WriteString appends to the body, as Write.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	if w.streaming {
		return w.Write([]byte(s))
	}
	w.body = append(w.body, s...)
	return len(s), nil
}

// String describes the response for logs.
func (w *ResponseWriter) String() string {
	if w.streaming {
		return strconv.Itoa(w.status) + " (streaming)"
	}
	return strconv.Itoa(w.status) + " (" + strconv.Itoa(len(w.body)) + " bytes)"
}
