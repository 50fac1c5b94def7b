// Package wire encodes and decodes the two messages of the bridge
// protocol (include/haywire_bridge.h sections 3 and 4): the request view
// an engine writes for a host, and the response message a host writes
// back. It also names the protocol's cancel codes. It knows nothing of
// rings, regions or sockets: both sides of the bridge (packages bridge
// and bridge/host) and tests use it.
//
// Trust: the bytes a decoder reads come from another process. DecodeView
// and DecodeResponse check every offset, length and span against the
// buffer before anything is read through it and fail with ErrView or
// ErrResponse; a View's accessors then read in place, never past the
// buffer. The decoders are fuzzed (FuzzDecodeView, FuzzDecodeResponse).
//
// Imports: the standard library only. Every function is safe for
// concurrent use; a View may be read from many goroutines while nobody
// writes its bytes.
package wire
