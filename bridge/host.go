package bridge

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/haywireowin/haywire/region"
)

// HostHandler serves one request on a host. The view and its bytes are
// valid until the handler returns; w is sent when it returns.
type HostHandler func(req View, w *ResponseWriter)

// Host is the host side: attached to an engine's region, it runs a
// handler for each request and sends the responses back. Requests are
// served concurrently, each on its own goroutine.
type Host struct {
	r      *region.Region
	sendMu sync.Mutex // serialises the region's Sender
}

// ErrDrained is returned by Serve when the engine handed this host's work
// to a newer host and every request it had was answered.
var ErrDrained = errors.New("bridge: drained: a newer host took over")

// Attach attaches to a free lane of the region an engine created, by the
// name the engine printed.
func Attach(name string, opts region.Options) (*Host, error) {
	r, err := region.OpenAnyLane(name, opts)
	if err != nil {
		return nil, err
	}
	return &Host{r: r}, nil
}

// Region returns the host's attachment.
func (h *Host) Region() *region.Region { return h.r }

// Close detaches from the region.
func (h *Host) Close() error { return h.r.Close() }

// Serve runs handler for every request until ctx ends, the engine goes
// away, or the engine tells this host to drain (a newer host took over:
// Serve then answers what it has and returns ErrDrained); it waits for the
// handlers in progress before it returns.
func (h *Host) Serve(ctx context.Context, handler HostHandler) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	rc := h.r.Receiver()
	var parts []byte // a request spread over several chunks
	for {
		if ctx.Err() != nil {
			return nil
		}
		err := rc.Wait(50*time.Millisecond, ctx.Done())
		switch {
		case err == nil, errors.Is(err, region.ErrTimeout):
		case errors.Is(err, region.ErrPeerDead), errors.Is(err, region.ErrPeerGone), errors.Is(err, region.ErrClosed):
			return err
		}
		if h.r.CreatorClosed() {
			return region.ErrPeerGone
		}
		n, err := rc.Poll(64)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			d, err := rc.Get(i)
			if err != nil {
				continue // stale, or counted as invalid by the region
			}
			if d.Kind == region.KindCancel && d.Stream == 0 && d.Aux == CancelDrain {
				rc.Consume(n) // everything before it was a request already taken
				wg.Wait()
				return ErrDrained
			}
			if d.Kind != region.KindRequest {
				continue // per-stream cancels: not yet acted upon
			}
			parts = append(parts, rc.Payload(&d)...)
			rc.Release(&d)
			if d.Flags&region.FlagEnd == 0 {
				continue
			}
			msg := parts
			parts = nil
			wg.Add(1)
			go func(stream uint64, conn uint32) {
				defer wg.Done()
				h.serveOne(stream, conn, msg, handler)
			}(d.Stream, d.Conn)
		}
		rc.Consume(n)
	}
}

func (h *Host) serveOne(stream uint64, conn uint32, msg []byte, handler HostHandler) {
	w := &ResponseWriter{status: 200}
	v, err := DecodeView(msg)
	if err != nil {
		w.status, w.body = 500, []byte("host: "+err.Error()+"\n")
	} else {
		func() {
			defer func() {
				if p := recover(); p != nil {
					w.status, w.fields, w.body = 500, nil, []byte("host: handler panic\n")
				}
			}()
			handler(v, w)
		}()
	}
	h.send(stream, conn, w)
}

// send publishes a response, waiting for room in the ring and arena.
func (h *Host) send(stream uint64, conn uint32, w *ResponseWriter) error {
	msg, err := EncodeResponse(nil, &ResponseHead{Status: w.status, Fields: w.fields, ContentLength: int64(len(w.body))}, w.body)
	if err != nil { // the handler set what cannot be sent: answer 500
		msg, _ = EncodeResponse(nil, &ResponseHead{Status: 500, ContentLength: -1}, []byte("host: "+err.Error()+"\n"))
	}
	d := region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Stream: stream, Conn: conn}
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	snd := h.r.Sender()
	for {
		err := snd.SendBytes(d, msg)
		switch {
		case err == nil:
			return nil
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
	}
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
