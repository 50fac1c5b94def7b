package http1

import (
	"bytes"
	"unsafe"
)

// Header is one request header field. Name and Value alias the parsed
// buffer; Value has its surrounding whitespace removed.
type Header struct {
	Name  []byte
	Value []byte
}

// Request is a parsed request head. Every byte slice in it is a view into
// the buffer given to [Parser.Parse]: valid until the caller overwrites
// that buffer, and never to be retained beyond it (copy with [Request.CopyTo]).
type Request struct {
	Method   []byte // method token, case preserved
	MethodID Method // Method as a number; MethodOther when not well known
	Target   []byte // request-target exactly as received
	// Path is the target's path ("/..." still percent-encoded), "*" for
	// OPTIONS *, and "/" for an absolute-form target with an empty path.
	Path  []byte
	Query []byte // the target's query without '?'; nil when there is no '?'
	// Scheme and Authority are set only for an absolute-form target.
	Scheme    []byte
	Authority []byte
	Major     int // HTTP major version: always 1 after a successful parse
	Minor     int // HTTP minor version: 0 or 1 (higher 1.x minors read as 1)
	Host      []byte
	Headers   []Header // in the order received; reused across requests
	// ContentLength is the body length in bytes when the body is framed by
	// Content-Length, 0 when the request has no body, and -1 when Chunked.
	ContentLength  int64
	Chunked        bool // body uses chunked transfer coding
	KeepAlive      bool // the connection may serve another request after this one
	ExpectContinue bool // HTTP/1.1 client waits for 100 Continue before the body
	Upgrade        bool // Connection lists "upgrade" (reserved for protocol switches)
	HeadLen        int  // bytes of the head, leading blank lines and final CRLF included
}

// Limits bound what a request head may contain. Zero fields take the
// defaults given in [DefaultLimits]. MaxTargetBytes is lowered, if need be,
// to leave room in MaxHeaderBytes for the rest of the longest request line
// (MaxHeaderBytes is raised only when too small for a one-byte target).
type Limits struct {
	MaxTargetBytes int // longest request-target accepted; longer → 414
	MaxHeaderBytes int // longest head (request line + fields); longer → 431
	MaxHeaderCount int // most header fields; more → 431
}

// DefaultLimits are the limits used where a Limits field is zero.
var DefaultLimits = Limits{MaxTargetBytes: 8 << 10, MaxHeaderBytes: 32 << 10, MaxHeaderCount: 100}

// maxMethodLen bounds a method token; real methods are far shorter, and the
// bound lets garbage (a TLS handshake, say) be refused before a full head.
const maxMethodLen = 32

// requestLineOverhead is what a request line holds besides its target, at
// most: the longest method, two spaces, the version and CRLF.
const requestLineOverhead = maxMethodLen + len("  HTTP/1.1\r\n")

func (l *Limits) norm() Limits {
	n := *l
	if n.MaxTargetBytes <= 0 {
		n.MaxTargetBytes = DefaultLimits.MaxTargetBytes
	}
	if n.MaxHeaderBytes <= 0 {
		n.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if n.MaxHeaderCount <= 0 {
		n.MaxHeaderCount = DefaultLimits.MaxHeaderCount
	}
	// The head must have room for a request line with the longest target
	// allowed; otherwise a long target would be refused with 414 or 431
	// depending on where the reads happened to split it.
	if n.MaxTargetBytes > n.MaxHeaderBytes-requestLineOverhead {
		n.MaxTargetBytes = max(n.MaxHeaderBytes-requestLineOverhead, 1)
		n.MaxHeaderBytes = n.MaxTargetBytes + requestLineOverhead
	}
	return n
}

// Parser finds request heads in a byte stream. It remembers how far it has
// scanned, so feeding a head one byte at a time costs linear, not quadratic,
// time. Between calls that return "incomplete" the caller must pass the same
// bytes again, possibly extended, starting at the same request.
type Parser struct {
	scan      int  // bytes of the current buffer already searched for '\n'
	lineStart int  // offset of the line being scanned
	headStart int  // offset of the request line (after leading blank lines)
	lineEnd   int  // offset of the request line's CR, once seen
	started   bool // the request line is complete
}

// Reset forgets any partial head, for use when the caller drops its buffer.
func (p *Parser) Reset() { *p = Parser{} }

// Parse parses the request head at the start of buf into req. It returns
// the head length (bytes to consume) when a whole head was parsed; 0 and a
// nil error when buf holds only part of a head; or an [*Error]. Parse reads
// only the head: the body, if any, follows at buf[n:].
func (p *Parser) Parse(buf []byte, req *Request, lim *Limits) (int, error) {
	l := lim.norm()
	lineParsed := false // req holds this call's views of the request line
	for {
		i := bytes.IndexByte(buf[p.scan:], '\n')
		if i < 0 {
			p.scan = len(buf)
			return 0, p.checkPartial(buf, &l)
		}
		nl := p.scan + i
		// First judge the bytes before '\n' as an incomplete head would be
		// judged, so the verdict does not depend on how reads split the head
		// (for a field line that is checkPartial's size check, inlined).
		if p.started {
			if nl-p.headStart >= l.MaxHeaderBytes {
				return 0, p.fail(ErrHeaderTooLarge)
			}
		} else if err := p.checkPartial(buf[:nl], &l); err != nil {
			return 0, err
		}
		if nl == p.lineStart || buf[nl-1] != '\r' {
			return 0, p.fail(ErrBareLF)
		}
		lineLen := nl - 1 - p.lineStart
		p.scan, p.lineStart = nl+1, nl+1
		switch {
		case !p.started && lineLen == 0:
			// RFC 9112 §2.2: ignore empty lines before the request line.
			p.headStart = p.lineStart
			if p.headStart > l.MaxHeaderBytes {
				return 0, p.fail(ErrBadRequestLine)
			}
		case !p.started:
			p.started, p.lineEnd, lineParsed = true, nl-1, true
			// Judge the request line now: a client speaking HTTP/2 or
			// sending a huge target hears so before sending more.
			if err := parseRequestLine(buf[p.headStart:p.lineEnd], req, &l); err != nil {
				return 0, p.fail(err)
			}
		case lineLen == 0:
			end := p.scan
			var err error
			if !lineParsed { // buf may have moved since the line was judged
				err = parseRequestLine(buf[p.headStart:p.lineEnd], req, &l)
			}
			if err == nil {
				err = parseFields(buf[p.lineEnd+2:end-2], req, &l)
			}
			p.Reset()
			if err != nil {
				return 0, err
			}
			req.HeadLen = end
			return end, nil
		}
	}
}

func (p *Parser) fail(err error) error {
	p.Reset()
	return err
}

// checkPartial refuses an incomplete head that can already be seen to be
// bad or too big, so a slow or hostile client cannot hold a buffer forever.
// Parse also applies it to the bytes before each '\n', so whatever refuses
// a prefix of a head refuses the head, however it was split across reads.
// A head that has reached MaxHeaderBytes without its final LF is too large.
func (p *Parser) checkPartial(buf []byte, l *Limits) error {
	if p.started {
		if len(buf)-p.headStart >= l.MaxHeaderBytes {
			return p.fail(ErrHeaderTooLarge)
		}
		return nil
	}
	line := buf[p.lineStart:]
	sp := bytes.IndexByte(line, ' ')
	method := line
	if sp >= 0 {
		method = line[:sp]
	}
	for _, c := range method {
		if !isTchar[c] && c != '\r' {
			return p.fail(ErrBadMethod)
		}
	}
	switch {
	case len(method) > maxMethodLen, sp == 0:
		return p.fail(ErrBadMethod)
	case sp > 0 && len(line)-sp-1 > l.MaxTargetBytes+len(" HTTP/1.1\r"):
		return p.fail(ErrTargetTooLong)
	case len(buf)-p.headStart >= l.MaxHeaderBytes:
		return p.fail(ErrHeaderTooLarge)
	}
	return nil
}

var slash = []byte("/")

// parseRequestLine parses "method SP request-target SP HTTP-version".
func parseRequestLine(line []byte, req *Request, l *Limits) error {
	*req = Request{Headers: req.Headers[:0], ContentLength: 0}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return ErrBadRequestLine
	}
	method := line[:sp1]
	for _, c := range method {
		if !isTchar[c] {
			return ErrBadMethod
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return ErrBadRequestLine
	}
	target, ver := rest[:sp2], rest[sp2+1:]
	if len(ver) != 8 || string(ver[:5]) != "HTTP/" || ver[6] != '.' ||
		ver[5] < '0' || ver[5] > '9' || ver[7] < '0' || ver[7] > '9' {
		return ErrBadVersion
	}
	if ver[5] != '1' {
		return ErrVersion
	}
	req.Major, req.Minor = 1, 1
	if ver[7] == '0' {
		req.Minor = 0
	}
	if len(target) > l.MaxTargetBytes {
		return ErrTargetTooLong
	}
	for i := 0; i < len(target); i++ {
		c := target[i]
		if !isTargetChar[c] {
			return ErrBadTarget
		}
		if c == '%' && (i+2 >= len(target) || hexVal[target[i+1]] < 0 || hexVal[target[i+2]] < 0) {
			return ErrBadTarget
		}
	}
	req.Method, req.MethodID, req.Target = method, lookupMethod(method), target
	if req.MethodID == MethodConnect {
		return ErrNotImplemented // no tunnels: there is nothing to connect to
	}
	path := target
	switch {
	case target[0] == '/':
	case len(target) == 1 && target[0] == '*':
		if req.MethodID != MethodOptions {
			return ErrBadTarget
		}
		req.Path = target
		return nil
	default:
		var err error
		if path, err = splitAbsolute(target, req); err != nil {
			return err
		}
	}
	if q := bytes.IndexByte(path, '?'); q >= 0 {
		path, req.Query = path[:q], path[q+1:]
	}
	if len(path) == 0 {
		path = slash
	}
	req.Path = path
	return nil
}

// splitAbsolute takes an absolute-form target (RFC 9112 §3.2.2) apart and
// returns its path-and-query.
func splitAbsolute(target []byte, req *Request) ([]byte, error) {
	colon := bytes.Index(target, []byte("://"))
	if colon < 0 {
		return nil, ErrBadTarget
	}
	scheme := target[:colon]
	if !equalFold(scheme, "http") && !equalFold(scheme, "https") {
		return nil, ErrBadTarget
	}
	rest := target[colon+3:]
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
		if !isHostChar[rest[end]] { // '@' (userinfo) lands here too
			return nil, ErrBadTarget
		}
		end++
	}
	if end == 0 {
		return nil, ErrBadTarget
	}
	req.Scheme, req.Authority = scheme, rest[:end]
	return rest[end:], nil
}

// fieldsState accumulates what the framing rules need across fields.
type fieldsState struct {
	hosts          int
	clSeen, teSeen bool
	teChunked      int  // times "chunked" appears
	teLastChunked  bool // the final coding so far is chunked
	teOther        bool // a coding other than chunked appears
	closeTok, ka   bool
}

// parseFields parses the header lines (each ending in CRLF) and applies the
// message framing rules of RFC 9112 §6.
func parseFields(b []byte, req *Request, l *Limits) error {
	var st fieldsState
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n') // every '\n' here follows a '\r'
		line := b[:nl-1]
		b = b[nl+1:]
		if line[0] == ' ' || line[0] == '\t' {
			return ErrObsFold
		}
		n := 0
		for n < len(line) && isTchar[line[n]] {
			n++
		}
		switch {
		case n == len(line):
			return ErrBadFieldName
		case line[n] == ' ' || line[n] == '\t':
			return ErrSpaceBeforeColon
		case line[n] != ':' || n == 0:
			return ErrBadFieldName
		}
		name := line[:n]
		value := trimOWS(line[n+1:])
		for _, c := range value {
			if !isFieldVchar[c] {
				return ErrBadFieldValue
			}
		}
		if len(req.Headers) >= l.MaxHeaderCount {
			return ErrTooManyHeaders
		}
		req.Headers = append(req.Headers, Header{Name: name, Value: value})
		if err := st.apply(name, value, req); err != nil {
			return err
		}
	}
	return st.finish(req)
}

func (st *fieldsState) apply(name, value []byte, req *Request) error {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			st.hosts++
			for _, c := range value {
				if !isHostChar[c] {
					return ErrBadHost
				}
			}
			req.Host = value
		}
	case 6:
		if equalFold(name, "expect") {
			if !equalFold(value, "100-continue") {
				return ErrExpectation
			}
			// RFC 9110 §10.1.1: ignore the expectation in an HTTP/1.0 request.
			req.ExpectContinue = req.Minor >= 1
		}
	case 10:
		if equalFold(name, "connection") {
			for item, rest := nextListItem(value); item != nil; item, rest = nextListItem(rest) {
				switch {
				case equalFold(item, "close"):
					st.closeTok = true
				case equalFold(item, "keep-alive"):
					st.ka = true
				case equalFold(item, "upgrade"):
					req.Upgrade = true
				}
			}
		}
	case 14:
		if equalFold(name, "content-length") {
			return st.contentLength(value, req)
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			st.teSeen = true
			for item, rest := nextListItem(value); item != nil; item, rest = nextListItem(rest) {
				st.teLastChunked = equalFold(item, "chunked")
				if st.teLastChunked {
					st.teChunked++
				} else {
					st.teOther = true
				}
			}
		}
	}
	return nil
}

// contentLength accepts 1*DIGIT, or a list of identical such values
// (RFC 9110 §8.6), across any number of fields. Content-Length is not a
// list field, so an empty element ("5," or ",5") is invalid, not skipped.
func (st *fieldsState) contentLength(value []byte, req *Request) error {
	for more := true; more; {
		item := value
		if i := bytes.IndexByte(value, ','); i >= 0 {
			item, value = value[:i], value[i+1:]
		} else {
			more = false
		}
		item = trimOWS(item)
		if len(item) == 0 || len(item) > 18 { // 18 digits keep n below 2^63
			return ErrBadContentLength
		}
		var n int64
		for _, c := range item {
			if c < '0' || c > '9' {
				return ErrBadContentLength
			}
			n = n*10 + int64(c-'0')
		}
		if st.clSeen && n != req.ContentLength {
			return ErrConflictingCL
		}
		st.clSeen, req.ContentLength = true, n
	}
	return nil
}

func (st *fieldsState) finish(req *Request) error {
	switch {
	case st.hosts > 1:
		return ErrDuplicateHost
	case st.hosts == 0 && req.Minor >= 1:
		return ErrMissingHost
	}
	if st.teSeen {
		switch {
		case st.clSeen:
			return ErrCLWithTE
		case req.Minor == 0:
			return ErrTEInHTTP10
		case !st.teLastChunked || st.teChunked > 1:
			return ErrChunkedNotFinal
		case st.teOther:
			return ErrUnsupportedTE
		}
		req.Chunked, req.ContentLength = true, -1
	}
	if req.Minor >= 1 {
		req.KeepAlive = !st.closeTok
	} else {
		req.KeepAlive = st.ka && !st.closeTok
	}
	return nil
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// Header returns the value of the first field named name (compared without
// regard to ASCII case), or nil. It does not allocate.
func (r *Request) Header(name []byte) []byte {
	for i := range r.Headers {
		if EqualFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// Clone copies the head the request was parsed from into storage (appended
// after its current contents) and makes dst a request whose views point
// into that copy, so it stays valid after the read buffer is reused. head
// must be the bytes r was parsed from, r.HeadLen long. Clone returns the
// extended storage.
func (r *Request) Clone(head []byte, dst *Request, storage []byte) []byte {
	start := len(storage)
	storage = append(storage, head...)
	copyHead := storage[start:]
	base := uintptr(unsafe.Pointer(unsafe.SliceData(head)))
	rebase := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		off := uintptr(unsafe.Pointer(unsafe.SliceData(s))) - base
		if off > uintptr(len(head)) || off+uintptr(len(s)) > uintptr(len(head)) {
			return s // not a view of head (the shared "/" of an empty path)
		}
		return copyHead[off : off+uintptr(len(s)) : off+uintptr(len(s))]
	}
	headers := dst.Headers[:0]
	*dst = *r
	dst.Method, dst.Target, dst.Path, dst.Query = rebase(r.Method), rebase(r.Target), rebase(r.Path), rebase(r.Query)
	dst.Scheme, dst.Authority, dst.Host = rebase(r.Scheme), rebase(r.Authority), rebase(r.Host)
	for _, h := range r.Headers {
		headers = append(headers, Header{Name: rebase(h.Name), Value: rebase(h.Value)})
	}
	dst.Headers = headers
	return storage
}
