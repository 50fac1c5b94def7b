package engine

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var imfFixdate = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT$`)

func TestDateAndServerHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, serverName, want string
	}{
		{"default", "", "haywire"},
		{"custom", "test/1.0 (x)", "test/1.0 (x)"},
		{"omitted", "-", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{ServerName: tt.serverName})
			c := dial(t, s)
			for _, req := range []string{get("/"), get("/nowhere"), "GET / HTTP/1.1\r\n\r\n"} {
				before := time.Now().Add(-5 * time.Second)
				r := c.do(req)
				after := time.Now().Add(5 * time.Second)
				if got := r.header("Server"); got != tt.want || r.count("Server") > 1 {
					t.Errorf("Server: got %q (%d fields); want %q", got, r.count("Server"), tt.want)
				}
				date := r.header("Date")
				if r.count("Date") != 1 || !imfFixdate.MatchString(date) {
					t.Fatalf("Date: got %q (%d fields); want one IMF-fixdate", date, r.count("Date"))
				}
				d, err := http.ParseTime(date)
				if err != nil || d.Before(before.Truncate(time.Second)) || d.After(after) {
					t.Errorf("Date: got %q; want about %s", date, time.Now().UTC().Format(http.TimeFormat))
				}
				// The fields the engine writes come first, in a fixed order.
				wantFirst := []string{"Server", "Date"}
				if tt.want == "" {
					wantFirst = wantFirst[1:]
				}
				for i, name := range wantFirst {
					if r.fields[i][0] != name {
						t.Errorf("field %d: got %q; want %q", i, r.fields[i][0], name)
					}
				}
			}
		})
	}
}

// A Server or Date field the handler gives replaces the engine's (two of
// either make an invalid message, RFC 9110 §5.3), whatever the case of its
// name, for held and streamed responses too; a field AddHeader refuses
// replaces nothing, and the next response on the connection carries the
// engine's again.
func TestOwnServerAndDateReplaceTheEngines(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	const appDate = "Tue, 01 Jan 2030 00:00:00 GMT"
	own := func(x *Exchange) {
		for _, f := range strings.Split(string(x.Request().Query), ",") {
			switch f {
			case "server":
				x.AddHeader([]byte("sErVeR"), []byte("app/1.0"))
			case "date":
				x.AddHeader([]byte("DATE"), []byte(appDate))
			case "bad-server": // refused: it would split the response
				x.AddHeader([]byte("Server"), []byte("evil\r\nX-Injected: 1"))
			}
		}
		x.WriteString("own")
	}
	s.HandleFunc("/own", own)
	s.HandleFunc("/own-held", func(x *Exchange) {
		x.Hold()
		go func() { own(x); x.Done() }()
	})
	s.HandleFunc("/own-stream", func(x *Exchange) {
		x.Hold()
		go func() {
			x.StartStream(int64(len("own")))
			own(x)
			x.Done()
		}()
	})
	c := dial(t, s)
	for _, path := range []string{"/own", "/own-held", "/own-stream"} {
		for _, tt := range []struct{ query, server, date string }{
			{"server,date", "app/1.0", appDate},
			{"server", "app/1.0", ""},
			{"date", "haywire", appDate},
			{"bad-server", "haywire", ""},
			{"", "haywire", ""},
		} {
			r := c.do(get(path + "?" + tt.query))
			if r.count("Server") != 1 || r.header("Server") != tt.server {
				t.Errorf("%s?%s: Server fields %d, first %q; want one, %q", path, tt.query, r.count("Server"), r.header("Server"), tt.server)
			}
			date := r.header("Date")
			if r.count("Date") != 1 || (tt.date != "" && date != tt.date) || (tt.date == "" && !imfFixdate.MatchString(date)) {
				t.Errorf("%s?%s: Date fields %d, first %q; want one, the %s", path, tt.query, r.count("Date"), date,
					map[bool]string{true: "engine's", false: "handler's"}[tt.date == ""])
			}
			if r.has("X-Injected") || r.body != "own" {
				t.Errorf("%s?%s: got %q", path, tt.query, r.raw)
			}
		}
	}
}

func TestResponseRules(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	h := func(path string, f func(x *Exchange)) {
		if err := s.HandleFunc(path, f); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	kept := map[string][]bool{} // path → what AddHeader returned, in order
	add := func(x *Exchange, name, value string) {
		ok := x.AddHeader([]byte(name), []byte(value))
		mu.Lock()
		kept[string(x.Request().Path)] = append(kept[string(x.Request().Path)], ok)
		mu.Unlock()
	}
	h("/empty", func(x *Exchange) {})
	h("/204", func(x *Exchange) { x.SetStatus(204, ""); x.WriteString("dropped") })
	h("/304", func(x *Exchange) { x.SetStatus(304, ""); x.WriteString("dropped") })
	h("/framing", func(x *Exchange) {
		add(x, "Content-Length", "1000")
		add(x, "content-length", "0")
		add(x, "Transfer-Encoding", "chunked")
		add(x, "X-Ok", "1")
		x.WriteString("12345")
	})
	h("/inject", func(x *Exchange) {
		add(x, "X-A", "b\r\nX-Injected: 1")
		add(x, "X-B", "b\nX-Injected: 1")
		add(x, "X-C", "b\rX-Injected: 1")
		add(x, "X-D\r\nX-Injected", "1")
		add(x, "X-E", "nul\x00")
		add(x, "", "empty name")
		add(x, "X F", "space in name")
		add(x, "X-Ok", "tab\tand obs-text \xe9 are fine")
		x.WriteString("ok")
	})
	h("/reason", func(x *Exchange) {
		x.SetStatus(200, "OK\r\nX-Injected: 1")
		x.WriteString("ok")
	})
	lines := map[string]string{
		"made": "201 Made It", "bare": "404", "nospace": "200OK", "letters": "4xx Bad",
		"long": "2001", "short": "99", "interim": "100 Continue", "crlf": "200 OK\r\nX-Injected: 1",
		"empty": "", "trailing-space": "202 ",
	}
	h("/statusline", func(x *Exchange) {
		x.SetStatusLine([]byte(lines[string(x.Request().Query)]))
	})
	h("/custom-reason", func(x *Exchange) { x.SetStatus(299, "Fine Thanks") })
	h("/conn-close", func(x *Exchange) { x.AddHeader([]byte("Connection"), []byte("close")) })
	h("/body-replaced", func(x *Exchange) {
		x.WriteString("first")
		x.SetBody([]byte("second"))
		x.Write([]byte("+third"))
	})

	type want struct {
		status  int
		reason  string
		body    string
		noCL    bool
		absent  []string // fields that must not appear
		present map[string]string
		closed  bool
	}
	tests := []struct {
		req  string
		want want
	}{
		{get("/empty"), want{status: 200, reason: "OK", present: map[string]string{"Content-Length": "0"}}},
		{get("/204"), want{status: 204, reason: "No Content", noCL: true}},
		{get("/304"), want{status: 304, reason: "Not Modified", noCL: true}},
		{"HEAD /204 HTTP/1.1\r\nHost: a\r\n\r\n", want{status: 204, reason: "No Content", noCL: true}},
		{get("/framing"), want{status: 200, body: "12345", absent: []string{"Transfer-Encoding"},
			present: map[string]string{"Content-Length": "5", "X-Ok": "1"}}},
		{get("/inject"), want{status: 200, body: "ok", absent: []string{"X-Injected", "X-A", "X-B", "X-C", "X-E", "X F"},
			present: map[string]string{"X-Ok": "tab\tand obs-text \xe9 are fine"}}},
		{get("/reason"), want{status: 200, reason: "OK", body: "ok", absent: []string{"X-Injected"}}},
		{get("/custom-reason"), want{status: 299, reason: "Fine Thanks"}},
		{get("/body-replaced"), want{status: 200, body: "second+third"}},
		{get("/status?code=200"), want{status: 200, reason: "OK", body: "body"}},
		{get("/status?code=201"), want{status: 201, reason: "Created", body: "body"}},
		{get("/status?code=404"), want{status: 404, reason: "Not Found", body: "body"}},
		{get("/status?code=999"), want{status: 999, reason: "Unknown", body: "body"}},
		{get("/status?code=199"), want{status: 500, reason: "Internal Server Error", body: "body"}},
		{get("/status?code=100"), want{status: 500, reason: "Internal Server Error", body: "body"}},
		{get("/status?code=101"), want{status: 500, reason: "Internal Server Error", body: "body"}},
		{get("/status?code=0"), want{status: 500, reason: "Internal Server Error", body: "body"}},
		{get("/status?code=-200"), want{status: 500, reason: "Internal Server Error", body: "body"}},
		{get("/status?code=1000"), want{status: 500, reason: "Internal Server Error", body: "body"}},
		{get("/statusline?made"), want{status: 201, reason: "Made It"}},
		{get("/statusline?bare"), want{status: 404, reason: "Not Found"}},
		{get("/statusline?trailing-space"), want{status: 202, reason: "Accepted"}},
		{get("/statusline?nospace"), want{status: 500, reason: "Internal Server Error"}},
		{get("/statusline?letters"), want{status: 500, reason: "Internal Server Error"}},
		{get("/statusline?long"), want{status: 500, reason: "Internal Server Error"}},
		{get("/statusline?short"), want{status: 500, reason: "Internal Server Error"}},
		{get("/statusline?interim"), want{status: 500, reason: "Internal Server Error"}},
		{get("/statusline?crlf"), want{status: 500, reason: "Internal Server Error", absent: []string{"X-Injected"}}},
		{get("/statusline?empty"), want{status: 500, reason: "Internal Server Error"}},
		{get("/conn-close"), want{status: 200, present: map[string]string{"Connection": "close"}, closed: true}},
	}
	for _, tt := range tests {
		t.Run(strings.Fields(tt.req)[1], func(t *testing.T) {
			c := dial(t, s)
			r := c.do(tt.req)
			w := tt.want
			if r.status != w.status {
				t.Fatalf("status: got %d in %q; want %d", r.status, r.raw, w.status)
			}
			if w.reason != "" && r.reason != w.reason {
				t.Errorf("reason: got %q; want %q", r.reason, w.reason)
			}
			if r.body != w.body {
				t.Errorf("body: got %q; want %q", r.body, w.body)
			}
			if w.noCL {
				if r.has("Content-Length") {
					t.Errorf("%d response %q has Content-Length", r.status, r.raw)
				}
			} else if got := r.header("Content-Length"); got != strconv.Itoa(len(r.body)) && !strings.HasPrefix(tt.req, "HEAD") {
				t.Errorf("Content-Length: got %q; want %d", got, len(r.body))
			}
			for _, name := range w.absent {
				if r.has(name) {
					t.Errorf("response %q has %s", r.raw, name)
				}
			}
			for name, value := range w.present {
				if got := r.header(name); got != value || r.count(name) != 1 {
					t.Errorf("%s: got %q (%d fields); want %q", name, got, r.count(name), value)
				}
			}
			if !strings.HasPrefix(r.raw, fmt.Sprintf("HTTP/1.1 %03d ", r.status)) {
				t.Errorf("status line of %q", r.raw)
			}
			if w.closed {
				c.expectClosed()
			} else {
				c.expectOpen()
			}
		})
	}
	check := func(path string, want ...bool) {
		mu.Lock()
		got := kept[path]
		mu.Unlock()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("AddHeader results for %s: got %v; want %v", path, got, want)
		}
	}
	check("/framing", false, false, false, true)
	check("/inject", false, false, false, false, false, false, false, true)
}

// TestHandlerConnectionHeader: the handler's Connection field is honoured
// and not doubled.
func TestHandlerConnectionHeader(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	s.HandleFunc("/ka", func(x *Exchange) { x.AddHeader([]byte("Connection"), []byte("keep-alive")) })
	s.HandleFunc("/hold-close", func(x *Exchange) {
		x.Hold()
		go func() {
			x.AddHeader([]byte("Connection"), []byte("close"))
			x.WriteString("held")
			x.Done()
		}()
	})
	c := dial(t, s)
	r := c.do("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if r.header("Connection") != "keep-alive" || r.count("Connection") != 1 {
		t.Errorf("response %q; want one Connection: keep-alive", r.raw)
	}
	c.expectOpen()
	// A held response that closes: the requests pipelined after it are
	// dropped with the connection.
	c = dial(t, s)
	c.send(get("/seq?1") + get("/hold-close") + get("/seq?3"))
	if r := c.read(); r.body != "1" {
		t.Fatalf("body: got %q; want %q", r.body, "1")
	}
	r = c.read()
	if r.body != "held" || r.header("Connection") != "close" {
		t.Fatalf("held response %q; want body held and Connection: close", r.raw)
	}
	c.expectClosed()
	// The close wakes the reader; that is no request timeout.
	if st := s.Stats(); st.Timeouts != 0 || st.Refused != 0 {
		t.Errorf("Stats: %d timeouts, %d refused; want none", st.Timeouts, st.Refused)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	route := func(pattern, name string) {
		if err := s.HandleFunc(pattern, func(x *Exchange) { x.WriteString(name) }); err != nil {
			t.Fatal(err)
		}
	}
	route("/ping", "ping")
	route("/a/b", "a/b")
	route("/users/*/posts", "posts")
	route("/x/*", "x-star")
	route("/*/y", "star-y")
	route("/files/*/*", "two")
	route("/pct%20x", "pct")
	route("noslash/b", "noslash") // Haywire's "ping" is "/ping"
	route("/items/*id", "item")   // any segment starting with '*' is a wildcard
	tests := []struct {
		path string
		want string // "" means 404
	}{
		{"/ping", "ping"},
		{"/ping/", "ping"},
		{"//ping", "ping"},
		{"/ping//", "ping"},
		{"/ping?x=1", "ping"},
		{"/ping/?x=/a/b", "ping"},
		{"/ping/x", ""},
		{"/pingx", ""},
		{"/PING", ""},
		{"/a/b", "a/b"},
		{"/a//b/", "a/b"},
		{"/a", ""},
		{"/a/b/c", ""},
		{"/users/42/posts", "posts"},
		{"/users/42/posts/", "posts"},
		{"/users//posts", ""},
		{"/users/42/43/posts", ""},
		{"/x/y", "x-star"}, // the first pattern added wins
		{"/z/y", "star-y"},
		{"/x", ""},
		{"/files/a/b", "two"},
		{"/files/a", ""},
		{"/pct%20x", "pct"},
		{"/noslash/b", "noslash"},
		{"/items/7", "item"},
		{"/items/*id", "item"},
		{"/items", ""},
		{"/items/7/8", ""},
		{"/", "hello world"},
		{"/?q", "hello world"},
		{"/nowhere", ""},
	}
	c := dial(t, s)
	for _, tt := range tests {
		r := c.do(get(tt.path))
		if tt.want == "" {
			checkResponse(t, r, 404)
			if r.body != "404 Not Found\n" {
				t.Errorf("%s: body: got %q; want %q", tt.path, r.body, "404 Not Found\n")
			}
			continue
		}
		checkResponse(t, r, 200)
		if r.body != tt.want {
			t.Errorf("%s: got %q; want %q", tt.path, r.body, tt.want)
		}
	}

	// Replacing a route's handler.
	route("/ping", "pong")
	if r := c.do(get("/ping")); r.body != "pong" {
		t.Errorf("replaced route: got %q; want %q", r.body, "pong")
	}
	// SetNotFound, and nil restoring the default.
	s.SetNotFound(HandlerFunc(func(x *Exchange) { x.SetStatus(410, ""); x.WriteString("custom") }))
	if r := c.do(get("/nowhere")); r.status != 410 || r.body != "custom" {
		t.Errorf("custom not-found: got %q; want 410 custom", r.raw)
	}
	s.SetNotFound(nil)
	if r := c.do(get("/nowhere")); r.status != 404 {
		t.Errorf("restored not-found: got %q; want 404", r.raw)
	}
	// Bad patterns.
	for _, p := range []string{""} {
		if err := s.HandleFunc(p, func(*Exchange) {}); err == nil || !strings.Contains(err.Error(), "invalid configuration") {
			t.Errorf("HandleFunc(%q): got %v; want ErrConfig", p, err)
		}
	}
	if err := s.Handle("/nil", nil); err == nil {
		t.Errorf("Handle with a nil handler: got nil error; want ErrConfig")
	}
}

// TestRoutesAddedWhileServing adds routes while clients use them.
func TestRoutesAddedWhileServing(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	const n = 50
	var added atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			name := "r" + strconv.Itoa(i)
			s.HandleFunc("/dyn/"+name, func(x *Exchange) { x.WriteString(name) })
			s.HandleFunc("/wild/*/"+name, func(x *Exchange) { x.WriteString("w" + name) })
			added.Store(int64(i + 1))
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		c := dial(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := func(path string) (*response, error) {
				if err := c.sendErr(get(path)); err != nil {
					return nil, err
				}
				c.c.SetReadDeadline(time.Now().Add(ioTimeout))
				return readResponse(c.br, false)
			}
			for j := 0; j < 3*n; j++ {
				i := j % n
				known := int64(i) < added.Load()
				name := "r" + strconv.Itoa(i)
				r, err := do("/dyn/" + name)
				if err != nil {
					t.Error(err)
					return
				}
				r2, err := do("/wild/q/" + name)
				if err != nil {
					t.Error(err)
					return
				}
				if known && (r.body != name || r2.body != "w"+name) {
					t.Errorf("route %s added before the request: got %q, %q", name, r.body, r2.body)
					return
				}
				if r.status != 200 && r.status != 404 {
					t.Errorf("got status %d", r.status)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
	c := dial(t, s)
	for i := 0; i < n; i++ {
		if r := c.do(get("/dyn/r" + strconv.Itoa(i))); r.body != "r"+strconv.Itoa(i) {
			t.Errorf("/dyn/r%d: got %q", i, r.body)
		}
	}
}

func TestRoutesLookupAllocs(t *testing.T) {
	var rs Routes
	rs.Add("/a/b", HandlerFunc(func(*Exchange) {}))
	rs.Add("/users/*/posts", HandlerFunc(func(*Exchange) {}))
	for _, p := range []string{"/a/b", "/a/b/", "/users/1/posts", "/none"} {
		path := []byte(p)
		if n := testing.AllocsPerRun(100, func() { rs.Lookup(path) }); n != 0 {
			t.Errorf("Lookup(%q): %v allocs; want 0", p, n)
		}
	}
}

// TestWritten: the Written callback runs once per response, with nil once
// the response is on the wire and with an error when it never will be.
func TestWritten(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	type call struct {
		path string
		err  error
	}
	calls := make(chan call, 100)
	written := func(x *Exchange, err error) { calls <- call{string(x.Request().Path), err} }
	heldc := make(chan *Exchange, 10)
	s.HandleFunc("/w/sync", func(x *Exchange) { x.Written = written })
	s.HandleFunc("/w/held", func(x *Exchange) {
		x.Written = written
		x.Hold()
		heldc <- x
	})
	next := func(t *testing.T) call {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(ioTimeout):
			t.Fatal("Written was not called")
			return call{}
		}
	}
	noMore := func(t *testing.T) {
		t.Helper()
		select {
		case c := <-calls:
			t.Fatalf("unexpected Written call %+v", c)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Run("sync", func(t *testing.T) {
		c := dial(t, s)
		c.do(get("/w/sync"))
		if got := next(t); got.path != "/w/sync" || got.err != nil {
			t.Errorf("Written: got %+v; want /w/sync, nil", got)
		}
		noMore(t)
	})
	t.Run("held", func(t *testing.T) {
		c := dial(t, s)
		c.send(get("/w/held"))
		x := <-heldc
		x.Done()
		c.read()
		if got := next(t); got.path != "/w/held" || got.err != nil {
			t.Errorf("Written: got %+v; want /w/held, nil", got)
		}
		noMore(t)
	})
	t.Run("held, connection reset before Done", func(t *testing.T) {
		c := dial(t, s)
		c.send(get("/w/held"))
		x := <-heldc
		c.c.(*net.TCPConn).SetLinger(0)
		c.c.Close() // RST
		waitFor(t, 10*time.Second, "the server to notice", func() bool { return s.Stats().ConnectionsOpen == 0 })
		x.Done()
		if got := next(t); got.path != "/w/held" || got.err == nil {
			t.Errorf("Written: got %+v; want /w/held with an error", got)
		}
		noMore(t)
	})
	t.Run("dropped after a closing response", func(t *testing.T) {
		c := dial(t, s)
		c.send(get("/w/held") + get("/w/sync"))
		x := <-heldc
		x.AddHeader([]byte("Connection"), []byte("close"))
		x.Done()
		c.read()
		c.expectClosed()
		got := map[string]error{}
		for i := 0; i < 2; i++ {
			c := next(t)
			got[c.path] = c.err
		}
		if err, ok := got["/w/held"]; !ok || err != nil {
			t.Errorf("Written for the closing response: %v, %v; want nil", err, ok)
		}
		if err, ok := got["/w/sync"]; !ok || err == nil {
			t.Errorf("Written for the dropped response: %v, %v; want an error", err, ok)
		}
		noMore(t)
	})
}

// gatedConn blocks its first Write until gate is closed.
type gatedConn struct {
	net.Conn
	gate    chan struct{}
	once    sync.Once
	blocked chan struct{}
}

func (g *gatedConn) Write(b []byte) (int, error) {
	g.once.Do(func() {
		close(g.blocked)
		<-g.gate
	})
	return g.Conn.Write(b)
}

// TestNoResponseAfterClose: once a held response that closes the
// connection is complete, a request dispatched after it is not answered,
// even while that closing response still waits for the socket.
func TestNoResponseAfterClose(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	heldc := make(chan *Exchange, 2)
	s.HandleFunc("/h", func(x *Exchange) {
		x.Hold()
		heldc <- x
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedConn{Conn: sc, gate: make(chan struct{}), blocked: make(chan struct{})}
	serveConn(t, s, g)
	c := &client{t: t, c: cc, br: bufio.NewReader(cc)}
	t.Cleanup(func() { cc.Close() })

	c.send(get("/h?1") + get("/h?2"))
	x1, x2 := <-heldc, <-heldc
	go func() { x1.WriteString("1"); x1.Done() }() // its write blocks at the gate
	<-g.blocked
	x2.WriteString("2")
	x2.AddHeader([]byte("Connection"), []byte("close"))
	go x2.Done() // waits for the blocked write
	waitFor(t, 10*time.Second, "x2 to complete", func() bool {
		c := x2.conn
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closing
	})
	c.send(get("/seq?3"))
	waitFor(t, 10*time.Second, "the third request", func() bool { return s.Stats().Requests == 3 })
	close(g.gate)
	for _, want := range []string{"1", "2"} {
		if r := c.read(); r.body != want {
			t.Fatalf("got %q; want body %q", r.raw, want)
		}
	}
	c.expectClosed()
}
