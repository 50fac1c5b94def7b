//go:build linux

package region

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kill tests: a re-executed peer is killed with SIGKILL at a random point
// after it has attached, 50 times per role (10 under -short). Each time the
// survivor (this process) must declare it dead within the liveness bound
// plus detectionSlack, reclaim every descriptor and chunk, and the next
// peer must carry on at exactly the next sequence number.
//
// The accounting does not take the ring's own words for the truth; it
// compares what ReclaimPeer reports with counts kept apart from them:
//
//   - the survivor counts what it publishes or receives itself, and keeps
//     its own table of which chunk carries which sequence number;
//   - a consumer peer is told (HAYWIRE_SHM_FIRST) the number it must see
//     first, counts what it receives, and gives each chunk back before
//     consuming its slot, so the releases it sent before dying tell how
//     far it got, to within its last batch;
//   - a producer peer records in a witness file of its own (not in the
//     region) the tail it is about to publish and the tail it published,
//     which bracket what it had published when it died;
//   - a last peer stops cleanly after a given count and prints it.

func init() {
	peerRoles["kill-consumer"] = killConsumerMain
	peerRoles["kill-producer"] = killProducerMain
	peerRoles["hang"] = hangMain
}

const (
	envFirst   = "HAYWIRE_SHM_FIRST"   // the first sequence number a kill peer sends or must receive
	envWitness = "HAYWIRE_SHM_WITNESS" // a producer peer's witness file

	// detectionSlack is what the tests allow beyond the liveness bound for
	// scheduling: the monitor ticks every PeerTimeout/10 and a loaded
	// 2-core machine (the race pass runs packages side by side) delays a
	// tick or a process exit by tens of milliseconds, rarely by hundreds.
	detectionSlack = 500 * time.Millisecond

	// killBatch is the most descriptors a kill peer moves per batch, and
	// so the most by which its own record may trail what it did.
	killBatch = 16
	// finalCount is what the last, clean peer of a kill test moves.
	finalCount = 5000
)

// killRounds is the number of peers killed per test and liveness bound.
func killRounds(timeout time.Duration) int {
	n := 50
	if timeout != DefaultPeerTimeout {
		n = 10 // the configurability check; the default bound gets the 50
	}
	if testing.Short() {
		n /= 5
	}
	return n
}

// killTimeouts are the liveness bounds the kill and hang tests run with:
// the default (1 s), and a shorter one showing that the bound follows the
// configuration. timeout 0 means Options' default.
var killTimeouts = []time.Duration{0, 300 * time.Millisecond}

func timeoutName(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	return d.String()
}

func killOptions(dir string, timeout time.Duration) Options {
	return Options{Dir: dir, DataSlots: 256, ChunkSize: 64, Chunks: 128, PeerTimeout: timeout}
}

// checkDetection fails the test if the verdict took longer than the
// liveness bound plus the slack.
func checkDetection(t *testing.T, what string, took, bound time.Duration) {
	t.Helper()
	if took > bound+detectionSlack {
		t.Fatalf("%s declared dead after %v; the bound is %v (+ %v slack)", what, took.Round(time.Millisecond), bound, detectionSlack)
	}
}

func envUint(name string) uint64 {
	v, _ := strconv.ParseUint(os.Getenv(name), 10, 64)
	return v
}

// openPeer attaches as side 1 and announces it on stdout with its epoch:
// "attached epoch=E".
func openPeer() (*Region, int) {
	r, err := Open(os.Getenv(envRegion), Options{Dir: os.Getenv(envDir), AttachTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return nil, 1
	}
	fmt.Printf("attached epoch=%d\n", r.Epoch())
	return r, 0
}

// killConsumerMain receives from HAYWIRE_SHM_FIRST on, in batches of at
// most killBatch: descriptor i must carry stream FIRST+i, counted here,
// not read from the ring. It releases each batch's chunks before it
// consumes the batch's slots. With HAYWIRE_SHM_COUNT > 0 it stops after
// that many, prints "received N next X" and detaches; otherwise it runs
// until killed.
func killConsumerMain() int {
	first, count := envUint(envFirst), envUint(envCount)
	r, code := openPeer()
	if r == nil {
		return code
	}
	rc := r.Receiver()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 5))
	next := first
	for count == 0 || next-first < count {
		want := 1 + rng.IntN(killBatch)
		if count > 0 {
			want = int(min(uint64(want), count-(next-first)))
		}
		m, err := rc.Poll(want)
		if err != nil {
			fmt.Fprintln(os.Stderr, "poll:", err)
			return 3
		}
		for i := range m {
			d, err := rc.Get(i)
			if err != nil {
				fmt.Fprintln(os.Stderr, "get:", err)
				return 3
			}
			if want := next + uint64(i); d.Kind != KindBody || d.Stream != want {
				fmt.Fprintf(os.Stderr, "got %v; want body %d (lost, duplicated or reordered)\n", d, want)
				return 3
			}
			if err := checkPayload(rc.Payload(&d), d.Stream, stressMaxWords, d.Conn); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 3
			}
			if err := rc.Release(&d); err != nil {
				fmt.Fprintln(os.Stderr, "release:", err)
				return 3
			}
		}
		// Releases first, then the slots: the chunks given back always
		// cover what was consumed, and at most one batch more.
		rc.Flush()
		rc.Consume(m)
		next += uint64(m)
		if m == 0 {
			if err := rc.Wait(time.Second, nil); err != nil && !errors.Is(err, ErrTimeout) {
				fmt.Fprintln(os.Stderr, "wait:", err)
				return 4
			}
		}
	}
	fmt.Printf("received %d next %d\n", next-first, next)
	if err := r.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// witness is a producer peer's record of its own progress, in a small file
// of its own mapped shared: intent is the tail it is about to publish,
// done the tail it has published. intent is stored before the tail and
// done after it, so done <= tail <= intent at any instant, and the two
// differ only while a batch is being published.
type witness struct {
	intent, done *atomic.Uint64
}

const witnessSize = 16

func mapWitness(path string) (witness, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return witness{}, err
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, witnessSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return witness{}, err
	}
	return witness{intent: (*atomic.Uint64)(unsafe.Pointer(&b[0])), done: (*atomic.Uint64)(unsafe.Pointer(&b[8]))}, nil
}

// readWitness reads a dead producer's witness file: (done, intent).
func readWitness(t *testing.T, path string) (done, intent uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) != witnessSize {
		t.Fatalf("witness %s: %d bytes, %v", path, len(b), err)
	}
	return binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[0:])
}

// killProducerMain publishes stream FIRST, FIRST+1, ... in batches of at
// most killBatch, recording each batch in its witness file. With
// HAYWIRE_SHM_COUNT > 0 it stops after that many, waits for its chunks,
// prints "sent N next X" and detaches; otherwise it runs until killed.
func killProducerMain() int {
	first, count := envUint(envFirst), envUint(envCount)
	w, err := mapWitness(os.Getenv(envWitness))
	if err != nil {
		fmt.Fprintln(os.Stderr, "witness:", err)
		return 1
	}
	w.intent.Store(first)
	w.done.Store(first)
	r, code := openPeer()
	if r == nil {
		return code
	}
	s := r.Sender()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 6))
	next := first
	for count == 0 || next-first < count {
		if _, err := s.Collect(); err != nil {
			fmt.Fprintln(os.Stderr, "collect:", err)
			return 3
		}
		want := 1 + rng.IntN(killBatch)
		if count > 0 {
			want = int(min(uint64(want), count-(next-first)))
		}
		put, err := sendBatch(s, next, want, func(n int) { w.intent.Store(next + uint64(n)) })
		if err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
			return 3
		}
		if put == 0 {
			if free, _, _ := s.Chunks(); free == 0 {
				err = s.WaitChunks(time.Second, nil)
			} else {
				err = s.WaitSpace(time.Second, nil)
			}
			if err != nil && !errors.Is(err, ErrTimeout) {
				fmt.Fprintln(os.Stderr, "wait:", err)
				return 4
			}
			continue
		}
		next += uint64(put)
		w.done.Store(next)
		if rng.IntN(16) == 0 {
			// Now and then let the survivor catch up, so that deaths
			// find the ring at every depth, not always full.
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		}
	}
	if !eventually(30*time.Second, func() bool { s.Collect(); _, _, lent := s.Chunks(); return lent == 0 }) {
		fmt.Fprintln(os.Stderr, "chunks never came back")
		return 5
	}
	fmt.Printf("sent %d next %d\n", next-first, next)
	if err := r.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// killPeer is a running peer process whose exit is awaited in the
// background, so that the test can keep working while it runs.
type killPeer struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	werr   error // set before exited closes
}

func spawnKillPeer(t *testing.T, r *Region, role string, env ...string) *killPeer {
	t.Helper()
	cmd, out := startPeer(t, r, role, env...)
	p := &killPeer{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { p.werr = cmd.Wait(); close(p.exited) }()
	// Runs before startPeer's cleanup, which then finds the process reaped.
	t.Cleanup(func() { cmd.Process.Kill(); <-p.exited })
	return p
}

func (p *killPeer) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// killedBySIGKILL fails the test unless the peer died of our SIGKILL (and
// not of an error of its own first).
func (p *killPeer) killedBySIGKILL(t *testing.T) {
	t.Helper()
	<-p.exited
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("peer did not die by SIGKILL (%v): it failed on its own:\n%s", p.cmd.ProcessState, p.out)
	}
}

// awaitLine runs step until the peer has printed a line starting with
// prefix, and returns the rest of it.
func (p *killPeer) awaitLine(t *testing.T, prefix string, step func() (bool, error)) string {
	t.Helper()
	var rest string
	found := func() bool {
		lines := strings.Split(p.out.String(), "\n")
		for _, line := range lines[:len(lines)-1] { // complete lines only
			if r, ok := strings.CutPrefix(line, prefix); ok {
				rest = r
				return true
			}
		}
		return false
	}
	work(t, 30*time.Second, "peer printing "+prefix, func() bool { return found() || p.hasExited() }, step)
	if !found() {
		t.Fatalf("peer exited (%v) without printing %q:\n%s", p.werr, prefix, p.out)
	}
	return rest
}

// awaitAttached waits for the peer's "attached epoch=E" and returns E.
func (p *killPeer) awaitAttached(t *testing.T, step func() (bool, error)) uint32 {
	t.Helper()
	e, err := strconv.ParseUint(p.awaitLine(t, "attached epoch=", step), 10, 32)
	if err != nil {
		t.Fatalf("peer's attach line: %v\n%s", err, p.out)
	}
	return uint32(e)
}

// work runs step until cond holds, pausing briefly whenever step made no
// progress, and fails the test after timeout. A nil step only waits.
func work(t *testing.T, timeout time.Duration, what string, cond func() bool, step func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		progress := false
		if step != nil {
			var err error
			if progress, err = step(); err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
		}
		if !progress {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// killAt runs step until a random moment after the peer attached: a random
// delay (half of the rounds), or once moved reports that the peer has
// moved a random number of descriptors, then a short random delay. Then it
// kills the peer and returns the moment of the signal.
func killAt(t *testing.T, p *killPeer, rng *rand.Rand, moved func() uint64, step func() (bool, error)) time.Time {
	t.Helper()
	if rng.IntN(2) == 0 {
		n := 1 + rng.Uint64N(1000)
		work(t, 30*time.Second, fmt.Sprintf("the peer to move %d descriptors", n), func() bool { return moved() >= n || p.hasExited() }, step)
	}
	until := time.Now().Add(time.Duration(rng.IntN(20_000)) * time.Microsecond)
	work(t, time.Minute, "the kill moment", func() bool { return !time.Now().Before(until) || p.hasExited() }, step)
	if p.hasExited() {
		t.Fatalf("peer exited before it was killed (%v):\n%s", p.werr, p.out)
	}
	kill := time.Now()
	p.cmd.Process.Signal(syscall.SIGKILL)
	return kill
}

// consumerSurvivor is the producing side of TestKillConsumer with its own
// accounts: how many it published, which chunk carries which number, and
// the numbers given back, which must come in order, each once.
type consumerSurvivor struct {
	r         *Region
	s         *Sender
	produced  uint64            // descriptors published: stream numbers 0 .. produced-1
	lent      map[uint32]uint64 // chunk offset -> stream number it carries
	released  uint64            // chunks given back by releases
	relNext   uint64            // the stream number the next release must return
	limit     uint64            // stop producing at this number (final round)
	returnErr error
}

func newConsumerSurvivor(r *Region) *consumerSurvivor {
	c := &consumerSurvivor{r: r, s: r.Sender(), lent: map[uint32]uint64{}, limit: ^uint64(0)}
	c.s.OnReturn = func(off uint32) {
		seq, ok := c.lent[off]
		switch {
		case !ok:
			c.returnErr = fmt.Errorf("chunk %d returned but not lent (double return)", off)
		case seq != c.relNext:
			c.returnErr = fmt.Errorf("chunk %d of stream %d returned; want stream %d next", off, seq, c.relNext)
		}
		delete(c.lent, off)
		c.released++
		c.relNext = seq + 1
	}
	return c
}

// step collects releases and publishes a batch; it reports progress.
func (c *consumerSurvivor) step() (bool, error) {
	got, err := c.s.Collect()
	if err == nil {
		err = c.returnErr
	}
	if err != nil {
		return false, err
	}
	k, err := c.s.Reserve(int(min(8, c.limit-c.produced)))
	if err != nil {
		return false, err
	}
	put := 0
	for ; put < k; put++ {
		ch, ok := c.s.Alloc()
		if !ok {
			break
		}
		seq := c.produced + uint64(put)
		b := ch.Buf[:8*payloadWords(seq, stressMaxWords)]
		d := Descriptor{Kind: KindBody, Stream: seq, Conn: fillPayload(b, seq), Offset: ch.Offset, Length: uint32(len(b)), Gen: ch.Gen}
		if err := c.s.Put(put, &d); err != nil {
			return false, err
		}
		c.lent[ch.Offset] = seq
	}
	c.s.Commit(put)
	c.produced += uint64(put)
	return got > 0 || put > 0, nil
}

// collectAll takes every release published so far (Collect takes at most
// a ring's worth per call).
func (c *consumerSurvivor) collectAll(t *testing.T) {
	t.Helper()
	for {
		n, err := c.s.Collect()
		if err == nil {
			err = c.returnErr
		}
		if err != nil {
			t.Fatalf("collect: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// TestKillConsumer kills the consuming peer at random points (50 times
// with the default liveness bound), checks each reclaim against the
// survivor's and the peer's own accounts, then lets a last peer consume
// finalCount descriptors and leave cleanly.
func TestKillConsumer(t *testing.T) {
	for _, timeout := range killTimeouts {
		t.Run(timeoutName(timeout), func(t *testing.T) { testKillConsumer(t, timeout) })
	}
}

func testKillConsumer(t *testing.T, timeout time.Duration) {
	r, err := Create(killOptions(t.TempDir(), timeout))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := newConsumerSurvivor(r)
	chunks := r.Layout().Arenas[0].Geometry.Chunks
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	rounds := killRounds(r.PeerTimeout())
	var consumed, discarded, reclaimedChunks uint64
	var slowest time.Duration
	exact := 0
	for round := range rounds {
		// The ring is empty after the previous reclaim: the peer must see
		// our next number first.
		first := c.produced
		p := spawnKillPeer(t, r, "kill-consumer", envFirst+"="+strconv.FormatUint(first, 10))
		epoch := p.awaitAttached(t, c.step)
		kill := killAt(t, p, rng, func() uint64 { return c.relNext - first }, c.step)
		// Half of the time keep publishing to the dead peer until the
		// verdict (the arena runs dry: the reclaim takes everything
		// back), the other half stop at the kill (it takes back what was
		// in flight).
		stepAfter := c.step
		if rng.IntN(2) == 0 {
			stepAfter = func() (bool, error) { return false, nil }
		}
		work(t, r.PeerTimeout()+10*time.Second, "the verdict", func() bool { return r.Peer().State == PeerDead }, stepAfter)
		detect := time.Since(kill)
		checkDetection(t, fmt.Sprintf("round %d: killed consumer", round), detect, r.PeerTimeout())
		slowest = max(slowest, detect)
		p.killedBySIGKILL(t)

		// The dead peer publishes nothing more: take all its releases.
		c.collectAll(t)
		released := c.relNext - first // it gave back streams first .. relNext-1, in order, each once
		outstanding := len(c.lent)
		res, err := r.ReclaimPeer()
		if err != nil {
			t.Fatalf("round %d: ReclaimPeer = %v", round, err)
		}
		if res.PID != p.cmd.Process.Pid || res.Epoch != epoch {
			t.Fatalf("round %d: reclaimed pid %d epoch %d; the peer was pid %d epoch %d", round, res.PID, res.Epoch, p.cmd.Process.Pid, epoch)
		}
		// The reclaim says the peer consumed what it did not discard.
		published := c.produced - first
		if res.DiscardedOut > published {
			t.Fatalf("round %d: discarded %d of the %d descriptors published to this peer", round, res.DiscardedOut, published)
		}
		took := published - res.DiscardedOut
		// The peer releases a batch before consuming it: took <= released
		// <= took + one batch.
		if took > released || released > took+killBatch {
			t.Fatalf("round %d: the reclaim discarded %d of %d, so the peer consumed %d; it released %d (want within %d above)",
				round, res.DiscardedOut, published, took, released, killBatch)
		}
		if took == released {
			exact++
		}
		// Every chunk not given back by a release is reclaimed, once.
		if res.Chunks != outstanding {
			t.Fatalf("round %d: reclaimed %d chunks; %d were lent and not released", round, res.Chunks, outstanding)
		}
		clear(c.lent)
		if free, held, lent := c.s.Chunks(); free != chunks || held != 0 || lent != 0 {
			t.Fatalf("round %d: chunks after reclaim free %d held %d lent %d; want %d free", round, free, held, lent, chunks)
		}
		if c.s.Position() != c.produced || r.Peer().State != PeerAbsent {
			t.Fatalf("round %d: after reclaim the ring is at %d, we published %d; peer %v", round, c.s.Position(), c.produced, r.Peer())
		}
		c.relNext = c.produced // the next peer releases from here
		consumed += took
		discarded += res.DiscardedOut
		reclaimedChunks += uint64(res.Chunks)
	}

	// A last peer consumes finalCount from the next number and leaves.
	first := c.produced
	c.limit = first + finalCount
	p := spawnKillPeer(t, r, "kill-consumer", envFirst+"="+strconv.FormatUint(first, 10), envCount+"="+strconv.Itoa(finalCount))
	p.awaitAttached(t, c.step)
	report := p.awaitLine(t, "received ", c.step)
	<-p.exited
	if p.werr != nil {
		t.Fatalf("last peer: %v\n%s", p.werr, p.out)
	}
	if want := fmt.Sprintf("%d next %d", finalCount, first+finalCount); report != want {
		t.Fatalf("last peer reports %q; want %q", report, want)
	}
	work(t, 10*time.Second, "the last peer's detach", func() bool { return r.Peer().State == PeerGone }, nil)
	c.collectAll(t)
	res, err := r.ReclaimPeer()
	if err != nil || res.DiscardedOut != 0 || res.Chunks != 0 || len(c.lent) != 0 {
		t.Fatalf("after the last peer: ReclaimPeer = %+v, %v, %d chunks unreturned; want nothing left", res, err, len(c.lent))
	}
	consumed += finalCount
	// Every descriptor lent one chunk, which came back exactly once: by a
	// peer's release (counted from the releases) or by a reclaim
	// (counted by the allocator).
	if c.released+reclaimedChunks != c.produced {
		t.Fatalf("published %d descriptors; chunks released %d + reclaimed %d", c.produced, c.released, reclaimedChunks)
	}
	t.Logf("%d kills: published %d, consumed %d, discarded %d; chunks released %d, reclaimed %d; release count = consumed count in %d rounds; slowest detection %v after SIGKILL (bound %v)",
		rounds, c.produced, consumed, discarded, c.released, reclaimedChunks, exact, slowest.Round(time.Millisecond), r.PeerTimeout())
}

// TestKillProducer kills the producing peer at random points (50 times with
// the default liveness bound). Half of the time the survivor drains what
// the dead peer published, the other half it leaves it to the reclaim;
// either way its count plus the reclaim's must match the peer's witness.
// Each peer numbers its stream from a base of its own, so a descriptor of
// a dead peer surfacing after the reclaim cannot pass for a successor's.
func TestKillProducer(t *testing.T) {
	for _, timeout := range killTimeouts {
		t.Run(timeoutName(timeout), func(t *testing.T) { testKillProducer(t, timeout) })
	}
}

func testKillProducer(t *testing.T, timeout time.Duration) {
	dir := t.TempDir()
	r, err := Create(killOptions(dir, timeout))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc := r.Receiver()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	rounds := killRounds(r.PeerTimeout())
	var next uint64 // the stream number this side must receive next: its own count
	var received, discarded uint64
	step := func() (bool, error) {
		n, err := recvBatch(rc, next)
		next += uint64(n)
		received += uint64(n)
		return n > 0, err
	}
	var slowest time.Duration
	drained, exact := 0, 0
	for round := range rounds + 1 {
		last := round == rounds
		first := uint64(round+1) << 32
		next = first
		wpath := filepath.Join(dir, fmt.Sprintf("witness-%d", round))
		if err := os.WriteFile(wpath, make([]byte, witnessSize), 0o600); err != nil {
			t.Fatal(err)
		}
		env := []string{envFirst + "=" + strconv.FormatUint(first, 10), envWitness + "=" + wpath}
		if last {
			env = append(env, envCount+"="+strconv.Itoa(finalCount))
		}
		p := spawnKillPeer(t, r, "kill-producer", env...)
		epoch := p.awaitAttached(t, step)
		if last {
			// The last peer sends finalCount, waits for its chunks and
			// leaves; we must have received exactly that.
			report := p.awaitLine(t, "sent ", step)
			<-p.exited
			if p.werr != nil {
				t.Fatalf("last peer: %v\n%s", p.werr, p.out)
			}
			if want := fmt.Sprintf("%d next %d", finalCount, first+finalCount); report != want || next != first+finalCount {
				t.Fatalf("last peer reports %q, we received up to %d; want %q", report, next, want)
			}
			work(t, 10*time.Second, "the last peer's detach", func() bool { return r.Peer().State == PeerGone }, step)
			if res, err := r.ReclaimPeer(); err != nil || res.DiscardedIn != 0 || res.Epoch != epoch {
				t.Fatalf("after the last peer: ReclaimPeer = %+v, %v; want nothing discarded, epoch %d", res, err, epoch)
			}
			break
		}
		drain := rng.IntN(2) == 0
		kill := killAt(t, p, rng, func() uint64 { return next - first }, step)
		stepAfter := step
		if !drain {
			stepAfter = nil // leave what it published to the reclaim
		}
		work(t, r.PeerTimeout()+10*time.Second, "the verdict", func() bool { return r.Peer().State == PeerDead }, stepAfter)
		detect := time.Since(kill)
		checkDetection(t, fmt.Sprintf("round %d: killed producer", round), detect, r.PeerTimeout())
		slowest = max(slowest, detect)
		p.killedBySIGKILL(t)
		if drain {
			// Descriptors published before the death are complete and
			// valid: take them all.
			drained++
			for {
				if progress, err := step(); err != nil {
					t.Fatalf("round %d: drain: %v", round, err)
				} else if !progress {
					break
				}
			}
		}
		res, err := r.ReclaimPeer()
		if err != nil {
			t.Fatalf("round %d: ReclaimPeer = %v", round, err)
		}
		if res.PID != p.cmd.Process.Pid || res.Epoch != epoch {
			t.Fatalf("round %d: reclaimed pid %d epoch %d; the peer was pid %d epoch %d", round, res.PID, res.Epoch, p.cmd.Process.Pid, epoch)
		}
		if drain && res.DiscardedIn != 0 {
			t.Fatalf("round %d: discarded %d after draining everything", round, res.DiscardedIn)
		}
		// What we took plus what the reclaim discarded is what the peer
		// published, which its witness brackets.
		done, intent := readWitness(t, wpath)
		if tail := next + res.DiscardedIn; tail < done || tail > intent || intent-done > killBatch {
			t.Fatalf("round %d: received up to %d, discarded %d: the peer published up to %d; its witness says [%d, %d]",
				round, next, res.DiscardedIn, tail, done, intent)
		}
		if done == intent {
			exact++
		}
		discarded += res.DiscardedIn
		if n, err := rc.Poll(1); n != 0 || err != nil {
			t.Fatalf("round %d: after reclaim Poll = %d, %v; want an empty ring", round, n, err)
		}
		if n := r.Counter(CounterStale) + r.Counter(CounterInvalid); n != 0 {
			t.Fatalf("round %d: %d stale or invalid descriptors", round, n)
		}
	}
	t.Logf("%d kills (%d drained): received %d, discarded %d; witness exact in %d rounds; slowest detection %v after SIGKILL (bound %v)",
		rounds, drained, received, discarded, exact, slowest.Round(time.Millisecond), r.PeerTimeout())
}

// hangMain attaches and idles until fenced; it exits 7 once it notices.
func hangMain() int {
	r, code := openPeer()
	if r == nil {
		return code
	}
	for {
		err := r.Receiver().Wait(time.Second, nil)
		if errors.Is(err, ErrFenced) {
			return 7
		}
		if err != nil && !errors.Is(err, ErrTimeout) {
			fmt.Fprintln(os.Stderr, "wait:", err)
			return 4
		}
		r.Receiver().Poll(1)
	}
}

// TestHungPeerDeclaredDead stops a peer (SIGSTOP: its pid stays alive, its
// heartbeat stops) and checks that it is declared dead within the liveness
// bound (the default, 1 s, and a configured 300 ms) and not much before,
// that a survivor asleep in Wait is woken with ErrPeerDead, and that the
// peer, resumed, finds itself fenced.
func TestHungPeerDeclaredDead(t *testing.T) {
	for _, timeout := range killTimeouts {
		t.Run(timeoutName(timeout), func(t *testing.T) { testHungPeer(t, timeout) })
	}
}

func testHungPeer(t *testing.T, timeout time.Duration) {
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 16, ChunkSize: 64, Chunks: 16, PeerTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bound := r.PeerTimeout()
	if timeout == 0 && (bound != DefaultPeerTimeout || DefaultPeerTimeout > time.Second) {
		t.Fatalf("default liveness bound %v; want DefaultPeerTimeout <= 1s", bound)
	} else if timeout != 0 && bound != timeout {
		t.Fatalf("liveness bound %v; configured %v", bound, timeout)
	}
	p := spawnKillPeer(t, r, "hang")
	p.awaitAttached(t, nil)
	work(t, 10*time.Second, "the peer judged alive", func() bool { return r.Peer().State == PeerAlive }, nil)
	woken := make(chan error, 1)
	go func() { woken <- r.Receiver().Wait(bound+time.Minute, nil) }()
	work(t, 10*time.Second, "the survivor asleep", func() bool { return r.recv.inData.sleeping.Load() == 1 }, nil)
	p.cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	var werr error
	select {
	case werr = <-woken:
	case <-time.After(bound + time.Minute):
		t.Fatalf("stopped peer still %v after %v", r.Peer(), time.Since(stopped))
	}
	detect := time.Since(stopped)
	if !errors.Is(werr, ErrPeerDead) || r.Peer().State != PeerDead {
		t.Fatalf("Wait while the peer hangs = %v, peer %v; want %v", werr, r.Peer(), ErrPeerDead)
	}
	checkDetection(t, "stopped peer", detect, bound)
	// The verdict needs bound - beat of silence, and the peer beat about
	// one beat before the signal (later, if its timer ran late): half the
	// bound is a safe floor.
	if detect < bound/2 {
		t.Fatalf("declared dead after %v; the heartbeat bound is %v", detect, bound)
	}
	t.Logf("stopped peer declared dead after %v (bound %v): %s", detect.Round(time.Millisecond), bound, r.Peer().Reason)
	if _, err := r.ReclaimPeer(); err != nil {
		t.Fatalf("ReclaimPeer = %v", err)
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	<-p.exited
	var ee *exec.ExitError
	if !errors.As(p.werr, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("resumed peer exited with %v; want code 7 (fenced)\n%s", p.werr, p.out)
	}
}
