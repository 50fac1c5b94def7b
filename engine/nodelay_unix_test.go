//go:build unix

package engine

import (
	"net"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTCPNoDelay reads TCP_NODELAY off the server's side of a connection:
// set by default, left off (Nagle's algorithm on) with NoTCPNoDelay.
func TestTCPNoDelay(t *testing.T) {
	t.Parallel()
	for _, noDelayOff := range []bool{false, true} {
		s := startServer(t, Config{NoTCPNoDelay: noDelayOff})
		err := s.HandleFunc("/nodelay", func(x *Exchange) {
			tc, ok := x.conn.rwc.(*net.TCPConn)
			if !ok {
				x.SetStatus(500, "not TCP")
				return
			}
			rc, err := tc.SyscallConn()
			if err != nil {
				x.SetStatus(500, err.Error())
				return
			}
			var v int
			var gerr error
			if err := rc.Control(func(fd uintptr) {
				v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY)
			}); err != nil || gerr != nil {
				x.SetStatus(500, "getsockopt")
				return
			}
			x.WriteString(strconv.Itoa(v))
		})
		if err != nil {
			t.Fatal(err)
		}
		r := dial(t, s).do(get("/nodelay"))
		checkResponse(t, r, 200)
		want := "1"
		if noDelayOff {
			want = "0"
		}
		if r.body != want {
			t.Errorf("NoTCPNoDelay=%v: TCP_NODELAY on the server's socket is %s; want %s", noDelayOff, r.body, want)
		}
	}
}
