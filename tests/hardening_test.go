package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haywireowin/haywire/region"
)

// startLogged runs build/haywire on 127.0.0.1 with its region in a
// directory of the test's own, like startBridged, and collects what it
// logs on stderr.
func startLogged(t *testing.T, args ...string) (*bridged, *output) {
	t.Helper()
	b := &bridged{dir: t.TempDir(), port: freePort(t)}
	log := &output{}
	b.cmd = exec.Command(filepath.Join(buildDir, "haywire"),
		append([]string{"--address", "127.0.0.1", "--port", strconv.Itoa(b.port), "--region-dir", b.dir}, args...)...)
	out, _ := b.cmd.StdoutPipe()
	b.cmd.Stderr = log
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.cmd.Process.Signal(syscall.SIGCONT) // if a test left it stopped
		b.cmd.Process.Kill()
		b.cmd.Wait()
	})
	first, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "region: haywire-") {
		t.Fatalf("first line = %q, %v; want \"region: haywire-<uuid>\"\n%s", first, err, log)
	}
	b.name = strings.TrimSpace(strings.TrimPrefix(first, "region: "))
	return b, log
}

// engineCounters sums one engine-side counter over the engine's lanes.
func engineCounters(t *testing.T, b *bridged, counter int) uint64 {
	t.Helper()
	var sum uint64
	for k := 0; ; k++ {
		c, err := region.ReadCounters(region.LaneName(b.name, k), b.dir)
		if errors.Is(err, region.ErrNotFound) && k > 0 {
			return sum
		}
		if err != nil {
			t.Fatal(err)
		}
		sum += c.Side[0][counter]
	}
}

// waitUntil polls cond until it holds; the deadline is a generous bound
// (-race, two loaded cores), not a measurement.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEnginePauseRejoins: the engine stopped (SIGSTOP) until its host
// declares it dead and leaves, then resumed (SIGCONT), says it was fenced,
// fails the request in flight with 502, reinitialises the lane and serves
// the next host. Twice, then once more: without the reinitialisation
// both lanes would stay taken and the third host could not attach.
func TestEnginePauseRejoins(t *testing.T) {
	b, log := startLogged(t)
	for cycle := 1; cycle <= 2; cycle++ {
		host := startCHost(t, b)
		waitServed(t, b)
		exited := make(chan error, 1)
		go func() { exited <- host.Wait() }()

		// A request in flight on the host's lane: published once the
		// engine's wake-up of the sleeping host is counted.
		waitUntil(t, "the host asleep", func() bool { return hostSleeping(t, b) })
		wakeups := engineCounters(t, b, region.CounterWakeups)
		code := make(chan int, 1)
		go func() {
			c := http.Client{Timeout: 60 * time.Second}
			resp, err := c.Get(b.url("/slow?ms=60000"))
			if err != nil {
				code <- -1
				return
			}
			resp.Body.Close()
			code <- resp.StatusCode
		}()
		waitUntil(t, "the request published", func() bool { return engineCounters(t, b, region.CounterWakeups) > wakeups })

		b.cmd.Process.Signal(syscall.SIGSTOP)
		select { // the host declares the engine dead and leaves (exit 3)
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("cycle %d: c_host with the engine stopped: %v; want exit 3", cycle, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("cycle %d: c_host still attached 60 s after the engine stopped", cycle)
		}
		b.cmd.Process.Signal(syscall.SIGCONT)

		select {
		case c := <-code:
			if c != 502 {
				t.Fatalf("cycle %d: request in flight across the pause = %d; want 502\n%s", cycle, c, log)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("cycle %d: request in flight never answered\n%s", cycle, log)
		}
		want := regexp.MustCompile(`lane \d: reinitialised with epoch \d+`)
		waitUntil(t, "the engine to reinitialise the lane", func() bool {
			return len(want.FindAllString(log.String(), -1)) == cycle
		})
	}
	startCHost(t, b) // a lane is free: the third host attaches
	waitServed(t, b)
	fenced := regexp.MustCompile(`lane \d: fenced: its host( \(pid \d+\))? declared this engine dead .*; 1 requests failed with 502`)
	if n := len(fenced.FindAllString(log.String(), -1)); n != 2 {
		t.Fatalf("the engine logged %d fencings; want 2:\n%s", n, log)
	}
}

// hostSleeping reports whether some lane's host has gone to sleep on its
// doorbell since its last request: its sleeps counter moves while it is
// idle (a sleep per slice).
func hostSleeping(t *testing.T, b *bridged) bool {
	t.Helper()
	var sleeps [2]uint64
	for i := range sleeps {
		for k := 0; ; k++ {
			c, err := region.ReadCounters(region.LaneName(b.name, k), b.dir)
			if err != nil {
				break
			}
			sleeps[i] += c.Side[1][region.CounterSleeps]
		}
		if i == 0 {
			time.Sleep(20 * time.Millisecond) // sampling: more than a spin, less than a slice
		}
	}
	return sleeps[1] > sleeps[0]
}

// TestReclaimedChunksOnlyForHeldChunks: a host that echoes 200 KB and
// detaches cleanly gave every chunk back; the engine reclaims it without
// counting any (it used to count the releases it had not collected yet).
func TestReclaimedChunksOnlyForHeldChunks(t *testing.T) {
	b, _ := startLogged(t)
	host := startCHost(t, b)
	waitServed(t, b)
	body := make([]byte, 200<<10)
	rand.Read(body)
	resp, err := http.Post(b.url("/echo"), "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("POST /echo of 200 KB = %d, %d bytes back", resp.StatusCode, len(got))
	}
	host.Process.Signal(syscall.SIGTERM)
	if err := host.Wait(); err != nil {
		t.Fatalf("c_host after SIGTERM: %v; want exit 0", err)
	}
	waitUntil(t, "the engine to reclaim the departed host", func() bool {
		return engineCounters(t, b, region.CounterReclaims) == 1
	})
	if n := engineCounters(t, b, region.CounterReclaimedChunks); n != 0 {
		t.Fatalf("reclaimed_chunks = %d after a clean detach; want 0", n)
	}
	out, err := exec.Command(filepath.Join(buildDir, "haywire"), "--stats", "--region", b.name, "--region-dir", b.dir).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^lane 0 engine .* reclaims=1 reclaimed_descs=\d+ reclaimed_chunks=0 `).Match(out) {
		t.Fatalf("haywire --stats: %v\n%s", err, out)
	}
}

// TestGeometryTooSmallRefused: a ring and arena that can never carry the
// largest request are refused at start, naming values that work; those
// values start and carry a 4 KB head.
func TestGeometryTooSmallRefused(t *testing.T) {
	// A launcher that starts instead is killed after a while: a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(buildDir, "haywire"), "--address", "127.0.0.1", "--port", strconv.Itoa(freePort(t)),
		"--region-dir", t.TempDir(), "--chunk-size", "64", "--slots", "64")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	m := regexp.MustCompile(`smallest working values: .*, or chunk size (\d+) at slots 64 and chunks (\d+)`).FindSubmatch(out)
	if !errors.As(err, &ee) || ee.ExitCode() == 0 || m == nil || !strings.Contains(string(out), "can never be sent") {
		t.Fatalf("haywire --chunk-size 64 --slots 64: %v\n%s\nwant a non-zero exit naming the smallest working values", err, out)
	}

	b, log := startLogged(t, "--chunk-size", string(m[1]), "--slots", "64", "--chunks", string(m[2]))
	startCHost(t, b)
	waitServed(t, b)
	req, _ := http.NewRequest("GET", b.url("/"), nil)
	req.Header.Set("X-Big", strings.Repeat("x", 4000))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET with a 4 KB head at chunk size %s, 64 slots = %d; want 200\n%s", m[1], resp.StatusCode, log)
	}
}

// TestCHostEngineKilledMidStream: kill -9 of the engine while c_host
// streams to a client that stopped reading. c_host learns it within the
// liveness bound, exits 3, and on detach reclaims the engine's side,
// counting in its reclaimed_chunks the chunks the engine still held, and
// only those: at most the 8 one streamed response may have lent.
func TestCHostEngineKilledMidStream(t *testing.T) {
	b, _ := startLogged(t)
	host := startCHost(t, b)
	waitServed(t, b)
	nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, "GET /download?bytes=1073741824 HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if n, err := io.CopyN(io.Discard, nc, 1<<20); err != nil { // streaming, then a client that stops reading
		t.Fatalf("read %d bytes of the download: %v", n, err)
	}
	b.cmd.Process.Kill()
	b.cmd.Wait()
	exited := make(chan error, 1)
	go func() { exited <- host.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("c_host after kill -9 of the engine: %v; want exit 3", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("c_host still attached 60 s after the engine was killed")
	}
	c, err := region.ReadCounters(region.LaneName(b.name, 0), b.dir)
	if err != nil {
		t.Fatal(err)
	}
	host1 := c.Side[1]
	t.Logf("host side: peer_deaths=%d reclaims=%d reclaimed_chunks=%d", host1[region.CounterPeerDeaths],
		host1[region.CounterReclaims], host1[region.CounterReclaimedChunks])
	if host1[region.CounterPeerDeaths] != 1 || host1[region.CounterReclaims] != 1 {
		t.Fatalf("host side peer_deaths=%d reclaims=%d; want 1 and 1 (it fenced and reclaimed the engine)",
			host1[region.CounterPeerDeaths], host1[region.CounterReclaims])
	}
	// The response cannot complete (the client stopped reading), so the
	// engine holds chunks of it; at most 8 are lent at once.
	if n := host1[region.CounterReclaimedChunks]; n == 0 || n > 8 {
		t.Fatalf("host side reclaimed_chunks=%d; want 1 to 8, the chunks of the stalled response the engine held", n)
	}
}
