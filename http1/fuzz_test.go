package http1

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// This file holds the fuzz targets and, for them to compare against,
// reference implementations of the request-head rules and of chunked
// decoding. The references restate the rules as plainly as possible, with
// strings functions, small regexps and explicit loops, and share no code
// with the package: where they disagree with it, one of the two is wrong
// and RFC 9112 / RFC 9110 decide which.
//
// Run longer than CI does with
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 10m ./http1/
//	go test -run XXX -fuzz FuzzChunked -fuzztime 10m ./http1/

// --- Reference request-head parser ---------------------------------------

// refTchars are the token characters (RFC 9110 §5.6.2).
const refTchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func refIsTchar(c byte) bool { return strings.IndexByte(refTchars, c) >= 0 }

func refIsToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !refIsTchar(s[i]) {
			return false
		}
	}
	return s != ""
}

// refFieldChars reports whether s holds only field-value characters
// (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB. No other CTL, no DEL.
func refFieldChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0x7f || c < 0x20 && c != '\t' {
			return false
		}
	}
	return true
}

// refLower lower-cases ASCII letters only (strings.ToLower would also
// fold non-ASCII look-alikes such as the Kelvin sign).
func refLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func refTrimOWS(s string) string { return strings.Trim(s, " \t") }

var (
	refVersionRe = regexp.MustCompile(`^HTTP/([0-9])\.([0-9])$`)
	refPctRe     = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
	// absolute-form (RFC 9112 §3.2.2): scheme "://" authority, then path and query.
	refAbsoluteRe = regexp.MustCompile(`(?s)^([A-Za-z]+)://([^/?]*)(.*)$`)
	// reg-name, IP-literal and port characters (RFC 3986 §3.2.2): no userinfo.
	refHostRe   = regexp.MustCompile(`^[A-Za-z0-9._~%!$&'()*+,;=:\[\]-]*$`)
	refDigitsRe = regexp.MustCompile(`^[0-9]{1,18}$`) // 18 digits always fit an int64
)

// refMethods numbers the methods as Haywire's HW_HTTP_METHOD_MAP does.
var refMethods = map[string]Method{
	"DELETE": 0, "GET": 1, "HEAD": 2, "POST": 3, "PUT": 4, "CONNECT": 5, "OPTIONS": 6, "TRACE": 7,
	"COPY": 8, "LOCK": 9, "MKCOL": 10, "MOVE": 11, "PROPFIND": 12, "PROPPATCH": 13, "SEARCH": 14,
	"UNLOCK": 15, "REPORT": 16, "MKACTIVITY": 17, "CHECKOUT": 18, "MERGE": 19, "M-SEARCH": 20,
	"NOTIFY": 21, "SUBSCRIBE": 22, "UNSUBSCRIBE": 23, "PATCH": 24, "PURGE": 25,
}

const (
	refMaxMethod = 32 // longest method token
	// The request line besides its target: method, two SP, "HTTP/1.1", CRLF.
	refLineOverhead = refMaxMethod + 2 + len("HTTP/1.1") + 2
)

// refLimits applies the documented defaults, then shrinks the target limit
// so the longest request line fits in the head limit.
func refLimits(l Limits) (maxTarget, maxHead, maxFields int) {
	maxTarget, maxHead, maxFields = l.MaxTargetBytes, l.MaxHeaderBytes, l.MaxHeaderCount
	if maxTarget <= 0 {
		maxTarget = 8192
	}
	if maxHead <= 0 {
		maxHead = 32768
	}
	if maxFields <= 0 {
		maxFields = 100
	}
	if maxTarget+refLineOverhead > maxHead {
		maxTarget = max(maxHead-refLineOverhead, 1)
		maxHead = maxTarget + refLineOverhead
	}
	return maxTarget, maxHead, maxFields
}

// refLine returns s from start up to its next LF (excluded), and whether
// there was one.
func refLine(s string, start int) (string, bool) {
	line, _, found := strings.Cut(s[start:], "\n")
	return line, found
}

// refResult is referenceParse's verdict on the first head in its input.
type refResult struct {
	status int    // 0: incomplete; 200: a head was parsed; otherwise the error status
	f      fields // when status is 200
}

// referenceParse judges the first request head in data.
//
// A head must be refused as soon as the bytes received show it is bad,
// whatever else follows, so each line is first judged as a prefix (the
// bytes before its LF, which may end with its CR), then as a whole line.
// Where several rules are broken, the first broken in reading order
// decides; among the fields, framing rules that need every field come last.
func referenceParse(data string, lim Limits) refResult {
	maxTarget, maxHead, maxFields := refLimits(lim)
	fail := func(status int) refResult { return refResult{status: status} }

	// RFC 9112 §2.2: ignore empty lines before the request line (up to
	// the head limit).
	start := 0
	for strings.HasPrefix(data[start:], "\r\n") {
		if start += 2; start > maxHead {
			return fail(400)
		}
	}

	// Request line (RFC 9112 §3).
	line, complete := refLine(data, start)
	if st := refRequestLinePrefix(line, maxTarget, maxHead); st != 0 {
		return fail(st)
	}
	if !complete {
		return refResult{}
	}
	if !strings.HasSuffix(line, "\r") {
		return fail(400) // bare LF
	}
	f, st := refRequestLine(line[:len(line)-1], maxTarget)
	if st != 0 {
		return fail(st)
	}

	// Field lines up to the empty line (RFC 9112 §5).
	pos := start + len(line) + 1
	var lines []string
	for {
		l, complete := refLine(data, pos)
		if pos+len(l)-start >= maxHead {
			return fail(431) // the head so far has reached the limit without ending
		}
		if !complete {
			return refResult{}
		}
		if !strings.HasSuffix(l, "\r") {
			return fail(400) // bare LF
		}
		pos += len(l) + 1
		if l = l[:len(l)-1]; l == "" {
			break
		}
		lines = append(lines, l)
	}
	f.HeadLen = pos
	if st := refFields(&f, lines, maxFields); st != 0 {
		return fail(st)
	}
	return refResult{status: 200, f: f}
}

// refRequestLinePrefix judges p, the start of a request line (it may end
// with the line's CR), by what can be known before the line ends.
func refRequestLinePrefix(p string, maxTarget, maxHead int) int {
	method, rest, hasSP := strings.Cut(p, " ")
	for i := 0; i < len(method); i++ {
		if !refIsTchar(method[i]) && method[i] != '\r' { // the CR may end the line
			return 400
		}
	}
	switch {
	case len(method) > refMaxMethod, hasSP && method == "":
		return 400
	case hasSP && len(rest) > maxTarget+len(" HTTP/1.1\r"):
		return 414
	case len(p) >= maxHead:
		return 431
	}
	return 0
}

// refRequestLine parses a whole request line (without CRLF).
func refRequestLine(line string, maxTarget int) (fields, int) {
	var f fields
	method, rest, ok := strings.Cut(line, " ")
	if !ok || !refIsToken(method) {
		return f, 400
	}
	target, version, ok := strings.Cut(rest, " ")
	if !ok || target == "" {
		return f, 400
	}
	v := refVersionRe.FindStringSubmatch(version)
	switch {
	case v == nil:
		return f, 400
	case v[1] != "1":
		return f, 505 // a major version other than 1 (RFC 9110 §15.6.6)
	}
	f.Method, f.Target, f.Major, f.Minor = method, target, 1, 1
	if v[2] == "0" {
		f.Minor = 0
	}
	f.MethodID = MethodOther
	if id, ok := refMethods[method]; ok {
		f.MethodID = id
	}
	if len(target) > maxTarget {
		return f, 414
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f || c == '#' {
			return f, 400
		}
	}
	if strings.Count(target, "%") != len(refPctRe.FindAllStringIndex(target, -1)) {
		return f, 400 // a '%' not followed by two hex digits
	}
	if method == "CONNECT" {
		return f, 501
	}
	pathQuery := target
	switch {
	case target == "*": // asterisk-form, for OPTIONS only (RFC 9112 §3.2.4)
		if method != "OPTIONS" {
			return f, 400
		}
		f.Path = "*"
		return f, 0
	case target[0] == '/': // origin-form
	default: // absolute-form, http or https, no userinfo, non-empty host
		m := refAbsoluteRe.FindStringSubmatch(target)
		if m == nil || refLower(m[1]) != "http" && refLower(m[1]) != "https" || m[2] == "" || !refHostRe.MatchString(m[2]) {
			return f, 400
		}
		f.Scheme, f.Authority, pathQuery = m[1], m[2], m[3]
	}
	f.Path = pathQuery
	if p, q, ok := strings.Cut(pathQuery, "?"); ok {
		f.Path, f.Query, f.HasQuery = p, q, true
	}
	if f.Path == "" {
		f.Path = "/"
	}
	return f, 0
}

// refFields applies the field syntax (RFC 9112 §5) and the message
// framing and connection rules (RFC 9112 §3.2, §6, §9.3; RFC 9110 §10.1.1).
func refFields(f *fields, lines []string, maxFields int) int {
	var (
		hosts               int
		clSeen, teSeen      bool
		codings             []string
		closeTok, keepAlive bool
		headers             strings.Builder
	)
	for i, l := range lines {
		if l[0] == ' ' || l[0] == '\t' {
			return 400 // obs-fold, or whitespace before the first field
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || !refIsToken(name) {
			return 400 // includes whitespace before the colon
		}
		value = refTrimOWS(value)
		if !refFieldChars(value) {
			return 400
		}
		if i >= maxFields {
			return 431
		}
		headers.WriteString(name + ": " + value + "\n")
		switch refLower(name) {
		case "host":
			hosts++
			if !refHostRe.MatchString(value) {
				return 400
			}
			f.Host, f.HasHost = value, true
		case "expect":
			if refLower(value) != "100-continue" {
				return 417
			}
			f.Expect = f.Minor == 1 // ignored in HTTP/1.0
		case "connection":
			for _, item := range strings.Split(value, ",") {
				switch refLower(refTrimOWS(item)) {
				case "close":
					closeTok = true
				case "keep-alive":
					keepAlive = true
				case "upgrade":
					f.Upgrade = true
				}
			}
		case "content-length":
			// 1*DIGIT, or the same value repeated as a list (RFC 9110 §8.6).
			for _, item := range strings.Split(value, ",") {
				item = refTrimOWS(item)
				if !refDigitsRe.MatchString(item) {
					return 400
				}
				n, _ := strconv.ParseInt(item, 10, 64)
				if clSeen && n != f.CL {
					return 400
				}
				clSeen, f.CL = true, n
			}
		case "transfer-encoding":
			teSeen = true
			for _, item := range strings.Split(value, ",") {
				if item = refTrimOWS(item); item != "" { // empty list elements are ignored
					codings = append(codings, refLower(item))
				}
			}
		}
	}
	switch {
	case hosts > 1:
		return 400
	case hosts == 0 && f.Minor == 1:
		return 400
	}
	if teSeen {
		chunked := 0
		for _, c := range codings {
			if c == "chunked" {
				chunked++
			}
		}
		switch {
		case clSeen, f.Minor == 0:
			return 400
		case len(codings) == 0 || codings[len(codings)-1] != "chunked" || chunked > 1:
			return 400
		case len(codings) > 1:
			return 501
		}
		f.Chunked, f.CL = true, -1
	}
	f.KeepAlive = !closeTok && (f.Minor == 1 || keepAlive)
	f.Headers = headers.String()
	return 0
}

// --- Reference chunked decoder --------------------------------------------

// refChunkedResult is referenceDechunk's verdict on a chunked body.
type refChunkedResult struct {
	status int    // 0: incomplete; 200: done; otherwise the error status
	data   string // the data received, up to the end or the error
	end    int    // when done: the body's length, trailers included
}

const (
	refMaxSizeDigits = 16
	refMaxSize       = 1 << 62 // sizes must fit comfortably in an int64
	refMaxExt        = 4096    // bytes of chunk-ext after the ';'
	refMaxTrailer    = 32768   // bytes of the trailer section, final CRLF included
)

// refChunkSize judges a chunk-size line (RFC 9112 §7.1) without its CRLF:
// chunk-size [ BWS ";" chunk-ext ]. The extension is only checked for
// field-value characters and size. With partial set, s is only the start
// of such a line. It returns the size and whether s is acceptable.
func refChunkSize(s string, partial bool) (uint64, bool) {
	hex := s[:len(s)-len(strings.TrimLeft(s, "0123456789abcdefABCDEF"))]
	rest := s[len(hex):]
	if hex == "" {
		return 0, partial && rest == ""
	}
	size, err := strconv.ParseUint(hex, 16, 64)
	if len(hex) > refMaxSizeDigits || err != nil || size >= refMaxSize {
		return 0, false
	}
	afterBWS := strings.TrimLeft(rest, " \t")
	switch {
	case afterBWS == "":
		return size, partial || rest == "" // BWS only before a ';'
	case afterBWS[0] != ';':
		return 0, false
	}
	ext := afterBWS[1:]
	return size, len(ext) <= refMaxExt && refFieldChars(ext)
}

// referenceDechunk decodes the chunked body at the start of in.
func referenceDechunk(in string) refChunkedResult {
	var data strings.Builder
	result := func(status, end int) refChunkedResult {
		return refChunkedResult{status: status, data: data.String(), end: end}
	}
	pos := 0
	for {
		line, complete := refLine(in, pos)
		if !complete {
			if strings.HasSuffix(line, "\r") { // the line has ended; its LF is to come
				if _, ok := refChunkSize(line[:len(line)-1], false); !ok {
					return result(400, 0)
				}
			} else if _, ok := refChunkSize(line, true); !ok {
				return result(400, 0)
			}
			return result(0, 0)
		}
		if !strings.HasSuffix(line, "\r") {
			return result(400, 0) // bare LF
		}
		size, ok := refChunkSize(line[:len(line)-1], false)
		if !ok {
			return result(400, 0)
		}
		pos += len(line) + 1
		if size == 0 {
			break
		}
		if uint64(len(in)-pos) < size {
			data.WriteString(in[pos:])
			return result(0, 0)
		}
		data.WriteString(in[pos : pos+int(size)])
		pos += int(size)
		switch rest := in[pos:]; {
		case rest == "" || rest == "\r":
			return result(0, 0)
		case !strings.HasPrefix(rest, "\r\n"):
			return result(400, 0)
		}
		pos += 2
	}
	status, n := refTrailers(in[pos:])
	return result(status, pos+n)
}

// refTrailers judges a trailer section: field lines, no obs-fold, no
// whitespace before the colon, then CRLF; at most refMaxTrailer bytes. It
// returns the status and, when done, the section's length.
func refTrailers(tr string) (int, int) {
	// Find where a reader going byte by byte stops: at the first byte that
	// is not allowed, or at the final LF. -1: neither has arrived.
	bad, end := -1, -1
	for s := 0; bad < 0 && end < 0; {
		line, complete := refLine(tr, s)
		if line == "" {
			if complete {
				bad = s // an LF where a field or the final CRLF must start
			}
			break
		}
		if line[0] == '\r' {
			switch {
			case len(line) > 1:
				bad = s + 1 // CR not followed by LF
			case complete:
				end = s + 1
			}
			break
		}
		name := line[:len(line)-len(strings.TrimLeftFunc(line, func(r rune) bool { return r < 0x80 && refIsTchar(byte(r)) }))]
		i := len(name)
		if i == 0 {
			bad = s
			break
		}
		if i == len(line) {
			if complete {
				bad = s + i // the LF where the colon should be
			}
			break
		}
		if line[i] != ':' {
			bad = s + i
			break
		}
		value := line[i+1:]
		j := strings.IndexFunc(value, func(r rune) bool { return r == 0x7f || r < 0x20 && r != '\t' })
		switch {
		case j < 0:
			if complete {
				bad = s + len(line) // an LF inside the value (no CR before it)
			}
		case value[j] != '\r':
			bad = s + i + 1 + j
		case i+1+j+1 < len(line):
			bad = s + i + 1 + j + 1 // CR not followed by LF
		case complete:
			s += len(line) + 1
			continue
		}
		break
	}
	stop := len(tr) // the reader's last byte, when it neither failed nor finished
	if bad >= 0 {
		stop = bad
	} else if end >= 0 {
		stop = end
	}
	switch {
	case stop >= refMaxTrailer && len(tr) > refMaxTrailer:
		return 431, 0 // it counted byte refMaxTrailer+1 before stopping
	case bad >= 0:
		return 400, 0
	case end >= 0:
		return 200, end + 1
	}
	return 0, 0
}

// --- Fuzz targets ---------------------------------------------------------

// knownError reports whether err is one of the package's parse errors.
func knownError(err error) bool {
	for _, e := range []*Error{
		ErrBadRequestLine, ErrBadMethod, ErrBadTarget, ErrBadVersion, ErrBareLF, ErrObsFold,
		ErrSpaceBeforeColon, ErrBadFieldName, ErrBadFieldValue, ErrMissingHost, ErrDuplicateHost,
		ErrBadHost, ErrBadContentLength, ErrConflictingCL, ErrCLWithTE, ErrChunkedNotFinal,
		ErrTEInHTTP10, ErrBadChunk, ErrUnsupportedTE, ErrNotImplemented, ErrExpectation,
		ErrVersion, ErrTargetTooLong, ErrHeaderTooLarge, ErrTooManyHeaders,
	} {
		if err == e {
			return true
		}
	}
	return false
}

// parseSeeds is FuzzParse's seed corpus, besides every table case.
var parseSeeds = []string{
	// Valid: what browsers, wrk, curl and proxies send.
	browserGET,
	wrkGET,
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
	"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=\"q;\"\r\nhello\r\n0\r\nT: v\r\n\r\n",
	"GET http://a.example:8080/p?q HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\n\r\nHEAD /h HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	// Pipelines, with bodies between the heads.
	wrkGET + "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok" + wrkGET,
	chunkedPOST + chunkedBody + wrkGET + wrkGET,
	// Smuggling: framing two parsers could read two ways.
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nab",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n",
	// Other protocols and versions.
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET /\r\n",
	"GET / HTTP/0.9\r\n\r\n",
	"GET / http/1.1\r\nHost: a\r\n\r\n",
	"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
	// Targets, Host, methods.
	"GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /#f HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n",
	strings.Repeat("M", 33) + " / HTTP/1.1\r\nHost: a\r\n\r\n",
}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s), uint16(0), uint16(0), uint8(0))
	}
	for _, s := range parseSeeds[:4] { // the same with small limits
		f.Add([]byte(s), uint16(4), uint16(60), uint8(2))
	}
	for _, tc := range append(append([]parseCase(nil), acceptCases...), rejectCases...) {
		if len(tc.in) <= 1024 {
			f.Add([]byte(tc.in), uint16(tc.lim.MaxTargetBytes), uint16(tc.lim.MaxHeaderBytes), uint8(tc.lim.MaxHeaderCount))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, maxTarget, maxHead uint16, maxFields uint8) {
		lim := Limits{MaxTargetBytes: int(maxTarget), MaxHeaderBytes: int(maxHead), MaxHeaderCount: int(maxFields)}
		rest := data
		for i := 0; i < 100 && len(rest) > 0; i++ { // each head of a pipeline
			got := parseOnce(rest, lim)
			if got.err != nil && !knownError(got.err) {
				t.Fatalf("Parse(%q) = error %v, not one of the package's", rest, got.err)
			}
			want := referenceParse(string(rest), lim)
			if got.status() != want.status {
				t.Fatalf("Parse(%q) with %+v = %v; reference says status %d", rest, lim, got, want.status)
			}
			if want.status == 200 && got.f != want.f {
				t.Fatalf("Parse(%q) fields:\n got %+v\nwant %+v (reference)", rest, got.f, want.f)
			}
			if got.status() == 200 && got.n != got.f.HeadLen {
				t.Fatalf("Parse(%q) = n %d, HeadLen %d", rest, got.n, got.f.HeadLen)
			}
			// However the head arrives, the outcome is the same.
			if bw := feedCuts(rest, byteCuts(len(rest)), lim, false); bw != got {
				t.Fatalf("Parse(%q) byte by byte = %v %+v; one-shot %v %+v", rest, bw, bw.f, got, got.f)
			}
			for j := 0; j < 8 && len(rest) > 1; j++ {
				k := 1 + int(uint(len(rest)*(j+1)*7919+j*int(maxHead))%uint(len(rest)-1))
				if sp := feedCuts(rest, []int{k, len(rest)}, lim, true); sp != got {
					t.Fatalf("Parse(%q) split at %d = %v %+v; one-shot %v %+v", rest, k, sp, sp.f, got, got.f)
				}
			}
			if got.status() != 200 {
				return
			}
			// Skip the body to reach the next head.
			rest = rest[got.n:]
			if got.f.Chunked {
				var d ChunkedDecoder
				n := 0
				for !d.Done() && n < len(rest) {
					c, _, err := d.Decode(rest[n:])
					if err != nil {
						return
					}
					n += c
				}
				if !d.Done() {
					return
				}
				rest = rest[n:]
			} else {
				if got.f.CL > int64(len(rest)) {
					return
				}
				rest = rest[got.f.CL:]
			}
		}
	})
}

// chunkedSeeds is FuzzChunked's seed corpus.
var chunkedSeeds = []string{
	// Valid bodies.
	"5\r\nhello\r\n0\r\n\r\n",
	"0\r\n\r\n",
	"A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
	"5;name=\"a \\\"q\\\" ;s\"\r\nhello\r\n0;x\r\n\r\n",
	"5 \t;a=b\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\n\r\nGET / HTTP/1.1\r\n",
	chunkedBody,
	// Hostile ones.
	"00000000000000005\r\nhello\r\n0\r\n\r\n",
	"4000000000000000\r\n",
	"3fffffffffffffff\r\nabc",
	"5\r\nhelloX\r\n0\r\n\r\n",
	"5\nhello\n0\n\n",
	"5 \r\nhello\r\n0\r\n\r\n",
	"-1\r\n",
	"0\r\nX: a\r\n b\r\n\r\n",
	"0\r\nX : a\r\n\r\n",
	"0\r\nX: a\n\r\n",
	"0\r\n\rX",
	"5;a\nb\r\nhello\r\n0\r\n\r\n",
}

func FuzzChunked(f *testing.F) {
	for _, s := range chunkedSeeds {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole := decodePieces(t, data)
		if whole.err != nil && whole.err != ErrBadChunk && whole.err != ErrHeaderTooLarge {
			t.Fatalf("Decode(%q) = error %v, not ErrBadChunk or ErrHeaderTooLarge", data, whole.err)
		}
		status := 0
		var e *Error
		switch {
		case errors.As(whole.err, &e):
			status = e.Status
		case whole.done:
			status = 200
		}
		want := referenceDechunk(string(data))
		if status != want.status || whole.data != want.data || want.status == 200 && whole.consumed != want.end {
			t.Fatalf("Decode(%q) = %v (status %d); reference says status %d, data %q, end %d",
				data, whole, status, want.status, want.data, want.end)
		}
		pieces := make([][]byte, len(data))
		for i := range data {
			pieces[i] = data[i : i+1]
		}
		if got := decodePieces(t, pieces...); got != whole {
			t.Fatalf("Decode(%q) byte by byte = %v; whole %v", data, got, whole)
		}
		k := int(split) % (len(data) + 1)
		if got := decodePieces(t, data[:k], data[k:]); got != whole {
			t.Fatalf("Decode(%q) split at %d = %v; whole %v", data, k, got, whole)
		}
	})
}
