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
