package engine

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// holdingServer holds every request; the test completes them through the
// returned channel and learns of cancels through the other.
func holdingServer(t *testing.T) (*Server, <-chan *Exchange, <-chan *Exchange) {
	t.Helper()
	s, err := New(Config{Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	held, cancelled := make(chan *Exchange, 16), make(chan *Exchange, 16)
	s.HandleFunc("/held", func(x *Exchange) {
		x.Hold()
		x.Cancel = func(x *Exchange) { cancelled <- x }
		held <- x
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(t.Context()) })
	return s, held, cancelled
}

func TestCancelWhenClientCloses(t *testing.T) {
	s, held, cancelled := holdingServer(t)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET /held HTTP/1.1\r\nHost: t\r\n\r\n"))
	x := <-held
	c.Close()
	select {
	case got := <-cancelled:
		if got != x {
			t.Fatal("Cancel called with another exchange")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel not called 5 s after the client closed")
	}
	x.WriteString("too late")
	x.Done() // still required, and harmless
}

// A half-closed client is cancelled too (as net/http does), yet still
// gets the response if the handler produces it.
func TestCancelOnHalfCloseStillDelivers(t *testing.T) {
	s, held, cancelled := holdingServer(t)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /held HTTP/1.1\r\nHost: t\r\n\r\n"))
	x := <-held
	c.(*net.TCPConn).CloseWrite()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel not called after the half-close")
	}
	x.WriteString("delivered")
	x.Done()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(got), "delivered") {
		t.Fatalf("response after half-close = %q; want it delivered", got)
	}
}

func TestNoCancelWhenAnswered(t *testing.T) {
	s, held, cancelled := holdingServer(t)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET /held HTTP/1.1\r\nHost: t\r\n\r\n"))
	x := <-held
	x.WriteString("ok")
	x.Done()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := c.Read(buf); !strings.HasSuffix(string(buf[:n]), "ok") {
		t.Fatalf("response = %q", buf[:n])
	}
	c.Close()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-cancelled:
		t.Fatal("Cancel called for an exchange already answered")
	default:
	}
}
