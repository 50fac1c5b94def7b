package engine

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/http1"
)

// After Hold, Head and the request's views must describe the same bytes:
// the bridge locates every view inside Head (a stale Head made it send
// spans into the connection's buffer).
func TestHeadAgreesWithViewsAfterHold(t *testing.T) {
	s, err := New(Config{Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("/held", func(x *Exchange) {
		x.Hold()
		head, req := x.Head(), x.Request()
		go func() {
			ok := true
			for _, v := range [][]byte{req.Method, req.Target, req.Path, req.Host, req.Headers[1].Value} {
				if _, in := http1.Offset(head, v); !in {
					ok = false
				}
			}
			if ok {
				x.WriteString("views in head")
			} else {
				x.WriteString("views outside head")
			}
			x.Done()
		}()
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(t.Context())
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /held HTTP/1.1\r\nHost: t\r\nX-A: b\r\nConnection: close\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(got), "views in head") {
		t.Fatalf("response = %q; want the views to lie in Head", got)
	}
}
