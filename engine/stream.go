package engine

import (
	"errors"
	"net"
	"os"

	"github.com/haywireowin/haywire/http1"
)

// streamBufSize is the read buffer a connection uses while it streams a
// request body: one read, one piece handed to BodyFunc.
const streamBufSize = 64 << 10

// streamable reports whether x's body goes to h as a stream.
func (c *conn) streamable(x *Exchange, h Handler) bool {
	req := x.req
	if !req.Chunked && req.ContentLength <= 0 {
		return false
	}
	bs, ok := h.(BodyStreamer)
	return ok && bs.StreamBody(x)
}

// beginStream readies x, whose head is buf[r:r+headLen], for dispatch
// without its body. It answers and returns false when the connection must
// end.
func (c *conn) beginStream(x *Exchange, headLen int) bool {
	req := x.req
	start := c.r
	x.head = c.buf[start : start+headLen]
	c.reqStart = 0
	c.r = start + headLen
	x.body = nil
	if !req.Chunked && req.ContentLength > c.srv.cfg.MaxRequestSize {
		c.refuse(http1.ErrBodyTooLarge)
		return false
	}
	return true
}

// Outcomes of pumpBody.
const (
	bodyDone    = iota // the body was delivered; the next request may follow
	bodyRefused        // nobody took (all of) it: close after the response
	bodyFailed         // the body broke off; the connection is over
)

// pumpBody delivers x's streamed body to its BodyFunc, after the handler
// returned. Only the serve goroutine calls it.
func (c *conn) pumpBody(x *Exchange) int {
	fn := x.BodyFunc
	if !x.held || fn == nil {
		return bodyRefused
	}
	if x.req.ExpectContinue && !c.awaitContinue(x) {
		return bodyRefused
	}
	if len(c.buf) < streamBufSize {
		c.regrow(c.r, streamBufSize)
	}
	if x.req.Chunked {
		return c.pumpChunked(x, fn)
	}
	return c.pumpLength(x, fn, x.req.ContentLength)
}

// awaitContinue waits until the handler asks for the body (Continue), then
// sends "100 Continue" if no earlier response is still owed. It reports
// false when the exchange completed, or the connection closed, first.
func (c *conn) awaitContinue(x *Exchange) bool {
	c.mu.Lock()
	for !x.continued && !x.done && !c.closed {
		c.drained.Wait()
	}
	if !x.continued || c.closed || c.closing {
		c.mu.Unlock()
		return false
	}
	// Nothing of ours may precede the interim response: no earlier
	// response pending, and none of x's own head sent.
	first := c.qhead < len(c.queue) && c.queue[c.qhead] == x && !x.headSent && !x.done
	if first {
		c.out = append(c.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
	}
	c.mu.Unlock()
	return !first || c.flush()
}

// pumpLength delivers a body of n bytes.
func (c *conn) pumpLength(x *Exchange, fn func(*Exchange, []byte, bool) error, n int64) int {
	left := n
	for {
		k := min(int64(c.w-c.r), left)
		if k > 0 {
			p := c.buf[c.r : c.r+int(k)]
			c.r += int(k)
			left -= k
			if fn(x, p, left == 0) != nil {
				return bodyRefused
			}
			if left == 0 {
				return bodyDone
			}
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		}
		if !c.readBodyBytes(x) {
			return bodyFailed
		}
	}
}

// pumpChunked de-chunks a body in place (decoded data never outruns the
// encoded bytes) and delivers what each read brought as one piece.
func (c *conn) pumpChunked(x *Exchange, fn func(*Exchange, []byte, bool) error) int {
	c.chunk.Reset()
	max := c.srv.cfg.MaxRequestSize
	var total int64
	for {
		start, bw := c.r, c.r
		for c.r < c.w && !c.chunk.Done() {
			n, data, err := c.chunk.Decode(c.buf[c.r:c.w])
			if total += int64(len(data)); err == nil && total > max {
				err = http1.ErrBodyTooLarge
			}
			if err != nil {
				c.srv.logf("engine: streamed body of %q: %v", x.req.Path, err)
				c.failBody(x)
				return bodyFailed
			}
			bw += copy(c.buf[bw:], data)
			c.r += n
		}
		done := c.chunk.Done()
		if bw > start || done {
			if fn(x, c.buf[start:bw], done) != nil {
				return bodyRefused
			}
		}
		if done {
			return bodyDone
		}
		c.r, c.w = 0, 0 // the decoder took every byte read
		if !c.readBodyBytes(x) {
			return bodyFailed
		}
	}
}

// readBodyBytes reads more of a streamed body into buf[w:]. On failure
// (client gone, body timeout, Stop) it cancels x and reports false: the
// connection ends, and x's response, which depends on the rest of the
// body, is not waited for.
func (c *conn) readBodyBytes(x *Exchange) bool {
	if c.pendingOutput() > 0 && !c.flush() {
		c.failBody(x)
		return false
	}
	now := monoNow()
	if !c.setReadDeadline(now, now+c.srv.cfg.BodyTimeout) {
		c.failBody(x)
		return false
	}
	n, err := c.rwc.Read(c.buf[c.w:])
	c.w += n
	c.srv.stats.bytesRead.Add(uint64(n))
	if err != nil && n == 0 {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.srv.stats.timeouts.Add(1)
		}
		c.failBody(x)
		return false
	}
	return true
}

// failBody tells x's handler that its body will not be completed.
func (c *conn) failBody(x *Exchange) {
	c.mu.Lock()
	call := x.held && !x.done && !x.cancelled && x.Cancel != nil
	x.cancelled = x.cancelled || call
	c.mu.Unlock()
	if call {
		x.Cancel(x)
	}
}

// writeStream sends p as part of x's streamed response, once every
// response before x has gone out.
func (c *conn) writeStream(x *Exchange, p []byte) error {
	c.mu.Lock()
	for !c.closed && !x.done && !(c.qhead < len(c.queue) && c.queue[c.qhead] == x) {
		c.drained.Wait()
	}
	if c.closed || c.closing || x.done {
		c.mu.Unlock()
		return ErrConnClosed
	}
	if x.streamCL >= 0 && x.streamed+int64(len(p)) > x.streamCL && !x.isHead && !x.bodyless() {
		c.mu.Unlock()
		c.abortExchange(x)
		return ErrStreamLength
	}
	if !x.headSent {
		x.commitHead()
		c.out = x.appendResponse(c.out, c.srv)
		x.headSent = true
	}
	x.streamed += int64(len(p))
	c.out = x.appendStreamPart(c.out, p)
	c.mu.Unlock()
	if !c.flush() {
		return ErrConnClosed
	}
	return nil
}

// abortExchange completes x without the rest of its response and ends
// the connection. When x's head went out with a length or chunked, the
// client can tell the body is cut short: the connection closes as after
// a closing response (a FIN after what was written, none of which is
// lost; then the lingering close). Otherwise (nothing sent, or a body
// that ends with the connection) only a reset keeps the client from
// taking a truncated response for whole; a reset also destroys what the
// client has not read yet.
func (c *conn) abortExchange(x *Exchange) {
	c.mu.Lock()
	if x.done || c.closed {
		x.done = true
		c.mu.Unlock()
		return
	}
	x.done, x.aborted, x.dropped = true, true, true
	if x.headSent && !x.isHead && (x.streamCL >= 0 || x.chunkedBody()) {
		c.closing = true // nothing more goes out on this connection
		c.drained.Broadcast()
		c.mu.Unlock()
		c.flush() // closes it and wakes its goroutine, which lingers
		return
	}
	c.broken, c.closed = true, true
	c.isClosed.Store(true)
	c.drained.Broadcast()
	c.mu.Unlock()
	if tc, ok := c.rwc.(*net.TCPConn); ok {
		tc.SetLinger(0) // a reset: the client must not take what it got for whole
	}
	c.rwc.Close()
}
