package engine

import (
	"net"
	"strconv"
	"time"

	"github.com/haywireowin/haywire/http1"
)

// Exchange is one request and the response being built for it.
//
// The request views ([Exchange.Request], [Exchange.Body]) are valid while
// ServeExchange runs; after Hold they stay valid until Done. The response
// setters may be called from the handler, or after Hold from any single
// goroutine at a time, until Done. After Done (or after ServeExchange
// returns without Hold) the Exchange belongs to the engine again and must
// not be touched.
type Exchange struct {
	// UserData is free for the handler's use; the engine never reads it.
	UserData any
	// Written, if set by the handler, is called once the response has been
	// written to the socket (err nil) or could not be (err set: connection
	// lost), from the goroutine that wrote it. The exchange is still valid
	// during the call.
	Written func(x *Exchange, err error)
	// Cancel, if set by a handler that holds the exchange, is called once
	// if the client goes away before the response is written: it closed
	// its side of the connection (as net/http, a half-close counts: the
	// response is still sent if it comes), or the connection failed. It
	// runs on the connection's goroutine and must not block; the exchange
	// stays valid and Done must still be called.
	Cancel func(x *Exchange)
	// BodyFunc receives a streamed request body (see BodyStreamer) on the
	// connection's goroutine: p is valid during the call only; end is true
	// on the last call, which comes once the body is complete (p may be
	// empty then). Blocking in it holds the client back (TCP flow control).
	// An error stops the body: the engine reads no more of it and closes
	// the connection after the response. If the body cannot be completed
	// (client gone, malformed, too large, timeout), Cancel is called
	// instead of the last call, and the connection closes.
	BodyFunc func(x *Exchange, p []byte, end bool) error

	conn   *conn
	req    *http1.Request
	reqs   [2]http1.Request // req points at one; Hold clones into the other
	head   []byte           // the request head in the read buffer
	body   []byte
	store  []byte // owned copy of head and body after Hold
	id     uint64
	isHead bool // HEAD request: send no body
	// For the latency histograms: when its head was read (monoNow), and
	// whether the bridge (Server.SetBridged) serves it.
	start   time.Duration
	bridged bool

	// response
	status  int
	minor   int // response HTTP minor version
	reason  []byte
	headers []byte // serialized "Name: value\r\n" lines set by the handler
	connHdr []byte // the handler's Connection header value, if any
	resBody []byte
	close   bool // close the connection after this response
	dropped bool // not sent: an earlier response closed the connection (conn.mu)
	held    bool
	// The handler gave its own Server / Date field: the engine's is left
	// out, as two of either make an invalid message (RFC 9110 §5.3).
	ownServer, ownDate bool
	// Streamed request body: the head was dispatched before the body.
	streamBody bool
	continued  bool // Continue was called (conn.mu)
	// Streamed response (StartStream): headSent once the head went out.
	stream    bool
	streamCL  int64  // announced length, -1 for chunked / until close
	streamed  int64  // body bytes accepted by WriteStream (conn.mu)
	headSent  bool   // (conn.mu)
	aborted   bool   // Abort was called (conn.mu)
	cancelled bool   // Cancel was called (conn.mu)
	done      bool   // response complete (guarded by conn.mu once held)
	out       []byte // serialized response waiting for earlier ones (conn.mu)
	err       *http1.Error
}

// reset readies x for a new request.
func (x *Exchange) reset(c *conn) {
	x.UserData, x.Written, x.Cancel, x.cancelled = nil, nil, nil, false
	x.BodyFunc, x.streamBody, x.continued = nil, false, false
	x.stream, x.streamCL, x.streamed, x.headSent, x.aborted = false, 0, 0, false, false
	x.conn, x.req = c, &x.reqs[0]
	x.head, x.body, x.store = nil, nil, x.store[:0]
	x.status, x.minor, x.reason = 200, 1, x.reason[:0]
	x.headers, x.connHdr, x.resBody = x.headers[:0], x.connHdr[:0], x.resBody[:0]
	x.ownServer, x.ownDate = false, false
	x.close, x.held, x.done, x.out, x.err = false, false, false, x.out[:0], nil
	x.dropped = false
}

// Request returns the parsed request head.
func (x *Exchange) Request() *http1.Request { return x.req }

// Head returns the raw bytes of the request head, which the Request's
// views point into; valid as long as they are.
func (x *Exchange) Head() []byte { return x.head }

// Body returns the whole request body (de-chunked), or an empty slice; empty
// too when the body is streamed (see BodyStreamer).
func (x *Exchange) Body() []byte { return x.body }

// BodyStreamed reports whether the request body comes through BodyFunc
// rather than Body.
func (x *Exchange) BodyStreamed() bool { return x.streamBody }

// Continue tells the engine that the handler wants a streamed body the
// client holds back with "Expect: 100-continue": the engine answers
// "100 Continue" (unless an earlier response is still pending on the
// connection) and starts delivering the body to BodyFunc. Until then it
// reads none of it; a handler that completes the exchange without calling
// Continue gets no body and the connection closes after the response. Any
// goroutine; calls after the first do nothing.
func (x *Exchange) Continue() {
	c := x.conn
	c.mu.Lock()
	x.continued = true
	c.drained.Broadcast()
	c.mu.Unlock()
}

// ID returns the request's sequence number on its connection, from 1.
func (x *Exchange) ID() uint64 { return x.id }

// ConnID returns a number identifying the connection, unique per Server.
func (x *Exchange) ConnID() uint64 { return x.conn.id }

// RemoteAddr returns the client's address.
func (x *Exchange) RemoteAddr() net.Addr { return x.conn.rwc.RemoteAddr() }

// LocalAddr returns the address the request arrived on.
func (x *Exchange) LocalAddr() net.Addr { return x.conn.rwc.LocalAddr() }

// SetStatus sets the response status code (default 200) and reason phrase
// ("" for the standard one; so is a reason with CR, LF or NUL, which could
// split the response). A code outside 200–999 is answered as 500: 1xx are
// interim responses the engine sends itself.
func (x *Exchange) SetStatus(code int, reason string) {
	x.status = code
	x.reason = append(x.reason[:0], reason...)
	if !http1.SafeFieldValue(x.reason) {
		x.reason = x.reason[:0]
	}
}

// SetStatusLine sets the status from Haywire's form, "200 OK": a three-digit
// code, then optionally a space and the reason phrase. A malformed line is
// answered as 500.
func (x *Exchange) SetStatusLine(line []byte) {
	code := 0
	if len(line) >= 3 && isDigit(line[0]) && isDigit(line[1]) && isDigit(line[2]) {
		code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	}
	reason := line[min(len(line), 3):]
	if code == 0 || (len(reason) > 0 && reason[0] != ' ') || !http1.SafeFieldValue(reason) {
		x.status, x.reason = 500, x.reason[:0]
		return
	}
	x.status = code
	if len(reason) > 0 {
		reason = reason[1:]
	}
	x.reason = append(x.reason[:0], reason...)
}

// SetHTTPVersion sets the response's HTTP minor version (0 or 1; default 1).
func (x *Exchange) SetHTTPVersion(minor int) {
	if minor == 0 {
		x.minor = 0
	} else {
		x.minor = 1
	}
}

// AddHeader adds a response header field. The engine writes Date, Server
// and Content-Length itself: Content-Length and Transfer-Encoding given
// here are ignored, as are fields with a name that is not a token or a value
// with CR, LF or NUL in it (they could split the response); a Date or
// Server given here is sent instead of the engine's. A Connection field is
// honoured: "close" closes the connection after the response. It reports
// whether the field was kept.
func (x *Exchange) AddHeader(name, value []byte) bool {
	if !http1.ValidToken(name) || !http1.SafeFieldValue(value) {
		return false
	}
	// By length first: most names are none of these.
	switch len(name) {
	case len("content-length"), len("transfer-encoding"):
		if http1.EqualFoldToken(name, "content-length") || http1.EqualFoldToken(name, "transfer-encoding") {
			return false
		}
	case len("connection"):
		if http1.EqualFoldToken(name, "connection") {
			x.connHdr = append(x.connHdr[:0], value...)
			if http1.HasToken(value, "close") {
				x.close = true
			}
			return true
		}
	case len("server"):
		x.ownServer = x.ownServer || http1.EqualFoldToken(name, "server")
	case len("date"):
		x.ownDate = x.ownDate || http1.EqualFoldToken(name, "date")
	}
	x.headers = append(x.headers, name...)
	x.headers = append(x.headers, ": "...)
	x.headers = append(x.headers, value...)
	x.headers = append(x.headers, "\r\n"...)
	return true
}

// SetBody replaces the response body with a copy of b.
func (x *Exchange) SetBody(b []byte) { x.resBody = append(x.resBody[:0], b...) }

// Write appends b to the response body. It never fails.
func (x *Exchange) Write(b []byte) (int, error) {
	x.resBody = append(x.resBody, b...)
	return len(b), nil
}

// WriteString appends s to the response body.
func (x *Exchange) WriteString(s string) (int, error) {
	x.resBody = append(x.resBody, s...)
	return len(s), nil
}

// Hold tells the engine that the response will be completed later, by a
// call to Done from any goroutine. It must be called before ServeExchange
// returns. Hold copies the request head and body out of the connection's
// buffer so they stay valid until Done. Responses to later requests on the
// same connection wait for this one.
func (x *Exchange) Hold() {
	if x.held {
		return
	}
	x.held = true
	other := &x.reqs[1]
	if x.req == other {
		other = &x.reqs[0]
	}
	x.store = x.req.Clone(x.head, other, x.store[:0])
	x.req = other
	x.head = x.store[:len(x.head):len(x.head)] // Head and the views agree
	start := len(x.store)
	x.store = append(x.store, x.body...)
	x.body = x.store[start:]
}

// StartStream makes a held exchange's response a stream: the status and
// header fields set so far go out with the first WriteStream (or at
// Done), then the body as it is written. contentLength is the body's
// length, announced as Content-Length and enforced (Done with fewer bytes,
// or a WriteStream past it, aborts the connection: the response cannot be
// completed); -1 sends the body chunked to HTTP/1.1 clients, and to
// HTTP/1.0 ones until the connection closes. Call it before the first
// WriteStream, from the goroutine that builds the response.
func (x *Exchange) StartStream(contentLength int64) {
	x.stream, x.streamCL = true, max(contentLength, -1)
}

// WriteStream sends p as the next part of a streamed body (StartStream)
// and returns once it is written to the socket: a slow client slows the
// caller down. It waits until every earlier response on the connection has
// gone out. p may be reused when it returns. It fails, sending nothing,
// when the connection is closed or p would exceed the announced length
// (the connection is then aborted).
func (x *Exchange) WriteStream(p []byte) error {
	if !x.held || !x.stream {
		return ErrNotStreaming
	}
	return x.conn.writeStream(x, p)
}

// Abort gives up on a held exchange's response and ends the connection,
// so the client sees the response cut short: after what was written when
// the body is framed (Content-Length or chunked), else with a reset (a
// body that ends with the connection cannot be told from a whole one
// otherwise). Responses behind it are lost with the connection. It
// completes the exchange: do not call Done after it. Any goroutine.
func (x *Exchange) Abort() {
	if x.held {
		x.conn.abortExchange(x)
	}
}

// Done completes a held response and lets the engine send it. It may be
// called from any goroutine, once. Calling it on an exchange that was not
// held does nothing.
func (x *Exchange) Done() {
	if x.held {
		x.conn.completeHeld(x)
	}
}

// Completer completes held exchanges in batches: Done queues a response
// without writing it, and Flush writes each connection that has output
// once. A goroutine completing many exchanges (a bridge's receiver) saves
// a write per response: pipelined responses leave together, as they do
// for handlers that return. A Completer is not safe for concurrent use.
type Completer struct {
	conns []*conn
}

// Done completes a held exchange like Exchange.Done, but leaves the write
// to Flush. It does nothing for an exchange that was not held.
func (cp *Completer) Done(x *Exchange) {
	if !x.held {
		return
	}
	// Read before queueHeld: once x is complete, a flush on another
	// goroutine may send it and its connection reuse it for a new request.
	xc := x.conn
	if !xc.queueHeld(x) {
		return
	}
	for _, c := range cp.conns {
		if c == xc {
			return
		}
	}
	cp.conns = append(cp.conns, xc)
}

// Flush writes what Done queued.
func (cp *Completer) Flush() {
	for i, c := range cp.conns {
		c.flush()
		cp.conns[i] = nil
	}
	cp.conns = cp.conns[:0]
}

// appendResponse serializes the response onto dst.
func (x *Exchange) appendResponse(dst []byte, srv *Server) []byte {
	status, reason := x.status, string(x.reason)
	if status < 200 || status > 999 {
		status, reason = 500, ""
	}
	dst = http1.AppendStatusLine(dst, x.minor, status, reason)
	if !x.ownServer {
		dst = append(dst, srv.serverHeader...)
	}
	if !x.ownDate {
		dst = http1.AppendDate(dst)
	}
	dst = append(dst, x.headers...)
	switch {
	case x.close:
		dst = append(dst, "Connection: close\r\n"...)
	case len(x.connHdr) > 0:
		dst = http1.AppendHeader(dst, "Connection", string(x.connHdr))
	case x.minor == 0 || x.req.Minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	bodyless := status == 204 || status == 304
	switch {
	case bodyless:
	case x.stream && x.streamCL < 0 && x.req.Minor == 0:
		// HTTP/1.0 has no chunked coding: the body ends with the
		// connection (x.close is set by whoever commits the head).
	case x.stream && x.streamCL < 0:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case x.stream:
		dst = http1.AppendContentLength(dst, x.streamCL)
	default:
		dst = http1.AppendContentLength(dst, int64(len(x.resBody)))
	}
	dst = append(dst, "\r\n"...)
	if !bodyless && !x.isHead && !x.stream {
		dst = append(dst, x.resBody...)
	}
	return dst
}

// chunkedBody reports whether a streamed body goes out in chunks.
func (x *Exchange) chunkedBody() bool {
	return x.stream && x.streamCL < 0 && x.req.Minor > 0 && !x.bodyless()
}

func (x *Exchange) bodyless() bool { return x.status == 204 || x.status == 304 }

// appendStreamPart appends p, framed as the body requires.
func (x *Exchange) appendStreamPart(dst, p []byte) []byte {
	if len(p) == 0 || x.isHead || x.bodyless() {
		return dst
	}
	if x.chunkedBody() {
		dst = strconv.AppendInt(dst, int64(len(p)), 16)
		dst = append(dst, "\r\n"...)
		dst = append(dst, p...)
		return append(dst, "\r\n"...)
	}
	return append(dst, p...)
}

// appendStreamEnd appends what completes a streamed response at Done: the
// head if nothing was written, the buffered body, the last chunk. It
// reports false when the announced length was not reached.
func (x *Exchange) appendStreamEnd(dst []byte, srv *Server) ([]byte, bool) {
	if !x.headSent {
		x.commitHead()
		dst = x.appendResponse(dst, srv)
		x.headSent = true
	}
	if len(x.resBody) > 0 { // written with Write rather than WriteStream
		x.streamed += int64(len(x.resBody))
		dst = x.appendStreamPart(dst, x.resBody)
	}
	if x.chunkedBody() && !x.isHead {
		dst = append(dst, "0\r\n\r\n"...)
	}
	complete := x.streamCL < 0 || x.streamed == x.streamCL || x.isHead || x.bodyless()
	return dst, complete
}

// commitHead settles what the head of a streamed response implies.
func (x *Exchange) commitHead() {
	if x.streamCL < 0 && x.req.Minor == 0 && !x.bodyless() && !x.isHead {
		x.close = true // the body ends with the connection
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
