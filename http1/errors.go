package http1

// Error is a request the server must refuse. Status is the response code to
// send; after sending it the server closes the connection, because the
// framing of whatever follows can no longer be trusted.
type Error struct {
	Status int    // HTTP status code to answer with
	Reason string // short, human-readable cause (safe to send to the client)
}

func (e *Error) Error() string { return "http1: " + e.Reason }

// Parse errors. Each is a distinct value so callers and tests can compare
// with errors.Is; the Status field says how to answer.
var (
	ErrBadRequestLine   = &Error{400, "malformed request line"}
	ErrBadMethod        = &Error{400, "invalid method token"}
	ErrBadTarget        = &Error{400, "invalid request target"}
	ErrBadVersion       = &Error{400, "malformed HTTP version"}
	ErrBareLF           = &Error{400, "line not terminated by CRLF"}
	ErrObsFold          = &Error{400, "obsolete line folding"}
	ErrSpaceBeforeColon = &Error{400, "whitespace between field name and colon"}
	ErrBadFieldName     = &Error{400, "invalid header field name"}
	ErrBadFieldValue    = &Error{400, "invalid character in header field value"}
	ErrMissingHost      = &Error{400, "missing Host header"}
	ErrDuplicateHost    = &Error{400, "duplicate Host header"}
	ErrBadHost          = &Error{400, "invalid Host header"}
	ErrBadContentLength = &Error{400, "invalid Content-Length"}
	ErrConflictingCL    = &Error{400, "conflicting Content-Length values"}
	ErrCLWithTE         = &Error{400, "both Content-Length and Transfer-Encoding"}
	ErrChunkedNotFinal  = &Error{400, "chunked is not the final transfer coding"}
	ErrTEInHTTP10       = &Error{400, "Transfer-Encoding in an HTTP/1.0 request"}
	ErrBadChunk         = &Error{400, "malformed chunked body"}
	ErrUnsupportedTE    = &Error{501, "unsupported transfer coding"}
	ErrNotImplemented   = &Error{501, "method not implemented"}
	ErrExpectation      = &Error{417, "unsupported expectation"}
	ErrVersion          = &Error{505, "HTTP version not supported"}
	ErrTargetTooLong    = &Error{414, "request target too long"}
	ErrHeaderTooLarge   = &Error{431, "request header section too large"}
	ErrTooManyHeaders   = &Error{431, "too many header fields"}
	ErrBodyTooLarge     = &Error{413, "request body too large"}
)
