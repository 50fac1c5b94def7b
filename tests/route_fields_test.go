package tests

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// A C route whose first request has no header field at all ("GET /
// HTTP/1.0" and nothing else) was answered 500: the library made a Go
// slice of the request's field array before any request had allocated it
// (unsafe.Slice of NULL with length 1, a panic in the handler). It showed
// up as a flaky TestHelloWorldSample when the 1.0 request got a fresh slot.
func TestCRouteRequestWithoutFields(t *testing.T) {
	port := freePort(t)
	startHelloWorld(t, port) // a fresh process: every slot is new
	for i := range 3 {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		all, err := io.ReadAll(c)
		c.Close()
		if err != nil || !bytes.HasPrefix(all, []byte("HTTP/1.0 200 OK\r\n")) || !bytes.HasSuffix(all, []byte("hello world")) {
			t.Fatalf("request %d, GET / HTTP/1.0 without fields = %q, %v; want 200 hello world", i, all, err)
		}
	}
}
