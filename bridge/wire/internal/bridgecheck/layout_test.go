package bridgecheck

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/http1"
	"github.com/haywireowin/haywire/region"
)

// twins is the Go value of every numeric macro of haywire_bridge.h: the
// constants of package bridge/wire (and of region for the descriptor
// kinds, http1 for the method numbering). TestLayoutMatchesHeader compares
// them with the macros; TestEncoderWritesAtNamedOffsets with what the
// encoders write.
var twins = map[string]uint64{
	"HW_BRIDGE_KIND_REQUEST":  uint64(region.KindRequest),
	"HW_BRIDGE_KIND_BODY":     uint64(region.KindBody),
	"HW_BRIDGE_KIND_END":      uint64(region.KindEnd),
	"HW_BRIDGE_KIND_CANCEL":   uint64(region.KindCancel),
	"HW_BRIDGE_KIND_RESPONSE": uint64(region.KindResponse),
	"HW_BRIDGE_KIND_CONTINUE": uint64(region.KindContinue),

	"HW_BRIDGE_CANCEL_DRAIN":       wire.CancelDrain,
	"HW_BRIDGE_CANCEL_CLIENT_GONE": wire.CancelClientGone,
	"HW_BRIDGE_CANCEL_HOST_ABORT":  wire.CancelHostAbort,

	"HW_BRIDGE_VIEW_VERSION": wire.ViewVersion,
	"HW_BRIDGE_NO_QUERY":     wire.NoQuery,
	"HW_BRIDGE_METHOD_OTHER": uint64(http1.MethodOther),

	"HW_BRIDGE_VIEW_F_KEEP_ALIVE":      wire.ViewKeepAlive,
	"HW_BRIDGE_VIEW_F_HEAD":            wire.ViewHead,
	"HW_BRIDGE_VIEW_F_EXPECT_CONTINUE": wire.ViewExpectContinue,
	"HW_BRIDGE_VIEW_F_CHUNKED":         wire.ViewChunked,
	"HW_BRIDGE_VIEW_F_BODY_STREAM":     wire.ViewBodyStream,

	"HW_BRIDGE_U8":      1,
	"HW_BRIDGE_U16":     2,
	"HW_BRIDGE_U32":     4,
	"HW_BRIDGE_U64":     8,
	"HW_BRIDGE_IP_SIZE": wire.IPSize,

	"HW_BRIDGE_SPAN_OFF_OFFSET":    wire.SpanOffOffset,
	"HW_BRIDGE_SPAN_LEN_OFFSET":    wire.SpanLenOffset,
	"HW_BRIDGE_SPAN_SIZE":          wire.SpanSize,
	"HW_BRIDGE_FIELD_NAME_OFFSET":  wire.FieldNameOffset,
	"HW_BRIDGE_FIELD_VALUE_OFFSET": wire.FieldValueOffset,
	"HW_BRIDGE_FIELD_ENTRY_SIZE":   wire.FieldEntryLen,

	"HW_BRIDGE_VIEW_VERSION_OFFSET":        wire.ViewVersionOffset,
	"HW_BRIDGE_VIEW_FLAGS_OFFSET":          wire.ViewFlagsOffset,
	"HW_BRIDGE_VIEW_METHOD_ID_OFFSET":      wire.ViewMethodIDOffset,
	"HW_BRIDGE_VIEW_MINOR_OFFSET":          wire.ViewMinorOffset,
	"HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET":    wire.ViewFieldCountOffset,
	"HW_BRIDGE_VIEW_REQUEST_ID_OFFSET":     wire.ViewRequestIDOffset,
	"HW_BRIDGE_VIEW_CONN_ID_OFFSET":        wire.ViewConnIDOffset,
	"HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET": wire.ViewContentLengthOffset,
	"HW_BRIDGE_VIEW_HEAD_OFF_OFFSET":       wire.ViewHeadOffOffset,
	"HW_BRIDGE_VIEW_HEAD_LEN_OFFSET":       wire.ViewHeadLenOffset,
	"HW_BRIDGE_VIEW_BODY_OFF_OFFSET":       wire.ViewBodyOffOffset,
	"HW_BRIDGE_VIEW_BODY_LEN_OFFSET":       wire.ViewBodyLenOffset,
	"HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET":    wire.ViewMethodSpanOffset,
	"HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET":    wire.ViewTargetSpanOffset,
	"HW_BRIDGE_VIEW_PATH_SPAN_OFFSET":      wire.ViewPathSpanOffset,
	"HW_BRIDGE_VIEW_QUERY_SPAN_OFFSET":     wire.ViewQuerySpanOffset,
	"HW_BRIDGE_VIEW_AUTHORITY_SPAN_OFFSET": wire.ViewAuthoritySpanOffset,
	"HW_BRIDGE_VIEW_HOST_SPAN_OFFSET":      wire.ViewHostSpanOffset,
	"HW_BRIDGE_VIEW_REMOTE_IP_OFFSET":      wire.ViewRemoteIPOffset,
	"HW_BRIDGE_VIEW_LOCAL_IP_OFFSET":       wire.ViewLocalIPOffset,
	"HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET":    wire.ViewRemotePortOffset,
	"HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET":     wire.ViewLocalPortOffset,
	"HW_BRIDGE_VIEW_TABLE_OFF_OFFSET":      wire.ViewTableOffOffset,
	"HW_BRIDGE_VIEW_HEADER_LEN":            wire.ViewHeaderLen,

	"HW_BRIDGE_SPAN_METHOD":    wire.SpanMethod,
	"HW_BRIDGE_SPAN_TARGET":    wire.SpanTarget,
	"HW_BRIDGE_SPAN_PATH":      wire.SpanPath,
	"HW_BRIDGE_SPAN_QUERY":     wire.SpanQuery,
	"HW_BRIDGE_SPAN_AUTHORITY": wire.SpanAuthority,
	"HW_BRIDGE_SPAN_HOST":      wire.SpanHost,
	"HW_BRIDGE_SPAN_COUNT":     wire.SpanCount,

	"HW_BRIDGE_RESPONSE_STATUS_OFFSET":         wire.ResponseStatusOffset,
	"HW_BRIDGE_RESPONSE_FLAGS_OFFSET":          wire.ResponseFlagsOffset,
	"HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET":     wire.ResponseReasonLenOffset,
	"HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET":     wire.ResponseFieldsLenOffset,
	"HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET": wire.ResponseContentLengthOffset,
	"HW_BRIDGE_RESPONSE_HEAD_LEN":              wire.ResponseHeadLen,
	"HW_BRIDGE_RESPONSE_MIN_STATUS":            wire.MinStatus,
	"HW_BRIDGE_RESPONSE_MAX_STATUS":            wire.MaxStatus,
	"HW_BRIDGE_RESPONSE_MAX_REASON":            wire.MaxReason,
	"HW_BRIDGE_RESPONSE_F_STREAM":              wire.ResponseStream,
}

// findLE returns where v, little-endian in width bytes, occurs in b; it
// must occur exactly once.
func findLE(t *testing.T, what string, b []byte, v uint64, width int) int {
	t.Helper()
	pat := binary.LittleEndian.AppendUint64(nil, v)[:width]
	if n := bytes.Count(b, pat); n != 1 {
		t.Fatalf("%s: sentinel %x occurs %d times in %x", what, pat, n, b)
	}
	return bytes.Index(b, pat)
}

// goLayout derives the value of every layout macro from package wire's
// behaviour: offsets by encoding views and responses whose
// fields hold distinct sentinels and finding them, constants from the Go
// declarations.
func goLayout(t *testing.T) map[string]uint64 {
	t.Helper()
	const nFields = 0x0203
	var remote, local [16]byte
	for i := range remote {
		remote[i], local[i] = byte(0x10+i), byte(0x20+i)
	}
	spanAt := func(i int) wire.Span {
		return wire.Span{Off: 0xA0A0A000 | uint32(2*i), Len: 0xA0A0A000 | uint32(2*i+1)}
	}
	v := &wire.ViewRequest{
		Flags: 0xC3A5, MethodID: 0xE1, Minor: 0xE2,
		RequestID: 0x5152535455565758, ConnID: 0x6162636465666768, ContentLength: 0x7172737475767778,
		Head: bytes.Repeat([]byte{'h'}, 0x0A0B), Body: bytes.Repeat([]byte{'b'}, 0x0C0D),
		MethodSpan: spanAt(0), TargetSpan: spanAt(1), PathSpan: spanAt(2),
		QuerySpan: spanAt(3), AuthoritySpan: spanAt(4), HostSpan: spanAt(5),
		Remote: netip.AddrPortFrom(netip.AddrFrom16(remote), 0xD1D2),
		Local:  netip.AddrPortFrom(netip.AddrFrom16(local), 0xD3D4),
	}
	entry := wire.FieldSpan{Name: wire.Span{Off: 0xB1B2B3B4, Len: 0xB5B6B7B8}, Value: wire.Span{Off: 0xB9BABBBC, Len: 0xBDBEBFC0}}
	for range nFields {
		v.Fields = append(v.Fields, entry)
	}
	b := bridgetest.EncView(v)
	hdr := b[:wire.ViewHeaderLen]
	headOff := wire.ViewHeaderLen + nFields*wire.FieldEntryLen
	m := map[string]uint64{
		"HW_BRIDGE_KIND_REQUEST":  uint64(region.KindRequest),
		"HW_BRIDGE_KIND_CANCEL":   uint64(region.KindCancel),
		"HW_BRIDGE_KIND_RESPONSE": uint64(region.KindResponse),
		"HW_BRIDGE_KIND_BODY":     uint64(region.KindBody),
		"HW_BRIDGE_KIND_END":      uint64(region.KindEnd),
		"HW_BRIDGE_KIND_CONTINUE": uint64(region.KindContinue),

		"HW_BRIDGE_CANCEL_DRAIN":       wire.CancelDrain,
		"HW_BRIDGE_CANCEL_CLIENT_GONE": wire.CancelClientGone,
		"HW_BRIDGE_CANCEL_HOST_ABORT":  wire.CancelHostAbort,
		"HW_BRIDGE_VIEW_VERSION":       wire.ViewVersion,
		"HW_BRIDGE_NO_QUERY":           wire.NoQuery,
		"HW_BRIDGE_METHOD_OTHER":       uint64(http1.MethodOther),

		"HW_BRIDGE_VIEW_F_KEEP_ALIVE":      wire.ViewKeepAlive,
		"HW_BRIDGE_VIEW_F_HEAD":            wire.ViewHead,
		"HW_BRIDGE_VIEW_F_EXPECT_CONTINUE": wire.ViewExpectContinue,
		"HW_BRIDGE_VIEW_F_CHUNKED":         wire.ViewChunked,
		"HW_BRIDGE_VIEW_F_BODY_STREAM":     wire.ViewBodyStream,

		"HW_BRIDGE_U8": 1, "HW_BRIDGE_U16": 2, "HW_BRIDGE_U32": 4, "HW_BRIDGE_U64": 8,

		"HW_BRIDGE_VIEW_VERSION_OFFSET":        uint64(findLE(t, "version", hdr, wire.ViewVersion, 2)),
		"HW_BRIDGE_VIEW_FLAGS_OFFSET":          uint64(findLE(t, "flags", hdr, 0xC3A5, 2)),
		"HW_BRIDGE_VIEW_METHOD_ID_OFFSET":      uint64(findLE(t, "method id", hdr, 0xE1, 1)),
		"HW_BRIDGE_VIEW_MINOR_OFFSET":          uint64(findLE(t, "minor", hdr, 0xE2, 1)),
		"HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET":    uint64(findLE(t, "field count", hdr, nFields, 2)),
		"HW_BRIDGE_VIEW_REQUEST_ID_OFFSET":     uint64(findLE(t, "request id", hdr, v.RequestID, 8)),
		"HW_BRIDGE_VIEW_CONN_ID_OFFSET":        uint64(findLE(t, "conn id", hdr, v.ConnID, 8)),
		"HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET": uint64(findLE(t, "content length", hdr, uint64(v.ContentLength), 8)),
		"HW_BRIDGE_VIEW_HEAD_OFF_OFFSET":       uint64(findLE(t, "head offset", hdr, uint64(headOff), 4)),
		"HW_BRIDGE_VIEW_HEAD_LEN_OFFSET":       uint64(findLE(t, "head length", hdr, 0x0A0B, 4)),
		"HW_BRIDGE_VIEW_BODY_OFF_OFFSET":       uint64(findLE(t, "body offset", hdr, uint64(headOff+0x0A0B), 4)),
		"HW_BRIDGE_VIEW_BODY_LEN_OFFSET":       uint64(findLE(t, "body length", hdr, 0x0C0D, 4)),
		"HW_BRIDGE_VIEW_REMOTE_IP_OFFSET":      uint64(bytes.Index(hdr, remote[:])),
		"HW_BRIDGE_VIEW_LOCAL_IP_OFFSET":       uint64(bytes.Index(hdr, local[:])),
		"HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET":    uint64(findLE(t, "remote port", hdr, 0xD1D2, 2)),
		"HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET":     uint64(findLE(t, "local port", hdr, 0xD3D4, 2)),
		"HW_BRIDGE_VIEW_TABLE_OFF_OFFSET":      uint64(findLE(t, "table offset", hdr, wire.ViewHeaderLen, 4)),
		"HW_BRIDGE_VIEW_HEADER_LEN":            wire.ViewHeaderLen,
	}
	m["HW_BRIDGE_IP_SIZE"] = m["HW_BRIDGE_VIEW_LOCAL_IP_OFFSET"] - m["HW_BRIDGE_VIEW_REMOTE_IP_OFFSET"]
	names := []string{"METHOD", "TARGET", "PATH", "QUERY", "AUTHORITY", "HOST"}
	for i, name := range names {
		s := spanAt(i)
		off := findLE(t, name+" span offset", hdr, uint64(s.Off), 4)
		m["HW_BRIDGE_VIEW_"+name+"_SPAN_OFFSET"] = uint64(off)
		m["HW_BRIDGE_SPAN_LEN_OFFSET"] = uint64(findLE(t, name+" span length", hdr, uint64(s.Len), 4) - off)
	}
	for i, name := range names { // span numbers: positions in the header, in span units
		m["HW_BRIDGE_SPAN_"+name] = uint64(i)
	}
	m["HW_BRIDGE_SPAN_COUNT"] = uint64(len(names))
	m["HW_BRIDGE_SPAN_OFF_OFFSET"] = 0
	m["HW_BRIDGE_SPAN_SIZE"] = m["HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET"] - m["HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET"]
	tab := b[wire.ViewHeaderLen : wire.ViewHeaderLen+wire.FieldEntryLen]
	m["HW_BRIDGE_FIELD_NAME_OFFSET"] = uint64(findLE(t, "field name", tab, uint64(entry.Name.Off), 4))
	m["HW_BRIDGE_FIELD_VALUE_OFFSET"] = uint64(findLE(t, "field value", tab, uint64(entry.Value.Off), 4))
	m["HW_BRIDGE_FIELD_ENTRY_SIZE"] = wire.FieldEntryLen
	if findLE(t, "field name length", tab, uint64(entry.Name.Len), 4) != 4 ||
		findLE(t, "field value length", tab, uint64(entry.Value.Len), 4) != 12 {
		t.Errorf("field entry: a span's length does not follow its offset: %x", tab)
	}
	if headOff+0x0A0B+0x0C0D != len(b) || wire.ViewLen(v) != len(b) {
		t.Errorf("view of %d bytes, want packed sections ending at %d", len(b), headOff+0x0A0B+0x0C0D)
	}

	// The response head, by the same method.
	h := &wire.ResponseHead{Status: 0x02C1, Flags: wire.ResponseStream, Reason: bytes.Repeat([]byte{'r'}, 0xC3),
		Fields: bytes.Repeat([]byte{'f'}, 0x00020406), ContentLength: 0x7172737475767778}
	msg := bridgetest.EncResp(h, nil)
	rh := msg[:wire.ResponseHeadLen]
	m["HW_BRIDGE_RESPONSE_STATUS_OFFSET"] = uint64(findLE(t, "status", rh, 0x02C1, 2))
	m["HW_BRIDGE_RESPONSE_FLAGS_OFFSET"] = uint64(findLE(t, "flags", rh, wire.ResponseStream, 1))
	m["HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET"] = uint64(findLE(t, "reason length", rh, 0xC3, 1))
	m["HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET"] = uint64(findLE(t, "fields length", rh, 0x00020406, 4))
	m["HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET"] = uint64(findLE(t, "content length", rh, uint64(h.ContentLength), 8))
	m["HW_BRIDGE_RESPONSE_HEAD_LEN"] = wire.ResponseHeadLen
	if !bytes.Equal(msg[wire.ResponseHeadLen:wire.ResponseHeadLen+0xC3], h.Reason) {
		t.Errorf("the reason does not follow the %d-byte head", wire.ResponseHeadLen)
	}
	// The status range DecodeResponse accepts, and the longest reason.
	lo, hi := -1, -1
	for s := range 1 << 16 {
		if _, _, err := wire.DecodeResponse(bridgetest.EncResp(&wire.ResponseHead{Status: s}, nil)); err == nil {
			if lo < 0 {
				lo = s
			}
			hi = s
		}
	}
	m["HW_BRIDGE_RESPONSE_MIN_STATUS"], m["HW_BRIDGE_RESPONSE_MAX_STATUS"] = uint64(lo), uint64(hi)
	m["HW_BRIDGE_RESPONSE_MAX_REASON"] = wire.MaxReason
	m["HW_BRIDGE_RESPONSE_F_STREAM"] = wire.ResponseStream
	return m
}

// TestEncoderWritesAtNamedOffsets: the encoders write each field where
// the named constants say (found by sentinels), and the decoders accept
// the ranges the constants give, so the constants compared with the
// header by TestLayoutMatchesHeader are the ones the codecs use.
func TestEncoderWritesAtNamedOffsets(t *testing.T) {
	got := goLayout(t)
	for name, g := range got {
		if w, ok := twins[name]; !ok {
			t.Errorf("%s: derived from the encoders but has no twin", name)
		} else if g != w {
			t.Errorf("%s: the encoders say %d, the constant is %d", name, g, w)
		}
	}
	for name := range twins {
		if _, ok := got[name]; !ok {
			t.Errorf("%s has a twin but is not derived from the encoders", name)
		}
	}
}
