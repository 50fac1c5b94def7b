package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestKeepAlive(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	s.HandleFunc("/v10", func(x *Exchange) {
		x.SetHTTPVersion(0)
		x.WriteString("old")
	})
	tests := []struct {
		name      string
		req       string
		wantProto string
		wantConn  string // the Connection field; "" when absent
		wantOpen  bool
	}{
		{"1.1 default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1", "", true},
		{"1.1 keep-alive token", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n", "HTTP/1.1", "", true},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1", "close", false},
		{"1.1 close in list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", "HTTP/1.1", "close", false},
		{"1.2 reads as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "HTTP/1.1", "", true},
		{"1.0 default", "GET / HTTP/1.0\r\n\r\n", "HTTP/1.1", "close", false},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "HTTP/1.1", "keep-alive", true},
		{"1.0 keep-alive any case", "GET / HTTP/1.0\r\nHost: a\r\nConnection: KEEP-ALIVE\r\n\r\n", "HTTP/1.1", "keep-alive", true},
		{"1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", "HTTP/1.1", "close", false},
		{"1.0 response", "GET /v10 HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.0", "keep-alive", true},
		{"1.0 response to 1.0 close", "GET /v10 HTTP/1.0\r\n\r\n", "HTTP/1.0", "close", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			for i := 0; i < 3; i++ { // a kept-alive connection serves the same again
				r := c.do(tt.req)
				checkResponse(t, r, 200)
				if r.proto != tt.wantProto {
					t.Errorf("proto: got %q; want %q", r.proto, tt.wantProto)
				}
				if got := r.header("Connection"); got != tt.wantConn || r.count("Connection") > 1 {
					t.Errorf("Connection: got %q (%d fields); want %q", got, r.count("Connection"), tt.wantConn)
				}
				want := "hello world"
				if strings.Contains(tt.req, "/v10") {
					want = "old"
				}
				if r.body != want {
					t.Errorf("body: got %q; want %q", r.body, want)
				}
				if !tt.wantOpen {
					c.expectClosed()
					return
				}
			}
			c.expectOpen()
		})
	}
}

// TestNetHTTPClient drives the server with Go's own client: keep-alive
// reuse, a Content-Length body, a chunked body, 100-continue.
func TestNetHTTPClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: ioTimeout}
	base := "http://" + s.Addr().String()

	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused++
		}
	}}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	for i := 0; i < 10; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello world" {
			t.Fatalf("GET / got %d %q; want 200 %q", resp.StatusCode, b, "hello world")
		}
		if resp.ContentLength != 11 {
			t.Errorf("ContentLength: got %d; want 11", resp.ContentLength)
		}
		if got := resp.Header.Get("Server"); got != "haywire" {
			t.Errorf("Server: got %q; want %q", got, "haywire")
		}
	}
	if reused != 9 {
		t.Errorf("connection reused %d times; want 9", reused)
	}

	big := bigString(300 << 10)
	for _, tt := range []struct {
		name    string
		body    io.Reader
		expect  bool
		chunked bool
	}{
		{"content-length", strings.NewReader(big), false, false},
		{"chunked", io.MultiReader(strings.NewReader(big[:1000]), strings.NewReader(big[1000:])), false, true},
		{"100-continue", strings.NewReader(big), true, false},
		{"100-continue chunked", io.MultiReader(strings.NewReader(big)), true, true},
		{"empty", nil, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got100 := false
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got100Continue: func() { got100 = true },
			})
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/echo?q", tt.body)
			if tt.expect {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := big
			if tt.body == nil {
				want = ""
			}
			if resp.StatusCode != 200 || string(b) != want {
				t.Fatalf("POST got %d and %d bytes; want 200 and the %d bytes sent", resp.StatusCode, len(b), len(want))
			}
			if got, want := resp.Header.Get("X-Chunked"), strconv.FormatBool(tt.chunked); got != want {
				t.Errorf("request chunked: got %s; want %s", got, want)
			}
			if got100 != tt.expect {
				t.Errorf("100 Continue received: got %v; want %v", got100, tt.expect)
			}
		})
	}
}

func TestConnectionCloseWithPipelinedRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	c := dial(t, s)
	// The request after the one that asks to close is never answered.
	c.send(get("/seq?1") + "GET /seq?2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + get("/seq?3"))
	for _, want := range []string{"1", "2"} {
		r := c.read()
		checkResponse(t, r, 200)
		if r.body != want {
			t.Fatalf("body: got %q; want %q", r.body, want)
		}
	}
	c.expectClosed()
}

func pipelineRequests(n int, hold func(i int) bool, rng *rand.Rand) (string, []string) {
	var b strings.Builder
	var want []string
	for i := 0; i < n; i++ {
		id := strconv.Itoa(i)
		if hold != nil && hold(i) {
			fmt.Fprintf(&b, "GET /hold?%d&%d HTTP/1.1\r\nHost: a\r\n\r\n", i, rng.IntN(5000))
		} else {
			b.WriteString(get("/seq?" + id))
		}
		want = append(want, id)
	}
	return b.String(), want
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	for _, depth := range []int{1, 16, 64} {
		t.Run(strconv.Itoa(depth), func(t *testing.T) {
			reqs, want := pipelineRequests(depth, nil, nil)
			// Through the real accept loop:
			c := dial(t, s)
			for round := 0; round < 3; round++ {
				c.send(reqs)
				for i := range want {
					r := c.read()
					checkResponse(t, r, 200)
					if r.body != want[i] {
						t.Fatalf("round %d response %d: got %q; want %q", round, i, r.body, want[i])
					}
				}
			}
			// And counting the server's reads and writes: every batch of
			// requests read at once is answered by one write.
			cc, counted := countedPair(t, s)
			total := 0
			for round := 0; round < 3; round++ {
				cc.send(reqs)
				for i := range want {
					r := cc.read()
					total += len(r.raw)
					if r.body != want[i] {
						t.Fatalf("round %d response %d: got %q; want %q", round, i, r.body, want[i])
					}
				}
			}
			// The client can read a response before the server's Write
			// returns: wait for the count to catch up.
			waitFor(t, 10*time.Second, "the server's writes to be counted", func() bool {
				return counted.written.Load() == int64(total)
			})
			reads, writes := counted.reads.Load(), counted.writes.Load()
			t.Logf("depth %d: 3 batches read in %d reads, answered in %d writes", depth, reads, writes)
			if writes > reads {
				t.Errorf("server wrote %d times for %d reads; want at most one write per read", writes, reads)
			}
		})
	}
}

// TestPipeliningLargeResponses: responses bigger in total than the flush
// threshold leave in several writes, still in order.
func TestPipeliningLargeResponses(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	big := bigString(20 << 10)
	s.HandleFunc("/big", func(x *Exchange) {
		x.Write(x.Request().Query)
		x.WriteString(big)
	})
	var reqs strings.Builder
	for i := 0; i < 16; i++ {
		reqs.WriteString(get("/big?" + strconv.Itoa(i%10)))
	}
	c, counted := countedPair(t, s)
	c.send(reqs.String())
	total := 0
	for i := 0; i < 16; i++ {
		r := c.read()
		total += len(r.raw)
		if want := strconv.Itoa(i%10) + big; r.body != want {
			t.Fatalf("response %d: got %.20q…; want %.20q…", i, r.body, want)
		}
	}
	waitFor(t, 10*time.Second, "the server's writes to be counted", func() bool {
		return counted.written.Load() == int64(total)
	})
	reads, writes := counted.reads.Load(), counted.writes.Load()
	t.Logf("%d bytes of responses in %d writes (%d reads)", total, writes, reads)
	if max := reads + int64(total/flushThreshold); writes > max {
		t.Errorf("%d writes; want at most %d", writes, max)
	}
}

// TestHalfClose: a client that sends its requests and shuts down its
// sending side still gets every response, held ones included.
func TestHalfClose(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	rng := rand.New(rand.NewPCG(9, 10))
	reqs, want := pipelineRequests(16, func(i int) bool { return i%4 == 0 }, rng)
	c := dial(t, s)
	c.send(reqs)
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if r := c.read(); r.body != want[i] {
			t.Fatalf("response %d: got %q; want %q", i, r.body, want[i])
		}
	}
	c.expectClosed()
}

// TestPipeliningHeld mixes handlers completed later, from other goroutines
// and after random delays, with synchronous ones: order is kept.
func TestPipeliningHeld(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	for _, depth := range []int{16, 64} {
		for _, mode := range []string{"every third", "all", "first only", "last only"} {
			t.Run(fmt.Sprintf("%d/%s", depth, mode), func(t *testing.T) {
				hold := map[string]func(int) bool{
					"every third": func(i int) bool { return i%3 == 1 },
					"all":         func(int) bool { return true },
					"first only":  func(i int) bool { return i == 0 },
					"last only":   func(i int) bool { return i == depth-1 },
				}[mode]
				c := dial(t, s)
				for round := 0; round < 3; round++ {
					reqs, want := pipelineRequests(depth, hold, rng)
					c.send(reqs)
					for i := range want {
						r := c.read()
						checkResponse(t, r, 200)
						if r.body != want[i] {
							t.Fatalf("round %d response %d: got %q; want %q", round, i, r.body, want[i])
						}
					}
				}
				c.expectOpen()
			})
		}
	}
}

// TestPipelinedBodies pipelines requests with Content-Length and chunked
// bodies, sent in one write and in small random pieces.
func TestPipelinedBodies(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	rng := rand.New(rand.NewPCG(3, 4))
	var reqs strings.Builder
	var want []string
	for i := 0; i < 40; i++ {
		body := bigString(rng.IntN(3000))
		switch i % 4 {
		case 0:
			fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		case 1:
			fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
			for rest := body; len(rest) > 0; {
				n := min(1+rng.IntN(700), len(rest))
				reqs.WriteString(chunk(rest[:n], ";ext=1"))
				rest = rest[n:]
			}
			reqs.WriteString("0\r\nX-Trailer: yes\r\n\r\n")
		case 2:
			body = ""
			reqs.WriteString("GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
		case 3:
			body = "hello world"
			reqs.WriteString(get("/"))
		}
		want = append(want, body)
	}
	for _, split := range []string{"one write", "random pieces", "one byte"} {
		t.Run(split, func(t *testing.T) {
			c := dial(t, s)
			done := make(chan struct{})
			go func() {
				defer close(done)
				all := reqs.String()
				switch split {
				case "one write":
					c.sendErr(all)
				case "one byte":
					all = all[:4000] // keep it quick
					fallthrough
				default:
					r := rand.New(rand.NewPCG(5, 6))
					for len(all) > 0 {
						n := min(len(all), 1+r.IntN(300))
						if split == "one byte" {
							n = 1
						}
						if c.sendErr(all[:n]) != nil {
							return
						}
						all = all[n:]
					}
				}
			}()
			n := len(want)
			if split == "one byte" {
				n = countPrefixRequests(reqs.String()[:4000])
			}
			for i := 0; i < n; i++ {
				r := c.read()
				checkResponse(t, r, 200)
				if r.body != want[i] {
					t.Fatalf("response %d: got %d bytes %.40q; want %d bytes %.40q", i, len(r.body), r.body, len(want[i]), want[i])
				}
			}
			<-done
		})
	}
}

// countPrefixRequests counts the complete requests in a prefix of the
// TestPipelinedBodies stream, by parsing it the way the server does.
func countPrefixRequests(s string) int {
	srv, _ := New(Config{})
	c := newConn(srv, nil, 0)
	c.buf = []byte(s)
	c.w = len(s)
	n := 0
	for c.r < c.w {
		x := c.get()
		hl, err := c.parser.Parse(c.buf[c.r:c.w], &x.reqs[0], &srv.cfg.Limits)
		if hl == 0 || err != nil {
			break
		}
		start := c.r + hl
		if x.req.Chunked {
			c.chunk.Reset()
			p := start
			for p < c.w && !c.chunk.Done() {
				k, _, err := c.chunk.Decode(c.buf[p:c.w])
				if err != nil {
					return n
				}
				p += k
			}
			if !c.chunk.Done() {
				break
			}
			c.r = p
		} else {
			if start+int(x.req.ContentLength) > c.w {
				break
			}
			c.r = start + int(x.req.ContentLength)
		}
		n++
	}
	return n
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	const max = 256 << 10
	s := startServer(t, Config{MaxRequestSize: max})
	echo := func(t *testing.T, c *client, body string) {
		t.Helper()
		r := c.read()
		checkResponse(t, r, 200)
		if r.body != body {
			t.Fatalf("echoed body: got %d bytes %.40q; want %d bytes %.40q", len(r.body), r.body, len(body), body)
		}
	}
	clHead := func(n int) string {
		return "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	}
	t.Run("content-length with head", func(t *testing.T) {
		c := dial(t, s)
		c.send(clHead(5) + "hello")
		echo(t, c, "hello")
		c.expectOpen()
	})
	t.Run("content-length zero", func(t *testing.T) {
		c := dial(t, s)
		c.send(clHead(0))
		echo(t, c, "")
		c.expectOpen()
	})
	t.Run("content-length small writes", func(t *testing.T) {
		body := bigString(10 << 10)
		c := dial(t, s)
		if err := c.splitWrites(clHead(len(body))+body, 1, 7, 3, 150, 2); err != nil {
			t.Fatal(err)
		}
		echo(t, c, body)
		c.expectOpen()
	})
	t.Run("content-length max size", func(t *testing.T) {
		body := bigString(max)
		c := dial(t, s)
		go c.splitWrites(clHead(len(body))+body, 1000, 333, 4096)
		echo(t, c, body)
		c.expectOpen()
	})
	t.Run("content-length over max", func(t *testing.T) {
		c := dial(t, s)
		c.send(clHead(max + 1))
		r := c.read()
		checkResponse(t, r, 413)
		if r.header("Connection") != "close" {
			t.Errorf("Connection: got %q; want %q", r.header("Connection"), "close")
		}
		c.expectClosed()
	})
	// An earlier pipelined response is not held back while a later
	// request's body is awaited: the client may wait for it.
	t.Run("response before a later body", func(t *testing.T) {
		for _, second := range []string{
			clHead(10) + "abc",
			"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
		} {
			c := dial(t, s)
			c.send(get("/seq?first") + second)
			if r := c.read(); r.body != "first" {
				t.Fatalf("first response: got %q; want body %q", r.raw, "first")
			}
			if strings.Contains(second, "chunked") {
				c.send("\r\n7\r\ndefghij\r\n0\r\n\r\n")
			} else {
				c.send("defghij")
			}
			echo(t, c, "abcdefghij")
		}
	})
	t.Run("chunked", func(t *testing.T) {
		c := dial(t, s)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk("hello", "") + chunk(" ", ";a=b") + chunk("world", ` ; name="quoted value";x`) + "0\r\n\r\n")
		echo(t, c, "hello world")
		c.expectOpen()
	})
	t.Run("chunked trailers", func(t *testing.T) {
		c := dial(t, s)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk("abc", "") + "0;last\r\nX-Checksum: 123\r\nX-Other:  v \r\n\r\n")
		echo(t, c, "abc")
		c.expectOpen()
	})
	t.Run("chunked split at every byte", func(t *testing.T) {
		req := "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk("0123456789abcdef0", ";e") + chunk("x", "") + "0\r\nT: 1\r\n\r\n"
		c := dial(t, s)
		for i := 0; i < len(req); i++ {
			c.send(req[i : i+1])
		}
		echo(t, c, "0123456789abcdef0x")
		c.expectOpen()
	})
	t.Run("chunked large", func(t *testing.T) {
		body := bigString(max)
		var b strings.Builder
		b.WriteString("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
		rng := rand.New(rand.NewPCG(7, 8))
		for rest := body; len(rest) > 0; {
			n := min(1+rng.IntN(20000), len(rest))
			b.WriteString(chunk(rest[:n], ""))
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
		c := dial(t, s)
		go c.splitWrites(b.String(), 1500, 7, 64<<10, 3)
		echo(t, c, body)
		c.expectOpen()
	})
	t.Run("chunked over max", func(t *testing.T) {
		s := startServer(t, Config{MaxRequestSize: 1000})
		c := dial(t, s)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk(bigString(600), "") + chunk(bigString(600), "") + "0\r\n\r\n")
		r := c.read()
		checkResponse(t, r, 413)
		c.expectClosed()
	})
	t.Run("chunked exactly max", func(t *testing.T) {
		s := startServer(t, Config{MaxRequestSize: 1000})
		c := dial(t, s)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk(bigString(600), "") + chunk(bigString(400), "") + "0\r\n\r\n")
		echo(t, c, bigString(600)+bigString(400))
		c.expectOpen()
	})
}

func TestExpectContinue(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{MaxRequestSize: 1000})
	const cont = "HTTP/1.1 100 Continue\r\n\r\n"
	head := func(extra string) string {
		return "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n" + extra + "\r\n"
	}
	t.Run("client waits", func(t *testing.T) {
		c := dial(t, s)
		for i := 0; i < 2; i++ { // and again on the same connection
			c.send(head("Content-Length: 5\r\n"))
			if r := c.read(); r.raw != cont {
				t.Fatalf("got %q; want %q", r.raw, cont)
			}
			c.send("hello")
			r := c.read()
			checkResponse(t, r, 200)
			if r.body != "hello" {
				t.Fatalf("body: got %q; want %q", r.body, "hello")
			}
		}
		c.expectOpen()
	})
	t.Run("chunked client waits", func(t *testing.T) {
		c := dial(t, s)
		c.send(head("Transfer-Encoding: chunked\r\n"))
		if r := c.read(); r.raw != cont {
			t.Fatalf("got %q; want %q", r.raw, cont)
		}
		c.send(chunk("hello", "") + "0\r\n\r\n")
		r := c.read()
		checkResponse(t, r, 200)
		if r.body != "hello" {
			t.Fatalf("body: got %q; want %q", r.body, "hello")
		}
	})
	t.Run("body sent at once", func(t *testing.T) {
		c := dial(t, s)
		c.send(head("Content-Length: 5\r\n") + "hello")
		r := c.read()
		checkResponse(t, r, 200)
		if r.body != "hello" {
			t.Fatalf("body: got %q; want %q", r.body, "hello")
		}
		c.expectOpen()
	})
	t.Run("no body", func(t *testing.T) {
		c := dial(t, s)
		c.send(head(""))
		r := c.read()
		checkResponse(t, r, 200)
		c.expectOpen()
	})
	t.Run("too large", func(t *testing.T) {
		c := dial(t, s)
		c.send(head("Content-Length: 1001\r\n"))
		r := c.read()
		checkResponse(t, r, 413)
		c.expectClosed()
	})
	t.Run("ignored in HTTP/1.0", func(t *testing.T) {
		c := dial(t, s)
		c.send("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		time.Sleep(50 * time.Millisecond)
		c.send("hello")
		r := c.read()
		checkResponse(t, r, 200)
		if r.body != "hello" {
			t.Fatalf("body: got %q; want %q", r.body, "hello")
		}
		c.expectClosed()
	})
	t.Run("unknown expectation", func(t *testing.T) {
		c := dial(t, s)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\nhello")
		r := c.read()
		checkResponse(t, r, 417)
		c.expectClosed()
	})
}

func TestHead(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	c := dial(t, s)
	c.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + get("/") + "HEAD /status?code=404 HTTP/1.1\r\nHost: a\r\n\r\n" + get("/seq?x"))
	r := c.readHead()
	checkResponse(t, r, 200)
	if got := r.header("Content-Length"); got != "11" {
		t.Errorf("HEAD Content-Length: got %q; want %q", got, "11")
	}
	if !strings.HasSuffix(r.raw, "\r\n\r\n") {
		t.Errorf("HEAD response %q does not end with its head", r.raw)
	}
	r = c.read()
	checkResponse(t, r, 200)
	if r.body != "hello world" {
		t.Errorf("GET after HEAD: got %q; want %q", r.body, "hello world")
	}
	r = c.readHead()
	checkResponse(t, r, 404)
	if got := r.header("Content-Length"); got != "4" {
		t.Errorf("HEAD Content-Length: got %q; want %q", got, "4")
	}
	r = c.read()
	checkResponse(t, r, 200)
	if r.body != "x" {
		t.Errorf("GET after HEAD: got %q; want %q", r.body, "x")
	}
}

func TestAbsoluteForm(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	tests := []struct {
		target, wantPath, wantQuery, wantBody string
	}{
		{"http://example.com/echo?x=1", "/echo", "x=1", ""},
		{"HTTP://example.com:8080/echo", "/echo", "", ""},
		{"https://[::1]:443/echo/?q", "/echo/", "q", ""},
		{"http://example.com", "", "", "hello world"},
		{"http://example.com?a", "", "", "hello world"},
		{"http://example.com/seq?abc", "", "", "abc"},
	}
	c := dial(t, s)
	for _, tt := range tests {
		r := c.do("GET " + tt.target + " HTTP/1.1\r\nHost: example.com\r\n\r\n")
		checkResponse(t, r, 200)
		if tt.wantPath != "" {
			if got := r.header("X-Path"); got != tt.wantPath {
				t.Errorf("%s: path: got %q; want %q", tt.target, got, tt.wantPath)
			}
			if got := r.header("X-Query"); got != tt.wantQuery {
				t.Errorf("%s: query: got %q; want %q", tt.target, got, tt.wantQuery)
			}
		} else if r.body != tt.wantBody {
			t.Errorf("%s: body: got %q; want %q", tt.target, r.body, tt.wantBody)
		}
	}
}

func TestOptionsStar(t *testing.T) {
	t.Parallel()
	req := "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
	check := func(t *testing.T, s *Server) {
		c := dial(t, s)
		r := c.do(req)
		checkResponse(t, r, 200)
		allow := r.header("Allow")
		for _, m := range []string{"GET", "HEAD", "POST", "OPTIONS"} {
			if !strings.Contains(allow, m) {
				t.Errorf("Allow: got %q; want it to list %s", allow, m)
			}
		}
		if r.header("Content-Length") != "0" || r.body != "" {
			t.Errorf("OPTIONS * response %q; want an empty body with Content-Length: 0", r.raw)
		}
		c.expectOpen()
	}
	t.Run("default", func(t *testing.T) { check(t, startServer(t, Config{})) })
	t.Run("despite a one-segment wildcard route", func(t *testing.T) {
		s := startServer(t, Config{})
		s.HandleFunc("/*", func(x *Exchange) { x.WriteString("wildcard") })
		check(t, s)
	})
	t.Run("route for *", func(t *testing.T) {
		s := startServer(t, Config{})
		s.HandleFunc("*", func(x *Exchange) { x.AddHeader([]byte("Allow"), []byte("GET")) })
		c := dial(t, s)
		r := c.do(req)
		checkResponse(t, r, 200)
		if got := r.header("Allow"); got != "GET" {
			t.Errorf("Allow: got %q; want %q", got, "GET")
		}
	})
	t.Run("OPTIONS path", func(t *testing.T) {
		s := startServer(t, Config{})
		c := dial(t, s)
		r := c.do("OPTIONS /echo HTTP/1.1\r\nHost: a\r\n\r\n")
		checkResponse(t, r, 200)
		if got := r.header("X-Method"); got != "OPTIONS" {
			t.Errorf("X-Method: got %q; want %q", got, "OPTIONS")
		}
	})
}
