package tests

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// supervised is a launcher (build/haywire) running its hosts itself
// (--host-command), on 127.0.0.1, with its region in a directory of the
// test's own.
type supervised struct {
	cmd  *exec.Cmd
	log  *output // its stderr: the supervisor's lines and the hosts'
	name string  // the region
	dir  string
	port int
	out  *bufio.Reader // its stdout, after the region's line
}

// startSupervised runs build/haywire --host-command hostCommand with
// extra flags, and returns once it printed its region.
func startSupervised(t *testing.T, hostCommand string, extra ...string) *supervised {
	t.Helper()
	return startSupervisedEnv(t, nil, hostCommand, extra...)
}

// startSupervisedEnv is startSupervised with env added to the launcher's
// environment, which its hosts inherit.
func startSupervisedEnv(t *testing.T, env []string, hostCommand string, extra ...string) *supervised {
	t.Helper()
	s := &supervised{log: &output{}, dir: t.TempDir(), port: freePort(t)}
	args := append([]string{"--address", "127.0.0.1", "--port", strconv.Itoa(s.port), "--region-dir", s.dir,
		"--host-command", hostCommand}, extra...)
	s.cmd = exec.Command(filepath.Join(buildDir, "haywire"), args...)
	s.cmd.Env = append(os.Environ(), env...)
	out, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Gracefully if it will (it removes its region and shadow copies),
		// else kill -9.
		s.cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { s.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("launcher's log:\n%s", s.log.String())
		}
	})
	s.out = bufio.NewReader(out)
	first, err := s.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "region: haywire-") {
		t.Fatalf("first line = %q, %v; want \"region: haywire-<uuid>\"\n%s", first, err, s.log.String())
	}
	s.name = strings.TrimSpace(strings.TrimPrefix(first, "region: "))
	return s
}

func (s *supervised) url(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(s.port) + path
}

var readyLine = regexp.MustCompile(`haywire: host pid (\d+) ready after`)

// readyHosts returns the pids the log said became ready, in order.
func (s *supervised) readyHosts() []int {
	var pids []int
	for _, m := range readyLine.FindAllStringSubmatch(s.log.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// waitReady waits until the log names the n-th ready host, and returns
// its pid.
func (s *supervised) waitReady(t *testing.T, n int) int {
	t.Helper()
	waitFor(t, fmt.Sprintf("host number %d to be ready", n), func() bool { return len(s.readyHosts()) >= n })
	return s.readyHosts()[n-1]
}

// gone reports whether pid no longer runs (a zombie counts as gone: its
// parent may be the launcher, killed, or an init that reaps late).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// inGroup returns the live processes of process group pgid.
func inGroup(pgid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid && !gone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// verifyingLoad is conns connections each sending depth pipelined POST
// /echo requests at a time, every body naming its request; each response
// is checked against its request: 200 with that body, or a 502 (a host
// that died), counted apart. Anything else is wrong; a connection that
// breaks loses what it had in flight.
type verifyingLoad struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	oks      int
	okTimes  []okTime // 200s to requests sent after mark, with when they were sent
	mark     time.Time
	failed   []failure // 502s, and answers cut mid-body by a dying host
	wrong    []string  // wrong status or body, lost responses, a version older than the last
	versions []string  // X-Version of the answers, in the order first seen
	perPID   map[string]int
}

type okTime struct{ sent, got time.Time }

type failure struct {
	sent, got time.Time
	what      string
}

func startVerifyingLoad(t *testing.T, addr string, conns, depth int) *verifyingLoad {
	l := &verifyingLoad{stop: make(chan struct{}), perPID: map[string]int{}}
	for c := range conns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.client(addr, c, depth)
		}()
	}
	t.Cleanup(func() { l.finish() })
	return l
}

func (l *verifyingLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// client runs one connection (reconnecting if it breaks).
func (l *verifyingLoad) client(addr string, c, depth int) {
	seq := 0
	last := "" // X-Version of this connection's last answer: versions only go up
	for !l.stopped() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			l.addWrong(fmt.Sprintf("conn %d: dial: %v", c, err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		br := bufio.NewReader(conn)
		for !l.stopped() {
			var batch bytes.Buffer
			bodies := make([]string, depth)
			for i := range depth {
				bodies[i] = fmt.Sprintf("conn %d request %d", c, seq)
				seq++
				fmt.Fprintf(&batch, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", len(bodies[i]), bodies[i])
			}
			sent := time.Now()
			conn.SetDeadline(sent.Add(30 * time.Second))
			if _, err := conn.Write(batch.Bytes()); err != nil {
				l.addWrong(fmt.Sprintf("conn %d: write: %v", c, err))
				break
			}
			broken := false
			for i := range depth {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					l.addWrong(fmt.Sprintf("%q: lost: %v", bodies[i], err))
					broken = true
					break
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got := time.Now()
				switch {
				case err != nil && resp.StatusCode == 200 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
					// The answer had begun (c_host streams /echo: head, then
					// body) when its host died: the engine can only cut the
					// connection, as for a 502 a failure at the host, which
					// the tests bound like the 502s.
					l.mu.Lock()
					l.failed = append(l.failed, failure{sent, got, fmt.Sprintf("%q: cut mid-body: %v", bodies[i], err)})
					l.mu.Unlock()
					broken = true
				case err != nil:
					l.addWrong(fmt.Sprintf("%q: body: %v", bodies[i], err))
					broken = true
				case resp.StatusCode == 200 && string(body) == bodies[i]:
					v := resp.Header.Get("X-Version")
					if v < last {
						l.addWrong(fmt.Sprintf("%q: answered by %s after %s on the same connection", bodies[i], v, last))
					}
					last = v
					l.mu.Lock()
					if v != "" && (len(l.versions) == 0 || l.versions[len(l.versions)-1] != v) && !slices.Contains(l.versions, v) {
						l.versions = append(l.versions, v)
					}
					l.perPID[resp.Header.Get("X-Pid")]++
					l.oks++
					if !l.mark.IsZero() && sent.After(l.mark) {
						l.okTimes = append(l.okTimes, okTime{sent, got})
					}
					l.mu.Unlock()
				case resp.StatusCode == 502:
					l.mu.Lock()
					l.failed = append(l.failed, failure{sent, got, fmt.Sprintf("%q: 502 %q", bodies[i], body)})
					l.mu.Unlock()
				default:
					l.addWrong(fmt.Sprintf("%q: %d %q", bodies[i], resp.StatusCode, body))
				}
				if broken {
					break
				}
			}
			if broken {
				break
			}
		}
		conn.Close()
	}
}

func (l *verifyingLoad) addWrong(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped() {
		l.wrong = append(l.wrong, s)
	}
}

func (l *verifyingLoad) ok() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.oks
}

// setMark records t: 200s to requests sent after it are kept with times.
func (l *verifyingLoad) setMark(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mark = t
}

// firstOKAfterMark returns the first 200 to a request sent after the mark.
func (l *verifyingLoad) firstOKAfterMark() (okTime, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first okTime
	for _, o := range l.okTimes {
		if first.got.IsZero() || o.got.Before(first.got) {
			first = o
		}
	}
	return first, !first.got.IsZero()
}

func (l *verifyingLoad) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// c_host as a supervised host: it finds the region in HAYWIRE_REGION and
// HAYWIRE_REGION_DIR, serves, and its lines reach the launcher's log.
func TestSupervisedCHostServes(t *testing.T) {
	s := startSupervised(t, filepath.Join(buildDir, "c_host"))
	pid := s.waitReady(t, 1)
	if body := getBody(s.url("/")); body != "hello world" {
		t.Fatalf("GET / = %q; want hello world", body)
	}
	s.log.waitFor(t, regexp.MustCompile(`host `+strconv.Itoa(pid)+`: c_host: attached to `+regexp.QuoteMeta(s.name)))
	if !strings.Contains(s.log.String(), "haywire: host pid "+strconv.Itoa(pid)+" started: ") {
		t.Errorf("the log lacks the host's start:\n%s", s.log.String())
	}
}

// The C# hosts as supervised hosts (Mono): Sample.exe, and Haywire.Host.exe
// serving Sample.exe's Startup, given no --region attach to the
// launcher's region from their environment.
func TestSupervisedDotnetHostsServe(t *testing.T) {
	dotnet := filepath.Join(buildDir, "dotnet")
	mono, err := exec.LookPath("mono")
	if _, serr := os.Stat(filepath.Join(dotnet, "Sample.exe")); err != nil || serr != nil {
		t.Skip("needs mono and build/dotnet/Sample.exe (./build.sh with Mono installed)")
	}
	for name, command := range map[string]string{
		"Sample.exe":       mono + " " + filepath.Join(dotnet, "Sample.exe"),
		"Haywire.Host.exe": mono + " " + filepath.Join(dotnet, "Haywire.Host.exe") + " --app " + filepath.Join(dotnet, "Sample.exe"),
	} {
		t.Run(name, func(t *testing.T) {
			s := startSupervised(t, command)
			s.waitReady(t, 1)
			resp, err := http.Get(s.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "Hello, World!" {
				t.Fatalf("GET / through %s = %d %q; want 200 Hello, World!", name, resp.StatusCode, body)
			}
			if !regexp.MustCompile(`host \d+: serving: region ` + regexp.QuoteMeta(s.name) + ` lane \d`).MatchString(s.log.String()) {
				t.Errorf("%s did not say it serves the launcher's region:\n%s", name, s.log.String())
			}
		})
	}
}

// kill -9 of the host under a pipelined load: only the requests in flight
// at it fail (502, or an answer cut mid-body if it had begun; at most one
// batch per connection); a new host serves
// within 1 s; nothing fails after that; every other response is its
// request's.
func TestSupervisedHostKilledUnderLoad(t *testing.T) {
	s := startSupervised(t, filepath.Join(buildDir, "c_host"))
	pid := s.waitReady(t, 1)
	const conns, depth = 64, 4
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(s.port), conns, depth)
	waitFor(t, "2000 answers before the kill", func() bool { return l.ok() >= 2000 })

	killed := time.Now()
	l.setMark(killed)
	syscall.Kill(pid, syscall.SIGKILL)
	s.waitReady(t, 2)
	waitFor(t, "a request sent after the kill to be answered", func() bool { _, ok := l.firstOKAfterMark(); return ok })
	before := l.ok()
	waitFor(t, "2000 more answers after the restart", func() bool { return l.ok() >= before+2000 })
	l.finish()

	first, _ := l.firstOKAfterMark()
	restart := first.got.Sub(killed)
	t.Logf("kill -9 of host pid %d: a request sent after it was answered by the new host %v later; %d requests failed with 502, %d answered",
		pid, restart.Round(time.Millisecond), len(l.failed), l.ok())
	fmt.Printf("supervisor restart time after kill -9: %v\n", restart.Round(time.Millisecond))
	if restart > time.Second {
		t.Errorf("the new host served %v after the kill; want within 1 s", restart)
	}
	if len(l.wrong) > 0 {
		t.Errorf("%d wrong or lost responses, e.g. %q", len(l.wrong), l.wrong[:min(5, len(l.wrong))])
	}
	if len(l.failed) > conns*depth {
		t.Errorf("%d requests failed; want at most the %d in flight at the host", len(l.failed), conns*depth)
	}
	for _, f := range l.failed {
		if f.sent.After(first.got) {
			t.Errorf("a request sent %v after the new host served failed: %s", f.sent.Sub(first.got), f.what)
		}
	}
	if !strings.Contains(s.log.String(), fmt.Sprintf("haywire: host pid %d exited (signal: killed", pid)) {
		t.Errorf("the log does not report the kill:\n%s", s.log.String())
	}
}

// A host that exits at once, 20 times: the restarts back off (doubling to
// the cap), each exit is logged with its status and last stderr line, and
// the engine keeps answering: bridged requests 503 after host_wait_ms,
// its own routes at once.
func TestSupervisedCrashLoopBacksOff(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "haywire.conf")
	os.WriteFile(conf, []byte("[bridge]\nhost_routes = /app/*\nhost_wait_ms = 100\n"), 0o600)
	s := startSupervised(t, `sh -c "echo 'cannot start: no database' >&2; exit 7"`,
		"--config", conf, "--host-restart-min-ms", "10", "--host-restart-max-ms", "320")
	exits := regexp.MustCompile(`haywire: host pid \d+ exited \(exit status 7; ran \S+, never ready\): restarting in (\S+); its last stderr lines:\n    cannot start: no database\n`)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, time.Duration) {
		start := time.Now()
		resp, err := client.Get(s.url(path))
		if err != nil {
			t.Fatalf("GET %s while the host crash-loops: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	for len(exits.FindAllString(s.log.String(), -1)) < 20 {
		if code, d := get("/elsewhere"); code != 404 || d > time.Second {
			t.Fatalf("GET /elsewhere (the engine's own 404) = %d after %v during the crash loop", code, d)
		}
		if code, d := get("/app/x"); code != 503 || d > 2*time.Second {
			t.Fatalf("GET /app/x (bridged, no host) = %d after %v; want 503 after host_wait_ms", code, d)
		}
		if s.cmd.ProcessState != nil {
			t.Fatal("the launcher exited")
		}
	}
	var delays []string
	for _, m := range exits.FindAllStringSubmatch(s.log.String(), 20) {
		delays = append(delays, m[1])
	}
	want := []string{"10ms", "20ms", "40ms", "80ms", "160ms", "320ms", "320ms"}
	if strings.Join(delays[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("restart delays %v; want %v then 320ms", delays, want)
	}
	t.Logf("restart delays: %v", delays)
}

// SIGTERM to the launcher under load: requests in flight complete, then
// the launcher exits 0 with no host process and no region file left.
func TestSupervisedStopDrains(t *testing.T) {
	s := startSupervised(t, filepath.Join(buildDir, "c_host"))
	pid := s.waitReady(t, 1)
	const slow = 8
	codes := make(chan string, slow)
	for i := range slow {
		go func() {
			resp, err := http.Get(s.url("/slow?ms=" + strconv.Itoa(300+50*i)))
			if err != nil {
				codes <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			codes <- fmt.Sprintf("%d %s", resp.StatusCode, body)
		}()
	}
	waitFor(t, "the slow requests to reach the host", func() bool { return getBody(s.url("/holding")) == strconv.Itoa(slow) })
	s.cmd.Process.Signal(syscall.SIGTERM)
	for range slow {
		if got := <-codes; got != "200 slow" {
			t.Errorf("a request in flight at SIGTERM got %q; want 200 slow", got)
		}
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("launcher after SIGTERM: %v; want exit 0", err)
	}
	if !gone(pid) { // its child: reaped before the launcher exits
		t.Errorf("host pid %d still runs after the launcher stopped", pid)
	}
	waitFor(t, "no process left in the host's group", func() bool { return len(inGroup(pid)) == 0 })
	if ents, _ := os.ReadDir(s.dir); len(ents) > 0 {
		t.Errorf("region files left after a clean stop: %v", ents)
	}
}

// A host that ignores SIGTERM is killed after host_stop_timeout_ms, with
// every process it started.
func TestSupervisedStopKillsStubbornHost(t *testing.T) {
	s := startSupervised(t, `sh -c "trap '' TERM; sleep 60 & sleep 60 & wait"`,
		"--host-stop-timeout-ms", "300", "--host-ready-timeout-ms", "60000")
	started := regexp.MustCompile(`haywire: host pid (\d+) started`)
	pid, _ := strconv.Atoi(s.log.waitFor(t, started)[1])
	waitFor(t, "the host's two sleeps", func() bool { return len(inGroup(pid)) == 3 })
	group := inGroup(pid)
	begin := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("launcher after SIGTERM: %v; want exit 0", err)
	}
	took := time.Since(begin)
	// SIGKILL went to the whole group; the kernel finishes them off.
	waitFor(t, fmt.Sprintf("the host's group %v to be gone", group), func() bool {
		return !slices.ContainsFunc(group, func(p int) bool { return !gone(p) })
	})
	if took < 300*time.Millisecond {
		t.Errorf("stopped in %v: before host_stop_timeout_ms (300)", took)
	}
	if !strings.Contains(s.log.String(), fmt.Sprintf("haywire: host pid %d still running 300ms after SIGTERM (stopping): SIGKILL", pid)) {
		t.Errorf("the log does not say the host was killed:\n%s", s.log.String())
	}
}

// kill -9 of the launcher: its hosts see the engine gone (liveness, no
// signal reaches them) and exit within about the liveness bound: c_host,
// and the C# Sample.exe when Mono is there.
func TestSupervisedLauncherKilledHostsExit(t *testing.T) {
	hosts := map[string]string{"c_host": filepath.Join(buildDir, "c_host")}
	sample := filepath.Join(buildDir, "dotnet", "Sample.exe")
	if mono, err := exec.LookPath("mono"); err == nil {
		if _, err := os.Stat(sample); err == nil {
			hosts["Sample.exe"] = mono + " " + sample
		}
	}
	for name, command := range hosts {
		t.Run(name, func(t *testing.T) {
			s := startSupervised(t, command, "--host-timeout-ms", "1000")
			pid := s.waitReady(t, 1)
			resp, err := http.Get(s.url("/"))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET / = %v, %v; want 200", resp, err)
			}
			resp.Body.Close()
			killed := time.Now()
			s.cmd.Process.Kill()
			s.cmd.Wait()
			deadline := killed.Add(5 * time.Second)
			for !gone(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("host pid %d still runs 5 s after kill -9 of its launcher", pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
			took := time.Since(killed)
			t.Logf("%s exited %v after kill -9 of the launcher (liveness bound 1 s)", name, took.Round(time.Millisecond))
			if took > 2*time.Second {
				t.Errorf("%s exited %v after its launcher's kill -9; want within about the 1 s liveness bound", name, took)
			}
		})
	}
}

// testAppEnv names the file a test application host reads at startup
// ("arg": its last argument names it):
// its version ("v3"), or "fail: MESSAGE" for a Startup that throws. It
// stands for an application's DLL: a swap test rewrites it, then sends
// SIGHUP.
const testAppEnv = "HAYWIRE_TESTS_APP"

// runTestApp is the test binary acting as a supervised host: it reads its
// version, attaches to $HAYWIRE_REGION and echoes request bodies with
// X-Version and X-Pid headers until drained (exit 0), SIGTERM (it leaves,
// exit 0) or the engine goes (exit 3).
func runTestApp(file string) int {
	if file == "arg" { // the file is the last argument (rewritten into a shadow copy)
		file = os.Args[len(os.Args)-1]
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		return 1
	}
	version := strings.TrimSpace(string(b))
	if msg, failed := strings.CutPrefix(version, "fail:"); failed {
		fmt.Fprintln(os.Stderr, "app: Startup threw:", strings.TrimSpace(msg))
		return 1
	}
	h, err := host.Attach(os.Getenv("HAYWIRE_REGION"), region.Options{Dir: os.Getenv("HAYWIRE_REGION_DIR"), AttachTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pid := strconv.Itoa(os.Getpid())
	err = h.Serve(ctx, func(v wire.View, w *host.ResponseWriter) {
		w.AddHeader("X-Version", version)
		w.AddHeader("X-Pid", pid)
		w.AddHeader("X-App", file)
		w.Write(v.Body())
	})
	h.Close()
	if errors.Is(err, host.ErrDrained) {
		return 0
	}
	fmt.Fprintln(os.Stderr, "app:", err)
	return 3
}

// startTestApps runs the launcher with test application hosts (version
// "v1") and returns it with the file that stands for the application.
func startTestApps(t *testing.T, extra ...string) (*supervised, string) {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app.version")
	os.WriteFile(app, []byte("v1\n"), 0o600)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startSupervisedEnv(t, []string{testAppEnv + "=" + app}, "'"+self+"' -test.run=^$", extra...), app
}

var servingLine = regexp.MustCompile(`haywire: swap: generation (\d+) serving`)

// --host-processes 2: both hosts serve (each sees requests); kill -9 of
// one: the other carries on, only the killed one's requests in flight
// fail, and it is replaced.
func TestSupervisedTwoProcesses(t *testing.T) {
	s, _ := startTestApps(t, "--host-processes", "2")
	a, b := s.waitReady(t, 1), s.waitReady(t, 2)
	const conns, depth = 16, 4
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(s.port), conns, depth)
	servedBy := func(pid int) int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.perPID[strconv.Itoa(pid)]
	}
	waitFor(t, "both hosts to serve", func() bool { return servedBy(a) >= 500 && servedBy(b) >= 500 })
	killed := time.Now()
	l.setMark(killed)
	syscall.Kill(a, syscall.SIGKILL)
	before := servedBy(b)
	waitFor(t, "the other host to carry on", func() bool { return servedBy(b) >= before+1000 })
	c := s.waitReady(t, 3)
	waitFor(t, "the replacement to serve", func() bool { return servedBy(c) >= 200 })
	l.finish()
	t.Logf("served: %v; %d failed (502) when pid %d was killed", l.perPID, len(l.failed), a)
	if len(l.wrong) > 0 {
		t.Errorf("%d wrong or lost responses, e.g. %q", len(l.wrong), l.wrong[:min(5, len(l.wrong))])
	}
	if len(l.failed) > conns*depth {
		t.Errorf("%d requests failed; want at most the %d that can be in flight", len(l.failed), conns*depth)
	}
	for _, f := range l.failed {
		if f.got.Sub(killed) > 3*time.Second {
			t.Errorf("a request failed %v after the kill: %s", f.got.Sub(killed), f.what)
		}
	}
}

// Under a pipelined load, the application is replaced 4 times (v1 to v5:
// rewrite the file, SIGHUP): no request fails, is lost or gets a wrong
// answer; versions appear in order and a connection never sees an older
// one after a newer.
func TestSupervisedSwapUnderLoad(t *testing.T) {
	s, app := startTestApps(t, "--host-processes", "2")
	s.waitReady(t, 2)
	const conns, depth = 64, 4
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(s.port), conns, depth)
	waitFor(t, "answers from v1", func() bool { return l.ok() >= 1000 })
	for v := 2; v <= 5; v++ {
		os.WriteFile(app, []byte(fmt.Sprintf("v%d\n", v)), 0o600)
		began := time.Now()
		s.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, fmt.Sprintf("generation %d to serve", v), func() bool {
			return len(servingLine.FindAllString(s.log.String(), -1)) >= v-1
		})
		t.Logf("swap to v%d: serving %v after SIGHUP", v, time.Since(began).Round(time.Millisecond))
		before := l.ok()
		waitFor(t, fmt.Sprintf("answers from v%d", v), func() bool { return l.ok() >= before+1000 })
	}
	l.finish()
	t.Logf("%d answered; versions in order: %v; by pid: %v", l.ok(), l.versions, l.perPID)
	if len(l.wrong) > 0 || len(l.failed) > 0 {
		t.Errorf("%d wrong or lost, %d failed (e.g. %q %v)", len(l.wrong), len(l.failed), l.wrong[:min(5, len(l.wrong))], l.failed[:min(5, len(l.failed))])
	}
	if want := []string{"v1", "v2", "v3", "v4", "v5"}; !slices.Equal(l.versions, want) {
		t.Errorf("versions seen %v; want %v", l.versions, want)
	}
	// Each retired host drains and exits by itself.
	waitFor(t, "the 8 hosts of the 4 generations replaced to exit 0", func() bool {
		return strings.Count(s.log.String(), "exited (exit status 0)") == 8
	})
}

// A new version whose Startup throws: the swap fails with the host's own
// error text in the log, the new generation is stopped, and the old one
// answers every request throughout; a good version then swaps in.
func TestSupervisedSwapStartupFails(t *testing.T) {
	s, app := startTestApps(t)
	s.waitReady(t, 1)
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(s.port), 16, 4)
	waitFor(t, "answers from v1", func() bool { return l.ok() >= 500 })
	os.WriteFile(app, []byte("fail: database unreachable\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.log.waitFor(t, regexp.MustCompile(`haywire: swap to generation 2 failed: host pid \d+ exited \(exit status 1\) before it was ready; generation 1 keeps serving; the host's last stderr lines:\n    app: Startup threw: database unreachable\n`))
	before := l.ok()
	waitFor(t, "v1 to keep answering", func() bool { return l.ok() >= before+500 })
	os.WriteFile(app, []byte("v2\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.log.waitFor(t, regexp.MustCompile(`haywire: swap: generation 3 serving`))
	before = l.ok()
	waitFor(t, "v2 to answer", func() bool { return l.ok() >= before+500 })
	l.finish()
	if len(l.wrong) > 0 || len(l.failed) > 0 {
		t.Errorf("%d wrong or lost, %d failed (e.g. %q)", len(l.wrong), len(l.failed), l.wrong[:min(5, len(l.wrong))])
	}
	if !slices.Equal(l.versions, []string{"v1", "v2"}) {
		t.Errorf("versions seen %v; want v1 then v2", l.versions)
	}
}

// --host-watch: a new version written in several writes (as a copy of a
// large DLL is) makes one swap, after the writes, under load; nothing
// fails and no host starts from a half-written file.
func TestSupervisedWatchSwapsOnce(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.version")
	os.WriteFile(app, []byte("v1\n"), 0o600)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := startSupervisedEnv(t, []string{testAppEnv + "=" + app}, "'"+self+"' -test.run=^$",
		"--host-watch", dir, "--host-watch-quiet-ms", "1000") // well above the writes' 50 ms gaps, even on a loaded machine
	s.waitReady(t, 1)
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(s.port), 16, 4)
	waitFor(t, "answers from v1", func() bool { return l.ok() >= 500 })
	for v := 2; v <= 3; v++ {
		f, err := os.Create(app)
		if err != nil {
			t.Fatal(err)
		}
		// Written a byte at a time, 50 ms apart: the watch must wait for
		// the quiet period, not swap at the first write.
		for _, c := range []byte(fmt.Sprintf("v%d\n", v)) {
			f.Write([]byte{c})
			time.Sleep(50 * time.Millisecond)
		}
		f.Close()
		s.log.waitFor(t, regexp.MustCompile(fmt.Sprintf(`haywire: swap: generation %d serving`, v)))
		before := l.ok()
		waitFor(t, fmt.Sprintf("answers from v%d", v), func() bool { return l.ok() >= before+500 })
	}
	l.finish()
	if n := strings.Count(s.log.String(), "haywire: swap: starting generation"); n != 2 {
		t.Errorf("%d swaps for 2 new versions; want 2", n)
	}
	if len(l.wrong) > 0 || len(l.failed) > 0 {
		t.Errorf("%d wrong or lost, %d failed (e.g. %q)", len(l.wrong), len(l.failed), l.wrong[:min(5, len(l.wrong))])
	}
	if !slices.Equal(l.versions, []string{"v1", "v2", "v3"}) {
		t.Errorf("versions seen %v; want v1, v2, v3 (no half-written one)", l.versions)
	}
}

// With --host-watch each generation runs from its own copy of the watched
// directory, the command's path into it rewritten; a generation's copy is
// removed once it has ended, and all of them when the launcher stops.
func TestSupervisedShadowCopy(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.version")
	os.WriteFile(app, []byte("v1\n"), 0o600)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := startSupervisedEnv(t, []string{testAppEnv + "=arg"}, "'"+self+"' -test.run=^$ "+app,
		"--host-watch", dir, "--host-watch-quiet-ms", "100")
	s.waitReady(t, 1)
	loaded := func() (version, file string) {
		resp, err := http.Post(s.url("/"), "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Version"), resp.Header.Get("X-App")
	}
	v, first := loaded()
	if v != "v1" || first == app || !strings.Contains(first, "haywire-shadow-") || filepath.Base(first) != "app.version" {
		t.Fatalf("the host loaded %s from %s; want v1 from a shadow copy, not %s", v, first, app)
	}
	os.WriteFile(app, []byte("v2\n"), 0o600)
	s.log.waitFor(t, regexp.MustCompile(`haywire: swap: generation 2 serving`))
	v, second := loaded()
	if v != "v2" || second == first || filepath.Dir(filepath.Dir(second)) != filepath.Dir(filepath.Dir(first)) {
		t.Fatalf("after the swap the host loaded %s from %s; want v2 from generation 2's copy beside %s", v, second, first)
	}
	waitFor(t, "generation 1's copy to be removed once it ended", func() bool {
		_, err := os.Stat(filepath.Dir(first))
		return os.IsNotExist(err)
	})
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("launcher after SIGTERM: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(second))); !os.IsNotExist(err) {
		t.Errorf("shadow copies left after the launcher stopped: %v", err)
	}
}

// A launcher killed -9 leaves its shadow copies; the next one with
// --host-watch removes them (their launcher's pid no longer runs).
func TestSupervisedStaleShadowCopiesRemoved(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.version")
	os.WriteFile(app, []byte("v1\n"), 0o600)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *supervised {
		return startSupervisedEnv(t, []string{testAppEnv + "=arg"}, "'"+self+"' -test.run=^$ "+app, "--host-watch", dir)
	}
	first := start()
	first.waitReady(t, 1)
	m := first.log.waitFor(t, regexp.MustCompile(`started: \S+ -test.run=\^\$ (\S+)/gen-1/app.version`))
	first.cmd.Process.Kill()
	first.cmd.Wait()
	if _, err := os.Stat(m[1]); err != nil {
		t.Fatalf("the killed launcher's shadow copy %s: %v; want it left behind", m[1], err)
	}
	start().waitReady(t, 1)
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the stale shadow copy %s is still there (%v) after another launcher started", m[1], err)
	}
}

// testAppCS is an OWIN application for Haywire.Host.exe: it echoes the
// request body with X-Version: VERSION, or its Startup throws THROW.
const testAppCS = `using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;

public class Startup
{
    public Func<IDictionary<string, object>, Task> Configuration(IDictionary<string, object> properties)
    {
        if ("THROW" != "")
        {
            throw new InvalidOperationException("THROW");
        }
        return async env =>
        {
            var body = new MemoryStream();
            await ((Stream)env["owin.RequestBody"]).CopyToAsync(body);
            byte[] b = body.ToArray();
            var headers = (IDictionary<string, string[]>)env["owin.ResponseHeaders"];
            headers["X-Version"] = new[] { "VERSION" };
            headers["Content-Length"] = new[] { b.Length.ToString() };
            await ((Stream)env["owin.ResponseBody"]).WriteAsync(b, 0, b.Length);
        };
    }
}
`

// compileTestApp compiles testAppCS as version (or a Startup that
// throws throwText) with mcs and returns the DLL's bytes.
func compileTestApp(t *testing.T, mcs, version, throwText string) []byte {
	t.Helper()
	dir := t.TempDir()
	src := strings.NewReplacer("VERSION", version, "THROW", throwText).Replace(testAppCS)
	os.WriteFile(filepath.Join(dir, "app.cs"), []byte(src), 0o600)
	out, err := exec.Command(mcs, "-nologo", "-target:library", "-out:"+filepath.Join(dir, "MyApp.dll"), filepath.Join(dir, "app.cs")).CombinedOutput()
	if err != nil {
		t.Fatalf("mcs: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "MyApp.dll"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The deploy, with the C# host: under 64 pipelined connections
// the application DLL in the watched directory is overwritten 4 times
// (v1 to v5, each in several writes): no request fails, is lost or gets
// a wrong answer, versions appear in order, never mixed back. Then a
// version whose Startup throws: v5 keeps answering, the exception's text
// is in the launcher's log.
func TestSupervisedDotnetDeploys(t *testing.T) {
	hostExe := filepath.Join(buildDir, "dotnet", "Haywire.Host.exe")
	mono, err := exec.LookPath("mono")
	mcs, merr := exec.LookPath("mcs")
	if _, serr := os.Stat(hostExe); err != nil || merr != nil || serr != nil {
		t.Skip("needs mono, mcs and build/dotnet/Haywire.Host.exe (./build.sh with Mono installed)")
	}
	dlls := map[string][]byte{}
	for v := 1; v <= 5; v++ {
		dlls[fmt.Sprintf("v%d", v)] = compileTestApp(t, mcs, fmt.Sprintf("v%d", v), "")
	}
	broken := compileTestApp(t, mcs, "v6", "database unreachable")
	app := filepath.Join(t.TempDir(), "app")
	os.MkdirAll(app, 0o755)
	dll := filepath.Join(app, "MyApp.dll")
	deploy := func(b []byte) { // as a copy does: truncate, then the bytes in pieces
		f, err := os.Create(dll)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			n := min(len(b), 1024)
			f.Write(b[:n])
			b = b[n:]
		}
		f.Close()
	}
	deploy(dlls["v1"])
	s := startSupervised(t, mono+" "+hostExe+" --app "+dll, "--host-watch", app, "--host-processes", "2")
	s.waitReady(t, 2)
	const conns, depth = 64, 4
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(s.port), conns, depth)
	waitFor(t, "answers from v1", func() bool { return l.ok() >= 1000 })
	for v := 2; v <= 5; v++ {
		began := time.Now()
		deploy(dlls[fmt.Sprintf("v%d", v)])
		waitFor(t, fmt.Sprintf("v%d to serve", v), func() bool {
			return len(servingLine.FindAllString(s.log.String(), -1)) >= v-1
		})
		t.Logf("v%d serving %v after the copy", v, time.Since(began).Round(time.Millisecond))
		before := l.ok()
		waitFor(t, fmt.Sprintf("answers from v%d", v), func() bool { return l.ok() >= before+1000 })
	}
	deploy(broken)
	s.log.waitFor(t, regexp.MustCompile(`haywire: swap to generation \d+ failed: .*; generation \d+ keeps serving(?s:.*)database unreachable`))
	before := l.ok()
	waitFor(t, "v5 to keep answering", func() bool { return l.ok() >= before+1000 })
	l.finish()
	t.Logf("%d answered; versions in order: %v", l.ok(), l.versions)
	if len(l.wrong) > 0 || len(l.failed) > 0 {
		t.Errorf("%d wrong or lost, %d failed (e.g. %q %v)", len(l.wrong), len(l.failed), l.wrong[:min(5, len(l.wrong))], l.failed[:min(5, len(l.failed))])
	}
	if want := []string{"v1", "v2", "v3", "v4", "v5"}; !slices.Equal(l.versions, want) {
		t.Errorf("versions seen %v; want %v", l.versions, want)
	}
	fmt.Printf("C# deploys under load: %d answered, 0 failed, versions %v\n", l.ok(), l.versions)
}
