package wire

import "unsafe"

// Request view layout (include/haywire_bridge.h section 3): a fixed
// header of ViewHeaderLen bytes, a table of header-field spans, the raw
// request head, then the body, packed in that order. Section offsets
// (table_off, head_off, body_off) count from the start of the view; spans
// (offset, length: two u32) count from the start of the raw head. All
// integers are little-endian.
//
//	0            136                 head_off            body_off        n
//	+------------+-------------------+-------------------+---------------+
//	| fixed      | field table       | raw request head  | body          |
//	| header     | field_count x 16  | head_len bytes    | body_len bytes|
//	+------------+-------------------+-------------------+---------------+
//
// Fixed header:
//
//	0         2         4        5        6              8                      16
//	+---------+---------+--------+--------+--------------+----------------------+
//	| version | flags   | method | minor  | field_count  | request_id           |
//	| u16     | u16     | _id u8 | u8     | u16          | u64                  |
//	+---------+---------+--------+--------+--------------+----------------------+
//	16                     24                     32         36         40         44         48
//	+----------------------+----------------------+----------+----------+----------+----------+
//	| conn_id              | content_length       | head_off | head_len | body_off | body_len |
//	| u64                  | i64 (-1: chunked)    | u32      | u32      | u32      | u32      |
//	+----------------------+----------------------+----------+----------+----------+----------+
//	48           56           64           72           80           88           96
//	+------------+------------+------------+------------+------------+------------+
//	| method     | target     | path       | query      | authority  | host       |
//	| span       | span       | span       | span       | span       | span       |
//	+------------+------------+------------+------------+------------+------------+
//	96                          112                         128      130      132         136
//	+---------------------------+---------------------------+--------+--------+-----------+
//	| remote_ip                 | local_ip                  | remote | local  | table_off |
//	| 16 bytes (IPv4-mapped)    | 16 bytes                  | _port  | _port  | u32       |
//	+---------------------------+---------------------------+--------+--------+-----------+
//
// Span (8 bytes) and field-table entry (16 bytes):
//
//	0          4          8                 0             8             16
//	+----------+----------+                 +-------------+-------------+
//	| off u32  | len u32  |                 | name span   | value span  |
//	+----------+----------+                 +-------------+-------------+
//
// Each offset below is the previous one plus the previous field's size;
// the checks under them make the compiler compare the sums with a struct
// of the same fields.
const (
	// Field sizes (HW_BRIDGE_U8 .. HW_BRIDGE_U64 in the header).
	u8Size  = 1
	u16Size = 2
	u32Size = 4
	u64Size = 8
	// IPSize is the length of an address field: IPv6, IPv4 mapped.
	IPSize = 16

	// SpanOffOffset and SpanLenOffset locate a span's two u32.
	SpanOffOffset = 0
	SpanLenOffset = SpanOffOffset + u32Size
	// SpanSize is the length of a span.
	SpanSize = SpanLenOffset + u32Size

	// FieldNameOffset and FieldValueOffset locate a field-table entry's
	// two spans.
	FieldNameOffset  = 0
	FieldValueOffset = FieldNameOffset + SpanSize
	// FieldEntryLen is the length of a field-table entry.
	FieldEntryLen = FieldValueOffset + SpanSize

	// The fixed header's fields, in the diagram's order and names:
	// ViewXOffset is where field x starts.
	ViewVersionOffset       = 0
	ViewFlagsOffset         = ViewVersionOffset + u16Size
	ViewMethodIDOffset      = ViewFlagsOffset + u16Size
	ViewMinorOffset         = ViewMethodIDOffset + u8Size
	ViewFieldCountOffset    = ViewMinorOffset + u8Size
	ViewRequestIDOffset     = ViewFieldCountOffset + u16Size
	ViewConnIDOffset        = ViewRequestIDOffset + u64Size
	ViewContentLengthOffset = ViewConnIDOffset + u64Size
	ViewHeadOffOffset       = ViewContentLengthOffset + u64Size
	ViewHeadLenOffset       = ViewHeadOffOffset + u32Size
	ViewBodyOffOffset       = ViewHeadLenOffset + u32Size
	ViewBodyLenOffset       = ViewBodyOffOffset + u32Size
	// ViewSpansOffset is where the six spans start, in SpanMethod ..
	// SpanHost order.
	ViewSpansOffset         = ViewBodyLenOffset + u32Size
	ViewMethodSpanOffset    = ViewSpansOffset + SpanMethod*SpanSize
	ViewTargetSpanOffset    = ViewSpansOffset + SpanTarget*SpanSize
	ViewPathSpanOffset      = ViewSpansOffset + SpanPath*SpanSize
	ViewQuerySpanOffset     = ViewSpansOffset + SpanQuery*SpanSize
	ViewAuthoritySpanOffset = ViewSpansOffset + SpanAuthority*SpanSize
	ViewHostSpanOffset      = ViewSpansOffset + SpanHost*SpanSize
	ViewRemoteIPOffset      = ViewSpansOffset + SpanCount*SpanSize
	ViewLocalIPOffset       = ViewRemoteIPOffset + IPSize
	ViewRemotePortOffset    = ViewLocalIPOffset + IPSize
	ViewLocalPortOffset     = ViewRemotePortOffset + u16Size
	ViewTableOffOffset      = ViewLocalPortOffset + u16Size
	// ViewHeaderLen is the length of the fixed header, where the field
	// table starts.
	ViewHeaderLen = ViewTableOffOffset + u32Size
)

// The spans of the fixed header, in order: span i is at
// ViewSpansOffset + i*SpanSize.
const (
	SpanMethod = iota
	SpanTarget
	SpanPath
	SpanQuery
	SpanAuthority
	SpanHost
	// SpanCount is the number of spans.
	SpanCount
)

// Response message layout (include/haywire_bridge.h section 4): a fixed
// head, the reason phrase, the header block ("Name: value\r\n" lines),
// then the body bytes, packed in that order. Little-endian.
//
//	0          2       3            4                8                      16
//	+----------+-------+------------+----------------+----------------------+
//	| status   | flags | reason_len | fields_len     | content_length       |
//	| u16      | u8    | u8         | u32            | i64 (-1: none)       |
//	+----------+-------+------------+----------------+----------------------+
//	16          16 + reason_len       16 + reason_len + fields_len            n
//	+-----------+---------------------+---------------------------------------+
//	| reason    | header block        | body (the rest of the message)        |
//	+-----------+---------------------+---------------------------------------+
const (
	// The fixed head's fields, in the diagram's order and names:
	// ResponseXOffset is where field x starts.
	ResponseStatusOffset        = 0
	ResponseFlagsOffset         = ResponseStatusOffset + u16Size
	ResponseReasonLenOffset     = ResponseFlagsOffset + u8Size
	ResponseFieldsLenOffset     = ResponseReasonLenOffset + u8Size
	ResponseContentLengthOffset = ResponseFieldsLenOffset + u32Size
	// ResponseHeadLen is the length of the fixed head, where the reason
	// starts.
	ResponseHeadLen = ResponseContentLengthOffset + u64Size

	// MinStatus and MaxStatus bound the status codes a response carries.
	MinStatus = 100
	MaxStatus = 999
	// MaxReason is the longest reason phrase the format carries (its
	// length is a u8).
	MaxReason = 0xFF
)

// viewHeader, span, fieldEntry and responseHead mirror the layouts above.
// They are never used to access memory (the codecs read through the
// offset constants); they exist so that the compiler checks the constants
// against structs with the same fields, as the C header does with
// _Static_assert.
type (
	span       struct{ off, len uint32 }
	fieldEntry struct{ name, value span }
	viewHeader struct {
		version, flags   uint16
		methodID, minor  uint8
		fieldCount       uint16
		requestID        uint64
		connID           uint64
		contentLength    int64
		headOff, headLen uint32
		bodyOff, bodyLen uint32
		spans            [SpanCount]span
		remoteIP         [IPSize]byte
		localIP          [IPSize]byte
		remotePort       uint16
		localPort        uint16
		tableOff         uint32
	}
	responseHead struct {
		status           uint16
		flags, reasonLen uint8
		fieldsLen        uint32
		contentLength    int64
	}
)

// Compile-time layout checks: indexing a one-element array with a non-zero
// constant fails to compile, and so does a negative difference (it wraps).
var (
	_ = [1]struct{}{}[unsafe.Offsetof(span{}.off)-SpanOffOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(span{}.len)-SpanLenOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(span{})-SpanSize]
	_ = [1]struct{}{}[unsafe.Offsetof(fieldEntry{}.name)-FieldNameOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(fieldEntry{}.value)-FieldValueOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(fieldEntry{})-FieldEntryLen]

	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.version)-ViewVersionOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.flags)-ViewFlagsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.methodID)-ViewMethodIDOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.minor)-ViewMinorOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.fieldCount)-ViewFieldCountOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.requestID)-ViewRequestIDOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.connID)-ViewConnIDOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.contentLength)-ViewContentLengthOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.headOff)-ViewHeadOffOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.headLen)-ViewHeadLenOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.bodyOff)-ViewBodyOffOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.bodyLen)-ViewBodyLenOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.spans)-ViewSpansOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.remoteIP)-ViewRemoteIPOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.localIP)-ViewLocalIPOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.remotePort)-ViewRemotePortOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.localPort)-ViewLocalPortOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(viewHeader{}.tableOff)-ViewTableOffOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(viewHeader{})-ViewHeaderLen]
	// The diagram's numbers, so that a moved field is a deliberate change
	// (it bumps ViewVersion).
	_ = [1]struct{}{}[ViewHeaderLen-136]
	_ = [1]struct{}{}[ViewRemoteIPOffset-96]

	_ = [1]struct{}{}[unsafe.Offsetof(responseHead{}.status)-ResponseStatusOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(responseHead{}.flags)-ResponseFlagsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(responseHead{}.reasonLen)-ResponseReasonLenOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(responseHead{}.fieldsLen)-ResponseFieldsLenOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(responseHead{}.contentLength)-ResponseContentLengthOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(responseHead{})-ResponseHeadLen]
	_ = [1]struct{}{}[ResponseHeadLen-16]
)
