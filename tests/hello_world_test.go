package tests

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// output collects a child's stdout and stderr; safe to read while the
// child writes.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor waits until the output matches re, and returns the submatches.
func (o *output) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(o.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("output never matched %q:\n%s", re, o.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// helloWorld is a running build/hello_world.
type helloWorld struct {
	cmd     *exec.Cmd
	out     *output
	address string // as printed: the address and port it listens on
	port    int
}

var listeningLine = regexp.MustCompile(`listening on (\S+) port (\d+)\n`)

// runHelloWorld runs build/hello_world with args and waits until it says
// it listens; it is killed when the test ends.
func runHelloWorld(t *testing.T, args ...string) *helloWorld {
	t.Helper()
	hw := &helloWorld{cmd: exec.Command(filepath.Join(buildDir, "hello_world"), args...), out: &output{}}
	hw.cmd.Stdout, hw.cmd.Stderr = hw.out, hw.out
	if err := hw.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hw.cmd.Process.Kill()
		hw.cmd.Wait()
	})
	m := hw.out.waitFor(t, listeningLine)
	hw.address = m[1]
	hw.port, _ = strconv.Atoi(m[2])
	return hw
}

// startHelloWorld runs build/hello_world on port with args, and checks it
// says it listens there.
func startHelloWorld(t *testing.T, port int, args ...string) *helloWorld {
	t.Helper()
	hw := runHelloWorld(t, append([]string{"--port", strconv.Itoa(port)}, args...)...)
	if hw.port != port {
		t.Fatalf("hello_world --port %d says it listens on port %d", port, hw.port)
	}
	return hw
}

func TestHelloWorldSample(t *testing.T) {
	port := freePort(t)
	startHelloWorld(t, port, "--threads", "2", "--balancer", "reuseport", "--tcp_nodelay")
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ { // keep-alive: net/http reuses the connection
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello world" || resp.Header.Get("Content-Type") != "text/html" {
			t.Fatalf("GET / = %d %q %v; want 200 \"hello world\" text/html", resp.StatusCode, body, resp.Header)
		}
	}
	resp, err := client.Post(base+"/ping", "text/plain", strings.NewReader("ping body"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ping body" {
		t.Fatalf("POST /ping = %q; want the body echoed", body)
	}

	// 16 pipelined requests in one write come back in order.
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pipe bytes.Buffer
	for i := 0; i < 16; i++ {
		if i%2 == 0 {
			pipe.WriteString("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		} else {
			pipe.WriteString("POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: " + strconv.Itoa(len(strconv.Itoa(i))) + "\r\n\r\n" + strconv.Itoa(i))
		}
	}
	c.Write(pipe.Bytes())
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 16; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("pipelined response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		want := "hello world"
		if i%2 == 1 {
			want = strconv.Itoa(i)
		}
		if string(b) != want {
			t.Fatalf("pipelined response %d = %q; want %q", i, b, want)
		}
	}

	// HTTP/1.0 without keep-alive: the sample answers 1.0 and the server closes.
	c2, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c2)
	if err != nil || !bytes.HasPrefix(all, []byte("HTTP/1.0 200 OK\r\n")) || !bytes.HasSuffix(all, []byte("hello world")) {
		t.Fatalf("HTTP/1.0 GET = %q, %v; want a 1.0 response then close", all, err)
	}
}

func TestHelloWorldFlagsAndErrors(t *testing.T) {
	bin := filepath.Join(buildDir, "hello_world")
	out, err := exec.Command(bin, "--help").CombinedOutput()
	for _, flag := range []string{"--port", "--threads", "--balancer", "--tcp_nodelay", "--max_request_size", "--listen_backlog"} {
		if err != nil || !strings.Contains(string(out), flag) {
			t.Fatalf("hello_world --help = %v\n%s\nwant it to list %s", err, out, flag)
		}
	}
	if err := exec.Command(bin, "--no-such-flag").Run(); err == nil {
		t.Fatal("hello_world --no-such-flag succeeded; want a usage error")
	}

	// A busy port is a clear error, not a silent hang (Haywire ignored it).
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err = exec.CommandContext(ctx, bin, "--port", strconv.Itoa(port)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("hello_world on a busy port = %v\n%s\nwant exit 1 with \"address already in use\"", err, out)
	}

	// --config reads an INI file.
	port = freePort(t)
	ini := filepath.Join(t.TempDir(), "hw.conf")
	os.WriteFile(ini, []byte("[http]\nlisten_address = 127.0.0.1\nlisten_port = "+strconv.Itoa(port)+"\nserver_name = from-ini\n"), 0o644)
	startHelloWorld(t, port, "--config", ini)
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Server"); got != "from-ini" {
		t.Fatalf("Server = %q; want the INI's server_name \"from-ini\"", got)
	}
}

// With --config, hello_world printed the port of its flags (8000 by
// default), not the INI file's listen_port it serves on; now it prints
// what the server listens on, the port picked for listen_port 0 included.
func TestHelloWorldPrintsWhereItListens(t *testing.T) {
	dir := t.TempDir()
	for _, iniPort := range []int{freePort(t), 0} {
		ini := filepath.Join(dir, "hw.conf")
		os.WriteFile(ini, []byte("[http]\nlisten_address = 127.0.0.1\nlisten_port = "+strconv.Itoa(iniPort)+"\n"), 0o644)
		hw := runHelloWorld(t, "--config", ini)
		if hw.address != "127.0.0.1" || (iniPort != 0 && hw.port != iniPort) || hw.port == 0 {
			t.Fatalf("hello_world --config (listen_port %d) says it listens on %s port %d; want 127.0.0.1 and the INI's port (the picked one for 0)\n%s",
				iniPort, hw.address, hw.port, hw.out)
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(hw.port) + "/")
		if err != nil {
			t.Fatalf("GET / on the printed port %d: %v", hw.port, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello world" {
			t.Fatalf("GET / on the printed port = %q", b)
		}
		hw.cmd.Process.Kill()
		hw.cmd.Wait()
	}
}

// As in Haywire's sample, /ping prints the request's header fields and
// body (hw_print_request_headers, hw_print_body) before echoing.
func TestHelloWorldPingPrintsTheRequest(t *testing.T) {
	port := freePort(t)
	hw := startHelloWorld(t, port)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	req, _ := http.NewRequest("POST", base+"/ping", strings.NewReader("ping body"))
	req.Header.Set("X-Probe", "forty-two")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ping body" {
		t.Fatalf("POST /ping = %q; want the body echoed", b)
	}
	hw.out.waitFor(t, regexp.MustCompile(`(?m)^KEY: X-Probe VALUE: forty-two$`))
	hw.out.waitFor(t, regexp.MustCompile(`(?m)^KEY: Host VALUE: 127\.0\.0\.1:\d+$`))
	hw.out.waitFor(t, regexp.MustCompile(`(?m)^BODY: ping body$`))

	resp, err = http.Get(base + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hw.out.waitFor(t, regexp.MustCompile(`(?m)^BODY is empty!$`))
	// "/" prints nothing.
	before := hw.out.String()
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond)
	if after := hw.out.String(); after != before {
		t.Fatalf("GET / printed %q; want nothing", strings.TrimPrefix(after, before))
	}
}

// --max_request_size bounds the body: one byte more is 413. Without it
// (an INI file that does not set it) the library's default is Haywire's
// 1 MiB; only the launcher defaults to more.
func TestHelloWorldMaxRequestSize(t *testing.T) {
	type try struct{ size, want int }
	for _, c := range []struct {
		name  string
		args  func(port int) []string
		tries []try
	}{
		{"flag", func(int) []string { return []string{"--max_request_size", "100"} }, []try{{100, 200}, {101, 413}, {1000, 413}}},
		{"library default", func(port int) []string {
			ini := filepath.Join(t.TempDir(), "hw.conf")
			os.WriteFile(ini, []byte("[http]\nlisten_address = 127.0.0.1\nlisten_port = "+strconv.Itoa(port)+"\n"), 0o644)
			return []string{"--config", ini}
		}, []try{{1 << 20, 200}, {1<<20 + 1, 413}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			startHelloWorld(t, port, c.args(port)...)
			url := "http://127.0.0.1:" + strconv.Itoa(port) + "/ping"
			for _, tr := range c.tries {
				body := strings.Repeat("b", tr.size)
				resp, err := http.Post(url, "text/plain", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tr.want || (tr.want == 200 && string(got) != body) {
					t.Errorf("POST /ping with %d bytes = %d (%d bytes back); want %d", tr.size, resp.StatusCode, len(got), tr.want)
				}
			}
		})
	}
}

// --listen_backlog sets the listening socket's backlog, which ss(8)
// shows as the Send-Q of a listener; without it the backlog is the
// system's SOMAXCONN.
func TestHelloWorldListenBacklog(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) not installed: the backlog cannot be read")
	}
	somaxconn := func() int {
		b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
		if err != nil {
			t.Skip("no /proc/sys/net/core/somaxconn")
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}()
	for _, c := range []struct {
		args []string
		want int
	}{{[]string{"--listen_backlog", "37"}, 37}, {nil, somaxconn}} {
		port := freePort(t)
		hw := startHelloWorld(t, port, c.args...)
		out, err := exec.Command("ss", "-ltnH", "sport = :"+strconv.Itoa(port)).Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		fields := strings.Fields(string(out))
		if len(fields) < 3 || fields[0] != "LISTEN" || fields[2] != strconv.Itoa(c.want) {
			t.Fatalf("hello_world %v: ss -ltn for port %d = %q; want a listener with Send-Q (backlog) %d", c.args, port, out, c.want)
		}
		hw.cmd.Process.Kill()
		hw.cmd.Wait()
	}
}

// SIGTERM (and SIGINT) stop hello_world gracefully: exit status 0.
func TestHelloWorldStopsOnSIGTERM(t *testing.T) {
	port := freePort(t)
	hw := startHelloWorld(t, port)
	if err := hw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hw.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hello_world after SIGTERM: %v; want exit status 0\n%s", err, hw.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hello_world did not exit after SIGTERM")
	}
}
