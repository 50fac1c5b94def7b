package http1

import (
	"encoding/binary"
	"unsafe"
)

// ValidToken reports whether b is a non-empty token (RFC 9110 §5.6.2), as
// field names and methods must be.
func ValidToken(b []byte) bool {
	for _, c := range b {
		if !isTchar[c] {
			return false
		}
	}
	return len(b) > 0
}

// SafeFieldValue reports whether b can be written as a field value without
// splitting the message: no CR, LF or NUL. It looks at eight bytes at a
// time: responses carry a few of these per request.
func SafeFieldValue(b []byte) bool {
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		if hasZeroByte(w) || hasZeroByte(w^(lsb*'\r')) || hasZeroByte(w^(lsb*'\n')) {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

const (
	lsb = 0x0101010101010101 // 0x01 in every byte
	msb = 0x8080808080808080 // 0x80 in every byte
)

// le64 is the little-endian word of s's first eight bytes.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// hasZeroByte reports whether any byte of w is 0 (no false positives: the
// borrow only runs past a zero byte).
func hasZeroByte(w uint64) bool { return (w-lsb)&^w&msb != 0 }

// EqualFoldToken reports whether tok, a valid token (see ValidToken),
// equals lower, which must be lower-case letters and '-', ignoring ASCII
// case. Setting bit 0x20 lower-cases a letter and keeps '-'; among token
// characters only the letter's own two cases map to a letter, and only '-'
// maps to '-', so eight bytes compare at once.
func EqualFoldToken(tok []byte, lower string) bool {
	if len(tok) != len(lower) {
		return false
	}
	i := 0
	for ; i+8 <= len(tok); i += 8 {
		if binary.LittleEndian.Uint64(tok[i:])|lsb*0x20 != le64(lower[i:]) {
			return false
		}
	}
	for ; i < len(tok); i++ {
		if tok[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// HasToken reports whether the comma-separated list v contains tok, which
// must be lower case, ignoring ASCII case and surrounding whitespace.
func HasToken(v []byte, tok string) bool {
	for item, rest := nextListItem(v); item != nil; item, rest = nextListItem(rest) {
		if equalFold(item, tok) {
			return true
		}
	}
	return false
}

// Offset reports where sub, a view returned by the parser, starts within
// base, the bytes it was parsed from: 0 <= off and off+len(sub) <= len(base).
// ok is false for a sub that does not lie in base (an empty view, or the
// "/" path given to absolute-form targets without one).
func Offset(base, sub []byte) (off int, ok bool) {
	if len(sub) == 0 {
		return 0, false
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(base)))
	if d > uintptr(len(base)) || d+uintptr(len(sub)) > uintptr(len(base)) {
		return 0, false
	}
	return int(d), true
}
