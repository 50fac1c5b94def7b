//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package engine

import (
	"context"
	"net"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// listen opens a TCP listener. With reusePort, SO_REUSEPORT lets several
// listeners share the port and the kernel spread connections among them.
// A backlog > 0 re-issues listen(2) with it: Go always uses SOMAXCONN, and
// Linux applies a second listen call's backlog to the listening socket.
func listen(address string, port int, reusePort bool, backlog int) (net.Listener, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil || backlog <= 0 {
		return l, err
	}
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err == nil {
		var lerr error
		err = rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), backlog) })
		if err == nil {
			err = lerr
		}
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
