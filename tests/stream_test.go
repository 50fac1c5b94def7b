package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Streamed bodies through the bridge with real processes: build/haywire
// and build/c_host (/sum, /download, /echo) with the default region
// sizes (4 KiB chunks, 1024 per arena: a 1 MiB body window per request),
// driven by Go's net/http client. 100 MB each way with checksums, while
// the resident memory of both processes is sampled from /proc.

const streamSize = 100 << 20

// streamClient bounds each exchange (100 MB takes about a second here, a
// few under -race): a stalled stream fails its test instead of hanging.
var streamClient = &http.Client{Timeout: 2 * time.Minute}

// rssBound is how far VmRSS (and VmHWM, the peak) may rise above the idle
// value while 100 MB cross. Measured here: a few MiB at most for both
// processes (the body window, socket buffers and the 64 KiB buffers);
// 64 MiB leaves room for Go's heap to breathe and still fails loudly if a
// body were ever held whole.
const rssBound = 64 << 20

// patternReader yields n bytes of c_host's /download pattern: byte i is
// (i * 131 + 7) & 0xFF.
type patternReader struct{ i, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.i >= p.n {
		return 0, io.EOF
	}
	k := int64(len(b))
	if k > p.n-p.i {
		k = p.n - p.i
	}
	for j := range b[:k] {
		b[j] = byte((p.i+int64(j))*131 + 7)
	}
	p.i += k
	return int(k), nil
}

// memory reads a process's VmRSS and VmHWM from /proc, in bytes.
func memory(t *testing.T, pid int) (rss, hwm int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	return rss, hwm
}

// rssWatch samples the RSS of processes until stopped and keeps the peak
// rise above the first sample.
type rssWatch struct {
	t     *testing.T
	names []string
	pids  []int
	base  []int64
	peak  []int64
	stop  chan struct{}
	done  sync.WaitGroup
}

func watchRSS(t *testing.T, names []string, pids []int) *rssWatch {
	w := &rssWatch{t: t, names: names, pids: pids, base: make([]int64, len(pids)), peak: make([]int64, len(pids)),
		stop: make(chan struct{})}
	for i, pid := range pids {
		w.base[i], _ = memory(t, pid)
		w.peak[i] = w.base[i]
	}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			for i, pid := range w.pids {
				if rss, _ := memory(t, pid); rss > w.peak[i] {
					w.peak[i] = rss
				}
			}
		}
	}()
	return w
}

// check stops sampling and fails if a process rose by more than rssBound;
// it also looks at VmHWM, which catches a peak between two samples.
func (w *rssWatch) check(what string) {
	close(w.stop)
	w.done.Wait()
	for i, pid := range w.pids {
		_, hwm := memory(w.t, pid)
		rise, hwmRise := w.peak[i]-w.base[i], hwm-w.base[i]
		w.t.Logf("%s: %s RSS %d MiB idle, peak +%.1f MiB (VmHWM +%.1f MiB)", what, w.names[i], w.base[i]>>20,
			float64(rise)/(1<<20), float64(hwmRise)/(1<<20))
		if rise > rssBound || hwmRise > rssBound {
			w.t.Errorf("%s: %s grew by %d MiB (VmHWM %d MiB) above its idle RSS; want under %d MiB",
				what, w.names[i], rise>>20, hwmRise>>20, rssBound>>20)
		}
	}
}

// startStreaming starts a launcher that accepts 200 MB bodies and a
// c_host, and returns them once GET / works.
func startStreaming(t *testing.T) (*bridged, *exec.Cmd) {
	t.Helper()
	b := &bridged{dir: t.TempDir(), port: freePort(t)}
	b.cmd, b.name = startLauncher(t, "--address", "127.0.0.1", "--port", strconv.Itoa(b.port), "--region-dir", b.dir,
		"--max-request-size", strconv.Itoa(200<<20))
	host := startCHost(t, b)
	waitServed(t, b)
	return b, host
}

func fnvHex(r io.Reader) (int64, string, error) {
	h := fnv.New64a()
	n, err := io.CopyBuffer(h, r, make([]byte, 256<<10))
	return n, fmt.Sprintf("%016x", h.Sum64()), err
}

func TestStream100MBUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB through the bridge: not with -short")
	}
	b, host := startStreaming(t)
	_, want, _ := fnvHex(&patternReader{n: streamSize})
	w := watchRSS(t, []string{"haywire", "c_host"}, []int{b.cmd.Process.Pid, host.Process.Pid})
	start := time.Now()
	for _, chunked := range []bool{false, true} {
		var body io.Reader = &patternReader{n: streamSize}
		req, _ := http.NewRequest("POST", b.url("/sum"), body)
		if !chunked {
			req.ContentLength = streamSize
		} // else: no length: net/http sends it chunked
		resp, err := streamClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if wantText := fmt.Sprintf("bytes=%d fnv1a64=%s\n", streamSize, want); resp.StatusCode != 200 || string(got) != wantText {
			t.Fatalf("POST /sum of 100 MB (chunked %v) = %d %q; want %q", chunked, resp.StatusCode, got, wantText)
		}
	}
	t.Logf("2 × 100 MB uploaded in %v", time.Since(start))
	w.check("upload")
}

func TestStream100MBDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB through the bridge: not with -short")
	}
	b, host := startStreaming(t)
	_, want, _ := fnvHex(&patternReader{n: streamSize})
	w := watchRSS(t, []string{"haywire", "c_host"}, []int{b.cmd.Process.Pid, host.Process.Pid})
	start := time.Now()
	resp, err := streamClient.Get(b.url("/download?bytes=" + strconv.Itoa(streamSize)))
	if err != nil {
		t.Fatal(err)
	}
	n, got, err := fnvHex(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != streamSize || err != nil || n != streamSize || got != want {
		t.Fatalf("GET /download of 100 MB = %d, Content-Length %d, %d bytes, fnv %s, %v; want 200, %d bytes, fnv %s",
			resp.StatusCode, resp.ContentLength, n, got, err, streamSize, want)
	}
	t.Logf("100 MB downloaded in %v", time.Since(start))
	w.check("download")
}

func TestStream100MBEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB through the bridge: not with -short")
	}
	b, host := startStreaming(t)
	_, want, _ := fnvHex(&patternReader{n: streamSize})
	w := watchRSS(t, []string{"haywire", "c_host"}, []int{b.cmd.Process.Pid, host.Process.Pid})
	start := time.Now()
	req, _ := http.NewRequest("POST", b.url("/echo"), &patternReader{n: streamSize})
	req.ContentLength = streamSize
	req.Header.Set("Content-Type", "application/x-pattern")
	resp, err := streamClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, got, err := fnvHex(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != streamSize || got != want || err != nil ||
		resp.Header.Get("Content-Type") != "application/x-pattern" {
		t.Fatalf("POST /echo of 100 MB = %d, %d bytes back, fnv %s, %v, type %q; want 200, %d bytes, fnv %s",
			resp.StatusCode, n, got, err, resp.Header.Get("Content-Type"), streamSize, want)
	}
	t.Logf("100 MB echoed in %v", time.Since(start))
	w.check("echo")
}

// A client that goes away in the middle of an upload: c_host's read fails
// (it answers what it can), the connection is gone, and c_host serves on.
func TestStreamClientGoneMidUpload(t *testing.T) {
	b, _ := startStreaming(t)
	for _, path := range []string{"/sum", "/echo"} {
		nc, err := dialTCP(b.port)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(nc, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", path, 50<<20)
		chunk := make([]byte, 1<<20)
		rand.Read(chunk)
		for range 4 {
			nc.Write(chunk)
		}
		nc.Close()
	}
	// Still serving, and the next body goes through whole.
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	resp, err := streamClient.Post(b.url("/sum"), "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, want, _ := fnvHex(bytes.NewReader(body))
	if resp.StatusCode != 200 || !strings.Contains(string(got), want) {
		t.Fatalf("POST /sum after two abandoned uploads = %d %q; want the checksum %s", resp.StatusCode, got, want)
	}
}

// Expect: 100-continue through c_host: the interim response comes, then
// the echo of the body.
func TestStreamExpectContinue(t *testing.T) {
	b, _ := startStreaming(t)
	nc, err := dialTCP(b.port)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(nc)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line = %q, %v; want 100 Continue", line, err)
	}
	br.ReadString('\n') // the empty line
	nc.Write([]byte("hello"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != "hello" {
		t.Fatalf("echo after 100 Continue = %d %q; want 200 \"hello\"", resp.StatusCode, got)
	}
}

func dialTCP(port int) (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)) }

// slowReader reads at most 16 KiB per call and pauses before each: a
// client slower than the host, so the host's writes block on the chunks
// the engine still holds and resume as the client drains them.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(b []byte) (int, error) {
	time.Sleep(time.Millisecond) // the client's pace, not an ordering
	return s.r.Read(b[:min(len(b), 16<<10)])
}

// A streamed download to a slow client: every byte arrives in order and
// neither process buffers more than the window, whatever the pace.
func TestStreamSlowClientDownload(t *testing.T) {
	const size = 16 << 20
	b, host := startStreaming(t)
	_, want, _ := fnvHex(&patternReader{n: size})
	w := watchRSS(t, []string{"haywire", "c_host"}, []int{b.cmd.Process.Pid, host.Process.Pid})
	resp, err := streamClient.Get(b.url("/download?bytes=" + strconv.Itoa(size)))
	if err != nil {
		t.Fatal(err)
	}
	n, got, err := fnvHex(slowReader{resp.Body})
	resp.Body.Close()
	if resp.StatusCode != 200 || n != size || got != want || err != nil {
		t.Fatalf("GET /download of 16 MB, read slowly = %d, %d bytes, fnv %s, %v; want 200, %d bytes, fnv %s",
			resp.StatusCode, n, got, err, size, want)
	}
	if resp, err := streamClient.Get(b.url("/")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET / after the slow download = %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	w.check("slow download")
}
