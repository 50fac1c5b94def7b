package bridge

import (
	"errors"
	"log"
	"time"

	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
)

// errStreamOver stops a request body nobody wants any more.
var errStreamOver = errors.New("bridge: stream over")

// forwardBody is a streamed request's engine.Exchange.BodyFunc: it copies
// each piece of the body into request-arena chunks and publishes them as
// KindBody, then KindEnd. It blocks while the host holds BodyWindow of
// this stream's chunks, or the ring or arena is full: the engine then
// reads no more from the client. It gives up when the stream is over.
func (s *stream) forwardBody(_ *engine.Exchange, p []byte, end bool) error {
	l := s.l
	pause := 50 * time.Microsecond
	for len(p) > 0 || end {
		if s.over.Load() {
			return errStreamOver
		}
		sent, ok := l.sendBody(s, p, end)
		p = p[sent:]
		if len(p) == 0 && ok {
			end = false // the last piece, or END, went out
		}
		if ok || sent > 0 {
			pause = 50 * time.Microsecond
			continue
		}
		// No room: wait for the host to give chunks back. The stop is
		// checked each slice; polling is cheap next to the bytes moved.
		select {
		case <-l.b.stop:
			return errStreamOver
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Millisecond)
	}
	return nil
}

// sendBody publishes as much of p as the window, ring and arena allow, as
// one KindBody per chunk (the last flagged FlagEnd when end and p fits),
// or KindEnd for an empty p with end. It returns the bytes sent and
// whether all of p (and the end, if asked) went.
func (l *lane) sendBody(s *stream, p []byte, end bool) (int, bool) {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	snd := l.r.Sender()
	if _, err := snd.Collect(); err != nil {
		l.b.stats.invalid.Add(1)
	}
	if len(p) == 0 { // end only
		ok, err := snd.Send(&region.Descriptor{Kind: region.KindEnd, Stream: s.id, Conn: s.conn})
		return 0, ok && err == nil
	}
	room, _ := snd.Reserve(min(s.window(l), (len(p)+l.chunk-1)/l.chunk))
	sent, k := 0, 0
	for k < room && sent < len(p) {
		c, ok := snd.Alloc()
		if !ok {
			break
		}
		n := copy(c.Buf, p[sent:])
		d := region.Descriptor{Kind: region.KindBody, Stream: s.id, Conn: s.conn, Offset: c.Offset, Length: uint32(n), Gen: c.Gen}
		if end && sent+n == len(p) {
			d.Flags = region.FlagEnd
		}
		if err := snd.Put(k, &d); err != nil { // a bug of ours, not the host's
			snd.Free(c)
			log.Printf("bridge: stream %d: body piece: %v", s.id, err)
			break
		}
		l.owner[c.Offset/uint32(l.chunk)] = s
		s.lent++
		sent += n
		k++
	}
	// Counted before publishing: once the host has it, the exchange may
	// complete, and whoever then reads the stats must see these bytes.
	l.b.stats.bodyIn.Add(uint64(sent))
	snd.Commit(k)
	return sent, sent == len(p)
}

// window returns how many more chunks s may lend to the host (sendMu).
func (s *stream) window(l *lane) int { return max(0, l.window-s.lent) }

// returned is the Sender's OnReturn: a chunk of a body came back (sendMu).
func (l *lane) returned(off uint32) {
	i := off / uint32(l.chunk)
	if int(i) < len(l.owner) && l.owner[i] != nil {
		l.owner[i].lent--
		l.owner[i] = nil
	}
}

// piece is a part of a streamed response for the writer goroutine: a
// KindBody (with its chunk, released once written), the end, or the
// host's abort. An abort travels with the pieces, so whatever the host
// published before it reaches the client first: ring order is byte order.
type piece struct {
	d     region.Descriptor
	data  []byte // in the host's arena
	end   bool
	abort bool
}

// responseBody routes a KindBody or KindEnd from the host to its stream's
// writer and reports whether the writer keeps the chunk.
func (l *lane) responseBody(d *region.Descriptor, payload []byte) bool {
	l.mu.Lock()
	s := l.streams[d.Stream]
	if s == nil || s.out == nil { // gone, or no streamed head before it
		l.mu.Unlock()
		if s != nil {
			l.b.stats.invalid.Add(1)
		}
		return false
	}
	end := d.Kind == region.KindEnd || d.Flags&region.FlagEnd != 0
	if end {
		delete(l.streams, d.Stream)
		l.n.Store(int32(len(l.streams)))
		s.over.Store(true) // the response is complete: no more request body
	}
	l.mu.Unlock()
	p := piece{d: *d, data: payload, end: end}
	select {
	case s.out <- p:
		return d.Kind == region.KindBody
	case <-s.failed:
	case <-l.b.stop:
	}
	return false
}

// failStream answers 502 to stream id (or cuts a streamed response) after
// the host sent something for it that cannot be used.
func (l *lane) failStream(id uint64, why error) {
	if l.endStream(id, 502, "application host sent an invalid response") {
		log.Printf("bridge: stream %d: %v", id, why)
		l.b.stats.failed.Add(1)
	}
}

// hostAbort ends a stream the host gave up on.
func (l *lane) hostAbort(id uint64) {
	if l.endStream(id, 500, "the application failed") {
		l.b.stats.aborted.Add(1)
	}
}

// endStream takes stream id out and answers it with status and msg, or
// cuts its streamed response. It reports false if the stream was gone.
func (l *lane) endStream(id uint64, status int, msg string) bool {
	l.mu.Lock()
	s := l.streams[id]
	delete(l.streams, id)
	l.n.Store(int32(len(l.streams)))
	l.mu.Unlock()
	if s == nil {
		return false
	}
	s.over.Store(true)
	if s.out != nil {
		// Behind the pieces already queued. The queue holds one piece per
		// chunk the host lent plus one, so it has room unless the host
		// broke the protocol; then the order no longer matters.
		select {
		case s.out <- piece{abort: true}:
		default:
			s.fail()
		}
		return true
	}
	respondError(s.x, status, msg)
	l.done.Done(s.x)
	return true
}

// fail tells the writer to abandon the stream.
func (s *stream) fail() { s.failOnce.Do(func() { close(s.failed) }) }

// write runs on its own goroutine for a streamed response: it writes the
// head at once (a head-only flush is how a host starts a long poll or an
// event stream), then each piece, then gives its chunk back, so a slow
// client holds the host back rather than the engine's memory filling.
// first is the body part of the response message.
func (s *stream) write(contentLength int64, first []byte) {
	x, l := s.x, s.l
	defer l.b.writers.Done()
	rc := l.r.Receiver()
	x.StartStream(contentLength)
	var err error
	headOut := false
	put := func(p []byte) {
		if err != nil || (len(p) == 0 && headOut) {
			return
		}
		if err = x.WriteStream(p); err != nil {
			cancelStream(x) // the host may stop producing
			return
		}
		headOut = true
		l.b.stats.bodyOut.Add(uint64(len(p)))
	}
	var p piece
	have := false
	if len(first) == 0 {
		// What the host published with the head leaves in the head's
		// write: a first piece, or the end (Done writes head and end).
		select {
		case p = <-s.out:
			have = true
		default:
		}
	}
	// The head, now -- unless the client may wait for a 100 Continue: a
	// final head would preclude it (the engine sends the interim response
	// only before any of the final one), so the head of a response to
	// "Expect: 100-continue" leaves with the first body bytes. An abort
	// queued already cuts after the head all the same, as one that comes
	// later would.
	if (!have || p.abort) && (len(first) > 0 || !x.Request().ExpectContinue) {
		put(first)
	}
	for {
		if !have {
			select {
			case p = <-s.out:
			case <-s.failed:
				// The host is gone: its chunks are not ours to give back
				// any more (a dead host's arena is reclaimed whole), and
				// the client must not take a truncated body for whole.
				x.Abort()
				return
			case <-l.b.stop:
				x.Abort()
				return
			}
		}
		have = false
		select {
		case <-s.failed:
			// The host is gone: p.data is in an arena that may be the
			// next host's already (a select picks at random among ready
			// cases, so a piece may come after the failure).
			x.Abort()
			return
		default:
		}
		if p.abort {
			// The host gave up after its head was sent: only a cut
			// connection tells the client the body is not whole.
			x.Abort()
			return
		}
		if len(p.data) > 0 || !p.end {
			put(p.data)
		}
		if p.d.Kind == region.KindBody {
			// Published at once: the host may be waiting for this
			// chunk to write the next piece.
			rc.Release(&p.d)
			rc.Flush()
		}
		if !p.end {
			continue
		}
		if err != nil && !errors.Is(err, engine.ErrConnClosed) {
			log.Printf("bridge: stream %d: %v", s.id, err)
		}
		l.b.stats.completed.Add(1) // before Done: the client may look at once
		if err == nil {
			x.Done()
		}
		return
	}
}
