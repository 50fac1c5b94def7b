package bridge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/http1"
	"github.com/haywireowin/haywire/region"
)

// The promises of include/haywire_bridge.h (and the engine's half of
// those in haywire_shm.h section 5) checked against the real engine: each
// test here is named in the header next to the promise it checks. They
// drive the engine with rawHost (stream_test.go), a host made of the
// transport alone, so what is checked is what the engine does on the
// ring, not what the Go host makes of it.

// ctDial opens a client connection to srv and sends raw.
func ctDial(t *testing.T, srv *engine.Server, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	if raw != "" {
		if _, err := io.WriteString(nc, raw); err != nil {
			t.Fatal(err)
		}
	}
	return nc, bufio.NewReader(nc)
}

// ctPoll returns what the engine published so far, without waiting:
// descriptors already buffered by next, then the ring.
func (h *rawHost) ctPoll() []region.Descriptor {
	h.t.Helper()
	n, err := h.rc.Poll(64)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range n {
		d, err := h.rc.Get(i)
		if err != nil {
			h.t.Fatal(err)
		}
		h.buf = append(h.buf, d)
	}
	h.rc.Consume(n)
	out := h.buf
	h.buf = nil
	return out
}

// ctPart publishes one descriptor with payload p (one chunk at most),
// with exactly the flags given: no MORE or END is added.
func (h *rawHost) ctPart(d region.Descriptor, p []byte) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.snd.Collect()
		if len(p) == 0 {
			if ok, err := h.snd.Send(&d); err != nil {
				h.t.Fatal(err)
			} else if ok {
				return
			}
		} else if c, ok := h.snd.Alloc(); ok {
			d.Offset, d.Length, d.Gen = c.Offset, uint32(copy(c.Buf, p)), c.Gen
			if d.Length != uint32(len(p)) {
				h.t.Fatalf("part of %d bytes does not fit a chunk", len(p))
			}
			if k, _ := h.snd.Reserve(1); k == 1 {
				if err := h.snd.Put(0, &d); err != nil {
					h.t.Fatal(err)
				}
				h.snd.Commit(1)
				return
			}
			h.snd.Free(c)
		}
		if time.Now().After(deadline) {
			h.t.Fatal("no room in the host's ring or arena for 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// ctSettle waits a moment and takes what the engine sent meanwhile,
// which may only be CANCEL CLIENT_GONE for stream (the engine may tell
// of one client twice: its write failed, its reader saw the close).
func (h *rawHost) ctSettle(stream uint64) {
	h.t.Helper()
	time.Sleep(100 * time.Millisecond)
	for _, d := range h.ctPoll() {
		if d.Kind != region.KindCancel || d.Aux != wire.CancelClientGone || d.Stream != stream {
			h.t.Fatalf("got %v; want nothing, or CANCEL CLIENT_GONE for stream %d", d, stream)
		}
	}
}

// ctLent returns how many of the host's chunks the engine holds.
func (h *rawHost) ctLent() int {
	h.snd.Collect()
	_, _, lent := h.snd.Chunks()
	return lent
}

// ctBody reads a streamed request body to its end: the pieces (released
// as read), the flags of each, and whether it ended with an END
// descriptor (rather than END on a BODY).
func (h *rawHost) ctBody(req region.Descriptor) (body []byte, flags []region.Flags, endDesc bool) {
	h.t.Helper()
	for {
		d, p := h.next()
		if d.Stream != req.Stream || d.Conn != req.Conn {
			h.t.Fatalf("got %v; want stream %d conn %d", d, req.Stream, req.Conn)
		}
		switch d.Kind {
		case region.KindEnd:
			h.rc.Flush()
			return body, flags, true
		case region.KindBody:
		default:
			h.t.Fatalf("got %v; want BODY or END", d)
		}
		body = append(body, p...)
		flags = append(flags, d.Flags)
		h.rc.Release(&d)
		if d.Flags&region.FlagEnd != 0 {
			h.rc.Flush()
			return body, flags, false
		}
	}
}

// ctResponse reads one response from br and its body (none for HEAD).
func ctResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of %s: %v", resp.Status, err)
	}
	return resp, body
}

// ctStatus runs one GET through a fresh connection while answer plays
// the host, and returns what the client got.
func ctStatus(t *testing.T, srv *engine.Server, h *rawHost, answer func(req region.Descriptor)) (int, string) {
	t.Helper()
	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + srv.Addr().String() + "/c")
		if err != nil {
			done <- result{-1, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b)}
	}()
	req, _ := h.request()
	answer(req)
	r := <-done
	return r.status, r.body
}

func encodeOK(t *testing.T, h *wire.ResponseHead, body []byte) []byte {
	t.Helper()
	msg, err := wire.EncodeResponse(nil, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// END ends a message, MORE continues it; conn and stream on everything;
// which bodies stream.
func TestContractFlags(t *testing.T) {
	srv, b := setupWith(t, Options{BodyInline: 1024})
	h := attachRaw(t, b, b.opts.Region.Dir)
	chunk := b.lanes[0].chunk

	// checkView decodes a one-part or multi-part view as the host must,
	// checks the flags of its parts and the ids, and releases the parts.
	checkView := func(what string) (region.Descriptor, wire.View) {
		t.Helper()
		var parts []region.Descriptor
		var msg []byte
		buffered := -1 // descriptors already published with the first part
		for {
			d, p := h.next()
			if buffered < 0 {
				buffered = len(h.buf)
			}
			if d.Kind != region.KindRequest {
				t.Fatalf("%s: got %v; want REQUEST parts", what, d)
			}
			parts = append(parts, d)
			msg = append(msg, p...)
			h.rc.Release(&d)
			if d.Flags&region.FlagEnd != 0 {
				break
			}
		}
		h.rc.Flush()
		for i, d := range parts {
			want := region.FlagMore
			if i == len(parts)-1 {
				want = region.FlagEnd
			}
			if d.Flags != want || d.Stream != parts[0].Stream || d.Conn != parts[0].Conn {
				t.Errorf("%s: part %d of %d: %v; want flags %#x, the stream and conn of part 0", what, i, len(parts), d, want)
			}
		}
		if buffered < len(parts)-1 {
			t.Errorf("%s: %d parts, only %d published with the first", what, len(parts), buffered+1)
		}
		if len(parts) != (len(msg)+chunk-1)/chunk {
			t.Errorf("%s: %d parts for a %d-byte view in %d-byte chunks", what, len(parts), len(msg), chunk)
		}
		v, err := wire.DecodeView(msg)
		if err != nil {
			t.Fatalf("%s: the engine wrote a view its own decoder refuses: %v", what, err)
		}
		if v.RequestID() != parts[0].Stream || uint32(v.ConnID()) != parts[0].Conn || parts[0].Stream == 0 {
			t.Errorf("%s: view request_id %d conn_id %#x; descriptors stream %d conn %#x", what,
				v.RequestID(), v.ConnID(), parts[0].Stream, parts[0].Conn)
		}
		return parts[0], v
	}
	answer := func(req region.Descriptor, br *bufio.Reader, body string) {
		t.Helper()
		h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: int64(len(body))}, []byte(body))
		if resp, got := ctResponse(t, br, "POST"); resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("client got %s %q; want 200 %q", resp.Status, got, body)
		}
	}

	// A request without body, and one whose head needs several chunks:
	// END alone; MORE ... MORE, END.
	big := strings.Repeat("x", 3*chunk)
	_, br := ctDial(t, srv, "GET /small HTTP/1.1\r\nHost: h\r\n\r\nGET /big HTTP/1.1\r\nHost: h\r\nX-Big: "+big+"\r\n\r\n")
	for _, what := range []string{"small head", "big head"} {
		req, v := checkView(what)
		if v.Flags()&wire.ViewBodyStream != 0 || v.MethodID() != uint8(http1.MethodGet) {
			t.Errorf("%s: flags %#x, method_id %d; want no streamed body, GET = %d", what, v.Flags(), v.MethodID(), http1.MethodGet)
		}
		answer(req, br, what)
	}

	// Bodies: inline up to body_inline; streamed beyond it and when
	// chunked, pieces without flags but the last, then END on the last
	// piece or an END descriptor.
	inline := strings.Repeat("i", 1000)
	long := strings.Repeat("s", 5*chunk+17)
	cases := []struct {
		what, raw, body string
		streamed        bool
	}{
		{"inline body", "POST /i HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + inline, inline, false},
		{"long body", "POST /l HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(len(long)) + "\r\n\r\n" + long, long, true},
		{"chunked body", "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", true},
	}
	for _, c := range cases {
		_, br := ctDial(t, srv, c.raw)
		req, v := checkView(c.what)
		if got := v.Flags()&wire.ViewBodyStream != 0; got != c.streamed {
			t.Fatalf("%s: BODY_STREAM %v; want %v", c.what, got, c.streamed)
		}
		body := append([]byte(nil), v.Body()...)
		if c.streamed {
			pieces, flags, endDesc := h.ctBody(req)
			body = append(body, pieces...)
			for i, f := range flags {
				if f&region.FlagMore != 0 || (f != 0 && (i != len(flags)-1 || endDesc)) {
					t.Errorf("%s: piece %d of %d flagged %#x (END descriptor after: %v); want none but END on the last",
						c.what, i, len(flags), f, endDesc)
				}
			}
			if len(flags) == 0 && !endDesc {
				t.Errorf("%s: a streamed body without pieces or END", c.what)
			}
		}
		if string(body) != c.body {
			t.Fatalf("%s: host got %d bytes; want %d", c.what, len(body), len(c.body))
		}
		answer(req, br, c.what)
	}
}

// A whole response in parts: each part's chunk comes back before the next
// is sent, a part with neither flag counts as MORE, and the client gets
// nothing before the part flagged END.
func TestContractWholeResponseInParts(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	chunk := b.lanes[0].chunk
	nc, br := ctDial(t, srv, "GET /parts HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := h.request()
	body := bytes.Repeat([]byte("0123456789abcdef"), 6*chunk/16)
	msg := encodeOK(t, &wire.ResponseHead{Status: 200, Fields: []byte("X-Parts: yes\r\n"), ContentLength: int64(len(body))}, body)
	for off := 0; off < len(msg); off += chunk {
		part := msg[off:min(off+chunk, len(msg))]
		flags := region.FlagMore
		switch {
		case off+chunk >= len(msg):
			flags = region.FlagEnd
		case off/chunk%2 == 1:
			flags = 0 // neither: not the last
		}
		if flags == region.FlagEnd {
			nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := br.Peek(1); err == nil {
				t.Fatal("the client got bytes before the last part")
			}
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		}
		h.ctPart(region.Descriptor{Kind: region.KindResponse, Flags: flags, Stream: req.Stream, Conn: req.Conn}, part)
		if flags != region.FlagEnd {
			bridgetest.WaitFor(t, fmt.Sprintf("part at %d released before the message is complete", off), func() bool { return h.ctLent() == 0 })
		}
	}
	resp, got := ctResponse(t, br, "GET")
	if resp.StatusCode != 200 || resp.Header.Get("X-Parts") != "yes" || !bytes.Equal(got, body) {
		t.Fatalf("client got %s, %d bytes; want 200 with %d", resp.Status, len(got), len(body))
	}
	if st := b.Stats(); st.Invalid != 0 {
		t.Errorf("Invalid = %d; want 0", st.Invalid)
	}
}

// HEAD: flag HEAD and method_id 2 in the view; the engine writes the head
// as for GET and discards every body byte the host sends, in the message
// or as pieces, without a length check. Each case is followed by a GET on
// the same connection: a stray body byte would break its response.
func TestContractHead(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	cases := []struct {
		what   string
		answer func(req region.Descriptor)
		length string // Content-Length the client must see
	}{
		{"whole, with body bytes", func(req region.Descriptor) {
			h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 11}, []byte("hello world"))
		}, "11"},
		{"whole, no body", func(req region.Descriptor) {
			h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 0}, nil)
		}, "0"},
		{"streamed head declaring 12345, then END", func(req region.Descriptor) {
			h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: 12345}, nil)
			h.send(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
		}, "12345"},
		{"streamed head declaring 5, then 13 bytes in pieces", func(req region.Descriptor) {
			h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: 5}, []byte("he"))
			h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, []byte("llo world"))
			h.send(region.Descriptor{Kind: region.KindBody, Flags: region.FlagEnd, Stream: req.Stream, Conn: req.Conn}, []byte("!!"))
		}, "5"},
	}
	for _, c := range cases {
		_, br := ctDial(t, srv, "HEAD /head HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n")
		req, v := h.request()
		if v.Flags()&wire.ViewHead == 0 || v.MethodID() != uint8(http1.MethodHead) {
			t.Fatalf("%s: view flags %#x, method_id %d; want HEAD and %d", c.what, v.Flags(), v.MethodID(), http1.MethodHead)
		}
		c.answer(req)
		resp, _ := ctResponse(t, br, "HEAD")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != c.length {
			t.Errorf("%s: HEAD got %s, Content-Length %q; want 200 with %s", c.what, resp.Status, resp.Header.Get("Content-Length"), c.length)
		}
		req, _ = h.request()
		h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 5}, []byte("after"))
		if resp, got := ctResponse(t, br, "GET"); resp.StatusCode != 200 || string(got) != "after" {
			t.Fatalf("%s: the GET after the HEAD got %s %q: body bytes of the HEAD reached the client", c.what, resp.Status, got)
		}
	}
	bridgetest.WaitFor(t, "every host chunk back", func() bool { return h.ctLent() == 0 })
}

// What the engine checks in what a host sends, and the status the client
// gets: 502 for an invalid message, 500 for a status 1xx, nothing for
// descriptors of streams it does not hold; descriptors it cannot use are
// counted and ignored, and the stream goes on.
func TestContractValidation(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	raw := func(req region.Descriptor, msg []byte) {
		h.send(region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Stream: req.Stream, Conn: req.Conn}, msg)
	}
	good := encodeOK(t, &wire.ResponseHead{Status: 200, ContentLength: 2}, []byte("ok"))
	mutate := func(f func(m []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	invalid := []struct {
		what string
		msg  []byte
	}{
		{"shorter than its head", good[:15]},
		{"reason and fields overrun", mutate(func(m []byte) []byte { m[3] = 200; return m })},
		{"status 99", mutate(func(m []byte) []byte { m[0], m[1] = 99, 0; return m })},
		{"status 1000", mutate(func(m []byte) []byte { m[0], m[1] = 0xE8, 0x03; return m })},
		{"unknown flag", mutate(func(m []byte) []byte { m[2] = 0x02; return m })},
		{"content_length != body", mutate(func(m []byte) []byte { m[8] = 3; return m })},
		{"field line without CRLF", encodeOK(t, &wire.ResponseHead{Status: 200, Fields: []byte("A: b"), ContentLength: 0}, nil)},
		{"field without a colon", encodeOK(t, &wire.ResponseHead{Status: 200, Fields: []byte("Ab\r\n"), ContentLength: 0}, nil)},
		{"field with an empty name", encodeOK(t, &wire.ResponseHead{Status: 200, Fields: []byte(": b\r\n"), ContentLength: 0}, nil)},
	}
	for i, c := range invalid {
		before := b.Stats()
		status, _ := ctStatus(t, srv, h, func(req region.Descriptor) { raw(req, c.msg) })
		after := b.Stats()
		if status != 502 || after.Invalid != before.Invalid+1 || after.Failed != before.Failed+1 {
			t.Errorf("case %d, %s: client got %d, invalid +%d, failed +%d; want 502, +1, +1", i, c.what, status,
				after.Invalid-before.Invalid, after.Failed-before.Failed)
		}
	}

	// A valid message with an informational status: 500.
	if status, _ := ctStatus(t, srv, h, func(req region.Descriptor) {
		h.respond(req, &wire.ResponseHead{Status: 150, ContentLength: 0}, nil)
	}); status != 500 {
		t.Errorf("status 150: client got %d; want 500", status)
	}

	// Descriptors the engine drops without a count: a response, BODY, END
	// and CONTINUE for a stream it does not hold; a HOST_ABORT for one.
	// Descriptors it counts and ignores: BODY before a streamed head,
	// CANCEL with an unknown reason, REQUEST, DATA. The stream then goes
	// on and is answered normally.
	before := b.Stats()
	status, body := ctStatus(t, srv, h, func(req region.Descriptor) {
		gone := req.Stream + 1000
		h.send(region.Descriptor{Kind: region.KindResponse, Flags: region.FlagEnd, Stream: gone, Conn: req.Conn}, good)
		h.send(region.Descriptor{Kind: region.KindBody, Stream: gone, Conn: req.Conn}, []byte("stray"))
		h.send(region.Descriptor{Kind: region.KindEnd, Stream: gone, Conn: req.Conn}, nil)
		h.send(region.Descriptor{Kind: region.KindContinue, Stream: gone, Conn: req.Conn}, nil)
		h.send(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelHostAbort, Stream: gone, Conn: req.Conn}, nil)
		bridgetest.WaitFor(t, "the stray descriptors taken", func() bool { return h.ctLent() == 0 })
		if st := b.Stats(); st.Invalid != before.Invalid {
			t.Errorf("descriptors for a stream not held counted invalid: %d", st.Invalid-before.Invalid)
		}
		h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, []byte("too early"))
		h.send(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
		h.send(region.Descriptor{Kind: region.KindCancel, Aux: 7, Stream: req.Stream, Conn: req.Conn}, nil)
		h.send(region.Descriptor{Kind: region.KindRequest, Flags: region.FlagEnd, Stream: req.Stream, Conn: req.Conn}, []byte("no"))
		h.send(region.Descriptor{Kind: region.KindData, Stream: req.Stream, Conn: req.Conn}, []byte("no"))
		bridgetest.WaitFor(t, "the misplaced descriptors counted", func() bool { return b.Stats().Invalid == before.Invalid+5 })
		raw(req, good)
	})
	if status != 200 || body != "ok" {
		t.Errorf("after ignored descriptors: client got %d %q; want 200 \"ok\"", status, body)
	}
	bridgetest.WaitFor(t, "every host chunk back", func() bool { return h.ctLent() == 0 })
}

// A streamed body of the wrong length cuts the connection: a piece past
// content_length is not written (and the host hears CLIENT_GONE), END
// short of it does not complete the response.
func TestContractLengthMismatch(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	for _, long := range []bool{true, false} {
		_, br := ctDial(t, srv, "GET /len HTTP/1.1\r\nHost: h\r\n\r\n")
		req, _ := h.request()
		h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: 10}, []byte("01234"))
		if long {
			h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, []byte("5678901234"))
			d, _ := h.next()
			if d.Kind != region.KindCancel || d.Aux != wire.CancelClientGone || d.Stream != req.Stream || d.Conn != req.Conn {
				t.Fatalf("after a piece past content_length: got %v; want CANCEL CLIENT_GONE on the stream", d)
			}
		}
		h.send(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("long %v: %v", long, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err == nil || string(got) != "01234" {
			t.Errorf("long %v: client read %q, %v; want \"01234\" and a cut connection", long, got, err)
		}
		h.ctSettle(req.Stream)
	}
	bridgetest.WaitFor(t, "every host chunk back", func() bool { return h.ctLent() == 0 })
}

// The client leaves during a streamed response: the host hears
// CLIENT_GONE, the engine still takes and releases what the host sends,
// and the host's END completes the stream.
func TestContractClientGoneStreamed(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	chunk := b.lanes[0].chunk
	nc, br := ctDial(t, srv, "GET /gone HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1}, []byte("begun"))
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the head: %v", err)
	}
	nc.(*net.TCPConn).SetLinger(0)
	nc.Close()
	piece := bytes.Repeat([]byte{'p'}, chunk)
	before := b.Stats()
	heard := false
	for deadline := time.Now().Add(10 * time.Second); !heard; {
		if time.Now().After(deadline) {
			t.Fatal("no CANCEL CLIENT_GONE 10 s after the client left")
		}
		h.ctPart(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, piece)
		for _, d := range h.ctPoll() {
			if d.Kind != region.KindCancel || d.Aux != wire.CancelClientGone || d.Stream != req.Stream || d.Conn != req.Conn {
				t.Fatalf("got %v; want CANCEL CLIENT_GONE on the stream", d)
			}
			heard = true
		}
		time.Sleep(time.Millisecond)
	}
	for range 3 { // the host may still be sending when it hears
		h.ctPart(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, piece)
	}
	h.ctPart(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
	bridgetest.WaitFor(t, "every host chunk back", func() bool { return h.ctLent() == 0 })
	bridgetest.WaitFor(t, "the stream completed", func() bool { return b.Stats().Completed == before.Completed+1 })
	if st := b.Stats(); st.Invalid != before.Invalid || st.InFlight != 0 {
		t.Errorf("stats %+v; want nothing invalid, nothing in flight", st)
	}
	// After END the stream is gone: more for it is dropped, released.
	h.ctPart(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, piece)
	bridgetest.WaitFor(t, "a late piece released", func() bool { return h.ctLent() == 0 })
	h.ctSettle(req.Stream)
	if status, body := ctStatus(t, srv, h, func(req region.Descriptor) {
		h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 4}, []byte("next"))
	}); status != 200 || body != "next" {
		t.Fatalf("the next request got %d %q", status, body)
	}
}

// The default window is a quarter of the request arena's chunks: the
// engine lends no more pieces of one body until the host releases some.
func TestContractDefaultWindow(t *testing.T) {
	srv, b := setupWith(t, Options{BodyInline: 1024})
	h := attachRaw(t, b, b.opts.Region.Dir)
	g := b.lanes[0].r.Sender().ArenaGeometry()
	window := g.Chunks / 4
	body := bytes.Repeat([]byte("w"), 2*window*g.ChunkSize+1)
	nc, br := ctDial(t, srv, "POST /w HTTP/1.1\r\nHost: h\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
	go nc.Write(body) // blocks once the window is full and TCP pushes back
	req, v := h.request()
	// The window fills (however slowly a loaded machine sends), then
	// nothing more comes while the host holds it.
	var held []region.Descriptor
	for deadline := time.Now().Add(20 * time.Second); len(held) < window && time.Now().Before(deadline); {
		held = append(held, h.ctPoll()...)
		time.Sleep(5 * time.Millisecond)
	}
	// The window is reached; the check is that nothing beyond it comes, so an
	// engine that over-lends gets a moment to show it (a negative: no event).
	time.Sleep(100 * time.Millisecond)
	held = append(held, h.ctPoll()...)
	if len(held) != window {
		t.Fatalf("the engine lent %d pieces of one body unreleased; want the default window, %d (%d chunks / 4)", len(held), window, g.Chunks)
	}
	got := len(v.Body())
	for i := range held {
		got += len(h.rc.Payload(&held[i]))
		h.rc.Release(&held[i])
	}
	h.rc.Flush()
	rest, _, _ := h.ctBody(req)
	if got += len(rest); got != len(body) {
		t.Fatalf("host got %d bytes; want %d", got, len(body))
	}
	h.respond(req, &wire.ResponseHead{Status: 204, ContentLength: 0}, nil)
	if resp, _ := ctResponse(t, br, "POST"); resp.StatusCode != 204 {
		t.Fatalf("client got %s", resp.Status)
	}
}

// A response complete while the request body still streams: the engine
// forwards no more of it, sends no END, and closes the connection after
// the response.
func TestContractEarlyResponse(t *testing.T) {
	srv, b := setupWith(t, Options{BodyInline: 1024})
	h := attachRaw(t, b, b.opts.Region.Dir)
	nc, br := ctDial(t, srv, "POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
	nc.Write(bytes.Repeat([]byte("e"), 5000)) // then nothing: the client waits for the response
	req, v := h.request()
	if v.Flags()&wire.ViewBodyStream == 0 {
		t.Fatalf("view flags %#x; want a streamed body", v.Flags())
	}
	h.respond(req, &wire.ResponseHead{Status: 413, ContentLength: 4}, []byte("enuf"))
	resp, got := ctResponse(t, br, "POST")
	if resp.StatusCode != 413 || string(got) != "enuf" {
		t.Fatalf("client got %s %q", resp.Status, got)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d more bytes; want the connection closed after the response", n)
	}
	time.Sleep(100 * time.Millisecond)
	for _, d := range h.ctPoll() {
		if d.Kind == region.KindEnd || d.Flags&region.FlagEnd != 0 {
			t.Errorf("got %v after the response; want no end of the body", d)
		}
		h.rc.Release(&d)
	}
	h.rc.Flush()
}

// Hot swap: a newer host attaches; the older one gets CANCEL DRAIN on
// stream 0, conn 0, after every request the engine sent it, and nothing
// after it.
func TestContractEngineDrain(t *testing.T) {
	srv, b := setupWith(t, Options{})
	old := attachRaw(t, b, b.opts.Region.Dir)
	_, br := ctDial(t, srv, "GET /before HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := old.request()
	r, err := region.OpenAnyLane(b.Name(), region.Options{Dir: b.opts.Region.Dir, AttachTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.Sender().Send(&region.Descriptor{Kind: region.KindNop})
	d, _ := old.next()
	if d.Kind != region.KindCancel || d.Aux != wire.CancelDrain || d.Stream != 0 || d.Conn != 0 || d.Flags != 0 {
		t.Fatalf("old host got %v; want CANCEL DRAIN on stream 0, conn 0", d)
	}
	old.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 6}, []byte("before"))
	if resp, got := ctResponse(t, br, "GET"); resp.StatusCode != 200 || string(got) != "before" {
		t.Fatalf("a request sent before the drain got %s %q", resp.Status, got)
	}
	// New requests go to the new host; the drained one gets nothing more.
	nh := &rawHost{t: t, r: r, rc: r.Receiver(), snd: r.Sender()}
	if status, body := ctStatus(t, srv, nh, func(req region.Descriptor) {
		nh.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 5}, []byte("after"))
	}); status != 200 || body != "after" {
		t.Fatalf("a request after the drain got %d %q", status, body)
	}
	if ds := old.ctPoll(); len(ds) != 0 {
		t.Fatalf("the drained host got %v after the drain", ds)
	}
}

// CANCEL HOST_ABORT is ordered: the pieces published before it reach the
// client before the connection is cut, and their chunks all come back.
func TestContractAbortIsOrdered(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	_, br := ctDial(t, srv, "GET /abort HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := h.request()
	want := []byte("head:")
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1}, want)
	for i := range 40 {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 1000)
		want = append(want, p...)
		h.ctPart(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, p)
	}
	h.ctPart(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelHostAbort, Stream: req.Stream, Conn: req.Conn}, nil)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatal("the client read a whole response the host abandoned")
	}
	// Every byte published before the abort reached the client before
	// the cut: a chunked body ends with a FIN, which destroys nothing.
	bridgetest.WaitFor(t, "every piece's chunk back", func() bool { return h.ctLent() == 0 })
	if st := b.Stats(); st.BodyOut != uint64(len(want)) || st.Aborted != 1 {
		t.Errorf("the engine wrote %d body bytes before the cut (aborted %d); want the %d published before the abort",
			st.BodyOut, st.Aborted, len(want))
	}
	if !bytes.Equal(got, want) || err != io.ErrUnexpectedEOF {
		t.Errorf("the client read %d bytes, then %v; want the %d the host sent, then the cut", len(got), err, len(want))
	}
}

// A streamed head with no body yet goes to the client at once.
func TestContractHeadFlush(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	nc, br := ctDial(t, srv, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, Fields: []byte("X-Head: first\r\n"), ContentLength: -1}, nil)
	nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no head within 3 s of a streamed head without body: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Head") != "first" {
		t.Fatalf("head %s %v", resp.Status, resp.Header)
	}
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	h.send(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, []byte("later"))
	h.send(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
	if got, err := io.ReadAll(resp.Body); err != nil || string(got) != "later" {
		t.Fatalf("body %q, %v", got, err)
	}
}

// A host asks to drain: the engine answers with its own DRAIN on stream
// 0, after the requests it had published, and routes nothing more to the
// lane (no other host: 503).
func TestContractHostDrain(t *testing.T) {
	srv, b := setupWith(t, Options{HostWait: 200 * time.Millisecond})
	h := attachRaw(t, b, b.opts.Region.Dir)
	_, br := ctDial(t, srv, "GET /before HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := h.request()
	h.ctPart(region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelDrain}, nil)
	d, _ := h.next()
	if d.Kind != region.KindCancel || d.Aux != wire.CancelDrain || d.Stream != 0 || d.Conn != 0 {
		t.Fatalf("after the host's DRAIN got %v; want the engine's CANCEL DRAIN on stream 0", d)
	}
	status, body, _ := get(t, srv, "/after")
	if status != 503 {
		t.Errorf("a request after the drain got %d %q; want 503 (no other host)", status, body)
	}
	h.respond(req, &wire.ResponseHead{Status: 200, ContentLength: 6}, []byte("before"))
	if resp, got := ctResponse(t, br, "GET"); resp.StatusCode != 200 || string(got) != "before" {
		t.Fatalf("the request published before the drain got %s %q", resp.Status, got)
	}
	if ds := h.ctPoll(); len(ds) != 0 {
		t.Fatalf("the drained host got %v after the drain", ds)
	}
	if st := b.Stats(); st.Invalid != 0 {
		t.Errorf("Invalid = %d; want 0", st.Invalid)
	}
}

// The engine writes a streamed piece to the client's socket before it
// releases the piece's chunk: a client that reads nothing stops the host
// once the socket buffers are full, and reading frees every chunk.
func TestContractWriteBeforeRelease(t *testing.T) {
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	chunk := b.lanes[0].chunk
	_, br := ctDial(t, srv, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	req, _ := h.request()
	h.respond(req, &wire.ResponseHead{Status: 200, Flags: wire.ResponseStream, ContentLength: -1}, nil)
	piece := bytes.Repeat([]byte{'s'}, chunk)
	sent, stuck := 0, false
	for sent < 64<<20 && !stuck {
		h.snd.Collect()
		c, ok := h.snd.Alloc()
		if !ok {
			// No chunk free: the engine holds them all. Still none after
			// a while, with the client reading nothing: stuck.
			time.Sleep(300 * time.Millisecond)
			if h.snd.Collect(); h.ctLent() == b.lanes[0].r.Receiver().ArenaGeometry().Chunks {
				stuck = true
			}
			continue
		}
		h.snd.Free(c)
		h.ctPart(region.Descriptor{Kind: region.KindBody, Stream: req.Stream, Conn: req.Conn}, piece)
		sent += len(piece)
	}
	if !stuck {
		t.Fatalf("the host sent %d bytes to a client that reads nothing and never ran out of chunks", sent)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, resp.Body)
			if err == nil && n != int64(sent) {
				err = fmt.Errorf("read %d bytes; want %d", n, sent)
			}
		}
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); h.ctLent() != 0; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the client stopped reading: %v (%d chunks still lent)", err, h.ctLent())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d chunks still lent 10 s after the client began reading", h.ctLent())
		}
	}
	h.ctPart(region.Descriptor{Kind: region.KindEnd, Stream: req.Stream, Conn: req.Conn}, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
