package http1

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// decodeResult is what a ChunkedDecoder made of an input.
type decodeResult struct {
	data     string
	consumed int // bytes consumed: the body's length once done, the offending byte's offset on error
	done     bool
	err      error
}

func (r decodeResult) String() string {
	return fmt.Sprintf("{data %q, consumed %d, done %v, err %v}", r.data, r.consumed, r.done, r.err)
}

// decodePieces feeds pieces to a new decoder the way reads arrive: each in
// its own buffer, scribbled over once consumed, and decoding stops when the
// body is done. It also checks that every data span is the tail of what
// the call consumed: the decoder copies nothing.
func decodePieces(t *testing.T, pieces ...[]byte) decodeResult {
	t.Helper()
	var d ChunkedDecoder
	var r decodeResult
	var data []byte
	for _, pc := range pieces {
		buf := append([]byte(nil), pc...)
		for off := 0; off < len(buf) && !d.Done(); {
			c, span, err := d.Decode(buf[off:])
			if c < len(span) || c > len(buf)-off {
				t.Fatalf("Decode consumed %d of %d bytes with a %d-byte span", c, len(buf)-off, len(span))
			}
			if len(span) > 0 && unsafe.SliceData(span) != &buf[off+c-len(span)] {
				t.Fatalf("Decode returned a span that is not the input's last consumed bytes")
			}
			data = append(data, span...)
			r.consumed += c
			off += c
			if err != nil {
				r.err, r.data = err, string(data)
				return r
			}
		}
		scribble(buf)
		if d.Done() {
			break
		}
	}
	r.done, r.data = d.Done(), string(data)
	return r
}

// checkDecodeFeedings asserts that in decodes to want whole, one byte at a
// time, and split in two at every offset.
func checkDecodeFeedings(t *testing.T, in string, want decodeResult) {
	t.Helper()
	b := []byte(in)
	if got := decodePieces(t, b); got != want {
		t.Errorf("Decode(%s) = %v; want %v", short(in), got, want)
	}
	pieces := make([][]byte, len(b))
	for i := range b {
		pieces[i] = b[i : i+1]
	}
	if got := decodePieces(t, pieces...); got != want {
		t.Errorf("Decode(%s) byte by byte = %v; want %v", short(in), got, want)
	}
	bad := 0
	for k := 1; k < len(b) && bad < 3; k++ {
		// Long inputs (see longInput) are split near their ends and at
		// every 211th offset: the decoder's state in the middle of a long
		// extension or trailer value is the same at every byte.
		if len(b) > longInput && k >= 64 && len(b)-k >= 64 && k%211 != 0 {
			continue
		}
		if got := decodePieces(t, b[:k], b[k:]); got != want {
			t.Errorf("Decode(%s) split at %d = %v; want %v", short(in), k, got, want)
			bad++
		}
	}
}

func TestChunkedValid(t *testing.T) {
	bigTrailer := "X: " + strings.Repeat("v", maxTrailerBytes-3-2-2) + "\r\n\r\n" // exactly maxTrailerBytes
	for _, tc := range []struct {
		name, in, data string
		rest           string // bytes after the body, not consumed
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"empty body", "0\r\n\r\n", "", ""},
		{"several chunks", "3\r\nabc\r\n1\r\nd\r\n2\r\nef\r\n0\r\n\r\n", "abcdef", ""},
		{"upper and lower hex", "A\r\n0123456789\r\na\r\nabcdefghij\r\n1F\r\n" + strings.Repeat("x", 31) + "\r\n0\r\n\r\n",
			"0123456789abcdefghij" + strings.Repeat("x", 31), ""},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""},
		{"16 hex digits", "0000000000000005\r\nhello\r\n0000000000000000\r\n\r\n", "hello", ""},
		{"data holding CRLFs and NUL", "6\r\n\r\n\x00\r\n\n\r\n0\r\n\r\n", "\r\n\x00\r\n\n", ""},
		{"extension", "5;name=value\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"several extensions", "5;a;b=c;d=\"e\"\r\nhello\r\n0;last=1\r\n\r\n", "hello", ""},
		{"quoted-string extension", "5;name=\"a \\\"quoted\\\" ;str\"\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"BWS before ';'", "5 ;a=b\r\nhello\r\n3\t;c\r\nabc\r\n0 \t ;d\r\n\r\n", "helloabc", ""},
		{"obs-text in extension", "5;n=caf\xc3\xa9\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"extension of the maximum size", "5;" + strings.Repeat("e", maxChunkExtBytes) + "\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"trailers", "5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: \t v \x80\r\n\r\n", "hello", ""},
		{"trailer section of the maximum size", "0\r\n" + bigTrailer, "", ""},
		{"next request follows", "5\r\nhello\r\n0\r\n\r\n", "hello", "GET / HTTP/1.1\r\n\r\n"},
		{"next bytes would be invalid chunked", "1\r\nx\r\n0\r\n\r\n", "x", "zz\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDecodeFeedings(t, tc.in+tc.rest, decodeResult{data: tc.data, consumed: len(tc.in), done: true})
		})
	}
}

func TestChunkedInvalid(t *testing.T) {
	long := func(n int) string { return strings.Repeat("e", n) }
	for _, tc := range []struct {
		name, in string
		at       int // offset of the byte that is refused
		err      *Error
	}{
		{"non-hex size", "g\r\n", 0, ErrBadChunk},
		{"non-hex after a digit", "5g\r\nhello\r\n", 1, ErrBadChunk},
		{"0x prefix", "0x5\r\nhello\r\n", 1, ErrBadChunk},
		{"negative size", "-5\r\nhello\r\n", 0, ErrBadChunk},
		{"empty size", "\r\n\r\n", 0, ErrBadChunk},
		{"extension without size", ";a\r\n", 0, ErrBadChunk},
		{"leading space", " 5\r\nhello\r\n", 0, ErrBadChunk},
		{"17 hex digits", "00000000000000005\r\nhello\r\n", 16, ErrBadChunk},
		{"overflow", "ffffffffffffffff\r\n", 15, ErrBadChunk},
		{"2^62", "4000000000000000\r\n", 15, ErrBadChunk},
		{"space in size without extension", "5 \r\nhello\r\n", 2, ErrBadChunk},
		{"space inside size", "5 5\r\n", 2, ErrBadChunk},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", 1, ErrBadChunk},
		{"CR without LF after size", "5\rhello\r\n", 2, ErrBadChunk},
		{"bare LF after extension", "5;a\nhello\r\n", 3, ErrBadChunk},
		{"NUL in extension", "5;a\x00\r\nhello\r\n", 3, ErrBadChunk},
		{"DEL in extension", "5;a=\x7f\r\nhello\r\n", 4, ErrBadChunk},
		{"oversized extension", "5;" + long(maxChunkExtBytes+1) + "\r\nhello\r\n", 2 + maxChunkExtBytes, ErrBadChunk},
		{"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", 8, ErrBadChunk},
		{"data longer than size", "3\r\nhello\r\n0\r\n\r\n", 6, ErrBadChunk},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", 8, ErrBadChunk},
		{"CR without LF after data", "5\r\nhello\r0\r\n\r\n", 9, ErrBadChunk},
		{"bare LF after last chunk", "0\n\r\n", 1, ErrBadChunk},
		{"bare LF ending the trailers", "0\r\n\n", 3, ErrBadChunk},
		{"CR without LF ending the trailers", "0\r\n\rX", 4, ErrBadChunk},
		{"bare LF after a trailer", "0\r\nX: y\n\r\n", 7, ErrBadChunk},
		{"obs-fold in trailer", "0\r\nX: a\r\n b\r\n\r\n", 9, ErrBadChunk},
		{"space before colon in trailer", "0\r\nX : a\r\n\r\n", 4, ErrBadChunk},
		{"trailer without colon", "0\r\nX\r\n\r\n", 4, ErrBadChunk},
		{"bad trailer name", "0\r\nX(: a\r\n\r\n", 4, ErrBadChunk},
		{"empty trailer name", "0\r\n: a\r\n\r\n", 3, ErrBadChunk},
		{"NUL in trailer value", "0\r\nX: a\x00\r\n\r\n", 7, ErrBadChunk},
		{"oversized trailer section", "0\r\nX: " + strings.Repeat("v", maxTrailerBytes) + "\r\n\r\n", 3 + maxTrailerBytes, ErrHeaderTooLarge},
		{"trailer section one byte too large", "0\r\nX: " + strings.Repeat("v", maxTrailerBytes-3-2-2+1) + "\r\n\r\n", 3 + maxTrailerBytes, ErrHeaderTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodePieces(t, []byte(tc.in))
			if got.err != tc.err {
				t.Errorf("Decode(%s) = error %v; want %v", short(tc.in), got.err, tc.err)
			}
			checkDecodeFeedings(t, tc.in, decodeResult{data: got.data, consumed: tc.at, err: tc.err})
		})
	}
}

// Bodies that are valid so far but not finished never succeed or fail.
func TestChunkedIncomplete(t *testing.T) {
	for _, in := range []string{
		"", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r", "5\r\nhello\r\n", "5;a=\"b",
		"3fffffffffffffff\r\n", "0\r\n", "0\r\nX", "0\r\nX: y", "0\r\nX: y\r\n", "0\r\n\r",
	} {
		var want string
		if strings.HasPrefix(in, "5\r\n") {
			want = in[3:min(len(in), 8)]
		}
		checkDecodeFeedings(t, in, decodeResult{data: want, consumed: len(in)})
	}
}

func TestChunkedDoneAndReset(t *testing.T) {
	var d ChunkedDecoder
	in := []byte("1\r\na\r\n0\r\n\r\nNEXT")
	n := 0
	for !d.Done() {
		c, _, err := d.Decode(in[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	if n != len(in)-4 {
		t.Fatalf("consumed %d; want %d", n, len(in)-4)
	}
	if c, data, err := d.Decode(in[n:]); c != 0 || data != nil || err != nil {
		t.Errorf("Decode after Done = %d, %q, %v; want 0, nil, nil", c, data, err)
	}
	d.Reset()
	if d.Done() {
		t.Errorf("Done() after Reset = true")
	}
	if c, data, err := d.Decode([]byte("2\r\nxy\r\n")); err != nil || c != 5 || string(data) != "xy" {
		t.Errorf("Decode after Reset = %d, %q, %v; want 5, \"xy\", nil", c, data, err)
	}
}
