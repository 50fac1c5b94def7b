package http1

import (
	"strings"
	"testing"
)

// browserGET is what a desktop browser sends for a page: about 400 bytes
// and 8 header fields.
const browserGET = "GET /wiki/Hypertext_Transfer_Protocol?action=view&section=3 HTTP/1.1\r\n" +
	"Host: en.wikipedia.org\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=5f2b8c1e9a7d4e3f; theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"\r\n"

// wrkGET is what wrk sends by default.
const wrkGET = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"

const chunkedPOST = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"

const chunkedBody = "10;part=1\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n"

func benchParse(b *testing.B, in string, fields int) {
	buf := []byte(in)
	var p Parser
	var r Request
	lim := Limits{}
	if n, err := p.Parse(buf, &r, &lim); n != len(buf) || err != nil || len(r.Headers) != fields {
		b.Fatalf("Parse = %d, %v, %d fields; want %d, nil, %d", n, err, len(r.Headers), len(buf), fields)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(buf, &r, &lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.Run("browser", func(b *testing.B) { benchParse(b, browserGET, 8) })
	b.Run("wrk", func(b *testing.B) { benchParse(b, wrkGET, 1) })
	b.Run("pipelined16", func(b *testing.B) {
		buf := []byte(strings.Repeat(wrkGET, 16))
		var p Parser
		var r Request
		lim := Limits{}
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			for rest := buf; len(rest) > 0; {
				n, err := p.Parse(rest, &r, &lim)
				if n == 0 || err != nil {
					b.Fatal(n, err)
				}
				rest = rest[n:]
			}
		}
	})
}

func BenchmarkChunkedDecode(b *testing.B) {
	body := []byte(chunkedBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var d ChunkedDecoder
	for b.Loop() {
		d.Reset()
		for in := body; !d.Done(); {
			c, _, err := d.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[c:]
		}
	}
}

func BenchmarkAppendDate(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDate(buf[:0])
	}
}

// The request path allocates nothing once the Headers slice has grown.
func TestZeroAllocs(t *testing.T) {
	for _, in := range []string{
		browserGET,
		wrkGET,
		chunkedPOST,
		"GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n", // absolute-form, shared "/"
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n", // method found in the map
		"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",   // unknown method
		"\r\nPOST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5, 5\r\n\r\n",
		// Errors are preallocated values too.
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	} {
		buf := []byte(in)
		var p Parser
		var r Request
		lim := Limits{}
		p.Parse(buf, &r, &lim) // grows r.Headers
		if a := testing.AllocsPerRun(100, func() { p.Parse(buf, &r, &lim) }); a != 0 {
			t.Errorf("Parse(%q): %v allocs; want 0", in, a)
		}
		if a := testing.AllocsPerRun(10, func() {
			for k := 1; k <= len(buf); k++ {
				if n, err := p.Parse(buf[:k], &r, &lim); n > 0 || err != nil {
					break
				}
			}
		}); a != 0 {
			t.Errorf("Parse(%q) byte by byte: %v allocs; want 0", in, a)
		}
	}

	body := []byte(chunkedBody)
	var d ChunkedDecoder
	if a := testing.AllocsPerRun(100, func() {
		d.Reset()
		for in := body; !d.Done(); {
			c, _, err := d.Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			in = in[c:]
		}
	}); a != 0 {
		t.Errorf("ChunkedDecoder.Decode: %v allocs; want 0", a)
	}

	out := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(1000, func() { out = AppendDate(out[:0]) }); a != 0 {
		t.Errorf("AppendDate: %v allocs; want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		out = AppendStatusLine(out[:0], 1, 200, "")
		out = AppendHeader(out, "Server", "haywire")
		out = AppendContentLength(out, 12345)
	}); a != 0 {
		t.Errorf("AppendStatusLine/AppendHeader/AppendContentLength: %v allocs; want 0", a)
	}
}
