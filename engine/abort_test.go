package engine

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// An aborted response whose body is framed (a length, or chunked) ends
// with a FIN after what was written: the client reads every byte written
// before the abort, then sees the body cut short, never a reset that
// destroys what it had not read yet. With a body that ends with the
// connection (HTTP/1.0, no length), only a reset tells it the body is
// not whole.
func TestAbortDeliversWhatWasWritten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int64
	}{{"chunked", -1}, {"content-length", 8 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, held := streamOutServer(t)
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
			x := <-held
			x.StartStream(tc.length)
			piece := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
			const pieces = 32                                       // 2 MiB: more than the socket buffers hold
			wrote := make(chan error, 1)
			go func() {
				for range pieces {
					if err := x.WriteStream(piece); err != nil {
						wrote <- err
						return
					}
				}
				x.Abort()
				wrote <- nil
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			if werr := <-wrote; werr != nil {
				t.Fatalf("WriteStream: %v", werr)
			}
			if err != io.ErrUnexpectedEOF || len(got) != pieces*len(piece) {
				t.Fatalf("read %d body bytes, then %v; want all %d written before the abort, then an unexpected EOF",
					len(got), err, pieces*len(piece))
			}
			waitFor(t, ioTimeout, "connection to end", func() bool { return srv.Stats().ConnectionsOpen == 0 })
		})
	}
}
