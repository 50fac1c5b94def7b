package host

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

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
