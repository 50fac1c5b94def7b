package http1

// Character classes from RFC 9110 §5.6.2 (tchar), §5.5 (field-vchar) and
// RFC 3986 (host), as 256-entry tables: one load per byte on the hot path.
var (
	isTchar      [256]bool // token characters: method, field names
	isFieldVchar [256]bool // field value characters, SP and HTAB included
	isTargetChar [256]bool // request-target characters (no CTL, SP, DEL or '#')
	isHostChar   [256]bool // reg-name, IP-literal and port characters
	hexVal       [256]int8 // hex digit value, or -1
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		isTchar[c] = alnum || contains("!#$%&'*+-.^_`|~", b)
		isFieldVchar[c] = b == ' ' || b == '\t' || (b >= 0x21 && b != 0x7f)
		isTargetChar[c] = b > 0x20 && b != 0x7f && b != '#'
		isHostChar[c] = alnum || contains("-._~%!$&'()*+,;=:[]", b)
		hexVal[c] = -1
		switch {
		case b >= '0' && b <= '9':
			hexVal[c] = int8(b - '0')
		case b >= 'a' && b <= 'f':
			hexVal[c] = int8(b - 'a' + 10)
		case b >= 'A' && b <= 'F':
			hexVal[c] = int8(b - 'A' + 10)
		}
	}
}

func contains(set string, b byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == b {
			return true
		}
	}
	return false
}

// equalFold reports whether b equals the lower-case ASCII string s,
// ignoring ASCII case in b. It does not allocate.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// EqualFold reports whether a and b are equal ignoring ASCII case, as
// header names compare. It does not allocate.
func EqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// trimOWS strips optional whitespace (SP, HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextListItem splits a comma-separated field value (RFC 9110 §5.6.1),
// returning the first non-empty trimmed item and the rest.
func nextListItem(v []byte) (item, rest []byte) {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		item = trimOWS(v[:i])
		if i < len(v) {
			v = v[i+1:]
		} else {
			v = nil
		}
		if len(item) > 0 {
			return item, v
		}
	}
	return nil, nil
}
