//go:build linux

package region

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Kill tests: a re-executed peer is killed with SIGKILL at random points,
// including during start-up and attach, 50 times per role. Each time the
// survivor (this process) must declare it dead within the liveness bound,
// reclaim every descriptor and chunk with exact accounting, and the next
// peer must carry on at exactly the next sequence number.

func init() {
	peerRoles["kill-consumer"] = killConsumerMain
	peerRoles["kill-producer"] = killProducerMain
	peerRoles["hang"] = hangMain
}

const (
	killRounds = 50
	// killTimeout is the liveness bound for the kill tests: the default.
	// A killed process is found by its pid within two heartbeat periods;
	// a shorter bound would only risk fencing a peer that a loaded
	// machine starves for a few hundred milliseconds.
	killTimeout    = DefaultPeerTimeout
	detectionSlack = 3 * time.Second // scheduling slack on a loaded 2-core machine
)

func killOptions(dir string) Options {
	return Options{Dir: dir, DataSlots: 256, ChunkSize: 64, Chunks: 128, PeerTimeout: killTimeout}
}

func openPeer() (*Region, int) {
	r, err := Open(os.Getenv(envRegion), Options{Dir: os.Getenv(envDir), AttachTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return nil, 1
	}
	return r, 0
}

// killConsumerMain consumes and checks until killed: descriptor i of the
// ring must carry stream i, whatever incarnation of the consumer reads it.
func killConsumerMain() int {
	r, code := openPeer()
	if r == nil {
		return code
	}
	rc := r.Receiver()
	for {
		m, err := rc.Poll(64)
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
			if want := rc.Position() + uint64(i); d.Stream != want {
				fmt.Fprintf(os.Stderr, "got %v at position %d\n", d, want)
				return 3
			}
			if err := checkPayload(rc.Payload(&d), d.Stream, stressMaxWords, d.Conn); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 3
			}
			rc.Release(&d)
		}
		rc.Consume(m)
		if m == 0 {
			if err := rc.Wait(time.Second, nil); err != nil && !errors.Is(err, ErrTimeout) {
				fmt.Fprintln(os.Stderr, "wait:", err)
				return 4
			}
		}
	}
}

// killProducerMain produces stream i at ring position i until killed.
func killProducerMain() int {
	r, code := openPeer()
	if r == nil {
		return code
	}
	s := r.Sender()
	for {
		if _, err := s.Collect(); err != nil {
			fmt.Fprintln(os.Stderr, "collect:", err)
			return 3
		}
		k, err := sendBatch(s, s.Position(), 16)
		if err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
			return 3
		}
		if k == 0 {
			if free, _, _ := s.Chunks(); free == 0 {
				err = s.WaitChunks(time.Second, nil)
			} else {
				err = s.WaitSpace(time.Second, nil)
			}
			if err != nil && !errors.Is(err, ErrTimeout) {
				fmt.Fprintln(os.Stderr, "wait:", err)
				return 4
			}
		}
	}
}

// killRound spawns a peer, keeps working (step) until a random moment,
// kills it, and waits for the verdict, working on only if stepAfter. It
// returns whether the peer had claimed its side and how long the verdict
// took from the moment the process was gone: a SIGKILLed process still has
// to be scheduled to exit, which on a saturated machine takes a while, and
// nobody can tell it is dead before that.
func killRound(t *testing.T, r *Region, role string, rng *rand.Rand, step func() error, stepAfter bool) (attached bool, detect time.Duration) {
	t.Helper()
	cmd, out := startPeer(t, r, role)
	pid := cmd.Process.Pid
	// A third of the rounds kill during start-up or attach; the others
	// after some traffic.
	var until time.Time
	if rng.IntN(3) == 0 {
		until = time.Now().Add(time.Duration(rng.IntN(15)) * time.Millisecond)
	} else {
		if !eventually(30*time.Second, func() bool { step(); return r.Peer().State == PeerAlive }) {
			t.Fatalf("peer never became alive: %v\n%s", r.Peer(), out)
		}
		until = time.Now().Add(time.Duration(rng.IntN(30)) * time.Millisecond)
	}
	for time.Now().Before(until) {
		if err := step(); err != nil {
			t.Fatalf("before kill: %v", err)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// SIGKILL is asynchronous: wait until the process cannot run any more
	// (a zombie) before reading its claim.
	if !eventually(10*time.Second, func() bool { alive, _ := processStatus(pid); return !alive }) {
		t.Fatalf("pid %d survives SIGKILL", pid)
	}
	gone := time.Now()
	if claimPID(r.peer.claim.Load()) == pid {
		attached = true
		for r.Peer().State != PeerDead {
			if time.Since(gone) > killTimeout+detectionSlack {
				t.Fatalf("peer gone %v ago still %v", time.Since(gone), r.Peer())
			}
			if !stepAfter {
				time.Sleep(time.Millisecond)
			} else if err := step(); err != nil {
				t.Fatalf("after kill: %v", err)
			}
		}
		detect = time.Since(gone)
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("peer did not die by SIGKILL (%v): it failed on its own:\n%s", cmd.ProcessState, out)
	}
	return attached, detect
}

// TestKillConsumer kills the consuming peer 50 times.
func TestKillConsumer(t *testing.T) {
	r, err := Create(killOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.Sender()
	ring := s.out // to read the consumer's head as it was at death
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	step := func() error {
		if _, err := s.Collect(); err != nil {
			return err
		}
		_, err := sendBatch(s, s.Position(), 8)
		return err
	}
	var consumed, discarded uint64
	var maxDetect time.Duration
	attaches := 0
	for round := range killRounds {
		start := ring.ConsumerPosition()
		attached, detect := killRound(t, r, "kill-consumer", rng, step, true)
		maxDetect = max(maxDetect, detect)
		if !attached {
			continue
		}
		attaches++
		head, tail := ring.ConsumerPosition(), s.Position()
		_, _, lent := s.Chunks()
		res, err := r.ReclaimPeer()
		if err != nil {
			t.Fatalf("round %d: ReclaimPeer = %v", round, err)
		}
		if res.DiscardedOut != tail-head || res.Chunks != lent {
			t.Fatalf("round %d: reclaimed %d descriptors and %d chunks; want %d (tail %d - head %d) and %d lent",
				round, res.DiscardedOut, res.Chunks, tail-head, tail, head, lent)
		}
		consumed += head - start
		discarded += res.DiscardedOut
		if free, held, lent := s.Chunks(); held != 0 || lent != 0 || free != r.layout.Arenas[0].Geometry.Chunks {
			t.Fatalf("round %d: chunks after reclaim free %d held %d lent %d; want all free", round, free, held, lent)
		}
		if ring.ConsumerPosition() != s.Position() || r.Peer().State != PeerAbsent {
			t.Fatalf("round %d: after reclaim head %d tail %d peer %v", round, ring.ConsumerPosition(), s.Position(), r.Peer())
		}
	}
	// Whatever was published after the last reclaim is still queued.
	if queued := s.Position() - ring.ConsumerPosition(); consumed+discarded+queued != s.Position() {
		t.Fatalf("consumed %d + discarded %d + queued %d != published %d", consumed, discarded, queued, s.Position())
	}
	if attaches < killRounds/3 {
		t.Fatalf("only %d of %d peers attached before being killed", attaches, killRounds)
	}
	t.Logf("%d rounds (%d attached): published %d, consumed %d, discarded %d; slowest detection after exit %v (bound %v)",
		killRounds, attaches, s.Position(), consumed, discarded, maxDetect.Round(time.Millisecond), killTimeout)
}

// TestKillProducer kills the producing peer 50 times.
func TestKillProducer(t *testing.T) {
	r, err := Create(killOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc := r.Receiver()
	ring := rc.in // to read the producer's tail as it was at death
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	step := func() error {
		_, err := recvBatch(rc, rc.Position())
		return err
	}
	var discarded uint64
	var maxDetect time.Duration
	attaches, drained := 0, 0
	for round := range killRounds {
		// Descriptors published before the death are complete and valid:
		// half of the time keep consuming and drain them, the other half
		// stop at the kill and let the reclaim discard them.
		drain := rng.IntN(2) == 0
		attached, detect := killRound(t, r, "kill-producer", rng, step, drain)
		maxDetect = max(maxDetect, detect)
		if !attached {
			continue
		}
		attaches++
		tail := ring.ProducerPosition()
		if drain {
			drained++
			for rc.Position() != tail {
				if err := step(); err != nil {
					t.Fatalf("round %d: drain: %v", round, err)
				}
			}
		}
		head := rc.Position()
		res, err := r.ReclaimPeer()
		if err != nil {
			t.Fatalf("round %d: ReclaimPeer = %v", round, err)
		}
		if res.DiscardedIn != tail-head || rc.Position() != tail {
			t.Fatalf("round %d: discarded %d, at %d; want %d, at %d", round, res.DiscardedIn, rc.Position(), tail-head, tail)
		}
		discarded += res.DiscardedIn
		if n := r.Counter(CounterStale) + r.Counter(CounterInvalid); n != 0 {
			t.Fatalf("round %d: %d stale or invalid descriptors", round, n)
		}
	}
	tail := ring.ProducerPosition()
	if got := rc.Position() - discarded; got+discarded != tail {
		t.Fatalf("consumed %d + discarded %d != published %d", got, discarded, tail)
	}
	if attaches < killRounds/3 {
		t.Fatalf("only %d of %d peers attached before being killed", attaches, killRounds)
	}
	t.Logf("%d rounds (%d attached, %d drained): published %d, consumed %d, discarded %d; slowest detection after exit %v (bound %v)",
		killRounds, attaches, drained, tail, rc.Position()-discarded, discarded, maxDetect.Round(time.Millisecond), killTimeout)
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
// heartbeat stops) and checks that, with the default liveness bound of 1 s,
// it is declared dead within the bound, fenced, and told so once resumed.
func TestHungPeerDeclaredDead(t *testing.T) {
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 16, ChunkSize: 64, Chunks: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.PeerTimeout() != DefaultPeerTimeout || DefaultPeerTimeout > time.Second {
		t.Fatalf("default liveness bound %v; want <= 1s", r.PeerTimeout())
	}
	cmd, out := startPeer(t, r, "hang")
	if !eventually(30*time.Second, func() bool { return r.Peer().State == PeerAlive }) {
		t.Fatalf("peer never became alive: %v\n%s", r.Peer(), out)
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	if !eventually(r.PeerTimeout()+detectionSlack, func() bool { return r.Peer().State == PeerDead }) {
		t.Fatalf("stopped peer still %v after %v", r.Peer(), time.Since(stopped))
	}
	detect := time.Since(stopped)
	if detect < r.PeerTimeout()/2 {
		t.Errorf("declared dead after %v; the heartbeat bound is %v", detect, r.PeerTimeout())
	}
	info := r.Peer()
	t.Logf("stopped peer declared dead after %v: %s", detect.Round(time.Millisecond), info.Reason)
	if _, err := r.ReclaimPeer(); err != nil {
		t.Fatalf("ReclaimPeer = %v", err)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("resumed peer exited with %v; want code 7 (fenced)\n%s", err, out)
	}
}
