package http1

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// AppendStatusLine appends "HTTP/1.<minor> <code> <reason>\r\n". An empty
// reason is replaced by the standard one for code.
func AppendStatusLine(dst []byte, minor, code int, reason string) []byte {
	if minor == 0 {
		dst = append(dst, "HTTP/1.0 "...)
	} else {
		dst = append(dst, "HTTP/1.1 "...)
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if reason == "" {
		reason = StatusText(code)
	}
	dst = append(dst, reason...)
	return append(dst, "\r\n"...)
}

// AppendHeader appends "name: value\r\n".
func AppendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendContentLength appends "Content-Length: n\r\n".
func AppendContentLength(dst []byte, n int64) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}

// dateValue is one second's Date header field, shared read-only.
type dateValue struct {
	unix int64
	text []byte // "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
}

var (
	currentDate atomic.Pointer[dateValue]
	dateOnce    sync.Once
)

// AppendDate appends the Date header field (RFC 9110 §6.6.1) in
// IMF-fixdate. One goroutine, started on first use, formats it at each
// second boundary, so a call is an atomic load and a copy: no clock read,
// no allocation. The value can trail the clock by the scheduling delay of
// that goroutine, which RFC 9110 allows ("the best available approximation").
func AppendDate(dst []byte) []byte {
	dateOnce.Do(startDateClock)
	return append(dst, currentDate.Load().text...)
}

func startDateClock() {
	refreshDate(time.Now())
	go func() {
		for {
			now := time.Now()
			time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
			refreshDate(time.Now())
		}
	}()
}

func refreshDate(now time.Time) {
	d := &dateValue{unix: now.Unix()}
	d.text = now.UTC().AppendFormat([]byte("Date: "), "Mon, 02 Jan 2006 15:04:05 GMT")
	d.text = append(d.text, "\r\n"...)
	currentDate.Store(d)
}

// StatusText returns the reason phrase for a status code, or "Unknown".
func StatusText(code int) string {
	if s, ok := statusText[code]; ok {
		return s
	}
	return "Unknown"
}

var statusText = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
	421: "Misdirected Request", 422: "Unprocessable Content", 423: "Locked",
	424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
	428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
	510: "Not Extended", 511: "Network Authentication Required",
}
