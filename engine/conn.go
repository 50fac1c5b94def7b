package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/http1"
)

const (
	readBufSize    = 4 << 10  // initial read buffer per connection
	maxIdleBufSize = 64 << 10 // a larger buffer is dropped when the connection idles
	flushThreshold = 64 << 10 // write early when this much output has queued up
)

// conn serves one client connection.
//
// The serve goroutine owns the read side (buf, r, w, parser, chunk) alone.
// Responses are produced by the serve goroutine (handlers that return) and
// by any goroutine calling Exchange.Done; both append under mu, and whoever
// writes takes writeMu first so output leaves in the order it was appended.
type conn struct {
	srv  *Server
	rwc  net.Conn
	id   uint64
	idle atomic.Bool // blocked reading with no request begun: Stop may wake it

	// Read side, owned by the serve goroutine.
	buf      []byte
	r, w     int // unparsed input is buf[r:w]
	parser   http1.Parser
	chunk    http1.ChunkedDecoder
	nextID   uint64
	reqStart time.Duration // when (monoNow) the request being read first needed more input; 0 when none
	readAt   time.Duration // when (monoNow) the last read returned: the start of the requests it completed
	readDL   time.Duration // read deadline last set by this goroutine (monoNow); 0 when none
	cache    []*Exchange   // reusable exchanges taken from free without locking
	linger   bool          // close gracefully (lingerClose): the client may still be sending

	writeMu sync.Mutex    // held while writing to rwc; taken before mu
	writeDL time.Duration // write deadline last set (monoNow; writeMu)
	// isClosed mirrors closed for the reader's check after each deadline
	// change, which must not cost a lock per request.
	isClosed atomic.Bool

	mu        sync.Mutex
	drained   sync.Cond   // signalled (with mu) when the queue empties or the conn closes
	out       []byte      // serialized responses not yet written (mu)
	spareOut  []byte      // the other output buffer, while one is written (mu)
	sent      []*Exchange // exchanges whose responses are in out (mu)
	spareSent []*Exchange // (mu)
	queue     []*Exchange // exchanges behind a held one, in request order (mu)
	qhead     int         // queue[qhead:] is pending (mu)
	free      []*Exchange // reusable exchanges (mu)
	closing   bool        // close after the next write: nothing more is sent (mu)
	closed    bool        // rwc is closed or closing (mu)
	broken    bool        // a write failed: reset rather than linger (mu)
}

func newConn(s *Server, rwc net.Conn, id uint64) *conn {
	c := &conn{srv: s, rwc: rwc, id: id, buf: make([]byte, readBufSize)}
	c.drained.L = &c.mu
	return c
}

// serve reads requests until the connection ends.
func (c *conn) serve() {
	defer c.finish()
	lim := &c.srv.cfg.Limits
	for {
		for c.r < c.w {
			x := c.get()
			n, err := c.parser.Parse(c.buf[c.r:c.w], &x.reqs[0], lim)
			if n == 0 && err == nil {
				c.put(x)
				break
			}
			if err != nil {
				c.put(x)
				c.refuse(err)
				return
			}
			h := c.route(x)
			if x.streamBody = c.streamable(x, h); x.streamBody {
				if !c.beginStream(x, n) {
					c.put(x)
					return
				}
			} else if !c.readBody(x, n) {
				c.put(x)
				return
			}
			streamBody := x.streamBody
			closeNow, pending := c.dispatch(x, h)
			if streamBody { // x is held, or was answered without taking the body
				switch c.pumpBody(x) {
				case bodyFailed:
					return
				case bodyRefused:
					closeNow = true
				}
				pending = c.pendingOutput()
			}
			if closeNow {
				c.linger = true // pipelined requests may still be arriving
				c.waitDrained()
				c.flush()
				return
			}
			if pending >= flushThreshold && !c.flush() {
				return
			}
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		}
		if !c.flush() || !c.fill() {
			return
		}
	}
}

// fill reads more input, applying the idle or header timeout.
func (c *conn) fill() bool {
	cfg := &c.srv.cfg
	idle := c.r == c.w
	if idle && len(c.buf) > maxIdleBufSize {
		c.buf, c.r, c.w = make([]byte, readBufSize), 0, 0
	}
	if c.w == len(c.buf) {
		if c.r > 0 {
			c.compact()
		} else { // a head bigger than the buffer; the parser bounds it
			c.regrow(0, 0)
		}
	}
	now := monoNow()
	if idle {
		if !c.setReadDeadline(now, now+cfg.IdleTimeout) {
			return false
		}
		// Dekker with Server.Stop: publish idle, then look at stopping.
		c.idle.Store(true)
		if c.srv.stopping.Load() {
			c.idle.Store(false)
			c.waitDrained() // held responses are still owed
			c.flush()
			return false
		}
		// Let the other connections' ready work run first: by the time
		// this one reads again, its client has more likely answered,
		// which spares a read that finds nothing and the park and
		// wake-up after it (docs/benchmarks.md, "Design choices").
		runtime.Gosched()
	} else {
		// The head began in an earlier read, processed since without
		// waiting: timing from now is at most that processing late, and
		// spares a clock read per request.
		if c.reqStart == 0 {
			c.reqStart = now
		}
		if !c.setReadDeadline(now, c.reqStart+cfg.HeaderTimeout) {
			return false
		}
	}
	n, err := c.rwc.Read(c.buf[c.w:])
	c.readAt = monoNow() // after the read: an idle wait is no request's latency
	c.idle.Store(false)
	c.w += n
	c.srv.stats.bytesRead.Add(uint64(n))
	if err != nil && n == 0 {
		c.readFailed(err, !idle)
		return false
	}
	return true
}

// setReadDeadline sets the read deadline and reports whether the
// connection is still open. A flush on another goroutine that closes the
// connection wakes the reader with a deadline in the past; looking at
// closed after setting ours means one of the two always sees the other.
func (c *conn) setReadDeadline(now, t time.Duration) bool {
	if moveDeadline(now, c.readDL, t) {
		c.rwc.SetReadDeadline(clockBase.Add(t))
		c.readDL = t
	}
	return !c.isClosed.Load()
}

// moveDeadline reports whether a deadline set at cur must be re-armed for
// next: always when next is earlier, otherwise only when it moves by more
// than 1/16 of the time left from now (at most a second). Re-arming a runtime
// timer twice per request is a measurable share of a small request; a
// timeout that fires up to 6% late is not. Deadlines set by others (Stop,
// a closing flush) always end the connection, so the cache needs no update.
func moveDeadline(now, cur, next time.Duration) bool {
	if next < cur || cur == 0 {
		return true
	}
	slack := min((next-now)/16, time.Second)
	return next-cur > slack
}

// clockBase anchors the clock deadlines are kept in: time.Since a time
// with a monotonic reading reads one clock, where time.Now reads two, and
// a deadline is a plain number to compare.
var clockBase = time.Now()

// monoNow is the time elapsed since clockBase: always > 0.
func monoNow() time.Duration { return time.Since(clockBase) }

// readFailed ends the connection after a failed read: 408 to a client that
// stalled mid-request; otherwise (half-close, idle timeout, Stop) the
// responses still owed, those of held exchanges, are sent first.
func (c *conn) readFailed(err error, midRequest bool) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed { // a flush closed it and woke us: not a client timeout
		return
	}
	timeout := errors.Is(err, os.ErrDeadlineExceeded)
	if timeout && midRequest && !c.srv.stopping.Load() {
		c.srv.stats.timeouts.Add(1)
		c.refuse(errTimeout)
		return
	}
	if !timeout { // the client closed its side, or the connection failed
		c.cancelHeld()
	}
	if err == io.EOF || timeout {
		c.waitDrained()
		c.flush()
	}
}

// cancelHeld calls the Cancel hook of each held exchange still waiting for
// its response, once. Only the serve goroutine calls it, so no exchange it
// names can be recycled meanwhile (recycling happens in get, on this
// goroutine).
func (c *conn) cancelHeld() {
	c.mu.Lock()
	var waiting []*Exchange
	for _, x := range c.queue[c.qhead:] {
		if x.held && !x.done && !x.cancelled && x.Cancel != nil {
			x.cancelled = true
			waiting = append(waiting, x)
		}
	}
	c.mu.Unlock()
	for _, x := range waiting {
		x.Cancel(x)
	}
}

var errTimeout = &http1.Error{Status: 408, Reason: "request timeout"}

// readMore reads body bytes with the body timeout into the room the
// caller made at buf[w:].
func (c *conn) readMore() bool {
	// Send what earlier requests in the batch produced before waiting: the
	// client may wait for those responses before sending the rest.
	if c.pendingOutput() > 0 && !c.flush() {
		return false
	}
	now := monoNow()
	if !c.setReadDeadline(now, now+c.srv.cfg.BodyTimeout) {
		return false
	}
	n, err := c.rwc.Read(c.buf[c.w:])
	c.w += n
	c.srv.stats.bytesRead.Add(uint64(n))
	if err != nil && n == 0 {
		c.readFailed(err, true)
		return false
	}
	return true
}

// compact moves unparsed input to the front of buf. Only fill calls it:
// by then no view into buf outlives the flush that preceded it.
func (c *conn) compact() {
	copy(c.buf, c.buf[c.r:c.w])
	c.w -= c.r
	c.r = 0
}

// regrow replaces buf by a larger one holding buf[keep:w], at least need
// bytes long. It allocates rather than moving in place, so views into the
// old buffer (the head of the request being read) stay intact. Offsets into
// buf shift down by keep, which it returns.
func (c *conn) regrow(keep, need int) int {
	nb := make([]byte, max(2*len(c.buf), need))
	copy(nb, c.buf[keep:c.w])
	c.buf = nb
	c.r -= keep
	c.w -= keep
	return keep
}

// readBody reads the body of the request whose head is buf[r:r+headLen]
// and advances r past it. It answers and returns false when the
// connection must end.
func (c *conn) readBody(x *Exchange, headLen int) bool {
	req := x.req
	start := c.r
	x.head = c.buf[start : start+headLen]
	c.reqStart = 0
	bodyStart := start + headLen
	switch {
	case req.Chunked:
		return c.readChunked(x, start, bodyStart)
	case req.ContentLength > 0:
		if req.ContentLength > c.srv.cfg.MaxRequestSize {
			c.r = bodyStart
			c.refuse(http1.ErrBodyTooLarge)
			return false
		}
		end := bodyStart + int(req.ContentLength)
		if end > c.w {
			if end > len(c.buf) {
				shift := c.regrow(start, end-start)
				bodyStart, end = bodyStart-shift, end-shift
			}
			if req.ExpectContinue && c.w == bodyStart && !c.continue100() {
				return false
			}
			for c.w < end {
				if !c.readMore() {
					return false
				}
			}
		}
		x.body, c.r = c.buf[bodyStart:end], end
	default:
		x.body, c.r = nil, bodyStart
	}
	return true
}

// readChunked de-chunks a body in place: decoded data never outruns the
// encoded bytes, so it is copied down over them as it is decoded.
func (c *conn) readChunked(x *Exchange, start, bodyStart int) bool {
	c.chunk.Reset()
	max := c.srv.cfg.MaxRequestSize
	rp, bw := bodyStart, bodyStart // read and write positions
	asked := false
	for {
		for rp < c.w && !c.chunk.Done() {
			n, data, err := c.chunk.Decode(c.buf[rp:c.w])
			if err == nil && int64(bw-bodyStart+len(data)) > max {
				err = http1.ErrBodyTooLarge
			}
			if err != nil {
				c.r = rp
				c.refuse(err)
				return false
			}
			bw += copy(c.buf[bw:], data)
			rp += n
		}
		if c.chunk.Done() {
			break
		}
		c.w = bw // everything read was decoded; drop the encoded copy
		rp = bw
		if c.w == len(c.buf) {
			shift := c.regrow(start, 0)
			bodyStart, rp, bw, start = bodyStart-shift, rp-shift, bw-shift, 0
		}
		if x.req.ExpectContinue && !asked {
			asked = true
			if bw == bodyStart && !c.continue100() {
				return false
			}
		}
		c.r = rp
		if !c.readMore() {
			return false
		}
	}
	x.body, c.r = c.buf[bodyStart:bw], rp
	return true
}

// continue100 sends "100 Continue" unless earlier responses are still
// pending (it must not overtake them; the client then sends the body after
// its own wait, as RFC 9110 §10.1.1 allows).
func (c *conn) continue100() bool {
	c.mu.Lock()
	if c.qhead < len(c.queue) {
		c.mu.Unlock()
		return true
	}
	c.out = append(c.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
	c.mu.Unlock()
	return c.flush()
}

// route returns the handler for x's request.
func (c *conn) route(x *Exchange) Handler {
	req := x.req
	if h := c.srv.routes.Lookup(req.Path); h != nil {
		return h
	}
	if req.MethodID == http1.MethodOptions && len(req.Path) == 1 && req.Path[0] == '*' {
		return optionsStar
	}
	return c.srv.fallback()
}

// dispatch runs the handler h for x and queues its response. It reports
// whether the connection must close after this request, and how much
// output is waiting to be written.
func (c *conn) dispatch(x *Exchange, h Handler) (closeNow bool, pending int) {
	s := c.srv
	c.nextID++
	x.id = c.nextID
	req := x.req
	x.isHead = req.MethodID == http1.MethodHead
	x.close = !req.KeepAlive || s.stopping.Load()
	s.stats.requests.Add(1)
	x.start = c.readAt
	x.bridged = isBridged(h)
	c.call(h, x)
	if x.streamBody && (!x.held || x.BodyFunc == nil) {
		x.close = true // nobody takes the body: it is never read
	}
	c.mu.Lock()
	if x.held {
		c.queue = append(c.queue, x)
		// A stream writer may be waiting for x to be queued.
		c.drained.Broadcast()
		if x.done { // Done already ran on another goroutine
			c.drainLocked()
		}
	} else {
		x.done = true
		x.stream = false // only a held exchange streams
		if s.stopping.Load() {
			// Stop began while the handler ran.
			x.close = true
		}
		if c.qhead == len(c.queue) {
			if !c.closing {
				c.out = x.appendResponse(c.out, s)
			} else { // a held response closed the connection
				x.dropped = true
			}
			c.sent = append(c.sent, x)
		} else {
			x.out = x.appendResponse(x.out[:0], s)
			c.queue = append(c.queue, x)
		}
	}
	// Once held, x.close belongs to the goroutine that will call Done.
	closeNow = (!x.held && x.close) || c.closing || (x.held && !req.KeepAlive)
	pending = len(c.out)
	c.mu.Unlock()
	return closeNow, pending
}

// call runs the handler, turning a panic into a 500 that closes the
// connection: the handler's state can no longer be trusted.
func (c *conn) call(h Handler, x *Exchange) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.stats.panics.Add(1)
			c.srv.logf("engine: handler panic serving %q: %v", x.req.Path, p)
			x.held = false
			x.SetStatus(500, "")
			x.headers, x.connHdr, x.resBody = x.headers[:0], x.connHdr[:0], x.resBody[:0]
			x.ownServer, x.ownDate = false, false
			x.close = true
		}
	}()
	h.ServeExchange(x)
}

// completeHeld finishes a held exchange: serialize, then release every
// response that was waiting for it, and write them.
func (c *conn) completeHeld(x *Exchange) {
	if c.queueHeld(x) {
		c.flush()
	}
}

// queueHeld serializes a held exchange's response and releases every
// response that was waiting for it. It reports whether output is ready to
// be written.
func (c *conn) queueHeld(x *Exchange) bool {
	c.mu.Lock()
	if x.done {
		c.mu.Unlock()
		return false
	}
	if c.srv.stopping.Load() {
		x.close = true
	}
	if x.streamBody && !x.continued && x.req.ExpectContinue {
		x.close = true // the client may or may not send the body now
	}
	if x.stream {
		var complete bool
		x.out, complete = x.appendStreamEnd(x.out[:0], c.srv)
		if !complete {
			// Fewer bytes than the Content-Length announced: the client
			// sees the body end early when the connection closes, after
			// every byte written (as abortExchange does).
			x.out, x.close = x.out[:0], true
		}
	} else {
		x.out = x.appendResponse(x.out[:0], c.srv)
	}
	x.done = true
	c.drained.Broadcast() // a body pump may wait for x
	queued := false
	for _, q := range c.queue[c.qhead:] {
		queued = queued || q == x
	}
	if !queued {
		c.mu.Unlock() // dispatch queues and drains it when the handler returns
		return false
	}
	c.drainLocked()
	ready := len(c.out) > 0 || c.closing
	c.mu.Unlock()
	return ready
}

// drainLocked moves completed responses at the head of the queue to out.
func (c *conn) drainLocked() {
	for c.qhead < len(c.queue) && c.queue[c.qhead].done {
		x := c.queue[c.qhead]
		c.queue[c.qhead] = nil
		c.qhead++
		c.drained.Broadcast() // the next one may be a stream waiting to write
		if !c.closing {
			c.out = append(c.out, x.out...)
		} else {
			x.dropped = true
		}
		c.sent = append(c.sent, x)
		if x.close {
			c.closing = true // later responses are dropped with the connection
		}
	}
	if c.qhead == len(c.queue) {
		c.queue, c.qhead = c.queue[:0], 0
		c.drained.Broadcast()
	}
}

// waitDrained blocks until no response is pending behind a held one.
func (c *conn) waitDrained() {
	c.mu.Lock()
	for c.qhead < len(c.queue) && !c.closed {
		c.drained.Wait()
	}
	c.mu.Unlock()
}

func (c *conn) pendingOutput() int {
	c.mu.Lock()
	n := len(c.out)
	c.mu.Unlock()
	return n
}

// flush writes the queued output and reports whether the connection is
// still usable.
func (c *conn) flush() bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	if c.closed {
		sent := c.sent
		c.out, c.sent = nil, nil
		c.mu.Unlock()
		for _, x := range sent { // completed after the connection ended
			if x.Written != nil {
				x.Written(x, ErrConnClosed)
			}
		}
		return false
	}
	out, sent, closing := c.out, c.sent, c.closing
	c.out, c.sent = c.spareOut[:0], c.spareSent[:0]
	c.mu.Unlock()

	var err error
	var now time.Duration
	if len(out) > 0 {
		now = monoNow()
		if dl := now + c.srv.cfg.WriteTimeout; moveDeadline(now, c.writeDL, dl) {
			c.rwc.SetWriteDeadline(clockBase.Add(dl))
			c.writeDL = dl
		}
		var n int
		n, err = c.rwc.Write(out)
		c.srv.stats.bytesWritten.Add(uint64(n))
	}
	for _, x := range sent {
		if !x.dropped && err == nil {
			c.srv.stats.observe(x, now)
		}
		if x.Written != nil {
			if x.dropped {
				x.Written(x, ErrConnClosed)
			} else {
				x.Written(x, err)
			}
		}
	}
	c.mu.Lock()
	for i, x := range sent {
		sent[i] = nil
		c.free = append(c.free, x)
	}
	c.spareOut, c.spareSent = out[:0], sent[:0]
	end := err != nil || closing
	c.broken = c.broken || err != nil
	if end {
		c.closed = true
		c.isClosed.Store(true)
		c.drained.Broadcast()
	}
	c.mu.Unlock()
	if end {
		c.rwc.SetReadDeadline(aLongTimeAgo) // wake the reader
	}
	return !end
}

var aLongTimeAgo = time.Unix(1, 0)

// refuse answers a request the engine will not serve and marks the
// connection for closing. Earlier responses go first.
func (c *conn) refuse(err error) {
	e, ok := err.(*http1.Error)
	if !ok {
		e = &http1.Error{Status: 500, Reason: "internal error"}
	}
	c.srv.stats.refused.Add(1)
	c.srv.stats.statusClass(e.Status)
	c.waitDrained()
	c.mu.Lock()
	if !c.closing {
		text := http1.StatusText(e.Status)
		c.out = http1.AppendStatusLine(c.out, 1, e.Status, text)
		c.out = append(c.out, c.srv.serverHeader...)
		c.out = http1.AppendDate(c.out)
		c.out = append(c.out, "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
		body := len("000 ") + len(text) + len(": ") + len(e.Reason) + len("\n")
		c.out = http1.AppendContentLength(c.out, int64(body))
		c.out = append(c.out, "\r\n"...)
		c.out = strconv.AppendInt(c.out, int64(e.Status), 10)
		c.out = append(c.out, ' ')
		c.out = append(c.out, text...)
		c.out = append(c.out, ": "...)
		c.out = append(c.out, e.Reason...)
		c.out = append(c.out, '\n')
		c.closing = true
	}
	c.mu.Unlock()
	c.linger = true
	c.flush()
}

// finish closes the connection and lets go of exchanges still held by
// handlers: their Done calls will find the connection closed.
func (c *conn) finish() {
	c.cancelHeld() // responses still to come can no longer be delivered
	c.mu.Lock()
	c.closed = true
	c.isClosed.Store(true)
	c.drained.Broadcast()
	broken := c.broken
	// closing: a response that closes the connection went out, perhaps a
	// held one completed while this goroutine was reading.
	linger := c.linger || c.closing
	c.mu.Unlock()
	if tc, ok := c.rwc.(*net.TCPConn); ok && broken {
		// The peer stopped reading (write timeout) or is gone: a reset
		// frees the unsent data now instead of keeping it in the kernel.
		tc.SetLinger(0)
	} else if linger {
		c.lingerClose()
	}
	c.rwc.Close()
	c.srv.forget(c)
}

// lingerClose half-closes the connection, then reads and discards what the
// client still sends until it closes too, up to LingerBytes and LingerTime
// (nginx's lingering close, net/http's closeWriteAndWait). Closing with
// input unread would make the kernel send a reset: the client's writes
// fail (one that reads only once it has sent everything never sees our
// answer) and the answer may be destroyed before the client read it. The
// bytes count as read, never as requests.
func (c *conn) lingerClose() {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	// A flush that began before finish marked the connection closed ends
	// first: the FIN must follow its output, and its wake-up deadline must
	// not cut the drain short.
	c.writeMu.Lock()
	c.writeMu.Unlock()
	if cw.CloseWrite() != nil {
		return
	}
	cfg := &c.srv.cfg
	c.rwc.SetReadDeadline(time.Now().Add(cfg.LingerTime))
	n, _ := io.CopyN(io.Discard, c.rwc, cfg.LingerBytes)
	c.srv.stats.bytesRead.Add(uint64(n))
}

// abort closes the connection now, waking its goroutine wherever it
// waits: reading, writing, or for a held exchange (waitDrained).
func (c *conn) abort() {
	c.mu.Lock()
	c.closed = true
	c.isClosed.Store(true)
	c.drained.Broadcast()
	c.mu.Unlock()
	c.rwc.Close()
}

// get returns a reset exchange for this connection. Only the serve
// goroutine calls it; it refills its private cache from free (which
// flushers fill) one lock per batch rather than one per request.
func (c *conn) get() *Exchange {
	if len(c.cache) == 0 {
		c.mu.Lock()
		c.cache, c.free = append(c.cache, c.free...), c.free[:0]
		c.mu.Unlock()
	}
	var x *Exchange
	if n := len(c.cache); n > 0 {
		x = c.cache[n-1]
		c.cache[n-1] = nil
		c.cache = c.cache[:n-1]
	} else {
		x = &Exchange{}
	}
	x.reset(c)
	return x
}

// put returns an unused exchange; serve goroutine only.
func (c *conn) put(x *Exchange) { c.cache = append(c.cache, x) }

// optionsStar answers "OPTIONS *" when no route claims "*".
var optionsStar = HandlerFunc(func(x *Exchange) {
	x.AddHeader([]byte("Allow"), []byte("GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"))
})
