package host

import (
	"strconv"

	"github.com/haywireowin/haywire/bridge/wire"
)

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
