package bridge

import "errors"

// ErrConfig reports Options the bridge cannot work with.
var ErrConfig = errors.New("bridge: invalid options")
