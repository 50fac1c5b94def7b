//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package engine

import (
	"errors"
	"net"
	"strconv"
)

// listen opens a TCP listener. This platform has no SO_REUSEPORT, so only
// the "ipc" balancer (one listener) is available, and the backlog is the
// system default.
func listen(address string, port int, reusePort bool, backlog int) (net.Listener, error) {
	if reusePort {
		return nil, errors.New("balancer \"reuseport\" is not supported on this platform")
	}
	return net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
}
