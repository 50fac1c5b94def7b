package region

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	peerRoles["rejoin-engine"] = rejoinEngineMain
}

// fence makes host declare engine dead, as its monitor does when engine
// stalls past the liveness bound, and waits until engine notices.
func fence(t *testing.T, engine, host *Region) {
	t.Helper()
	host.mu.Lock()
	host.declareDead(engine.own.claim.Load(), "test", time.Now())
	host.mu.Unlock()
	if !eventually(10*time.Second, engine.Fenced) {
		t.Fatal("the fenced side never noticed")
	}
}

// receiveOne waits for one descriptor on r and returns it with a copy of
// its payload, released and consumed.
func receiveOne(t *testing.T, r *Region) (Descriptor, string) {
	t.Helper()
	rc := r.Receiver()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n, err := rc.Poll(1)
		if err != nil {
			t.Fatalf("Poll = %v", err)
		}
		if n == 0 {
			rc.Wait(time.Second, nil)
			continue
		}
		d, err := rc.Get(0)
		if err != nil {
			t.Fatalf("Get = %v", err)
		}
		p := string(rc.Payload(&d))
		rc.Release(&d)
		rc.Consume(1)
		return d, p
	}
	t.Fatal("nothing received in 30 s")
	return Descriptor{}, ""
}

// TestRejoinAfterPeerReclaim: a side fenced by a live peer cannot rejoin
// until the peer reclaims it; then it comes back with a new epoch and a
// free arena, beats again, and what the old incarnation lent is stale.
func TestRejoinAfterPeerReclaim(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 2 * time.Second})
	if res, err := a.Rejoin(); err != nil || res != (Rejoined{}) {
		t.Fatalf("Rejoin of a side that is not fenced = %+v, %v; want nothing", res, err)
	}
	old := a.Epoch()
	if err := a.Sender().SendBytes(Descriptor{Kind: KindRequest, Flags: FlagEnd, Stream: 1}, []byte("old")); err != nil {
		t.Fatal(err)
	}
	rc := b.Receiver()
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("no data")
	}
	held, err := rc.Get(0) // b keeps the chunk across the fencing
	if err != nil {
		t.Fatal(err)
	}
	rc.Consume(1)

	fence(t, a, b)
	if _, err := a.Sender().Reserve(1); !errors.Is(err, ErrFenced) {
		t.Fatalf("Reserve on a fenced side = %v; want %v", err, ErrFenced)
	}
	if _, err := a.Rejoin(); !errors.Is(err, ErrSideBusy) || !strings.Contains(err.Error(), "awaits its reclaim") {
		t.Fatalf("Rejoin before the peer reclaimed us = %v; want %v (awaiting the reclaim)", err, ErrSideBusy)
	}
	if _, err := b.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	res, err := a.Rejoin()
	if err != nil || !res.ByPeer || res.OldEpoch != old || res.Epoch <= old || res.Epoch != a.Epoch() || res.Chunks != 1 {
		t.Fatalf("Rejoin = %+v, %v; want by the peer, epoch %d -> above it, 1 chunk freed", res, err, old)
	}
	if a.Fenced() {
		t.Fatal("still fenced after Rejoin")
	}
	if free, held, lent := a.Sender().Chunks(); free != 8 || held != 0 || lent != 0 {
		t.Fatalf("arena after Rejoin: %d free, %d held, %d lent; want all 8 free", free, held, lent)
	}
	if !eventually(10*time.Second, func() bool { p := b.Peer(); return p.State == PeerAlive && p.Epoch == a.Epoch() }) {
		t.Fatalf("the peer's view after Rejoin: %+v; want alive at epoch %d", b.Peer(), a.Epoch())
	}
	hb := b.Peer().Heartbeat
	if !eventually(10*time.Second, func() bool { return b.Peer().Heartbeat > hb }) {
		t.Fatal("the rejoined side does not beat")
	}

	// The release of the old incarnation's chunk is stale: not a chunk
	// of the new arena.
	stale := a.Counter(CounterStale)
	rc.Release(&held)
	rc.Flush()
	if n, err := a.Sender().Collect(); n != 0 || err != nil || a.Counter(CounterStale) != stale+1 {
		t.Fatalf("Collect of the old incarnation's release = %d, %v, stale +%d; want 0, nil, +1", n, err, a.Counter(CounterStale)-stale)
	}
	// Both directions work at the new epoch.
	if err := a.Sender().SendBytes(Descriptor{Kind: KindRequest, Flags: FlagEnd, Stream: 2}, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if d, p := receiveOne(t, b); d.Epoch != a.Epoch() || p != "new" {
		t.Fatalf("peer received %q at epoch %d; want \"new\" at %d", p, d.Epoch, a.Epoch())
	}
	if err := b.Sender().SendBytes(Descriptor{Kind: KindResponse, Flags: FlagEnd, Stream: 2}, []byte("back")); err != nil {
		t.Fatal(err)
	}
	if d, p := receiveOne(t, a); d.Epoch != b.Epoch() || p != "back" {
		t.Fatalf("rejoined side received %q at epoch %d; want \"back\" at %d", p, d.Epoch, b.Epoch())
	}
}

// leaveUnreclaimed detaches r without reclaiming its peer, as a peer that
// does not follow section 9 (or dies just after detaching) would.
func leaveUnreclaimed(r *Region) {
	r.stopMonitor()
	r.own.claim.Store(claimWord(r.pid, StateDetached))
}

// TestRejoinPeerLeft: a peer that fenced us and left without reclaiming
// us (both sides detached) leaves the repair to us: Rejoin discards what
// we had in flight, the departed peer is reclaimed as usual, and a new
// peer attaches and is served. A peer that leaves with Close reclaims us
// first.
func TestRejoinPeerLeft(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 2 * time.Second})
	for range 2 {
		a.Sender().Send(&Descriptor{Kind: KindNop})
	}
	fence(t, a, b)
	leaveUnreclaimed(b)
	res, err := a.Rejoin()
	if err != nil || res.ByPeer || res.Discarded != 2 || res.Epoch <= res.OldEpoch {
		t.Fatalf("Rejoin with the peer gone = %+v, %v; want by ourselves, 2 discarded, a new epoch", res, err)
	}
	if !eventually(10*time.Second, func() bool { return a.Peer().State == PeerGone }) {
		t.Fatalf("peer = %+v; want gone", a.Peer())
	}
	if _, err := a.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	c, err := Open(a.Name(), Options{Dir: a.opts.Dir})
	if err != nil {
		t.Fatalf("Open after the rejoin = %v", err)
	}
	defer c.Close()
	if err := a.Sender().SendBytes(Descriptor{Kind: KindRequest, Flags: FlagEnd, Stream: 3}, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if d, p := receiveOne(t, c); d.Epoch != a.Epoch() || p != "hello" {
		t.Fatalf("new peer received %q at epoch %d; want \"hello\" at %d", p, d.Epoch, a.Epoch())
	}

	// c fences a and leaves with Close, which reclaims a first: what a
	// sent meanwhile is discarded, and a rejoins a clean, free region.
	a.Sender().Send(&Descriptor{Kind: KindNop})
	fence(t, a, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if st := claimState(a.peer.claim.Load()); st != StateFree {
		t.Fatalf("the peer's side after its Close: %s; want free", stateName(st))
	}
	if res, err := a.Rejoin(); err != nil || !res.ByPeer || res.Discarded != 0 {
		t.Fatalf("Rejoin after the peer's Close = %+v, %v; want by the peer, nothing left to discard", res, err)
	}
	if n, _ := a.Receiver().Poll(1); n != 0 {
		t.Fatalf("%d descriptors left after the reclaim", n)
	}
}

// TestFencedStopsBeating: a fenced side beats no more (the side is not its
// own), publishes nothing, and Close leaves the side to the peer.
func TestFencedStopsBeating(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 2 * time.Second})
	fence(t, a, b)
	hb := a.own.heartbeat.Load()
	// Three distinct values of b's heartbeat seen by a's monitor: at least
	// three ticks of it since the fencing was noticed.
	seen, last := 0, uint64(0)
	if !eventually(30*time.Second, func() bool {
		a.mu.Lock()
		h := a.obs.heartbeat
		a.mu.Unlock()
		if h != last {
			seen, last = seen+1, h
		}
		return seen > 3
	}) {
		t.Fatal("the fenced side's monitor stopped observing")
	}
	if got := a.own.heartbeat.Load(); got != hb {
		t.Fatalf("heartbeat of the fenced side moved from %d to %d", hb, got)
	}
	tail := b.Receiver().in.ProducerPosition()
	if err := a.Sender().SendBytes(Descriptor{Kind: KindRequest, Flags: FlagEnd}, []byte("x")); !errors.Is(err, ErrFenced) {
		t.Fatalf("SendBytes on a fenced side = %v; want %v", err, ErrFenced)
	}
	if got := b.Receiver().in.ProducerPosition(); got != tail {
		t.Fatalf("fenced side published: tail %d -> %d", tail, got)
	}
	fenced := a.own.claim.Load()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.peer.claim.Load(); got != fenced {
		t.Fatalf("Close of a fenced side changed its claim %#x -> %#x; want it left for the peer", fenced, got)
	}
}

// TestFencedNoticedBeforeBeat: a side fenced while its monitor does not
// tick (a process resumed after a stall runs its loops first) fails its
// next Reserve, Poll and Collect with ErrFenced, without touching a ring.
func TestFencedNoticedBeforeBeat(t *testing.T) {
	a, b := newPair(t)
	a.stopMonitor() // no tick will notice
	b.Sender().Send(&Descriptor{Kind: KindNop, Stream: 1})
	b.mu.Lock()
	b.declareDead(a.own.claim.Load(), "test", time.Now())
	b.mu.Unlock()
	if _, err := a.Receiver().Poll(1); !errors.Is(err, ErrFenced) {
		t.Fatalf("Poll on a side fenced before its tick = %v; want %v", err, ErrFenced)
	}
	if _, err := a.Sender().Reserve(1); !errors.Is(err, ErrFenced) {
		t.Fatalf("Reserve on a side fenced before its tick = %v; want %v", err, ErrFenced)
	}
	if _, err := a.Sender().Collect(); !errors.Is(err, ErrFenced) {
		t.Fatalf("Collect on a side fenced before its tick = %v; want %v", err, ErrFenced)
	}
	if !a.Fenced() || a.Receiver().in.Position() != 0 {
		t.Fatalf("fenced %v, ring 1 consumed to %d; want fenced, nothing consumed", a.Fenced(), a.Receiver().in.Position())
	}
}

// rejoinEngineMain is an engine that echoes every payload back and, when
// it finds itself fenced, rejoins: the process TestRejoinAfterSIGSTOP
// stops and resumes.
func rejoinEngineMain() int {
	r, err := Create(Options{Dir: os.Getenv(envDir), DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Second})
	if err != nil {
		fmt.Println("create:", err)
		return 1
	}
	fmt.Printf("region: %s epoch=%d\n", r.Name(), r.Epoch())
	rc, s := r.Receiver(), r.Sender()
	for {
		if r.Fenced() {
			fmt.Println("fenced")
			for {
				res, err := r.Rejoin()
				if err == nil {
					fmt.Printf("rejoined epoch=%d old=%d bypeer=%v\n", res.Epoch, res.OldEpoch, res.ByPeer)
					break
				}
				if !errors.Is(err, ErrSideBusy) {
					fmt.Println("rejoin:", err)
					return 1
				}
				time.Sleep(r.interval) // the host reclaims us, or leaves
			}
		}
		if st := r.Peer().State; st == PeerDead || st == PeerGone {
			r.ReclaimPeer()
		}
		rc.Wait(r.interval, nil)
		n, err := rc.Poll(16)
		if err != nil {
			continue // fenced: handled above
		}
		for i := range n {
			d, err := rc.Get(i)
			if err != nil {
				continue
			}
			p := append([]byte(nil), rc.Payload(&d)...)
			rc.Release(&d)
			s.Collect()
			if err := s.SendBytes(Descriptor{Kind: KindResponse, Flags: FlagEnd, Stream: d.Stream}, p); err != nil {
				fmt.Println("echo:", err)
			}
		}
		rc.Consume(n)
	}
}

// echo sends msg from host and waits for the engine's echo of it; it
// returns the epoch the echo carried.
func echo(t *testing.T, host *Region, msg string) uint32 {
	t.Helper()
	host.Sender().Collect()
	if err := host.Sender().SendBytes(Descriptor{Kind: KindRequest, Flags: FlagEnd, Stream: 9}, []byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
	d, p := receiveOne(t, host)
	if p != msg {
		t.Fatalf("echo of %q = %q", msg, p)
	}
	return d.Epoch
}

// TestRejoinAfterSIGSTOP: an engine process stopped past the liveness bound
// is declared dead by its host; resumed, it finds itself fenced and
// rejoins with a new epoch, whether the host reclaimed its side and stayed
// or left without doing so, and serves the host (or its successor).
func TestRejoinAfterSIGSTOP(t *testing.T) {
	for _, mode := range []string{"reclaim-and-stay", "close", "leave-unreclaimed"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd, out := startPeerAt(t, "-", dir, "rejoin-engine")
			var name string
			var epoch uint64
			if !eventually(30*time.Second, func() bool {
				line, _, ok := strings.Cut(out.String(), "\n")
				n, _ := fmt.Sscanf(line, "region: %s epoch=%d", &name, &epoch)
				return ok && n == 2
			}) {
				t.Fatalf("engine printed no region: %q", out)
			}
			host, err := Open(name, Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { host.Close() }()
			if e := echo(t, host, "before"); e != uint32(epoch) {
				t.Fatalf("echo at epoch %d; want %d", e, epoch)
			}

			cmd.Process.Signal(syscall.SIGSTOP)
			t.Cleanup(func() { cmd.Process.Signal(syscall.SIGCONT) })
			if !eventually(30*time.Second, func() bool { return host.Peer().State == PeerDead }) {
				t.Fatalf("stopped engine not declared dead: %+v", host.Peer())
			}
			switch mode {
			case "reclaim-and-stay":
				if _, err := host.ReclaimPeer(); err != nil {
					t.Fatal(err)
				}
			case "close": // reclaims the engine's side first
				host.Close()
			case "leave-unreclaimed":
				leaveUnreclaimed(host)
			}
			cmd.Process.Signal(syscall.SIGCONT)

			var line string
			if !eventually(30*time.Second, func() bool {
				_, rest, ok := strings.Cut(out.String(), "rejoined ")
				line, _, _ = strings.Cut(rest, "\n")
				return ok && strings.Contains(rest, "\n")
			}) {
				t.Fatalf("engine did not rejoin:\n%s", out)
			}
			var e2, e1 uint64
			var byPeer bool
			if n, err := fmt.Sscanf(line, "epoch=%d old=%d bypeer=%t", &e2, &e1, &byPeer); n != 3 || err != nil ||
				e1 != epoch || e2 <= e1 || byPeer != (mode != "leave-unreclaimed") {
				t.Fatalf("engine said %q; want old=%d, a higher epoch, bypeer=%v\n%s", line, epoch, mode != "leave-unreclaimed", out)
			}
			if mode != "reclaim-and-stay" { // a successor attaches once the departed host is reclaimed
				if host, err = Open(name, Options{Dir: dir, AttachTimeout: 30 * time.Second}); err != nil {
					t.Fatalf("Open after the rejoin: %v\n%s", err, out)
				}
			}
			if e := echo(t, host, "after"); e != uint32(e2) {
				t.Fatalf("echo after the rejoin at epoch %d; want %d", e, e2)
			}
			if !strings.Contains(out.String(), "fenced\n") {
				t.Errorf("engine never said it was fenced:\n%s", out)
			}
		})
	}
}
