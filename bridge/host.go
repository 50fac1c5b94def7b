package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/region"
)

// Host errors.
var (
	// ErrDrained is returned by Next and Serve when the engine handed this
	// host's work to a newer host (hot swap) and every request it had was
	// ended: the host should detach.
	ErrDrained = errors.New("bridge: drained: a newer host took over")
	// ErrEnded is returned when a request is answered a second time.
	ErrEnded = errors.New("bridge: request already ended")
	// ErrInFlight is returned by Close while requests Next handed out
	// have not been ended: their views may point into the region.
	ErrInFlight = errors.New("bridge: requests still in flight")
)

// HostHandler serves one request on a host. The view and its bytes are
// valid until the handler returns; w is sent when it returns.
type HostHandler func(req View, w *ResponseWriter)

// Host is the host side: attached to one lane of an engine's region, it
// hands out the engine's requests and sends the responses back. Pull them
// one at a time with Next and answer each with HostRequest.Respond or
// Send, or let Serve run a handler for each.
//
// Requests are read in place: a request view that fits in one chunk of
// the engine's arena stays there, and its chunk goes back to the engine
// when the request is ended. A view spread over several chunks is copied
// into memory from the host's allocator (SetAllocator) and its chunks go
// back at once.
//
// Concurrency: Next and Serve from one goroutine at a time (they drive the
// region's Receiver, which has one user); a HostRequest may be answered,
// and its Cancelled and Done called, from any goroutine; Request,
// InFlight and Region from any goroutine. Close must not overlap Next.
type Host struct {
	r      *region.Region
	sendMu sync.Mutex // serialises the region's Sender

	// Owned by the goroutine in Next.
	parts       []byte         // the parts of a view spread over several chunks, so far
	inParts     bool           // parts holds the start of a view
	partsFailed bool           // the allocator failed: skip the view's parts, answer 503
	queue       []*HostRequest // decoded, in ring order, not yet returned by Next
	alloc       func(n int) []byte
	free        func(b []byte)

	mu       sync.Mutex              // guards the fields below
	live     map[uint64]*HostRequest // decoded and not ended: queued or handed out
	out      int                     // handed out by Next and not ended
	staged   []region.Descriptor     // chunks of ended requests, for Next to release
	draining bool                    // the engine sent the drain notice
	wake     chan struct{}           // non-nil while Next sleeps; closed to wake it
}

// Attach attaches to a free lane of the region an engine created, by the
// name the engine printed.
func Attach(name string, opts region.Options) (*Host, error) {
	r, err := region.OpenAnyLane(name, opts)
	if err != nil {
		return nil, err
	}
	return &Host{r: r, live: map[uint64]*HostRequest{}, alloc: goAlloc}, nil
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
	h.mu.Unlock()
	if out > 0 {
		return fmt.Errorf("%w: %d requests handed out and not ended; end them first", ErrInFlight, out)
	}
	for _, req := range h.queue {
		h.freeBuf(req)
	}
	h.queue = nil
	if h.inParts {
		h.freeSlice(h.parts)
		h.parts, h.inParts = nil, false
	}
	return h.r.Close()
}

// InFlight returns how many requests Next handed out that are not ended.
func (h *Host) InFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out
}

// Request returns the request with the given id that Next handed out and
// that is not ended yet, or nil.
func (h *Host) Request(id uint64) *HostRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.live[id]; r != nil && r.given {
		return r
	}
	return nil
}

// Next returns the next request, waiting up to timeout for one (0: do not
// wait; negative: without limit). The caller must end it (Respond or
// Send), from any goroutine, even if its client went away (Cancelled):
// the engine holds every request until its response comes.
//
// Errors: region.ErrTimeout when no request came in time; ErrDrained once
// the engine told this host to drain and every request was ended;
// region.ErrPeerDead or region.ErrPeerGone when the engine died or closed
// the region (a host should end what it holds and Close); region.ErrClosed
// or region.ErrFenced when this attachment is unusable.
//
// Next is also where the host's side of the protocol runs: it gives the
// chunks of ended requests back to the engine and notices cancellations,
// so a host should keep calling it while it holds requests.
func (h *Host) Next(timeout time.Duration) (*HostRequest, error) {
	rc := h.r.Receiver()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		h.releaseStaged(rc)
		if len(h.queue) > 0 {
			req := h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
			h.handOut(req)
			return req, nil
		}
		n, err := rc.Poll(64)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			h.take(rc, n)
			continue
		}
		h.mu.Lock()
		drained := h.draining && len(h.live) == 0
		h.mu.Unlock()
		if drained {
			return nil, ErrDrained
		}
		left := time.Duration(-1)
		if timeout >= 0 {
			if left = time.Until(deadline); left <= 0 {
				if h.r.CreatorClosed() {
					return nil, region.ErrPeerGone
				}
				if p := h.r.Peer(); p.State == region.PeerDead {
					return nil, fmt.Errorf("%w: %s", region.ErrPeerDead, p.Reason)
				}
				return nil, region.ErrTimeout
			}
		}
		wake := h.sleeping()
		if wake == nil {
			continue // an End staged a release meanwhile
		}
		err = rc.Wait(left, wake)
		h.awake(wake)
		switch {
		case err == nil, errors.Is(err, region.ErrStopped), errors.Is(err, region.ErrTimeout):
		default:
			return nil, err
		}
		if h.r.CreatorClosed() {
			return nil, region.ErrPeerGone
		}
	}
}

// sleeping registers Next as about to sleep and returns the channel an
// End closes to wake it, or nil if there is work already.
func (h *Host) sleeping() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.staged) > 0 || (h.draining && len(h.live) == 0) {
		return nil
	}
	h.wake = make(chan struct{})
	return h.wake
}

func (h *Host) awake(wake chan struct{}) {
	h.mu.Lock()
	if h.wake == wake {
		h.wake = nil
	}
	h.mu.Unlock()
}

// releaseStaged gives the chunks of ended requests back to the engine.
func (h *Host) releaseStaged(rc *region.Receiver) {
	h.mu.Lock()
	staged := h.staged
	h.staged = nil
	h.mu.Unlock()
	if len(staged) == 0 {
		return
	}
	for i := range staged {
		rc.Release(&staged[i]) // fails only with a faulty engine: nothing to do then
	}
	rc.Flush()
	h.mu.Lock()
	if h.staged == nil {
		h.staged = staged[:0] // keep the array
	}
	h.mu.Unlock()
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
		case d.Kind == region.KindCancel && d.Stream == 0 && d.Aux == CancelDrain:
			// Every request the engine sent before the notice precedes it.
			h.mu.Lock()
			h.draining = true
			h.mu.Unlock()
		case d.Kind == region.KindCancel && d.Aux == CancelClientGone:
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
		if len(payload) >= ViewHeaderLen { // body_off + body_len is the view's length
			le := binary.LittleEndian
			if total := int64(le.Uint32(payload[40:])) + int64(le.Uint32(payload[44:])); total > int64(hint) && total <= maxViewHint {
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
	msg, _ := EncodeResponse(nil, &ResponseHead{Status: status, ContentLength: -1}, []byte(reason+"\n"))
	h.send(stream, conn, msg)
}

// accept decodes a complete view and queues its request. A view that does
// not decode is answered 500 with the reason, as the protocol asks.
func (h *Host) accept(rc *region.Receiver, stream uint64, conn uint32, b []byte, chunk region.Descriptor, buf []byte) {
	v, err := DecodeView(b)
	if err != nil {
		if chunk.Length > 0 {
			rc.Release(&chunk)
		}
		h.freeSlice(buf)
		h.refuse(stream, conn, 500, "host: "+err.Error())
		return
	}
	req := &HostRequest{h: h, view: v, raw: b, id: stream, conn: conn, chunk: chunk, buf: buf}
	h.mu.Lock()
	h.live[stream] = req
	h.mu.Unlock()
	h.queue = append(h.queue, req)
}

// handOut marks req as handed out.
func (h *Host) handOut(req *HostRequest) {
	h.mu.Lock()
	req.given = true
	h.out++
	h.mu.Unlock()
}

// cancel marks request id cancelled: its client went away.
func (h *Host) cancel(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	req := h.live[id]
	if req == nil || req.cancelled.Load() {
		return
	}
	req.cancelled.Store(true)
	if req.done != nil {
		close(req.done)
	}
}

// finish retires an ended request: it stages its chunk for release,
// frees its copy, and wakes Next if it sleeps on work this creates.
func (h *Host) finish(req *HostRequest) {
	h.mu.Lock()
	delete(h.live, req.id)
	if req.given {
		h.out--
	}
	if req.chunk.Length > 0 {
		h.staged = append(h.staged, req.chunk)
	}
	wake := h.wake
	if wake != nil && (req.chunk.Length > 0 || (h.draining && len(h.live) == 0)) {
		h.wake = nil
	} else {
		wake = nil
	}
	h.mu.Unlock()
	h.freeBuf(req)
	if wake != nil {
		// Closing wake stops Next's wait at its next check; Wake cuts a
		// sleep short. A close that lands between those two in Next's
		// wait is seen one slice later (the liveness interval).
		close(wake)
		h.r.Wake()
	}
}

func (h *Host) freeBuf(req *HostRequest) {
	h.freeSlice(req.buf)
	req.buf = nil
}

func (h *Host) freeSlice(b []byte) {
	if h.free != nil && cap(b) > 0 {
		h.free(b[:cap(b)])
	}
}

// send publishes a response message, waiting for room in the ring and the
// arena. A message larger than a quarter of the ring or the arena goes in
// several batches (parts flagged FlagMore, the last FlagEnd), so a
// response of any size gets through while the engine takes the chunks.
func (h *Host) send(stream uint64, conn uint32, msg []byte) error {
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	snd := h.r.Sender()
	g := snd.ArenaGeometry()
	batch := max(1, min(snd.Capacity(), g.Chunks)/4) * g.ChunkSize
	for {
		part, flags := msg, region.FlagEnd
		if len(part) > batch {
			part, flags = msg[:batch], region.FlagMore
		}
		d := region.Descriptor{Kind: region.KindResponse, Flags: flags, Stream: stream, Conn: conn}
		if err := sendBatch(snd, d, part); err != nil {
			return err
		}
		if flags == region.FlagEnd {
			return nil
		}
		msg = msg[len(part):]
	}
}

// sendBatch sends one batch, waiting for room while the engine lives.
func sendBatch(snd *region.Sender, d region.Descriptor, part []byte) error {
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
			err = snd.WaitChunks(time.Second, nil)
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

// Serve runs handler for every request, each on its own goroutine, until
// ctx ends, the engine goes away, or the engine tells this host to drain
// (a newer host took over: Serve then answers what it has and returns
// ErrDrained); it waits for the handlers in progress before it returns.
func (h *Host) Serve(ctx context.Context, handler HostHandler) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		req, err := h.Next(50 * time.Millisecond)
		if errors.Is(err, region.ErrTimeout) {
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
	return nil
}

func serveOne(req *HostRequest, handler HostHandler) {
	w := &ResponseWriter{status: 200}
	func() {
		defer func() {
			if p := recover(); p != nil {
				w.status, w.fields, w.body = 500, nil, []byte("host: handler panic\n")
			}
		}()
		handler(req.View(), w)
	}()
	req.Respond(&ResponseHead{Status: w.status, Fields: w.fields, ContentLength: int64(len(w.body))}, w.body)
}

// HostRequest is one request Next handed out. End it exactly once, with
// Respond or Send; until then it holds the engine's chunk (or a copy).
type HostRequest struct {
	h     *Host
	view  View
	raw   []byte            // the encoded view: in the engine's arena, or buf
	id    uint64            // the stream
	conn  uint32            // echoed in the response's descriptors
	chunk region.Descriptor // the chunk raw lies in; Length 0 when raw is a copy
	buf   []byte            // the copy, from the host's allocator; nil when in place

	ended     atomic.Bool
	cancelled atomic.Bool   // written under h.mu
	given     bool          // handed out by Next; under h.mu
	done      chan struct{} // made on demand, closed on cancel; under h.mu
}

// View returns the request. Its bytes are valid until the request is
// ended and must not be retained after that: they may be the engine's
// shared memory.
func (r *HostRequest) View() View { return r.view }

// Raw returns the encoded view (include/haywire_bridge.h section 3), with
// the lifetime of View's bytes.
func (r *HostRequest) Raw() []byte { return r.raw }

// ID returns the request id (the stream), unique within the engine.
func (r *HostRequest) ID() uint64 { return r.id }

// Cancelled reports whether the engine said the client went away: it
// closed the connection, or only its sending side (a half-close, after
// which it still reads the response, as with net/http). The host may stop
// working on the request and end it at once; it must still end it. The
// host learns of it while Next runs.
func (r *HostRequest) Cancelled() bool { return r.cancelled.Load() }

// Done returns a channel closed when the client goes away (see
// Cancelled). It is never closed for a request answered normally.
func (r *HostRequest) Done() <-chan struct{} {
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

// Respond encodes a response (see EncodeResponse) and sends it as Send
// does. An unencodable head is answered 500 and reported.
func (r *HostRequest) Respond(head *ResponseHead, body []byte) error {
	msg, err := EncodeResponse(nil, head, body)
	if err != nil {
		msg, _ = EncodeResponse(nil, &ResponseHead{Status: 500, ContentLength: -1}, []byte("host: "+err.Error()+"\n"))
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
// the request was already ended, and with the region's error when the
// engine is gone (the request is ended all the same).
func (r *HostRequest) Send(msg []byte) error {
	if !r.ended.CompareAndSwap(false, true) {
		return ErrEnded
	}
	err := r.h.send(r.id, r.conn, msg)
	r.h.finish(r)
	return err
}

// ResponseWriter builds a host's response.
type ResponseWriter struct {
	status int
	fields []byte
	body   []byte
}

// SetStatus sets the status code (default 200).
func (w *ResponseWriter) SetStatus(code int) { w.status = code }

// AddHeader adds a header field; the engine validates it and writes
// Content-Length, Date and Server itself.
func (w *ResponseWriter) AddHeader(name, value string) {
	w.fields = append(w.fields, name...)
	w.fields = append(w.fields, ": "...)
	w.fields = append(w.fields, value...)
	w.fields = append(w.fields, "\r\n"...)
}

// Write appends to the body.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString appends to the body.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	w.body = append(w.body, s...)
	return len(s), nil
}

// String describes the response for logs.
func (w *ResponseWriter) String() string {
	return strconv.Itoa(w.status) + " (" + strconv.Itoa(len(w.body)) + " bytes)"
}
