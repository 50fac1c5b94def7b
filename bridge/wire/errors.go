package wire

import "errors"

// Errors decoding a view or a response head: the peer is faulty.
var (
	ErrView     = errors.New("wire: malformed request view")
	ErrResponse = errors.New("wire: malformed response head")
)
