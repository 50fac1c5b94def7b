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
	"syscall"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/region"
)

// startLauncher runs build/haywire with args and returns it with the
// region name it printed first.
func startLauncher(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(buildDir, "haywire"), args...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	first, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "region: haywire-") {
		t.Fatalf("first line = %q, %v; want \"region: haywire-<uuid>\"", first, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(first, "region: "))
}

func TestLauncherServesThroughAHost(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	cmd, name := startLauncher(t, "--address", "127.0.0.1", "--port", strconv.Itoa(port), "--region-dir", dir,
		"--host-timeout-ms", "500", "--host-wait-ms", "0")
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/hello?who=you"

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 { // --host-wait-ms 0: no wait for a host
		t.Fatalf("GET without a host = %d; want 503", resp.StatusCode)
	}

	h, err := host.Attach(name, region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Serve(ctx, func(v wire.View, w *host.ResponseWriter) {
			q, _ := v.Query()
			w.AddHeader("Content-Type", "text/plain")
			w.WriteString("hello from the host: " + string(v.Path()) + "?" + string(q))
		})
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err = http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			if string(body) != "hello from the host: /hello?who=you" {
				t.Fatalf("body = %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after the host attached", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	h.Close()

	// SIGTERM: a graceful stop that removes the region.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("launcher after SIGTERM: %v; want exit 0", err)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
		t.Fatalf("region file after a clean stop: %v; want it removed", err)
	}
}

func TestLauncherFlagsAndErrors(t *testing.T) {
	bin := filepath.Join(buildDir, "haywire")
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--port") || !strings.Contains(string(out), "region_chunk_size") {
		t.Fatalf("haywire --help = %v\n%s", err, out)
	}
	// Every flag and key of config's table of keys, with its default.
	for _, k := range config.Keys() {
		if k.Flag != "" && !strings.Contains(string(out), "\n  -"+k.Flag+" string\n") {
			t.Errorf("haywire --help lacks flag -%s (key %s)", k.Flag, k.Name)
		}
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(k.Name) + ` .*default ` + regexp.QuoteMeta(k.LauncherValue()) + `$`).Match(out) {
			t.Errorf("haywire --help lacks key %s with default %s", k.Name, k.LauncherValue())
		}
	}
	for _, args := range [][]string{{"--no-such-flag"}, {"--port", "eighty"}, {"stray"}} {
		err := exec.Command(bin, args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("haywire %v = %v; want exit status 2", args, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ini := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(ini, []byte("[bridge]\nregion_chunks = many\n"), 0o600)
	out, err = exec.CommandContext(ctx, bin, "--config", ini).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "region_chunks") {
		t.Fatalf("haywire with a bad INI = %v\n%s; want an error naming the key", err, out)
	}
}

// --region NAME: the launcher serves under the name it is given, prints
// it, and refuses a name that is not a lane-0 region name.
func TestLauncherRegionName(t *testing.T) {
	dir := t.TempDir()
	want := region.NewName()
	_, name := startLauncher(t, "--address", "127.0.0.1", "--port", "0", "--region-dir", dir, "--region", want)
	if name != want {
		t.Fatalf("printed region %q; want %q", name, want)
	}
	if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
		t.Fatalf("region file: %v", err)
	}
	// --stats reads the counters of the running engine from outside.
	h, err := host.Attach(want, region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	out, err := exec.Command(filepath.Join(buildDir, "haywire"), "--stats", "--region", want, "--region-dir", dir).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "lane 0 engine wakeups=") ||
		!strings.HasPrefix(lines[1], "lane 0 host ") || !strings.Contains(lines[1], " attaches=1 ") {
		t.Fatalf("haywire --stats = %v\n%s; want 2 lanes x 2 sides, the host attached to lane 0", err, out)
	}
	for _, bad := range []string{"haywire-nope", want + ".1"} {
		out, err := exec.Command(filepath.Join(buildDir, "haywire"), "--port", "0", "--region-dir", dir, "--region", bad).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "region_name") {
			t.Errorf("--region %s = %v\n%s; want an error naming region_name", bad, err, out)
		}
	}
}

// --exit-with-parent: the launcher stops when the process that started it
// dies, even by kill -9, and removes its region.
func TestLauncherExitWithParent(t *testing.T) {
	dir := t.TempDir()
	name := region.NewName()
	// A shell parent that starts the launcher in the background and waits.
	parent := exec.Command("sh", "-c", `"$0" --address 127.0.0.1 --port 0 --region-dir "$1" --region "$2" --exit-with-parent & wait`,
		filepath.Join(buildDir, "haywire"), dir, name)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFile := func(present bool) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) == present {
				return true
			}
		}
		return false
	}
	if !waitForFile(true) {
		parent.Process.Kill()
		t.Fatal("the launcher did not create its region")
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	if !waitForFile(false) {
		t.Fatal("the launcher still runs 5 s after its parent was killed")
	}
}

// The launcher's max_request_size defaults to 30000000 bytes (Kestrel's
// and IIS's), not the library's 1 MiB: a 20 MB body streams through the
// bridge to the host, one of 30000001 bytes is refused with 413.
func TestLauncherMaxRequestSizeDefault(t *testing.T) {
	out, err := exec.Command(filepath.Join(buildDir, "haywire"), "--help").CombinedOutput()
	if err != nil || !regexp.MustCompile(`-max-request-size string\s+largest request body in bytes; default 30000000`).Match(out) {
		t.Errorf("haywire --help = %v\n%s; want --max-request-size documented with default 30000000", err, out)
	}
	dir, port := t.TempDir(), freePort(t)
	_, name := startLauncher(t, "--address", "127.0.0.1", "--port", strconv.Itoa(port), "--region-dir", dir)
	h, err := host.Attach(name, region.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Serve(ctx, func(v wire.View, w *host.ResponseWriter) {
			n, err := io.Copy(io.Discard, w.Request().Body())
			if err != nil {
				w.SetStatus(500)
			}
			w.WriteString(strconv.FormatInt(n, 10))
		})
	}()
	t.Cleanup(func() { cancel(); <-done; h.Close() })

	const size = 20_000_000
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+"/upload", "application/octet-stream",
		bytes.NewReader(make([]byte, size)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(size) {
		t.Fatalf("POST of %d bytes = %d %q; want 200 and the host's count", size, resp.StatusCode, body)
	}

	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 30000001\r\n\r\n")
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || status != "HTTP/1.1 413 Content Too Large\r\n" {
		t.Fatalf("POST announcing 30000001 bytes: %q, %v; want 413", status, err)
	}
}
