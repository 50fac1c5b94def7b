package http1

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// fields is a comparable snapshot of a parsed Request: every view copied
// into a string, with the nil-ness of the optional views kept.
type fields struct {
	Method    string
	MethodID  Method
	Target    string
	Path      string
	Query     string
	HasQuery  bool // Query != nil: the target has a '?'
	Scheme    string
	Authority string
	Major     int
	Minor     int
	Host      string
	HasHost   bool   // Host != nil: a Host field was received
	Headers   string // "Name: value\n" per field, in the order received
	CL        int64
	Chunked   bool
	KeepAlive bool
	Expect    bool
	Upgrade   bool
	HeadLen   int
}

func snap(r *Request) fields {
	var h strings.Builder
	for _, f := range r.Headers {
		h.Write(f.Name)
		h.WriteString(": ")
		h.Write(f.Value)
		h.WriteByte('\n')
	}
	return fields{
		Method: string(r.Method), MethodID: r.MethodID, Target: string(r.Target),
		Path: string(r.Path), Query: string(r.Query), HasQuery: r.Query != nil,
		Scheme: string(r.Scheme), Authority: string(r.Authority),
		Major: r.Major, Minor: r.Minor, Host: string(r.Host), HasHost: r.Host != nil,
		Headers: h.String(), CL: r.ContentLength, Chunked: r.Chunked,
		KeepAlive: r.KeepAlive, Expect: r.ExpectContinue, Upgrade: r.Upgrade,
		HeadLen: r.HeadLen,
	}
}

// outcome is what one Parse call sequence ended with.
type outcome struct {
	n   int
	err error
	f   fields // when n > 0
}

// status is the HTTP status the outcome calls for: 200 for a parsed head,
// 0 for "incomplete", or the error's status.
func (o outcome) status() int {
	var e *Error
	switch {
	case errors.As(o.err, &e):
		return e.Status
	case o.err != nil:
		return -1 // not an *Error: always a bug
	case o.n > 0:
		return 200
	}
	return 0
}

func (o outcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("status %d (%v)", o.status(), o.err)
	}
	return fmt.Sprintf("status %d (n=%d)", o.status(), o.n)
}

// short abbreviates long inputs in failure messages.
func short(s string) string {
	if len(s) <= 160 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...%q (%d bytes)", s[:100], s[len(s)-40:], len(s))
}

func parseOnce(in []byte, lim Limits) outcome {
	var p Parser
	var r Request
	n, err := p.Parse(in, &r, &lim)
	o := outcome{n: n, err: err}
	if n > 0 {
		o.f = snap(&r)
	}
	return o
}

// scribble overwrites a buffer the caller has dropped, so that any view the
// parser kept of it reads as garbage.
func scribble(b []byte) {
	for i := range b {
		b[i] = 0xA5
	}
}

// feedCuts feeds in to one parser the way the engine does: the call for
// cut c sees in[:c], so the buffer grows at its end and keeps its start.
// With fresh set, each call gets a new copy and the previous copy is
// scribbled over, as when the engine's buffer is reallocated.
func feedCuts(in []byte, cuts []int, lim Limits, fresh bool) outcome {
	var p Parser
	var r Request
	var prev []byte
	for _, c := range cuts {
		b := in[:c:c]
		if fresh {
			b = append(make([]byte, 0, c), in[:c]...)
			scribble(prev)
			prev = b
		}
		n, err := p.Parse(b, &r, &lim)
		if n > 0 || err != nil {
			o := outcome{n: n, err: err}
			if n > 0 {
				o.f = snap(&r)
			}
			return o
		}
	}
	return outcome{}
}

func byteCuts(n int) []int {
	cuts := make([]int, n)
	for i := range cuts {
		cuts[i] = i + 1
	}
	return cuts
}

// longInput is the size above which feedings are thinned out: inputs that
// long exist only to reach the default limits, and feeding them at every
// offset costs quadratic time (minutes under -race). Their cut points are
// every offset within 512 bytes of either end, where the lines that matter
// are, and every 61st offset in between, which, 61 being prime, still hits
// every position within the repeated lines. The limits' edges are tested
// at every offset with small Limits.
const longInput = 8 << 10

func thin(n, k int) bool {
	return n > longInput && k >= 512 && n-k >= 512 && k%61 != 0
}

// splitOffsets is every offset 1..len(in)-1, thinned for long inputs.
func splitOffsets(in []byte) []int {
	var ks []int
	for k := 1; k < len(in); k++ {
		if !thin(len(in), k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// growCuts is the cut points for feeding in piece by piece: one byte at a
// time, thinned for long inputs fed through fresh buffers.
func growCuts(in []byte, fresh bool) []int {
	var cuts []int
	for k := 1; k <= len(in); k++ {
		if !fresh || !thin(len(in), k) || k == len(in) {
			cuts = append(cuts, k)
		}
	}
	return cuts
}

// checkFeedings asserts that in gives the same outcome (error value,
// length and every field) however it is fed: one byte at a time and split
// into two pieces at every offset, in place and through fresh buffers.
func checkFeedings(t *testing.T, in []byte, lim Limits, want outcome) {
	t.Helper()
	for _, fresh := range []bool{false, true} {
		mode := "in place"
		if fresh {
			mode = "fresh buffers"
		}
		if got := feedCuts(in, growCuts(in, fresh), lim, fresh); got != want {
			t.Errorf("Parse(%s) byte by byte, %s = %v %+v; want %v %+v", short(string(in)), mode, got, got.f, want, want.f)
		}
		bad := 0
		for _, k := range splitOffsets(in) {
			if got := feedCuts(in, []int{k, len(in)}, lim, fresh); got != want {
				t.Errorf("Parse(%s) split at %d, %s = %v %+v; want %v %+v", short(string(in)), k, mode, got, got.f, want, want.f)
				if bad++; bad == 3 {
					break
				}
			}
		}
	}
}

// Helpers to build expected fields.

func get11(target, path, host string) fields {
	return fields{Method: "GET", MethodID: MethodGet, Target: target, Path: path,
		Major: 1, Minor: 1, Host: host, HasHost: true, Headers: "Host: " + host + "\n", KeepAlive: true}
}

func (f fields) with(mod func(*fields)) fields {
	mod(&f)
	return f
}

type parseCase struct {
	name string
	in   string
	lim  Limits // zero: the defaults
	err  *Error // nil: accepted
	want fields // when accepted; HeadLen 0 means len(in)
}

var (
	hugeTarget = "/" + strings.Repeat("a", DefaultLimits.MaxTargetBytes)   // one byte too long
	longTarget = "/" + strings.Repeat("a", 2*DefaultLimits.MaxTargetBytes) // far too long
)

var acceptCases = []parseCase{
	{name: "GET origin-form", in: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: get11("/", "/", "example.com")},
	{name: "query", in: "GET /search?q=go&lang=en HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/search?q=go&lang=en", "/search", "a").with(func(f *fields) { f.Query, f.HasQuery = "q=go&lang=en", true })},
	{name: "empty query is not nil", in: "GET /p? HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/p?", "/p", "a").with(func(f *fields) { f.HasQuery = true })},
	{name: "query with '?' and '/' inside", in: "GET /p?a=?/b HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/p?a=?/b", "/p", "a").with(func(f *fields) { f.Query, f.HasQuery = "a=?/b", true })},
	{name: "POST with Content-Length (body not consumed)", in: "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		want: fields{Method: "POST", MethodID: MethodPost, Target: "/submit", Path: "/submit", Major: 1, Minor: 1,
			Host: "a", HasHost: true, Headers: "Host: a\nContent-Length: 5\n", CL: 5, KeepAlive: true, HeadLen: 53}},
	{name: "HEAD", in: "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/x", "/x", "a").with(func(f *fields) { f.Method, f.MethodID = "HEAD", MethodHead })},
	{name: "HTTP/1.0 closes by default, Host optional", in: "GET / HTTP/1.0\r\n\r\n",
		want: fields{Method: "GET", MethodID: MethodGet, Target: "/", Path: "/", Major: 1}},
	{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		want: fields{Method: "GET", MethodID: MethodGet, Target: "/", Path: "/", Major: 1,
			Headers: "Connection: keep-alive\n", KeepAlive: true}},
	{name: "HTTP/1.0 Keep-Alive among other options", in: "GET / HTTP/1.0\r\nconnection: Foo,, Keep-Alive \r\n\r\n",
		want: fields{Method: "GET", MethodID: MethodGet, Target: "/", Path: "/", Major: 1,
			Headers: "connection: Foo,, Keep-Alive\n", KeepAlive: true}},
	{name: "HTTP/1.0 close beats keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
		want: fields{Method: "GET", MethodID: MethodGet, Target: "/", Path: "/", Major: 1,
			Headers: "Connection: keep-alive, close\n"}},
	{name: "HTTP/1.1 Connection: close", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += "Connection: close\n"; f.KeepAlive = false })},
	{name: "HTTP/1.1 Connection: CLOSE in a list", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, CLOSE\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += "Connection: TE, CLOSE\n"; f.KeepAlive = false })},
	{name: "Connection: upgrade", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Headers += "Connection: Upgrade\nUpgrade: websocket\n"
			f.Upgrade = true
		})},
	{name: "absolute-form http", in: "GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: get11("http://example.com/a/b?x=1", "/a/b", "example.com").with(func(f *fields) {
			f.Scheme, f.Authority, f.Query, f.HasQuery = "http", "example.com", "x=1", true
		})},
	{name: "absolute-form HTTPS with port, Host differs", in: "GET HTTPS://Example.com:8443/p HTTP/1.1\r\nHost: other\r\n\r\n",
		want: get11("HTTPS://Example.com:8443/p", "/p", "other").with(func(f *fields) {
			f.Scheme, f.Authority = "HTTPS", "Example.com:8443"
		})},
	{name: "absolute-form empty path", in: "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: get11("http://example.com", "/", "example.com").with(func(f *fields) { f.Scheme, f.Authority = "http", "example.com" })},
	{name: "absolute-form empty path with query", in: "GET https://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: get11("https://example.com?x", "/", "example.com").with(func(f *fields) {
			f.Scheme, f.Authority, f.Query, f.HasQuery = "https", "example.com", "x", true
		})},
	{name: "absolute-form IPv6 literal", in: "GET http://[::1]:8080/p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
		want: get11("http://[::1]:8080/p", "/p", "[::1]:8080").with(func(f *fields) { f.Scheme, f.Authority = "http", "[::1]:8080" })},
	{name: "OPTIONS *", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("*", "*", "a").with(func(f *fields) { f.Method, f.MethodID = "OPTIONS", MethodOptions })},
	{name: "OPTIONS absolute-form without path", in: "OPTIONS http://a HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("http://a", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Scheme, f.Authority = "OPTIONS", MethodOptions, "http", "a"
		})},
	{name: "leading CRLFs are skipped (RFC 9112 §2.2)", in: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/", "/", "a")},
	{name: "Content-Length identical list", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers, f.CL = "POST", MethodPost, f.Headers+"Content-Length: 5, 5\n", 5
		})},
	{name: "Content-Length identical duplicate fields with OWS", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length:\t 5 \r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers, f.CL = "POST", MethodPost, f.Headers+"Content-Length: 5\ncontent-length: 5\n", 5
		})},
	{name: "Content-Length zero", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers = "POST", MethodPost, f.Headers+"Content-Length: 0\n"
		})},
	{name: "Content-Length leading zeros", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers, f.CL = "POST", MethodPost, f.Headers+"Content-Length: 007\n", 7
		})},
	{name: "Content-Length 18 digits", in: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers, f.CL = "PUT", MethodPut, f.Headers+"Content-Length: 999999999999999999\n", 999999999999999999
		})},
	{name: "chunked", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers, f.CL, f.Chunked = "POST", MethodPost, f.Headers+"Transfer-Encoding: chunked\n", -1, true
		})},
	{name: "chunked in any case, with OWS and empty list elements (RFC 9110 §5.6.1.2)", in: "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\t, Chunked ,\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.Headers, f.CL, f.Chunked = "POST", MethodPost, f.Headers+"transfer-encoding: , Chunked ,\n", -1, true
		})},
	{name: "Expect: 100-continue in HTTP/1.1", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Method, f.MethodID, f.CL, f.Expect = "POST", MethodPost, 3, true
			f.Headers += "Content-Length: 3\nExpect: 100-Continue\n"
		})},
	{name: "Expect: 100-continue ignored in HTTP/1.0 (RFC 9110 §10.1.1)", in: "POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
		want: fields{Method: "POST", MethodID: MethodPost, Target: "/", Path: "/", Major: 1, CL: 3,
			Headers: "Content-Length: 3\nExpect: 100-continue\n"}},
	{name: "field names are case-insensitive", in: "POST / HTTP/1.1\r\nhOST: a\r\nCONTENT-length: 2\r\nCONNECTION: CLOSE\r\n\r\n",
		want: fields{Method: "POST", MethodID: MethodPost, Target: "/", Path: "/", Major: 1, Minor: 1, Host: "a", HasHost: true,
			Headers: "hOST: a\nCONTENT-length: 2\nCONNECTION: CLOSE\n", CL: 2}},
	{name: "OWS around values is trimmed", in: "GET / HTTP/1.1\r\nHost: \t a \t\r\nX-Empty:\r\nX-Blank: \t \r\nX-Tab:\tv\r\nX-Inner: a  b\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Headers += "X-Empty: \nX-Blank: \nX-Tab: v\nX-Inner: a  b\n"
		})},
	{name: "obs-text and VCHAR specials in values", in: "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \x80\xff\r\nX-Specials: \"q\" (c) \\ ;=,{}<>@\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) {
			f.Headers += "X-Name: caf\xc3\xa9 \x80\xff\nX-Specials: \"q\" (c) \\ ;=,{}<>@\n"
		})},
	{name: "header order is kept", in: "GET / HTTP/1.1\r\nB: 2\r\nHost: a\r\nA: 1\r\nB: 3\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers = "B: 2\nHost: a\nA: 1\nB: 3\n" })},
	{name: "token characters in names", in: "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += "!#$%&'*+-.^_`|~09azAZ: v\n" })},
	{name: "percent-encoded target stays encoded", in: "GET /a%20b/%E2%82%ac?x=%2F HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/a%20b/%E2%82%ac?x=%2F", "/a%20b/%E2%82%ac", "a").with(func(f *fields) { f.Query, f.HasQuery = "x=%2F", true })},
	{name: "'@', '//' and sub-delims in origin-form path", in: "GET //a@b/c;d=e,f!$&'()*+ HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("//a@b/c;d=e,f!$&'()*+", "//a@b/c;d=e,f!$&'()*+", "a")},
	{name: "raw obs-text in target is tolerated", in: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/caf\xc3\xa9", "/caf\xc3\xa9", "a")},
	{name: "HTTP/1.2 reads as 1.1 (RFC 9110 §6.2)", in: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
		want: get11("/", "/", "a")},
	{name: "HTTP/1.9 reads as 1.1", in: "GET / HTTP/1.9\r\nHost: a\r\nConnection: close\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += "Connection: close\n"; f.KeepAlive = false })},
	{name: "empty Host is allowed (RFC 9112 §3.2)", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		want: get11("/", "/", "").with(func(f *fields) { f.Headers = "Host: \n" })},
	{name: "Host with IPv6 literal and port", in: "GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n",
		want: get11("/", "/", "[2001:db8::1]:80")},
	{name: "Host in HTTP/1.0", in: "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
		want: fields{Method: "GET", MethodID: MethodGet, Target: "/", Path: "/", Major: 1, Host: "a", HasHost: true, Headers: "Host: a\n"}},
	{name: "DELETE", in: "DELETE /r HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/r", "/r", "a").with(func(f *fields) { f.Method, f.MethodID = "DELETE", MethodDelete })},
	{name: "M-SEARCH", in: "M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Method, f.MethodID = "M-SEARCH", MethodMsearch })},
	{name: "PATCH", in: "PATCH /r HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/r", "/r", "a").with(func(f *fields) { f.Method, f.MethodID = "PATCH", MethodPatch })},
	{name: "unknown method token", in: "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/pot", "/pot", "a").with(func(f *fields) { f.Method, f.MethodID = "BREW", MethodOther })},
	{name: "methods are case-sensitive", in: "get / HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Method, f.MethodID = "get", MethodOther })},
	{name: "32-byte method", in: strings.Repeat("M", 32) + " / HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Method, f.MethodID = strings.Repeat("M", 32), MethodOther })},
	{name: "bytes after the head are not consumed", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.HeadLen = 27 })},
	{name: "target of MaxTargetBytes", in: "GET " + hugeTarget[:len(hugeTarget)-1] + " HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11(hugeTarget[:len(hugeTarget)-1], hugeTarget[:len(hugeTarget)-1], "a")},
	{name: "head of exactly MaxHeaderBytes", lim: Limits{MaxHeaderBytes: 128},
		in:   "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 128-32) + "\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += "X: " + strings.Repeat("v", 128-32) + "\n" })},
	{name: "head of exactly the default MaxHeaderBytes",
		in:   "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 32<<10-32) + "\r\n\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += "X: " + strings.Repeat("v", 32<<10-32) + "\n" })},
	{name: "MaxHeaderCount fields", in: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", 99) + "\r\n",
		want: get11("/", "/", "a").with(func(f *fields) { f.Headers += strings.Repeat("X: y\n", 99) })},
	{name: "target limit lowered to fit MaxHeaderBytes", lim: Limits{MaxHeaderBytes: 4096},
		in:   "GET /" + strings.Repeat("t", 4096-44-1) + " HTTP/1.1\r\nHost: a\r\n\r\n",
		want: get11("/"+strings.Repeat("t", 4096-44-1), "/"+strings.Repeat("t", 4096-44-1), "a")},
}

// Requests RFC 9112 says to refuse, with the status each must be answered
// with. Every error leads to closing the connection.
var rejectCases = []parseCase{
	// Framing (RFC 9112 §6): anything that could desynchronise two parsers.
	{name: "Content-Length and Transfer-Encoding", err: ErrCLWithTE,
		in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "Transfer-Encoding then Content-Length", err: ErrCLWithTE,
		in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
	{name: "Content-Length and Transfer-Encoding in HTTP/1.0", err: ErrCLWithTE,
		in: "POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "differing duplicate Content-Length", err: ErrConflictingCL,
		in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
	{name: "differing Content-Length list", err: ErrConflictingCL,
		in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"},
	{name: "Content-Length 5 vs 05 is the same value", err: ErrConflictingCL,
		in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 05\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n"},
	{name: "Content-Length with '+'", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"},
	{name: "Content-Length negative", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"},
	{name: "Content-Length hex", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n"},
	{name: "Content-Length with a space inside", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n"},
	{name: "Content-Length empty", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"},
	{name: "Content-Length blank", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t \r\n\r\n"},
	{name: "Content-Length with a letter", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n"},
	{name: "Content-Length exponent", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n"},
	{name: "Content-Length overflow", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"},
	{name: "Content-Length 19 digits", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000\r\n\r\n"},
	{name: "Content-Length trailing comma", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n"},
	{name: "Content-Length leading comma", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n"},
	{name: "Content-Length empty list element", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, ,5\r\n\r\n"},
	{name: "Content-Length only a comma", err: ErrBadContentLength, in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,\r\n\r\n"},
	{name: "chunked not the final coding", err: ErrChunkedNotFinal, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
	{name: "only an unknown coding", err: ErrChunkedNotFinal, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{name: "empty Transfer-Encoding", err: ErrChunkedNotFinal, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"},
	{name: "chunked with parameters", err: ErrChunkedNotFinal, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"},
	{name: "xchunked", err: ErrChunkedNotFinal, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"},
	{name: "chunked twice in one field", err: ErrChunkedNotFinal, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"},
	{name: "chunked twice in two fields", err: ErrChunkedNotFinal,
		in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "chunked then another coding in a second field", err: ErrChunkedNotFinal,
		in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"},
	{name: "gzip, chunked is not implemented", err: ErrUnsupportedTE, in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"},
	{name: "unknown coding in an earlier field", err: ErrUnsupportedTE,
		in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1)", err: ErrTEInHTTP10, in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"},

	// Field syntax (RFC 9112 §5).
	{name: "obs-fold with SP", err: ErrObsFold, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"},
	{name: "obs-fold with HTAB", err: ErrObsFold, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"},
	{name: "whitespace before the first field line", err: ErrObsFold, in: "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
	{name: "space before colon", err: ErrSpaceBeforeColon, in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
	{name: "tab before colon", err: ErrSpaceBeforeColon, in: "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n"},
	{name: "no colon", err: ErrBadFieldName, in: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"},
	{name: "empty field name", err: ErrBadFieldName, in: "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"},
	{name: "'(' in field name", err: ErrBadFieldName, in: "GET / HTTP/1.1\r\nHost: a\r\nX(: v\r\n\r\n"},
	{name: "'@' in field name", err: ErrBadFieldName, in: "GET / HTTP/1.1\r\nHost: a\r\nX@Y: v\r\n\r\n"},
	{name: "obs-text in field name", err: ErrBadFieldName, in: "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: v\r\n\r\n"},
	{name: "NUL in field name", err: ErrBadFieldName, in: "GET / HTTP/1.1\r\nHost: a\r\nX\x00: v\r\n\r\n"},
	{name: "NUL in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"},
	{name: "bare CR in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"},
	{name: "CR before CRLF", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n"},
	{name: "DEL in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n"},
	{name: "SOH in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n"},
	{name: "VT in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n"},
	{name: "ESC in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n"},
	{name: "US in value", err: ErrBadFieldValue, in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1f\r\n\r\n"},

	// Line endings (RFC 9112 §2.2): this parser does not accept a bare LF.
	{name: "bare LF everywhere", err: ErrBareLF, in: "GET / HTTP/1.1\nHost: a\n\n"},
	{name: "bare LF ending a field line", err: ErrBareLF, in: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"},
	{name: "bare LF ending the head", err: ErrBareLF, in: "GET / HTTP/1.1\r\nHost: a\r\n\n"},
	{name: "bare LF before the request line", err: ErrBareLF, in: "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "bare LF after a leading CRLF", err: ErrBareLF, in: "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},

	// Host (RFC 9112 §3.2).
	{name: "missing Host in HTTP/1.1", err: ErrMissingHost, in: "GET / HTTP/1.1\r\n\r\n"},
	{name: "missing Host in HTTP/1.1 absolute-form", err: ErrMissingHost, in: "GET http://a/ HTTP/1.1\r\n\r\n"},
	{name: "missing Host in HTTP/1.7", err: ErrMissingHost, in: "GET / HTTP/1.7\r\nX: y\r\n\r\n"},
	{name: "duplicate Host", err: ErrDuplicateHost, in: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
	{name: "duplicate Host, other case", err: ErrDuplicateHost, in: "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"},
	{name: "duplicate Host in HTTP/1.0", err: ErrDuplicateHost, in: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"},
	{name: "space in Host", err: ErrBadHost, in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{name: "userinfo in Host", err: ErrBadHost, in: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"},
	{name: "'/' in Host", err: ErrBadHost, in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
	{name: "obs-text in Host", err: ErrBadHost, in: "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n"},

	// Versions (RFC 9112 §2.3). A well-formed version with another major
	// gets 505 (RFC 9110 §15.6.6: the major version is not supported); a
	// malformed one, or none at all (HTTP/0.9's "GET /"), is a bad request line.
	{name: "HTTP/2 connection preface", err: ErrVersion, in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{name: "HTTP/2 preface refused on its first line", err: ErrVersion, in: "PRI * HTTP/2.0\r\n"},
	{name: "HTTP/2.0 refused before the head ends", err: ErrVersion, in: "GET / HTTP/2.0\r\nHost: a\r\n"},
	{name: "HTTP/2.0", err: ErrVersion, in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n"},
	{name: "HTTP/3.0", err: ErrVersion, in: "GET / HTTP/3.0\r\nHost: a\r\n\r\n"},
	{name: "HTTP/0.9 spelled out", err: ErrVersion, in: "GET / HTTP/0.9\r\n\r\n"},
	{name: "HTTP/0.9 simple request", err: ErrBadRequestLine, in: "GET /\r\n\r\n"},
	{name: "lower-case http", err: ErrBadVersion, in: "GET / http/1.1\r\nHost: a\r\n\r\n"},
	{name: "HTTP/1", err: ErrBadVersion, in: "GET / HTTP/1\r\nHost: a\r\n\r\n"},
	{name: "HTTP/1.1.1", err: ErrBadVersion, in: "GET / HTTP/1.1.1\r\nHost: a\r\n\r\n"},
	{name: "HTTP/1.10", err: ErrBadVersion, in: "GET / HTTP/1.10\r\nHost: a\r\n\r\n"},
	{name: "HTTP/11", err: ErrBadVersion, in: "GET / HTTP/11\r\nHost: a\r\n\r\n"},
	{name: "HTTP/1.x", err: ErrBadVersion, in: "GET / HTTP/1.x\r\nHost: a\r\n\r\n"},
	{name: "HTTPS/1.1", err: ErrBadVersion, in: "GET / HTTPS/1.1\r\nHost: a\r\n\r\n"},
	{name: "trailing space after version", err: ErrBadVersion, in: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"},
	{name: "space inside target", err: ErrBadVersion, in: "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"},

	// Request line (RFC 9112 §3).
	{name: "two spaces after method", err: ErrBadRequestLine, in: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "no target", err: ErrBadRequestLine, in: "GET HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "method only", err: ErrBadRequestLine, in: "GET\r\n\r\n"},
	{name: "leading space", err: ErrBadMethod, in: " GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "tab after method", err: ErrBadMethod, in: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "'(' in method", err: ErrBadMethod, in: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "NUL in method", err: ErrBadMethod, in: "GE\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "CR in method", err: ErrBadMethod, in: "GE\rT / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "33-byte method", err: ErrBadMethod, in: strings.Repeat("M", 33) + " / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "TLS ClientHello", err: ErrBadMethod, in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
	{name: "incomplete garbage longer than any method", err: ErrBadMethod, in: strings.Repeat("A", 40)},
	{name: "too many blank lines first", err: ErrBadRequestLine, lim: Limits{MaxHeaderBytes: 64},
		in: strings.Repeat("\r\n", 33) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "CONNECT is not implemented", err: ErrNotImplemented, in: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
	{name: "GET *", err: ErrBadTarget, in: "GET * HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "OPTIONS *?", err: ErrBadTarget, in: "OPTIONS *? HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "userinfo in absolute-form", err: ErrBadTarget, in: "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "user:password in absolute-form", err: ErrBadTarget, in: "GET http://user:pw@a/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "empty authority", err: ErrBadTarget, in: "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "unknown scheme", err: ErrBadTarget, in: "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "scheme without //", err: ErrBadTarget, in: "GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "relative path", err: ErrBadTarget, in: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "authority-form with GET", err: ErrBadTarget, in: "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "'#' in target", err: ErrBadTarget, in: "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "'#' in absolute-form", err: ErrBadTarget, in: "GET http://a#/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "truncated percent-encoding", err: ErrBadTarget, in: "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "percent at the end", err: ErrBadTarget, in: "GET /a?q=% HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "percent with non-hex", err: ErrBadTarget, in: "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "percent with one hex digit", err: ErrBadTarget, in: "GET /%g0 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "double percent", err: ErrBadTarget, in: "GET /%%41 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "CTL in target", err: ErrBadTarget, in: "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "DEL in target", err: ErrBadTarget, in: "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"},

	// Expectations (RFC 9110 §10.1.1).
	{name: "unsupported expectation", err: ErrExpectation, in: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"},
	{name: "100-continue with another expectation", err: ErrExpectation, in: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n"},
	{name: "unsupported expectation in HTTP/1.0", err: ErrExpectation, in: "POST / HTTP/1.0\r\nExpect: x\r\n\r\n"},

	// Limits.
	{name: "target too long", err: ErrTargetTooLong, in: "GET " + hugeTarget + " HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "target too long, line incomplete", err: ErrTargetTooLong, in: "GET " + hugeTarget + "aaaaaaaaaaa"},
	{name: "target too long, bad version", err: ErrTargetTooLong, in: "GET " + longTarget + " XYZ\r\n\r\n"},
	{name: "target too long, bare LF", err: ErrTargetTooLong, in: "GET " + longTarget + " HTTP/1.1\n"},
	{name: "target too long, one byte short of 414, bare LF", err: ErrBareLF, in: "GET " + hugeTarget + " HTTP/1.1\n"},
	{name: "target too long for a small head limit", err: ErrTargetTooLong, lim: Limits{MaxHeaderBytes: 4096},
		in: "GET /" + strings.Repeat("t", 4096-44) + " HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "target too long for a small target limit", err: ErrTargetTooLong, lim: Limits{MaxTargetBytes: 8},
		in: "GET /12345678 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "head one byte over MaxHeaderBytes", err: ErrHeaderTooLarge, lim: Limits{MaxHeaderBytes: 128},
		in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 128-31) + "\r\n\r\n"},
	{name: "head one byte over the default MaxHeaderBytes", err: ErrHeaderTooLarge,
		in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 32<<10-31) + "\r\n\r\n"},
	{name: "header section too large, incomplete", err: ErrHeaderTooLarge,
		in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 32<<10)},
	{name: "header section too large, many fields", err: ErrHeaderTooLarge,
		in: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Some-Field: some value\r\n", 1500) + "\r\n"},
	{name: "header section too large, then bare LF", err: ErrHeaderTooLarge,
		in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 32<<10) + "\n\n"},
	{name: "too many header fields", err: ErrTooManyHeaders, in: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", 100) + "\r\n"},
	{name: "too many header fields, small limit", err: ErrTooManyHeaders, lim: Limits{MaxHeaderCount: 2},
		in: "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"},

	// When several rules are broken the first offending field decides.
	{name: "417 before a later bad field", err: ErrExpectation, in: "POST / HTTP/1.1\r\nHost: a\r\nExpect: x\r\nY: \x00\r\n\r\n"},
	{name: "bad field before a later 417", err: ErrBadFieldValue, in: "POST / HTTP/1.1\r\nHost: a\r\nY: \x00\r\nExpect: x\r\n\r\n"},
}

func TestParseAccept(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want.HeadLen == 0 {
				want.HeadLen = len(tc.in)
			}
			if want.Major == 0 {
				want.Major = 1
			}
			got := parseOnce([]byte(tc.in), tc.lim)
			if got.status() != 200 {
				t.Fatalf("Parse(%s) = %v; want status 200", short(tc.in), got)
			}
			if got.n != want.HeadLen {
				t.Errorf("Parse(%s) = n %d; want %d", short(tc.in), got.n, want.HeadLen)
			}
			if got.f != want {
				t.Errorf("Parse(%s) fields:\n got %+v\nwant %+v", short(tc.in), got.f, want)
			}
			checkFeedings(t, []byte(tc.in), tc.lim, outcome{n: want.HeadLen, f: want})
		})
	}
}

func TestParseReject(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseOnce([]byte(tc.in), tc.lim)
			if got.status() != tc.err.Status {
				t.Errorf("Parse(%s) = status %d; want %d", short(tc.in), got.status(), tc.err.Status)
			}
			if got.err != tc.err {
				t.Errorf("Parse(%s) = %v; want %v", short(tc.in), got.err, tc.err)
			}
			checkFeedings(t, []byte(tc.in), tc.lim, outcome{err: tc.err})
		})
	}
}

// Incomplete heads, however fed, must neither succeed nor fail.
func TestParseIncomplete(t *testing.T) {
	for _, in := range []string{
		"", "\r", "\r\n", "\r\n\r", "G", "GET", "GET ", "GET /", "GET / HTTP/1.1", "GET / HTTP/1.1\r",
		"GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a", "GET / HTTP/1.1\r\nHost: a\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r", "GE\rT", strings.Repeat("M", 32), strings.Repeat("M", 32) + " /",
		"GET " + hugeTarget[:len(hugeTarget)-1] + " HTTP/1.1\r",
		"GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 32<<10-20),
	} {
		if got := parseOnce([]byte(in), Limits{}); got != (outcome{}) {
			t.Errorf("Parse(%s) = %v; want status 0 (incomplete)", short(in), got)
		}
		checkFeedings(t, []byte(in), Limits{}, outcome{})
	}
}

// The parser remembers only offsets between calls: a new Request, or a
// Reset, must not change the verdict of later calls.
func TestParseResetAndReuse(t *testing.T) {
	var p Parser
	var r Request
	lim := Limits{}
	in := []byte("GET /a HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
	if n, err := p.Parse(in[:20], &r, &lim); n != 0 || err != nil {
		t.Fatalf("Parse(partial) = %d, %v; want 0, nil", n, err)
	}
	p.Reset()
	other := []byte("POST /b HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nx")
	n, err := p.Parse(other, &r, &lim)
	if err != nil || n != len(other)-1 || string(r.Path) != "/b" || len(r.Headers) != 2 {
		t.Fatalf("Parse after Reset = %d, %v, %+v; want POST /b with 2 fields", n, err, snap(&r))
	}
	// Headers is reused: a request with fewer fields shows only its own.
	if _, err := p.Parse(in, &r, &lim); err != nil || len(r.Headers) != 4 {
		t.Fatalf("Parse = %v, %d fields; want 4", err, len(r.Headers))
	}
	small := []byte("GET / HTTP/1.0\r\n\r\n")
	if _, err := p.Parse(small, &r, &lim); err != nil || len(r.Headers) != 0 || r.Host != nil {
		t.Fatalf("Parse(%q) = %v, %+v; want no fields", small, err, snap(&r))
	}
	// After an error the parser starts afresh.
	if _, err := p.Parse([]byte("GET / HTTP/9.9\r\n"), &r, &lim); err != ErrVersion {
		t.Fatalf("Parse(HTTP/9.9) = %v; want %v", err, ErrVersion)
	}
	if n, err := p.Parse(in, &r, &lim); err != nil || n != len(in) {
		t.Fatalf("Parse after error = %d, %v; want %d, nil", n, err, len(in))
	}
}

func TestRequestHeaderAndHasBody(t *testing.T) {
	var p Parser
	var r Request
	in := []byte("POST / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nContent-Length: 3\r\n\r\nabc")
	if _, err := p.Parse(in, &r, &Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{{"X-DUP", "1"}, {"host", "a"}, {"content-length", "3"}} {
		if got := r.Header([]byte(c.name)); string(got) != c.want {
			t.Errorf("Header(%q) = %q; want %q", c.name, got, c.want)
		}
	}
	if got := r.Header([]byte("missing")); got != nil {
		t.Errorf("Header(missing) = %q; want nil", got)
	}
	if !r.HasBody() {
		t.Errorf("HasBody() = false for Content-Length: 3")
	}
	for in, want := range map[string]bool{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n":                                false,
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n":          false,
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n": true,
	} {
		if _, err := p.Parse([]byte(in), &r, &Limits{}); err != nil || r.HasBody() != want {
			t.Errorf("Parse(%q): err %v, HasBody() = %v; want %v", in, err, r.HasBody(), want)
		}
	}
}

func TestClone(t *testing.T) {
	for _, in := range []string{
		"GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nX-Empty:\r\n\r\n", // shared "/" path
		"\r\nPOST /p?a=b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n",
		"GET /p? HTTP/1.0\r\n\r\n", // empty, non-nil Query
		"OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n",
	} {
		buf := []byte(in)
		var p Parser
		var r Request
		if _, err := p.Parse(buf, &r, &Limits{}); err != nil {
			t.Fatalf("Parse(%q) = %v", in, err)
		}
		want := snap(&r)
		var dst Request
		dst.Headers = make([]Header, 0, 1) // reused and grown
		storage := r.Clone(buf[:r.HeadLen], &dst, []byte("prefix"))
		if string(storage[:6]) != "prefix" || len(storage) != 6+r.HeadLen {
			t.Errorf("Clone(%q) storage = %q; want \"prefix\" then the head", in, storage)
		}
		scribble(buf)
		r = Request{}
		if got := snap(&dst); got != want {
			t.Errorf("Clone(%q) after the buffer was overwritten:\n got %+v\nwant %+v", in, got, want)
		}
		// The clone aliases storage, not the read buffer.
		scribble(storage[6:])
		if got := snap(&dst); dst.Method != nil && got.Method == want.Method {
			t.Errorf("Clone(%q): clone does not alias the returned storage", in)
		}
	}
}

// --- Pipelining ---------------------------------------------------------

// connReq is one request as the simulated engine saw it.
type connReq struct {
	f    fields
	body string
}

// simulateConn runs the engine's loop over stream: reads of the sizes
// readSize gives arrive at the end of the buffer; a parsed head and its
// body are dropped from the front; chunked bodies go through a
// ChunkedDecoder and Content-Length bodies are taken whole. With fresh set,
// every read moves the buffer to a new array and scribbles the old one. It
// returns the requests completed and the error that stopped it, if any.
func simulateConn(stream []byte, readSize func() int, lim Limits, fresh bool) ([]connReq, error) {
	var (
		p       Parser
		req     Request
		dec     ChunkedDecoder
		buf     []byte
		pos     int // bytes of stream delivered
		cur     *connReq
		body    []byte
		pending int64 // Content-Length bytes still to read
	)
	var out []connReq
	for {
		progress := true
		for progress {
			progress = false
			switch {
			case cur == nil:
				n, err := p.Parse(buf, &req, &lim)
				if err != nil {
					return out, err
				}
				if n > 0 {
					cur = &connReq{f: snap(&req)}
					body = body[:0]
					buf = buf[n:]
					pending = req.ContentLength
					dec.Reset()
					progress = true
				}
			case cur.f.Chunked:
				for len(buf) > 0 && !dec.Done() {
					c, data, err := dec.Decode(buf)
					if err != nil {
						return out, err
					}
					body = append(body, data...)
					buf = buf[c:]
				}
				if dec.Done() {
					cur.body = string(body)
					out = append(out, *cur)
					cur = nil
					progress = true
				}
			default:
				k := min(int64(len(buf)), pending)
				body = append(body, buf[:k]...)
				buf, pending = buf[k:], pending-k
				if pending == 0 {
					cur.body = string(body)
					out = append(out, *cur)
					cur = nil
					progress = true
				}
			}
		}
		if pos == len(stream) {
			return out, nil
		}
		n := min(readSize(), len(stream)-pos)
		if fresh {
			old := buf
			buf = append(make([]byte, 0, len(buf)+n), buf...)
			scribble(old)
		}
		buf = append(buf, stream[pos:pos+n]...)
		pos += n
	}
}

// genRequest makes one random request for a pipeline: its bytes and what
// the engine should see.
func genRequest(rng *rand.Rand, i int) (string, connReq) {
	host := fmt.Sprintf("h%d.example", i)
	path := fmt.Sprintf("/r/%d", i)
	hdrs := [][2]string{{"Host", host}}
	f := fields{Method: "GET", MethodID: MethodGet, Target: path, Path: path, Major: 1, Minor: 1,
		Host: host, HasHost: true, KeepAlive: true}
	var body, wireBody string
	switch kind := rng.IntN(7); kind {
	case 0: // GET with a query
		f.Query, f.HasQuery = fmt.Sprintf("i=%d&x=%%2F", i), true
		f.Target += "?" + f.Query
		hdrs = append(hdrs, [2]string{"Accept", "*/*"})
	case 1: // HEAD
		f.Method, f.MethodID = "HEAD", MethodHead
	case 2, 3: // POST with a Content-Length body, maybe expecting 100-continue
		f.Method, f.MethodID = "POST", MethodPost
		body = strings.Repeat(string(rune('a'+i%26)), rng.IntN(40))
		wireBody = body
		f.CL = int64(len(body))
		hdrs = append(hdrs, [2]string{"Content-Length", strconv.Itoa(len(body))})
		if kind == 3 {
			hdrs = append(hdrs, [2]string{"Expect", "100-continue"})
			f.Expect = true
		}
	case 4: // PUT with a chunked body, extensions and maybe trailers
		f.Method, f.MethodID = "PUT", MethodPut
		body = strings.Repeat("0123456789", rng.IntN(6)) + "\r\n" + strconv.Itoa(i)
		wireBody = chunkBody(rng, body)
		f.CL, f.Chunked = -1, true
		hdrs = append(hdrs, [2]string{"Transfer-Encoding", "chunked"})
	case 5: // absolute-form
		f.Target = "http://" + host + path
		f.Scheme, f.Authority = "http", host
	case 6: // OPTIONS *
		f.Method, f.MethodID, f.Target, f.Path = "OPTIONS", MethodOptions, "*", "*"
	}
	if rng.IntN(4) == 0 {
		hdrs = append(hdrs, [2]string{"X-Pad", strings.Repeat("p", rng.IntN(30))})
	}
	var w strings.Builder
	if rng.IntN(8) == 0 {
		w.WriteString("\r\n") // a stray CRLF between requests
	}
	fmt.Fprintf(&w, "%s %s HTTP/1.1\r\n", f.Method, f.Target)
	var hs strings.Builder
	for _, h := range hdrs {
		ows := [...]string{"", " ", "\t"}[rng.IntN(3)]
		fmt.Fprintf(&w, "%s:%s %s%s\r\n", h[0], ows, h[1], ows)
		fmt.Fprintf(&hs, "%s: %s\n", h[0], h[1])
	}
	w.WriteString("\r\n")
	f.Headers, f.HeadLen = hs.String(), w.Len()
	w.WriteString(wireBody)
	return w.String(), connReq{f: f, body: body}
}

// chunkBody encodes data in random chunks, with hex digits of either case,
// extensions (quoted strings, BWS before ';') and sometimes trailers.
func chunkBody(rng *rand.Rand, data string) string {
	exts := []string{"", ";a", ";name=value", " ;q=\"x; \\\"y\\\"\"", "\t;a;b=c", ";\xc3\xa9"}
	var b strings.Builder
	for rest := data; len(rest) > 0; {
		n := 1 + rng.IntN(len(rest))
		size := strconv.FormatInt(int64(n), 16)
		if rng.IntN(2) == 0 {
			size = strings.ToUpper(size)
		}
		if rng.IntN(4) == 0 {
			size = "00" + size
		}
		fmt.Fprintf(&b, "%s%s\r\n%s\r\n", size, exts[rng.IntN(len(exts))], rest[:n])
		rest = rest[n:]
	}
	b.WriteString("0" + exts[rng.IntN(len(exts))] + "\r\n")
	if rng.IntN(2) == 0 {
		b.WriteString("X-Checksum: abc\r\nX-Empty:\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// readSchedules are the read patterns each stream is delivered with.
func readSchedules(seed uint64) map[string]func() int {
	rng := rand.New(rand.NewPCG(seed, 7))
	return map[string]func() int{
		"whole":      func() int { return 1 << 30 },
		"byte":       func() int { return 1 },
		"3 bytes":    func() int { return 3 },
		"61 bytes":   func() int { return 61 },
		"1024 bytes": func() int { return 1024 },
		"random":     func() int { return 1 + rng.IntN(200) },
	}
}

func TestPipeline(t *testing.T) {
	for _, n := range []int{2, 3, 4, 5, 8, 16, 31, 64} {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		var stream strings.Builder
		var want []connReq
		for i := range n {
			wire, r := genRequest(rng, i)
			stream.WriteString(wire)
			want = append(want, r)
		}
		for name, sched := range readSchedules(uint64(n)) {
			for _, fresh := range []bool{false, true} {
				got, err := simulateConn([]byte(stream.String()), sched, Limits{}, fresh)
				if err != nil {
					t.Errorf("%d requests, %s reads, fresh %v: error %v after %d requests", n, name, fresh, err, len(got))
				}
				if len(got) != len(want) {
					t.Errorf("%d requests, %s reads, fresh %v: got %d requests; want %d", n, name, fresh, len(got), len(want))
					continue
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("%d requests, %s reads, fresh %v: request %d:\n got %+v\nwant %+v", n, name, fresh, i, got[i], want[i])
						break
					}
				}
			}
		}
	}
}

// A request that could frame its body two ways, or a malformed chunked
// body, stops the connection: the requests before it are served, and the
// one hidden after it never is.
func TestPipelineSmuggling(t *testing.T) {
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	const chunkedHead = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	attacks := []struct {
		name string
		wire string
		err  *Error
	}{
		{"CL.TE", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrCLWithTE},
		{"TE.CL", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\n", ErrCLWithTE},
		{"differing CL fields", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\n", ErrConflictingCL},
		{"differing CL list", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 37\r\n\r\n", ErrConflictingCL},
		{"CL with trailing comma", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0,\r\n\r\n", ErrBadContentLength},
		{"TE obfuscated by a space before colon", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n", ErrSpaceBeforeColon},
		{"TE obfuscated by VT", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", ErrBadFieldValue},
		{"TE hidden in obs-fold", "POST /x HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n", ErrObsFold},
		{"TE chunked then identity", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", ErrChunkedNotFinal},
		{"TE in HTTP/1.0", "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrTEInHTTP10},
		{"bare LF hides a field", "POST /x HTTP/1.1\r\nHost: a\r\nX: y\nContent-Length: 37\r\n\r\n", ErrBareLF},
		{"NUL in CL", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\x00 37\r\n\r\n", ErrBadFieldValue},
		{"bad chunk size", chunkedHead + "5\r\nhello\r\n0x0\r\n\r\n", ErrBadChunk},
		{"chunk size with bare LF", chunkedHead + "0\n\r\n", ErrBadChunk},
		{"chunk longer than its size", chunkedHead + "3\r\nhello\r\n0\r\n\r\n", ErrBadChunk},
		{"chunk size overflow", chunkedHead + "10000000000000005\r\nhello\r\n0\r\n\r\n", ErrBadChunk},
		{"chunk size 2^62", chunkedHead + "4000000000000000\r\n", ErrBadChunk},
		{"bare LF in a chunk extension", chunkedHead + "5;a\nxx\r\nhello\r\n0\r\n\r\n", ErrBadChunk},
		{"space in chunk size", chunkedHead + "0 5\r\nhello\r\n0\r\n\r\n", ErrBadChunk},
		{"obs-fold in trailer", chunkedHead + "0\r\nX: a\r\n b\r\n\r\n", ErrBadChunk},
		{"bare LF ending the trailers", chunkedHead + "0\r\n\n", ErrBadChunk},
	}
	good := []string{
		"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody",
		"PUT /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nbody\r\n0\r\nT: v\r\n\r\n",
	}
	for _, a := range attacks {
		for before := range len(good) + 1 {
			stream := strings.Join(good[:before], "") + a.wire + smuggled + good[0]
			for name, sched := range readSchedules(uint64(before)) {
				for _, fresh := range []bool{false, true} {
					got, err := simulateConn([]byte(stream), sched, Limits{}, fresh)
					var e *Error
					if !errors.As(err, &e) || e.Status != a.err.Status || err != a.err {
						t.Errorf("%s after %d requests, %s reads: error %v; want status %d (%v)", a.name, before, name, err, a.err.Status, a.err)
					}
					// Chunked attacks fail in the body of a request whose
					// head was fine; it is not counted as served.
					if len(got) != before {
						t.Errorf("%s after %d requests, %s reads: served %d requests; want %d", a.name, before, name, len(got), before)
					}
					for _, r := range got {
						if r.f.Path == "/smuggled" {
							t.Errorf("%s after %d requests, %s reads: smuggled request served", a.name, before, name)
						}
					}
				}
			}
		}
	}
}
