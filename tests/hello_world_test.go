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
	"strconv"
	"strings"
	"testing"
	"time"
)

// startHelloWorld runs build/hello_world with args and waits until it
// accepts connections on port.
func startHelloWorld(t *testing.T, port int, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(buildDir, "hello_world"), append([]string{"--port", strconv.Itoa(port)}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("hello_world did not listen on %d:\n%s", port, out.String())
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
