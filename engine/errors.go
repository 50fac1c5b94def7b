package engine

import "errors"

// Errors returned by Server methods.
var (
	ErrRunning    = errors.New("engine: server already started")
	ErrNotRunning = errors.New("engine: server not running")
	ErrConfig     = errors.New("engine: invalid configuration")
	// ErrStopTimeout means Stop's deadline passed before every in-flight
	// request finished; the remaining connections were closed.
	ErrStopTimeout = errors.New("engine: stop deadline passed; connections closed")
)

// Errors of streamed responses (Exchange.WriteStream).
var (
	// ErrNotStreaming: WriteStream on an exchange not held or without
	// StartStream.
	ErrNotStreaming = errors.New("engine: exchange is not a held stream")
	// ErrConnClosed: the client connection is closed; nothing more of the
	// response can be delivered.
	ErrConnClosed = errors.New("engine: connection closed")
	// ErrStreamLength: a write went past the announced Content-Length;
	// the connection was aborted.
	ErrStreamLength = errors.New("engine: streamed body longer than its Content-Length")
)
