package http1

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppendStatusLine(t *testing.T) {
	for _, tc := range []struct {
		minor, code int
		reason      string
		want        string
	}{
		{1, 200, "", "HTTP/1.1 200 OK\r\n"},
		{0, 200, "", "HTTP/1.0 200 OK\r\n"},
		{1, 100, "", "HTTP/1.1 100 Continue\r\n"},
		{0, 404, "", "HTTP/1.0 404 Not Found\r\n"},
		{1, 413, "", "HTTP/1.1 413 Content Too Large\r\n"},
		{1, 431, "", "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{1, 505, "", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
		{1, 299, "", "HTTP/1.1 299 Unknown\r\n"},
		{1, 200, "Fine", "HTTP/1.1 200 Fine\r\n"},
		{9, 204, "", "HTTP/1.1 204 No Content\r\n"}, // any minor but 0 answers as 1.1
	} {
		got := string(AppendStatusLine([]byte("x"), tc.minor, tc.code, tc.reason))
		if got != "x"+tc.want {
			t.Errorf("AppendStatusLine(%d, %d, %q) = %q; want %q", tc.minor, tc.code, tc.reason, got, "x"+tc.want)
		}
	}
}

// Every status the parser can ask for has its reason phrase from RFC 9110
// §15 (net/http still uses some of RFC 7231's, such as "URI" for 414).
var rfc9110Reason = map[int]string{
	400: "Bad Request", 413: "Content Too Large", 414: "URI Too Long", 417: "Expectation Failed",
	431: "Request Header Fields Too Large", 501: "Not Implemented", 505: "HTTP Version Not Supported",
}

func TestErrorStatusText(t *testing.T) {
	for _, e := range []*Error{
		ErrBadRequestLine, ErrBadMethod, ErrBadTarget, ErrBadVersion, ErrBareLF, ErrObsFold,
		ErrSpaceBeforeColon, ErrBadFieldName, ErrBadFieldValue, ErrMissingHost, ErrDuplicateHost,
		ErrBadHost, ErrBadContentLength, ErrConflictingCL, ErrCLWithTE, ErrChunkedNotFinal,
		ErrTEInHTTP10, ErrBadChunk, ErrUnsupportedTE, ErrNotImplemented, ErrExpectation,
		ErrVersion, ErrTargetTooLong, ErrHeaderTooLarge, ErrTooManyHeaders, ErrBodyTooLarge,
	} {
		if got, want := StatusText(e.Status), rfc9110Reason[e.Status]; got != want {
			t.Errorf("StatusText(%d) = %q; want %q (for %v)", e.Status, got, want, e)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"Server", "haywire", "Server: haywire\r\n"},
		{"Content-Type", "text/plain; charset=utf-8", "Content-Type: text/plain; charset=utf-8\r\n"},
		{"X-Empty", "", "X-Empty: \r\n"},
	} {
		if got := string(AppendHeader([]byte("x"), tc.name, tc.value)); got != "x"+tc.want {
			t.Errorf("AppendHeader(%q, %q) = %q; want %q", tc.name, tc.value, got, "x"+tc.want)
		}
	}
}

func TestAppendContentLength(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "Content-Length: 0\r\n"},
		{11, "Content-Length: 11\r\n"},
		{1 << 40, "Content-Length: 1099511627776\r\n"},
	} {
		if got := string(AppendContentLength([]byte("x"), tc.n)); got != "x"+tc.want {
			t.Errorf("AppendContentLength(%d) = %q; want %q", tc.n, got, "x"+tc.want)
		}
	}
}

var dateRe = regexp.MustCompile(`^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\r\n$`)

// checkDate parses an appended Date field back and checks it lies in
// [from, to], to the second.
// dateLagAllowed is how far behind the clock the cached Date may be.
const dateLagAllowed = 3 * time.Second

func checkDate(t *testing.T, field []byte, from, to time.Time) time.Time {
	t.Helper()
	if !dateRe.Match(field) {
		t.Fatalf("AppendDate = %q; want \"Date: Sun, 06 Nov 1994 08:49:37 GMT\\r\\n\" form", field)
	}
	d, err := time.Parse(http.TimeFormat, string(field[len("Date: "):len(field)-2]))
	if err != nil {
		t.Fatalf("AppendDate = %q: time.Parse(http.TimeFormat) = %v", field, err)
	}
	// The cached text may trail the clock by its goroutine's scheduling
	// delay (AppendDate's doc): allow a loaded machine a few seconds.
	if d.Before(from.Truncate(time.Second).Add(-dateLagAllowed)) || d.After(to) {
		t.Fatalf("AppendDate = %q (%v); want a time in [%v - %v, %v]", field, d, from, dateLagAllowed, to)
	}
	return d
}

func TestAppendDate(t *testing.T) {
	from := time.Now()
	got := AppendDate([]byte("x"))
	checkDate(t, got[1:], from, time.Now())
	if got[0] != 'x' {
		t.Errorf("AppendDate overwrote the destination: %q", got)
	}

	// The cached text follows the clock to the next second: poll for the
	// change, with a deadline generous enough for a loaded machine.
	first := checkDate(t, AppendDate(nil), from, time.Now())
	for deadline := time.Now().Add(10 * time.Second); ; {
		next := checkDate(t, AppendDate(nil), from, time.Now())
		if next.After(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AppendDate still %v 10 s later; want it to follow the clock", next)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Concurrent callers (the engine's event loops) all get a valid date;
	// -race checks the cache's publication.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var buf []byte
			for range 2000 {
				buf = AppendDate(buf[:0])
				if !dateRe.Match(buf) {
					t.Errorf("concurrent AppendDate = %q", buf)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSafeFieldValueWords checks the word-at-a-time scan against the plain
// rule at every length and every position of every byte value.
func TestSafeFieldValueWords(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c == '\r' || c == '\n' || c == 0 {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 24; n++ {
		b := bytes.Repeat([]byte{'v'}, n)
		if !SafeFieldValue(b) {
			t.Fatalf("SafeFieldValue(%q) = false", b)
		}
		for i := 0; i < n; i++ {
			for c := 0; c < 256; c++ {
				b[i] = byte(c)
				if got, want := SafeFieldValue(b), naive(b); got != want {
					t.Fatalf("SafeFieldValue(%q) = %v; want %v", b, got, want)
				}
			}
			b[i] = 'v'
		}
	}
}

// TestEqualFoldToken checks the word-at-a-time comparison against
// EqualFold for every token character at every position of names that
// matter to the engine.
func TestEqualFoldToken(t *testing.T) {
	for _, name := range []string{"connection", "content-length", "transfer-encoding", "te", "a"} {
		if !EqualFoldToken([]byte(strings.ToUpper(name)), name) || !EqualFoldToken([]byte(name), name) {
			t.Fatalf("EqualFoldToken(%q) = false", name)
		}
		if EqualFoldToken([]byte(name+"x"), name) || EqualFoldToken([]byte(name[1:]), name) {
			t.Fatalf("EqualFoldToken matched a name of another length")
		}
		b := []byte(name)
		for i := range b {
			for c := 0; c < 256; c++ {
				if !isTchar[c] {
					continue
				}
				b[i] = byte(c)
				if got, want := EqualFoldToken(b, name), EqualFold(b, []byte(name)); got != want {
					t.Fatalf("EqualFoldToken(%q, %q) = %v; want %v", b, name, got, want)
				}
			}
			b[i] = name[i]
		}
	}
}
