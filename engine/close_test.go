package engine

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A server-decided close must not destroy its last response with a reset
// when the client has already pipelined more: the engine half-closes and
// drains before closing.
func TestCloseAfterResponseSurvivesPipelinedTail(t *testing.T) {
	s, err := New(Config{Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("/bye", func(x *Exchange) {
		x.AddHeader([]byte("Connection"), []byte("close"))
		x.Write(bytes.Repeat([]byte("b"), 200<<10))
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(t.Context())
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET /bye HTTP/1.1\r\nHost: t\r\n\r\n"))
		// More requests the server will never answer, arriving while it
		// writes the response and closes.
		tail := strings.Repeat("GET /other HTTP/1.1\r\nHost: t\r\n\r\n", 2000)
		go c.Write([]byte(tail))
		time.Sleep(10 * time.Millisecond)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatalf("try %d: reading the response: %v (after %d bytes); want it whole, then EOF", i, err, len(got))
		}
		if !bytes.HasSuffix(got, bytes.Repeat([]byte("b"), 1000)) || bytes.Count(got, []byte("HTTP/1.1 ")) != 1 {
			t.Fatalf("try %d: got %d bytes; want one complete response", i, len(got))
		}
	}
}

// A client that stops reading is cut off after the write timeout with a
// reset, so the kernel does not keep its unsent data.
func TestWriteTimeoutResets(t *testing.T) {
	s, err := New(Config{Address: "127.0.0.1", WriteTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("/big", func(x *Exchange) { x.Write(bytes.Repeat([]byte("x"), 16<<20)) })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(t.Context())
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	c.Write([]byte("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"))
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().ConnectionsOpen != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection still open 10 s after a 200 ms write timeout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading after the write timeout: %v; want connection reset", err)
	}
}
