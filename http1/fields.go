package http1

import "unsafe"

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
// splitting the message: no CR, LF or NUL.
func SafeFieldValue(b []byte) bool {
	for _, c := range b {
		if c == '\r' || c == '\n' || c == 0 {
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
