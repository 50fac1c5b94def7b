package region

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func init() {
	peerRoles["hold-chunks"] = holdChunksMain
}

// sendChunks sends n one-chunk payloads from r.
func sendChunks(t *testing.T, r *Region, n int) {
	t.Helper()
	for i := range n {
		if err := r.Sender().SendBytes(Descriptor{Kind: KindBody, Stream: uint64(i + 1)}, []byte("chunk")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReclaimCountsOnlyHeldChunks: releases the survivor has not collected
// yet are chunks the departed peer gave back: ReclaimPeer takes them as
// Collect would (OnReturn included) and counts as reclaimed only those the
// peer still held.
func TestReclaimCountsOnlyHeldChunks(t *testing.T) {
	for _, keep := range []int{0, 2} {
		t.Run(fmt.Sprintf("kept=%d", keep), func(t *testing.T) {
			a, b := newPair(t) // 8 chunks
			returned := 0
			a.Sender().OnReturn = func(uint32) { returned++ }
			sendChunks(t, a, 5)
			rc := b.Receiver()
			n, _ := rc.Poll(16)
			if n != 5 {
				t.Fatalf("received %d descriptors; want 5", n)
			}
			for i := range n - keep {
				d, err := rc.Get(i)
				if err != nil {
					t.Fatal(err)
				}
				rc.Release(&d)
			}
			rc.Consume(n)
			b.Close() // publishes the staged releases, detaches cleanly
			if !eventually(10*time.Second, func() bool { return a.Peer().State == PeerGone }) {
				t.Fatalf("peer = %+v; want gone", a.Peer())
			}
			res, err := a.ReclaimPeer()
			if err != nil {
				t.Fatal(err)
			}
			if res.Chunks != keep || a.Counter(CounterReclaimedChunks) != uint64(keep) || returned != 5-keep {
				t.Fatalf("reclaim: %d chunks, counter %d, %d returned; want %d, %d, %d",
					res.Chunks, a.Counter(CounterReclaimedChunks), returned, keep, keep, 5-keep)
			}
			if free, _, lent := a.Sender().Chunks(); free != 8 || lent != 0 {
				t.Fatalf("after the reclaim: %d free, %d lent; want 8, 0", free, lent)
			}
		})
	}
}

// holdChunksMain receives HAYWIRE_SHM_COUNT descriptors, releases all but
// the first two (publishing the releases), says "holding" and waits to be
// killed.
func holdChunksMain() int {
	r, code := openPeer()
	if r == nil {
		return code
	}
	rc := r.Receiver()
	want, got := int(envUint(envCount)), 0
	for got < want {
		if err := rc.Wait(30*time.Second, nil); err != nil {
			fmt.Fprintln(os.Stderr, "wait:", err)
			return 1
		}
		n, _ := rc.Poll(16)
		for i := range n {
			d, err := rc.Get(i)
			if err != nil {
				fmt.Fprintln(os.Stderr, "get:", err)
				return 1
			}
			if got+i >= 2 {
				rc.Release(&d)
			}
		}
		rc.Consume(n)
		got += n
	}
	rc.Flush()
	fmt.Println("holding")
	time.Sleep(time.Hour) // until killed
	return 0
}

// TestReclaimCountsChunksOfKilledPeer: a peer process killed while it
// holds chunks is blamed for exactly those, not for the ones it had
// released before it died.
func TestReclaimCountsChunksOfKilledPeer(t *testing.T) {
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 16, ChunkSize: 64, Chunks: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := spawnKillPeer(t, r, "hold-chunks", envCount+"=5")
	p.awaitAttached(t, nil)
	sendChunks(t, r, 5)
	work(t, 30*time.Second, "the peer holding", func() bool { return strings.Contains(p.out.String(), "holding\n") || p.hasExited() }, nil)
	p.cmd.Process.Kill()
	p.killedBySIGKILL(t)
	work(t, 30*time.Second, "the peer declared dead", func() bool { return r.Peer().State == PeerDead }, nil)
	res, err := r.ReclaimPeer()
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != 2 || r.Counter(CounterReclaimedChunks) != 2 {
		t.Fatalf("reclaim of a peer killed holding 2 chunks: %d chunks, counter %d; want 2, 2\n%s",
			res.Chunks, r.Counter(CounterReclaimedChunks), p.out)
	}
}
