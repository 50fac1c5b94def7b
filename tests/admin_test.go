package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// adminLauncher is a supervised launcher with its admin listener on a
// free loopback port (--admin 127.0.0.1:0).
type adminLauncher struct {
	*supervised
	admin string // http://127.0.0.1:PORT
	token string
}

// startAdmin starts build/haywire with c_host supervised and the admin
// listener, and reads the console's address and token off its stdout.
func startAdmin(t *testing.T, extra ...string) *adminLauncher {
	t.Helper()
	s := startSupervised(t, filepath.Join(buildDir, "c_host"), append([]string{"--admin", "127.0.0.1:0"}, extra...)...)
	a := &adminLauncher{supervised: s}
	for a.admin == "" {
		line, err := s.out.ReadString('\n')
		if err != nil {
			t.Fatalf("no admin line on stdout: %v\n%s", err, s.log.String())
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "admin: "); ok {
			u, tok, _ := strings.Cut(rest, "/#token=")
			a.admin, a.token = strings.TrimSuffix(u, "/"), tok
		}
	}
	if a.token == "" {
		t.Fatalf("admin line names no token")
	}
	return a
}

type adminReply struct {
	code int
	body string
	hdr  http.Header
}

// do sends method path to the admin listener with the headers given as
// name, value pairs.
func (a *adminLauncher) do(t *testing.T, method, path string, headers ...string) adminReply {
	t.Helper()
	req, err := http.NewRequest(method, a.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return adminReply{resp.StatusCode, string(b), resp.Header}
}

// adminStatus is the part of /api/status the tests look at.
type adminStatus struct {
	Healthy bool   `json:"healthy"`
	Health  string `json:"health"`
	Engine  struct {
		Requests  uint64            `json:"requests"`
		Responses map[string]uint64 `json:"responses"`
		Latency   map[string]struct {
			Count uint64  `json:"count"`
			P50   float64 `json:"p50_ms"`
			P99   float64 `json:"p99_ms"`
		} `json:"latency"`
	} `json:"engine"`
	Generation int `json:"generation"`
	Hosts      []struct {
		PID        int    `json:"pid"`
		Generation int    `json:"generation"`
		State      string `json:"state"`
		Lane       int    `json:"lane"`
		Restarts   int    `json:"restarts"`
		Published  uint64 `json:"published"`
	} `json:"hosts"`
	Exited []struct {
		PID   int    `json:"pid"`
		State string `json:"state"`
		Exit  string `json:"exit"`
	} `json:"exited"`
	Swaps []struct {
		Reason string `json:"reason"`
		From   int    `json:"from"`
		To     int    `json:"to"`
		OK     bool   `json:"ok"`
	} `json:"swaps"`
	Config []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"config"`
}

func (a *adminLauncher) status(t *testing.T) adminStatus {
	t.Helper()
	r := a.do(t, "GET", "/api/status")
	var st adminStatus
	if r.code != 200 || json.Unmarshal([]byte(r.body), &st) != nil {
		t.Fatalf("GET /api/status: %d %q", r.code, r.body)
	}
	return st
}

// readyHosts returns the pids of the ready hosts of generation gen.
func (st adminStatus) ready(gen int) []int {
	var pids []int
	for _, h := range st.Hosts {
		if h.Generation == gen && h.State == "ready" {
			pids = append(pids, h.PID)
		}
	}
	return pids
}

// Every endpoint through real HTTP against a launcher running c_host:
// the reads, and the errors of the actions (no token 401, wrong 403,
// another method 405, another origin 403, a rebinding Host 403).
func TestAdminEndpointsAndErrors(t *testing.T) {
	a := startAdmin(t)
	waitFor(t, "/healthz 200", func() bool { return a.do(t, "GET", "/healthz").code == 200 })
	for range 20 {
		if b := getBody(a.url("/")); b != "hello world" {
			t.Fatalf("GET / on the public port: %q", b)
		}
	}
	getBody(a.url("/no/such/route/here")) // c_host answers 404

	st := a.status(t)
	if !st.Healthy || st.Generation != 1 || len(st.ready(1)) != 1 || st.Hosts[0].Lane < 0 || st.Hosts[0].Published < 20 {
		t.Errorf("status: %+v", st)
	}
	if st.Engine.Requests < 21 || st.Engine.Responses["2xx"] < 20 || st.Engine.Responses["4xx"] < 1 {
		t.Errorf("engine counters: %+v", st.Engine)
	}
	if l := st.Engine.Latency["bridged"]; l.Count < 21 || l.P50 <= 0 || l.P99 < l.P50 {
		t.Errorf("bridged latency: %+v", l)
	}
	masked := false
	for _, c := range st.Config {
		masked = masked || c.Name == "Admin.Token" && c.Value == "********"
	}
	if r := a.do(t, "GET", "/api/status"); !masked || strings.Contains(r.body, a.token) {
		t.Errorf("the configuration shows the token unmasked (masked entry found: %v)", masked)
	}
	if tok, err := os.ReadFile(filepath.Join(a.dir, a.name+".admin-token")); err != nil || strings.TrimSpace(string(tok)) != a.token {
		t.Errorf("token file: %q, %v", tok, err)
	} else if fi, _ := os.Stat(filepath.Join(a.dir, a.name+".admin-token")); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v; want 0600", fi.Mode().Perm())
	}

	if r := a.do(t, "GET", "/"); r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.body, "haywire") || strings.Contains(r.body, "http://") && strings.Contains(r.body, "<script src=\"http") {
		t.Errorf("GET /: %d %s", r.code, r.hdr.Get("Content-Type"))
	}
	m := a.do(t, "GET", "/metrics")
	for _, want := range []string{"haywire_requests_total ", `haywire_responses_total{class="2xx"}`,
		`haywire_request_duration_seconds_bucket{route="bridged",le="+Inf"}`, "haywire_connections_open ",
		`haywire_hosts{state="ready"} 1`, "haywire_generation 1", `haywire_lane_wakeups_total{lane="0",side="host"}`,
		"haywire_healthy 1", "go_goroutines "} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	checkPromtool(t, m.body)

	auth := "Bearer " + a.token
	for _, c := range []struct {
		method, path string
		headers      []string
		want         int
	}{
		{"POST", "/api/swap", nil, 401},
		{"POST", "/api/swap", []string{"Authorization", "Bearer nope"}, 403},
		{"POST", "/api/swap", []string{"X-Haywire-Token", "nope"}, 403},
		{"POST", "/api/hosts/1/restart", nil, 401},
		{"GET", "/api/swap", []string{"Authorization", auth}, 405},
		{"PUT", "/api/hosts/1/restart", []string{"Authorization", auth}, 405},
		{"POST", "/api/status", nil, 405},
		{"POST", "/healthz", nil, 405},
		{"DELETE", "/metrics", nil, 405},
		{"POST", "/api/swap", []string{"Authorization", auth, "Origin", "http://evil.example"}, 403},
		{"POST", "/api/swap", []string{"Authorization", auth, "Origin", "null"}, 403},
		{"GET", "/api/status", []string{"Host", "evil.example:80"}, 403},
		{"POST", "/api/hosts/abc/restart", []string{"Authorization", auth}, 400},
		{"POST", "/api/hosts/999999999/restart", []string{"Authorization", auth}, 404},
		{"GET", "/nothing", nil, 404},
	} {
		if r := a.do(t, c.method, c.path, c.headers...); r.code != c.want {
			t.Errorf("%s %s %v: %d %q; want %d", c.method, c.path, c.headers, r.code, r.body, c.want)
		}
	}
	if r := a.do(t, "POST", "/api/swap"); r.hdr.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	if st := a.status(t); st.Generation != 1 || len(st.Swaps) != 0 {
		t.Errorf("a refused action acted: %+v", st.Swaps)
	}

	// Restart one host: it is replaced, and shows as dead.
	old := st.Hosts[0].PID
	if r := a.do(t, "POST", "/api/hosts/"+strconv.Itoa(old)+"/restart", "X-Haywire-Token", a.token,
		"Origin", a.admin); r.code != 202 {
		t.Fatalf("restart: %d %q", r.code, r.body)
	}
	waitFor(t, "the restarted host's successor to be ready", func() bool {
		st := a.status(t)
		pids := st.ready(1)
		return len(pids) == 1 && pids[0] != old && st.Hosts[0].Restarts == 1 && len(st.Exited) == 1
	})
	if e := a.status(t).Exited[0]; e.PID != old || e.State != "dead" || e.Exit == "" {
		t.Errorf("exited host: %+v", e)
	}
}

// checkPromtool runs promtool check metrics on a scrape (the Debian
// package prometheus has it; build.sh test installs it, so as root its
// absence is an error).
func checkPromtool(t *testing.T, scrape string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getuid() == 0 {
			t.Error("promtool not installed (Debian package prometheus; ./build.sh test installs it)")
		} else {
			t.Log("promtool not installed (Debian package prometheus): /metrics not checked with it")
		}
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// POST /api/swap under load: a new generation becomes ready and serves,
// the old one drains and exits, no request fails; the timeline says why.
func TestAdminSwapUnderLoad(t *testing.T) {
	a := startAdmin(t, "--host-processes", "2")
	waitFor(t, "2 ready hosts", func() bool { return len(a.status(t).ready(1)) == 2 })
	l := startVerifyingLoad(t, "127.0.0.1:"+strconv.Itoa(a.port), 16, 4)
	waitFor(t, "answers", func() bool { return l.ok() >= 500 })
	if r := a.do(t, "POST", "/api/swap", "Authorization", "Bearer "+a.token); r.code != 202 {
		t.Fatalf("swap: %d %q", r.code, r.body)
	}
	waitFor(t, "generation 2 to serve, generation 1 to be gone", func() bool {
		st := a.status(t)
		return st.Generation == 2 && len(st.ready(2)) == 2 && len(st.Hosts) == 2
	})
	before := l.ok()
	waitFor(t, "answers from generation 2", func() bool { return l.ok() >= before+500 })
	l.finish()
	st := a.status(t)
	if len(st.Swaps) != 1 || st.Swaps[0].Reason != "console" || !st.Swaps[0].OK || st.Swaps[0].From != 1 || st.Swaps[0].To != 2 {
		t.Errorf("swap timeline: %+v", st.Swaps)
	}
	if len(st.Exited) != 2 || st.Exited[0].Exit != "exit status 0" {
		t.Errorf("the old generation's exits: %+v", st.Exited)
	}
	if len(l.wrong) > 0 || len(l.failed) > 0 {
		t.Errorf("%d wrong or lost, %d failed (e.g. %q %v)", len(l.wrong), len(l.failed), l.wrong[:min(5, len(l.wrong))], l.failed[:min(5, len(l.failed))])
	}
	t.Logf("%d answered; by pid %v", l.ok(), l.perPID)
}

// /healthz answers 503 once the launcher stops (while a request in flight
// drains), and while no host is ready.
func TestAdminHealthzFlips(t *testing.T) {
	a := startAdmin(t, "--host-restart-min-ms", "3000", "--host-restart-max-ms", "3000")
	waitFor(t, "/healthz 200", func() bool { return a.do(t, "GET", "/healthz").code == 200 })
	// No host: its restart is 3 s away.
	pid := a.status(t).Hosts[0].PID
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "/healthz 503 with the host dead", func() bool { return a.do(t, "GET", "/healthz").code == 503 })
	waitFor(t, "/healthz 200 with its successor", func() bool { return a.do(t, "GET", "/healthz").code == 200 })

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(a.url("/slow?ms=4000"))
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	waitFor(t, "the slow request to reach the host", func() bool { return getBody(a.url("/holding")) == "1" })
	began := time.Now()
	a.cmd.Process.Signal(syscall.SIGTERM)
	r := a.do(t, "GET", "/healthz")
	for r.code == 200 && time.Since(began) < 3*time.Second {
		r = a.do(t, "GET", "/healthz")
	}
	if r.code != 503 || !strings.Contains(r.body, "stopping") {
		t.Errorf("/healthz while draining: %d %q; want 503 stopping", r.code, r.body)
	}
	if got := <-slow; got != "200 slow" {
		t.Errorf("the request in flight got %q", got)
	}
}

// Off loopback, reads need the token too; the console page itself, which
// holds no data (its script sends the token), does not.
func TestAdminNonLoopbackNeedsTokenForReads(t *testing.T) {
	ip := nonLoopbackIP(t)
	s := startSupervised(t, filepath.Join(buildDir, "c_host"), "--admin", ip+":0", "--admin-token", "t0ken")
	var admin string
	for admin == "" {
		line, err := s.out.ReadString('\n')
		if err != nil {
			t.Fatalf("no admin line: %v", err)
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "admin: "); ok {
			if strings.Contains(rest, "#token=") {
				t.Errorf("a configured token printed: %q", rest)
			}
			admin = strings.TrimSuffix(rest, "/")
		}
	}
	a := &adminLauncher{supervised: s, admin: admin, token: "t0ken"}
	if r := a.do(t, "GET", "/"); r.code != 200 {
		t.Errorf("GET / off loopback: %d", r.code)
	}
	for _, p := range []string{"/api/status", "/metrics", "/healthz"} {
		if r := a.do(t, "GET", p); r.code != 401 {
			t.Errorf("GET %s without the token: %d; want 401", p, r.code)
		}
		if r := a.do(t, "GET", p, "Authorization", "Bearer wrong"); r.code != 403 {
			t.Errorf("GET %s with a wrong token: %d; want 403", p, r.code)
		}
		if r := a.do(t, "GET", p, "X-Haywire-Token", "t0ken"); r.code != 200 && !(p == "/healthz" && r.code == 503) {
			t.Errorf("GET %s with the token: %d %q", p, r.code, r.body)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, s.name+".admin-token")); err == nil {
		t.Error("a configured token was written to a file")
	}
}

// nonLoopbackIP returns an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}

// POST /api/generations/{n}/stop stops a generation that still drains
// after a swap (here its host holds a slow request); the serving one it
// refuses (409).
func TestAdminStopDrainingGeneration(t *testing.T) {
	a := startAdmin(t)
	waitFor(t, "a ready host", func() bool { return len(a.status(t).ready(1)) == 1 })
	old := a.status(t).Hosts[0].PID
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(a.url("/slow?ms=60000"))
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	waitFor(t, "the slow request to reach the host", func() bool { return getBody(a.url("/holding")) == "1" })
	tok := []string{"Authorization", "Bearer " + a.token}
	for _, c := range []struct {
		path string
		want int
	}{{"/api/generations/1/stop", 409}, {"/api/generations/x/stop", 400}, {"/api/generations/7/stop", 404}} {
		if r := a.do(t, "POST", c.path, tok...); r.code != c.want {
			t.Errorf("POST %s: %d %q; want %d", c.path, r.code, r.body, c.want)
		}
	}
	if r := a.do(t, "GET", "/api/generations/1/stop", tok...); r.code != 405 {
		t.Errorf("GET of the stop action: %d; want 405", r.code)
	}
	if r := a.do(t, "POST", "/api/swap", tok...); r.code != 202 {
		t.Fatalf("swap: %d %q", r.code, r.body)
	}
	waitFor(t, "generation 2 serving, generation 1 draining", func() bool {
		st := a.status(t)
		draining := false
		for _, h := range st.Hosts {
			draining = draining || h.PID == old && h.State == "draining"
		}
		return st.Generation == 2 && len(st.ready(2)) == 1 && draining
	})
	if r := a.do(t, "POST", "/api/generations/1/stop", tok...); r.code != 202 {
		t.Fatalf("stop generation 1: %d %q", r.code, r.body)
	}
	waitFor(t, "generation 1's host to exit", func() bool {
		for _, e := range a.status(t).Exited {
			if e.PID == old {
				return true
			}
		}
		return false
	})
	for _, e := range a.status(t).Exited {
		if e.PID == old && e.Exit != "signal: killed" {
			t.Errorf("the stopped host exited with %q; want signal: killed", e.Exit)
		}
	}
	select {
	case got := <-slow:
		t.Logf("the request the stopped generation held: %s", got)
	case <-time.After(30 * time.Second):
		t.Error("the request the stopped host held is still waiting")
	}
	if pids := a.status(t).ready(2); len(pids) != 1 || getBody(a.url("/")) != "hello world" {
		t.Errorf("generation 2 after the stop: %v", pids)
	}
}
