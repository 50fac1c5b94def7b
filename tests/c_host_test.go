package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"fmt"
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

// bridged is a launcher (build/haywire) on 127.0.0.1 with its region in a
// directory of the test's own.
type bridged struct {
	cmd  *exec.Cmd
	name string // the region
	dir  string
	port int
}

func startBridged(t *testing.T) *bridged {
	t.Helper()
	b := &bridged{dir: t.TempDir(), port: freePort(t)}
	b.cmd, b.name = startLauncher(t, "--address", "127.0.0.1", "--port", strconv.Itoa(b.port), "--region-dir", b.dir)
	return b
}

func (b *bridged) url(path string) string { return "http://127.0.0.1:" + strconv.Itoa(b.port) + path }

// startCHost runs build/c_host (or $HAYWIRE_C_HOST) attached to b's region and waits until it
// says it attached and the engine routes requests to it.
func startCHost(t *testing.T, b *bridged) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(cHostPath(), "--region", b.name, "--region-dir", b.dir)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "c_host: attached to "+b.name) {
		t.Fatalf("c_host said %q, %v; want \"c_host: attached to %s\"", line, err, b.name)
	}
	return cmd
}

// waitServed waits until GET / is answered 200 (the engine noticed a host).
func waitServed(t *testing.T, b *bridged) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(b.url("/"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET / still %v, %v 10 s after c_host attached", resp, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// getBody returns the body of a 200 answer to GET url, or "".
func getBody(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	return string(body)
}

// clientLoad is n clients sending GETs in a loop, counting the 200s and
// keeping every failure.
type clientLoad struct {
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	oks      int
	failures []string
}

// startLoad starts n clients; url(c, i) is client c's i-th URL.
func startLoad(n int, url func(c, i int) string) *clientLoad {
	l := &clientLoad{stop: make(chan struct{})}
	for c := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url(c, i))
				l.mu.Lock()
				if err != nil || resp.StatusCode != 200 {
					l.failures = append(l.failures, fmt.Sprintf("GET %s: %v %v", url(c, i), resp, err))
				} else {
					l.oks++
				}
				l.mu.Unlock()
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	return l
}

// ok returns how many requests were answered 200 so far.
func (l *clientLoad) ok() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.oks
}

// finish stops the clients, waits for them and returns the failures; it
// may be called again.
func (l *clientLoad) finish() []string {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20 s waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hostTestArgs starts an engine for tests/c/test-host.c and returns its
// arguments: PORT REGION DIR ENGINE_PID.
func hostTestArgs(t *testing.T) []string {
	b := startBridged(t)
	return []string{strconv.Itoa(b.port), b.name, b.dir, strconv.Itoa(b.cmd.Process.Pid)}
}

func TestCHostServes(t *testing.T) {
	b := startBridged(t)
	host := startCHost(t, b)
	waitServed(t, b)

	resp, err := http.Get(b.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello world" || resp.Header.Get("Content-Type") != "text/html" {
		t.Fatalf("GET / = %d %q %q; want 200 \"hello world\" text/html", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}

	big := make([]byte, 1<<20)
	rand.Read(big)
	resp, err = http.Post(b.url("/echo"), "application/x-test", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, big) || resp.Header.Get("Content-Type") != "application/x-test" {
		t.Fatalf("POST /echo of 1 MiB = %d, %d bytes, equal %v, type %q", resp.StatusCode, len(body), bytes.Equal(body, big),
			resp.Header.Get("Content-Type"))
	}

	start := time.Now()
	resp, err = http.Get(b.url("/slow?ms=100"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); resp.StatusCode != 200 || string(body) != "slow" || d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("GET /slow?ms=100 = %d %q after %v; want 200 \"slow\" after about 100 ms", resp.StatusCode, body, d)
	}

	if resp, err = http.Get(b.url("/nowhere")); err != nil || resp.StatusCode != 404 {
		t.Fatalf("GET /nowhere = %v, %v; want 404", resp, err)
	}
	resp.Body.Close()

	host.Process.Signal(syscall.SIGTERM)
	if err := host.Wait(); err != nil {
		t.Fatalf("c_host after SIGTERM: %v; want exit 0", err)
	}
}

// 16 requests pipelined per write on several connections, mixing quick,
// echo and slow ones: every response matches its request, in order.
func TestCHostPipelined(t *testing.T) {
	b := startBridged(t)
	startCHost(t, b)
	waitServed(t, b)

	const conns, depth, rounds = 6, 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.port))
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			for r := range rounds {
				var batch bytes.Buffer
				want := make([]string, depth)
				for i := range depth {
					switch tag := fmt.Sprintf("c%d-r%d-i%d", c, r, i); {
					case i%8 == 3:
						fmt.Fprintf(&batch, "GET /slow?ms=%d HTTP/1.1\r\nHost: t\r\n\r\n", (i*7+r)%20)
						want[i] = "slow"
					case i%2 == 1:
						fmt.Fprintf(&batch, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", len(tag), tag)
						want[i] = tag
					default:
						batch.WriteString("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
						want[i] = "hello world"
					}
				}
				if _, err := nc.Write(batch.Bytes()); err != nil {
					errs <- err
					return
				}
				nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				for i := range depth {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- fmt.Errorf("conn %d round %d response %d: %v", c, r, i, err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(body) != want[i] {
						errs <- fmt.Errorf("conn %d round %d response %d = %q; want %q", c, r, i, body, want[i])
						return
					}
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// kill -9 of the host: its requests in flight get 502 within the liveness
// bound (1 s), and a new c_host serves.
func TestCHostKilled(t *testing.T) {
	b := startBridged(t)
	host := startCHost(t, b)
	waitServed(t, b)

	const inflight = 4
	codes := make(chan int, inflight)
	for range inflight {
		go func() {
			resp, err := http.Get(b.url("/slow?ms=60000"))
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	waitFor(t, "the slow requests to reach the host", func() bool { return getBody(b.url("/holding")) == strconv.Itoa(inflight) })
	killed := time.Now()
	host.Process.Kill()
	for range inflight {
		select {
		case code := <-codes:
			if code != 502 {
				t.Fatalf("in-flight request after kill -9 = %d; want 502", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight requests not answered 5 s after kill -9")
		}
	}
	if d := time.Since(killed); d > 1500*time.Millisecond {
		t.Errorf("502s came %v after the kill; want within about 1 s", d)
	}

	startCHost(t, b)
	waitServed(t, b)
}

// Hot swap under a client load loop: a second c_host attaches, the first
// drains and exits 0, and no request fails.
func TestCHostHotSwap(t *testing.T) {
	b := startBridged(t)
	first := startCHost(t, b)
	waitServed(t, b)

	load := startLoad(8, func(c, i int) string {
		if i%5 == c%5 {
			return b.url("/slow?ms=30") // in flight while the swap happens
		}
		return b.url("/")
	})
	defer load.finish()
	waitFor(t, "the first c_host to serve under load", func() bool { return load.ok() >= 50 })
	second := startCHost(t, b)
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the first c_host after the swap: %v; want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first c_host did not drain and exit within 10 s")
	}
	alone := load.ok()
	waitFor(t, "the second c_host to serve alone", func() bool { return load.ok() >= alone+50 })
	if failures := load.finish(); len(failures) != 0 {
		t.Fatalf("%d requests failed during the hot swap, first: %s", len(failures), failures[0])
	}
	if second.ProcessState != nil {
		t.Fatalf("the second c_host exited: %v", second.ProcessState)
	}
}

func TestCHostFlags(t *testing.T) {
	bin := cHostPath()
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--region NAME") {
		t.Fatalf("c_host --help = %v\n%s", err, out)
	}
	for _, args := range [][]string{{}, {"--bogus"}, {"--region"}} {
		err := exec.Command(bin, args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("c_host %v = %v; want exit status 2", args, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err = exec.CommandContext(ctx, bin, "--region", "haywire-nonsense").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "invalid region name") {
		t.Fatalf("c_host with a bad region name = %v\n%s; want exit 1 naming the problem", err, out)
	}
}

// The host sees the cancel of a request whose client disconnected
// (tests/c/test-host.c, mode "cancel").
// It runs linked to libhaywire and, where it builds, over hostlib.
func TestCHostCancelAfterClientDisconnect(t *testing.T) {
	run := func(t *testing.T, bin string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		args := append(hostTestArgs(t), "cancel")
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "test-host: ok") {
			t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, trimOutput(out))
		}
	}
	t.Run("libhaywire", func(t *testing.T) {
		bin, err := compileC(filepath.Join(repoRoot, "tests/c/test-host.c"), "test-host")
		run(t, bin, err)
	})
	if hostlibSupported() {
		t.Run("hostlib", func(t *testing.T) {
			bin, err := compileHostC(filepath.Join(repoRoot, "tests/c/test-host.c"), "test-host-hostlib", true)
			run(t, bin, err)
		})
	}
}

// SIGTERM to c_host under load: it leaves (hw_host_leave), answers what
// it has and exits 0; the requests meanwhile wait for the next c_host.
// None fails: no 502 for the leaving host, no 503 while none is there.
func TestCHostLeavesWithoutFailures(t *testing.T) {
	b := startBridged(t)
	first := startCHost(t, b)
	waitServed(t, b)

	load := startLoad(8, func(int, int) string { return b.url("/slow?ms=1") })
	defer load.finish()
	waitFor(t, "the first c_host to serve under load", func() bool { return load.ok() >= 50 })
	first.Process.Signal(syscall.SIGTERM)
	if err := first.Wait(); err != nil {
		t.Errorf("c_host after SIGTERM: %v; want exit 0", err)
	}
	before := load.ok()
	startCHost(t, b)
	waitFor(t, "the next c_host to serve", func() bool { return load.ok() >= before+50 })
	if failures := load.finish(); len(failures) > 0 {
		t.Fatalf("%d requests failed while one c_host left and the next came; first: %s", len(failures), failures[0])
	}
}

// c_host is built over libhaywire_host: its process holds no Go runtime
// and maps no libhaywire (issue 10), yet serves.
func TestCHostHasNoGoRuntime(t *testing.T) {
	if !hostlibSupported() {
		t.Skip("libhaywire_host is Linux only: c_host uses libhaywire here")
	}
	f, err := elf.Open(cHostPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Section(".go.buildinfo") != nil {
		t.Errorf("%s has a .go.buildinfo section: a Go runtime is linked in", cHostPath())
	}
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == "runtime.main" || s.Name == "_cgo_init" || strings.HasPrefix(s.Name, "hw__host_") && strings.HasSuffix(s.Name, "_go") {
			t.Errorf("%s defines %s: Go is linked in", cHostPath(), s.Name)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if strings.Contains(l, "haywire") {
			t.Errorf("%s needs %s; want no haywire shared library", cHostPath(), l)
		}
	}
	b := startBridged(t)
	host := startCHost(t, b)
	waitServed(t, b)
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", host.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if strings.Contains(line, "libhaywire") || strings.Contains(line, "libgo") {
			t.Errorf("the running c_host maps %q", line)
		}
	}
}

// libhaywire_host.so exports the calls haywire_host.h and
// haywire_common.h declare for a host library, and nothing else: hostlib's
// internals and the region headers' inline code stay hidden.
func TestHostLibExportsOnlyTheAPI(t *testing.T) {
	lib := filepath.Join(buildDir, "libhaywire_host.so")
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("%s not built (build.sh builds it on Linux): %v", lib, err)
	}
	want := map[string]bool{"hw_version": true, "hw_version_number": true, "hw_strerror": true, "hw_err_name": true, "hw_last_error": true}
	hdr, err := os.ReadFile(filepath.Join(repoRoot, "include", "haywire_host.h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^HAYWIRE_EXTERN [^(]*\b(hw_host_\w+)\(`).FindAllSubmatch(hdr, -1) {
		want[string(m[1])] = true
	}
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || elf.ST_BIND(s.Info) == elf.STB_LOCAL {
			continue
		}
		got[s.Name] = true
		if !want[s.Name] {
			t.Errorf("libhaywire_host.so exports %s, which no header declares", s.Name)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("libhaywire_host.so does not export %s", name)
		}
	}
	if len(want) < 30 {
		t.Fatalf("found %d calls in haywire_host.h; the pattern no longer matches its declarations", len(want))
	}
}
