package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// A request view is the request as the host reads it, in place: the
// fixed header, a table of header-field spans, the raw request head, then
// the body (layout.go draws it; include/haywire_bridge.h section 3
// specifies it for C hosts).
const (
	// ViewVersion is the layout's version, the view's first field. A
	// change that moves a field or changes its meaning bumps it.
	ViewVersion = 2
	// NoQuery is the query span length of a target without '?'.
	NoQuery = 0xFFFFFFFF
)

// View flags.
const (
	ViewKeepAlive      = 1 << 0 // the client keeps the connection open
	ViewHead           = 1 << 1 // HEAD: the response body is not sent
	ViewExpectContinue = 1 << 2 // the client expects 100 Continue: send KindContinue to get the body
	ViewChunked        = 1 << 3 // the body arrived chunked (now de-chunked)
	// ViewBodyStream: the view holds the body's first bytes; the rest
	// follows as KindBody pieces, then KindEnd (or KindCancel).
	ViewBodyStream = 1 << 4
)

// Span is a byte range of the raw request head.
type Span struct{ Off, Len uint32 }

// ViewRequest is what EncodeView writes: the request and its context.
type ViewRequest struct {
	Flags         uint16
	MethodID      uint8
	Minor         uint8
	RequestID     uint64
	ConnID        uint64
	ContentLength int64
	Head          []byte // the raw head; every span below points into it
	Body          []byte
	// Spans of the request line's parts and of Host; QuerySpan.Len is
	// NoQuery when the target has no '?'.
	MethodSpan, TargetSpan, PathSpan, QuerySpan, AuthoritySpan, HostSpan Span
	Fields                                                               []FieldSpan
	Remote, Local                                                        netip.AddrPort
}

// FieldSpan locates one header field in the raw head.
type FieldSpan struct{ Name, Value Span }

// ViewLen returns the encoded length of v.
func ViewLen(v *ViewRequest) int {
	return ViewHeaderLen + len(v.Fields)*FieldEntryLen + len(v.Head) + len(v.Body)
}

// MaxViewFields is the most header fields a view can carry.
const MaxViewFields = 0xFFFF

// EncodeView appends v's view to dst. It fails, appending nothing, when v
// has more than MaxViewFields fields or a part over 4 GiB.
func EncodeView(dst []byte, v *ViewRequest) ([]byte, error) {
	if len(v.Fields) > MaxViewFields || uint64(len(v.Head)) > 0xFFFFFFFF || uint64(len(v.Body)) > 0xFFFFFFFF ||
		uint64(ViewLen(v)) > 0xFFFFFFFF {
		return dst, fmt.Errorf("wire: request too large for a view: %d fields, %d-byte head, %d-byte body",
			len(v.Fields), len(v.Head), len(v.Body))
	}
	le := binary.LittleEndian
	start, n := len(dst), ViewLen(v)
	dst = slices.Grow(dst, n)[:start+n] // one bounds check, no appends
	h := dst[start : start+n]
	clear(h[:ViewHeaderLen])
	tableOff := ViewHeaderLen
	headOff := tableOff + len(v.Fields)*FieldEntryLen
	bodyOff := headOff + len(v.Head)
	le.PutUint16(h[ViewVersionOffset:], ViewVersion)
	le.PutUint16(h[ViewFlagsOffset:], v.Flags)
	h[ViewMethodIDOffset], h[ViewMinorOffset] = v.MethodID, v.Minor
	le.PutUint16(h[ViewFieldCountOffset:], uint16(len(v.Fields)))
	le.PutUint64(h[ViewRequestIDOffset:], v.RequestID)
	le.PutUint64(h[ViewConnIDOffset:], v.ConnID)
	le.PutUint64(h[ViewContentLengthOffset:], uint64(v.ContentLength))
	le.PutUint32(h[ViewHeadOffOffset:], uint32(headOff))
	le.PutUint32(h[ViewHeadLenOffset:], uint32(len(v.Head)))
	le.PutUint32(h[ViewBodyOffOffset:], uint32(bodyOff))
	le.PutUint32(h[ViewBodyLenOffset:], uint32(len(v.Body)))
	for i, s := range []Span{v.MethodSpan, v.TargetSpan, v.PathSpan, v.QuerySpan, v.AuthoritySpan, v.HostSpan} {
		putSpan(h[ViewSpansOffset+i*SpanSize:], s)
	}
	ip := v.Remote.Addr().As16()
	copy(h[ViewRemoteIPOffset:ViewRemoteIPOffset+IPSize], ip[:])
	ip = v.Local.Addr().As16()
	copy(h[ViewLocalIPOffset:ViewLocalIPOffset+IPSize], ip[:])
	le.PutUint16(h[ViewRemotePortOffset:], v.Remote.Port())
	le.PutUint16(h[ViewLocalPortOffset:], v.Local.Port())
	le.PutUint32(h[ViewTableOffOffset:], uint32(tableOff))
	t := h[tableOff:headOff]
	for i, f := range v.Fields {
		e := t[i*FieldEntryLen : (i+1)*FieldEntryLen]
		putSpan(e[FieldNameOffset:], f.Name)
		putSpan(e[FieldValueOffset:], f.Value)
	}
	copy(h[headOff:bodyOff], v.Head)
	copy(h[bodyOff:], v.Body)
	return dst, nil
}

// View is a decoded request view: accessors read the bytes in place.
type View struct {
	b    []byte
	head []byte
	body []byte
	n    int // field count
	tab  []byte
}

// DecodeView validates b as a request view and returns it. Every offset,
// length and span is checked against b; the view aliases b.
func DecodeView(b []byte) (View, error) {
	le := binary.LittleEndian
	if len(b) < ViewHeaderLen {
		return View{}, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrView, len(b), ViewHeaderLen)
	}
	if v := le.Uint16(b[ViewVersionOffset:]); v != ViewVersion {
		return View{}, fmt.Errorf("%w: version %d, want %d", ErrView, v, ViewVersion)
	}
	n := int(le.Uint16(b[ViewFieldCountOffset:]))
	headOff, headLen := uint64(le.Uint32(b[ViewHeadOffOffset:])), uint64(le.Uint32(b[ViewHeadLenOffset:]))
	bodyOff, bodyLen := uint64(le.Uint32(b[ViewBodyOffOffset:])), uint64(le.Uint32(b[ViewBodyLenOffset:]))
	tabOff := uint64(le.Uint32(b[ViewTableOffOffset:]))
	size := uint64(len(b))
	// The sections are packed in order and fill the view: nothing overlaps
	// and no byte is unaccounted for.
	if tabOff != ViewHeaderLen || headOff != tabOff+uint64(n)*FieldEntryLen ||
		bodyOff != headOff+headLen || bodyOff+bodyLen != size {
		return View{}, fmt.Errorf("%w: table %d+%d×%d, head %d+%d, body %d+%d do not pack %d bytes",
			ErrView, tabOff, n, FieldEntryLen, headOff, headLen, bodyOff, bodyLen, size)
	}
	v := View{b: b, head: b[headOff : headOff+headLen], body: b[bodyOff : bodyOff+bodyLen], n: n,
		tab: b[tabOff : tabOff+uint64(n)*FieldEntryLen]}
	for i := range SpanCount {
		s := v.span(i)
		if i == SpanQuery && s.Len == NoQuery {
			continue
		}
		if !v.valid(s) {
			return View{}, fmt.Errorf("%w: span %d (%d+%d) outside the %d-byte head", ErrView, i, s.Off, s.Len, headLen)
		}
	}
	for i := 0; i < n; i++ {
		name, value := v.field(i)
		if !v.valid(name) || !v.valid(value) || name.Len == 0 {
			return View{}, fmt.Errorf("%w: header field %d outside the head", ErrView, i)
		}
	}
	return v, nil
}

func (v View) valid(s Span) bool { return uint64(s.Off)+uint64(s.Len) <= uint64(len(v.head)) }

// span returns the fixed header's span i (SpanMethod .. SpanHost).
func (v View) span(i int) Span { return getSpan(v.b[ViewSpansOffset+i*SpanSize:]) }

func (v View) bytes(s Span) []byte { return v.head[s.Off : s.Off+s.Len] }

func (v View) field(i int) (Span, Span) {
	e := v.tab[i*FieldEntryLen:]
	return getSpan(e[FieldNameOffset:]), getSpan(e[FieldValueOffset:])
}

func getSpan(b []byte) Span {
	le := binary.LittleEndian
	return Span{le.Uint32(b[SpanOffOffset:]), le.Uint32(b[SpanLenOffset:])}
}

func putSpan(b []byte, s Span) {
	le := binary.LittleEndian
	le.PutUint32(b[SpanOffOffset:], s.Off)
	le.PutUint32(b[SpanLenOffset:], s.Len)
}

// Flags returns the View* flags.
func (v View) Flags() uint16 { return binary.LittleEndian.Uint16(v.b[ViewFlagsOffset:]) }

// MethodID returns the method number (http1.Method values).
func (v View) MethodID() uint8 { return v.b[ViewMethodIDOffset] }

// Minor returns the request's HTTP minor version.
func (v View) Minor() int { return int(v.b[ViewMinorOffset]) }

// RequestID returns the engine's id for the request (the stream id).
func (v View) RequestID() uint64 { return binary.LittleEndian.Uint64(v.b[ViewRequestIDOffset:]) }

// ConnID returns the engine's id for the client connection.
func (v View) ConnID() uint64 { return binary.LittleEndian.Uint64(v.b[ViewConnIDOffset:]) }

// ContentLength returns the body length announced, or -1 for chunked.
func (v View) ContentLength() int64 {
	return int64(binary.LittleEndian.Uint64(v.b[ViewContentLengthOffset:]))
}

// Method returns the method token.
func (v View) Method() []byte { return v.bytes(v.span(SpanMethod)) }

// Target returns the request-target as received.
func (v View) Target() []byte { return v.bytes(v.span(SpanTarget)) }

// Path returns the target's path, still percent-encoded.
func (v View) Path() []byte { return v.bytes(v.span(SpanPath)) }

// Query returns the query without '?', and whether the target had one.
func (v View) Query() ([]byte, bool) {
	s := v.span(SpanQuery)
	if s.Len == NoQuery {
		return nil, false
	}
	return v.bytes(s), true
}

// Authority returns the authority of an absolute-form target; empty when
// the target has none.
func (v View) Authority() []byte { return v.bytes(v.span(SpanAuthority)) }

// Host returns the Host header's value.
func (v View) Host() []byte { return v.bytes(v.span(SpanHost)) }

// Head returns the raw request head.
func (v View) Head() []byte { return v.head }

// Body returns the request body.
func (v View) Body() []byte { return v.body }

// NumFields returns the number of header fields.
func (v View) NumFields() int { return v.n }

// Field returns header field i's name and value.
func (v View) Field(i int) (name, value []byte) {
	n, val := v.field(i)
	return v.bytes(n), v.bytes(val)
}

// Remote returns the client's address.
func (v View) Remote() netip.AddrPort { return v.addr(ViewRemoteIPOffset, ViewRemotePortOffset) }

// Local returns the address the request arrived on.
func (v View) Local() netip.AddrPort { return v.addr(ViewLocalIPOffset, ViewLocalPortOffset) }

func (v View) addr(ipOff, portOff int) netip.AddrPort {
	var ip [IPSize]byte
	copy(ip[:], v.b[ipOff:ipOff+IPSize])
	return netip.AddrPortFrom(netip.AddrFrom16(ip).Unmap(), binary.LittleEndian.Uint16(v.b[portOff:]))
}
