package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// A response message is a fixed head of ResponseHeadLen bytes, the
// reason phrase, the header block ("Name: value\r\n" lines), then body
// bytes (layout.go draws it; include/haywire_bridge.h section 4).

// ResponseStream flags a streamed response: the message holds the body's
// first bytes; the rest follows as KindBody pieces, then KindEnd.
const ResponseStream = 0x01

// ResponseHead is a response's status line and fields.
type ResponseHead struct {
	Status        int
	Flags         uint8  // Response* flags
	Reason        []byte // "" for the standard phrase (at most 255 bytes)
	Fields        []byte // "Name: value\r\n" lines
	ContentLength int64  // -1 when not announced; with ResponseStream, the whole body's
}

// EncodeResponse appends a response message carrying head and body to dst.
// It fails, appending nothing, for what the format cannot carry: a status
// outside 100–999, unknown flags, a reason over 255 bytes, fields over
// 4 GiB.
func EncodeResponse(dst []byte, h *ResponseHead, body []byte) ([]byte, error) {
	if h.Status < MinStatus || h.Status > MaxStatus || h.Flags&^ResponseStream != 0 || len(h.Reason) > MaxReason ||
		uint64(len(h.Fields)) > 0xFFFFFFFF {
		return dst, fmt.Errorf("%w: status %d, flags %#x, reason %d bytes, fields %d bytes cannot be encoded",
			ErrResponse, h.Status, h.Flags, len(h.Reason), len(h.Fields))
	}
	var fixed [ResponseHeadLen]byte
	le := binary.LittleEndian
	le.PutUint16(fixed[ResponseStatusOffset:], uint16(h.Status))
	fixed[ResponseFlagsOffset], fixed[ResponseReasonLenOffset] = h.Flags, uint8(len(h.Reason))
	le.PutUint32(fixed[ResponseFieldsLenOffset:], uint32(len(h.Fields)))
	le.PutUint64(fixed[ResponseContentLengthOffset:], uint64(h.ContentLength))
	dst = append(dst, fixed[:]...)
	dst = append(dst, h.Reason...)
	dst = append(dst, h.Fields...)
	return append(dst, body...), nil
}

// DecodeResponse validates a response message and returns its head and
// body, both aliasing b.
func DecodeResponse(b []byte) (ResponseHead, []byte, error) {
	if len(b) < ResponseHeadLen {
		return ResponseHead{}, nil, fmt.Errorf("%w: %d bytes, the head alone is %d", ErrResponse, len(b), ResponseHeadLen)
	}
	le := binary.LittleEndian
	h := ResponseHead{Status: int(le.Uint16(b[ResponseStatusOffset:])), Flags: b[ResponseFlagsOffset],
		ContentLength: int64(le.Uint64(b[ResponseContentLengthOffset:]))}
	rl, fl := uint64(b[ResponseReasonLenOffset]), uint64(le.Uint32(b[ResponseFieldsLenOffset:]))
	if ResponseHeadLen+rl+fl > uint64(len(b)) {
		return ResponseHead{}, nil, fmt.Errorf("%w: reason %d and fields %d bytes overrun %d", ErrResponse, rl, fl, len(b))
	}
	if h.Status < MinStatus || h.Status > MaxStatus {
		return ResponseHead{}, nil, fmt.Errorf("%w: status %d", ErrResponse, h.Status)
	}
	if h.Flags&^ResponseStream != 0 {
		return ResponseHead{}, nil, fmt.Errorf("%w: unknown flags %#x", ErrResponse, h.Flags)
	}
	h.Reason = b[ResponseHeadLen : ResponseHeadLen+rl]
	h.Fields = b[ResponseHeadLen+rl : ResponseHeadLen+rl+fl]
	return h, b[ResponseHeadLen+rl+fl:], nil
}

// NextField splits the first "Name: value\r\n" line off a header block.
// ok is false at the end of the block or on a line without ':' or CRLF.
func NextField(block []byte) (name, value, rest []byte, ok bool) {
	end := bytes.Index(block, []byte("\r\n"))
	if end < 0 {
		return nil, nil, nil, false
	}
	line := block[:end]
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, nil, false
	}
	return line[:colon], bytes.TrimLeft(line[colon+1:], " \t"), block[end+2:], true
}
