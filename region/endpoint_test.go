package region

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

func TestSendReceiveBatch(t *testing.T) {
	a, b := newPair(t)
	s, rc := a.Sender(), b.Receiver()
	k, err := s.Reserve(5)
	if k != 5 || err != nil {
		t.Fatalf("Reserve(5) = %d, %v", k, err)
	}
	for i := range k {
		c, ok := s.Alloc()
		if !ok {
			t.Fatal("Alloc = false")
		}
		n := copy(c.Buf, strings.Repeat(string(rune('a'+i)), i+1))
		d := Descriptor{Kind: KindBody, Stream: uint64(i), Offset: c.Offset, Length: uint32(n), Gen: c.Gen}
		if err := s.Put(i, &d); err != nil {
			t.Fatalf("Put(%d) = %v", i, err)
		}
		if d.Epoch != a.Epoch() {
			t.Fatalf("Put stamped epoch %d; want %d", d.Epoch, a.Epoch())
		}
	}
	s.Commit(k)
	if free, held, lent := s.Chunks(); free != 3 || held != 0 || lent != 5 {
		t.Fatalf("Chunks = %d/%d/%d; want 3/0/5", free, held, lent)
	}
	n, err := rc.Poll(10)
	if n != 5 || err != nil {
		t.Fatalf("Poll = %d, %v; want 5", n, err)
	}
	var ds []Descriptor
	for i := range n {
		d, err := rc.Get(i)
		if err != nil {
			t.Fatalf("Get(%d) = %v", i, err)
		}
		if got, want := string(rc.Payload(&d)), strings.Repeat(string(rune('a'+i)), i+1); got != want || d.Stream != uint64(i) {
			t.Fatalf("descriptor %d: stream %d payload %q; want %d %q", i, d.Stream, got, i, want)
		}
		ds = append(ds, d)
	}
	rc.Consume(n)
	// Release out of order, across two flushes.
	for _, i := range []int{3, 0} {
		rc.Release(&ds[i])
	}
	rc.Flush()
	if got, err := s.Collect(); got != 2 || err != nil {
		t.Fatalf("Collect = %d, %v; want 2", got, err)
	}
	for _, i := range []int{4, 1, 2} {
		rc.Release(&ds[i])
	}
	rc.Flush()
	if got, err := s.Collect(); got != 3 || err != nil {
		t.Fatalf("Collect = %d, %v; want 3", got, err)
	}
	if free, _, lent := s.Chunks(); free != 8 || lent != 0 {
		t.Fatalf("after releases: free %d lent %d; want 8, 0", free, lent)
	}
}

func TestSendBytes(t *testing.T) {
	a, b := newPair(t) // 16 slots, 8 chunks of 64 bytes
	s, rc := a.Sender(), b.Receiver()
	payload := bytes.Repeat([]byte("0123456789"), 20) // 200 bytes: 4 chunks
	if err := s.SendBytes(Descriptor{Kind: KindResponse, Flags: FlagEnd, Stream: 42, Conn: 7}, payload); err != nil {
		t.Fatal(err)
	}
	n, _ := rc.Poll(16)
	if n != 4 {
		t.Fatalf("Poll = %d; want 4 parts", n)
	}
	var got []byte
	for i := range n {
		d, err := rc.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		wantFlags := FlagMore
		if i == 3 {
			wantFlags = FlagEnd
		}
		if d.Flags != wantFlags || d.Stream != 42 || d.Conn != 7 || d.Kind != KindResponse {
			t.Fatalf("part %d = %v; want flags %#x", i, d, wantFlags)
		}
		got = append(got, rc.Payload(&d)...)
		rc.Release(&d)
	}
	rc.Consume(n)
	if !bytes.Equal(got, payload) {
		t.Fatalf("reassembled %q; want %q", got, payload)
	}
	// Empty payload: one descriptor without chunk.
	if err := s.SendBytes(Descriptor{Kind: KindEnd, Stream: 42}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SendBytes(Descriptor{Kind: KindBody}, nil); !errors.Is(err, ErrDescriptor) {
		t.Fatalf("SendBytes(body, empty) = %v; want %v", err, ErrDescriptor)
	}
	if err := s.SendBytes(Descriptor{Kind: KindEnd}, []byte("x")); !errors.Is(err, ErrDescriptor) {
		t.Fatalf("SendBytes(end, payload) = %v; want %v", err, ErrDescriptor)
	}
	// All or nothing: 9 chunks needed, 8 exist (4 come back via Collect).
	pos := s.Position()
	if err := s.SendBytes(Descriptor{Kind: KindBody}, make([]byte, 9*64)); !errors.Is(err, ErrArenaFull) {
		t.Fatalf("SendBytes(9 chunks) = %v; want %v", err, ErrArenaFull)
	}
	if free, held, _ := s.Chunks(); s.Position() != pos || free != 8 || held != 0 {
		t.Fatalf("failed SendBytes left position %d (want %d), free %d held %d", s.Position(), pos, free, held)
	}
	if err := s.SendBytes(Descriptor{Kind: KindBody}, make([]byte, 17*64)); !errors.Is(err, ErrRingFull) {
		t.Fatalf("SendBytes(more parts than slots) = %v; want %v", err, ErrRingFull)
	}
	// Fill the ring with empty descriptors, then a payload send must fail whole.
	for ok := true; ok; {
		ok, _ = s.Send(&Descriptor{Kind: KindNop})
	}
	if err := s.SendBytes(Descriptor{Kind: KindBody}, make([]byte, 10)); !errors.Is(err, ErrRingFull) {
		t.Fatalf("SendBytes on a full ring = %v; want %v", err, ErrRingFull)
	}
	if _, held, _ := s.Chunks(); held != 0 {
		t.Fatalf("failed SendBytes holds %d chunks", held)
	}
	if a.Counter(CounterRingFull) == 0 || a.Counter(CounterArenaFull) == 0 {
		t.Errorf("counters ring full %d, arena full %d; want both > 0", a.Counter(CounterRingFull), a.Counter(CounterArenaFull))
	}
}

func TestPutRejects(t *testing.T) {
	a, _ := newPair(t)
	s := a.Sender()
	c, _ := s.Alloc()
	tests := []struct {
		name string
		d    Descriptor
		want error
	}{
		{"invalid", Descriptor{Kind: KindBody}, ErrDescriptor},
		{"release", Descriptor{Kind: KindRelease, Offset: c.Offset, Gen: c.Gen}, ErrDescriptor},
		{"outside arena", Descriptor{Kind: KindBody, Offset: 8 * 64, Length: 1, Gen: 1}, ErrDescriptor},
		{"not held", Descriptor{Kind: KindBody, Offset: 64, Length: 1, Gen: 1}, arena.ErrNotHeld},
		{"wrong generation", Descriptor{Kind: KindBody, Offset: c.Offset, Length: 1, Gen: c.Gen + 1}, arena.ErrNotHeld},
	}
	for _, tt := range tests {
		s.Reserve(1)
		if err := s.Put(0, &tt.d); !errors.Is(err, tt.want) {
			t.Errorf("%s: Put = %v; want %v", tt.name, err, tt.want)
		}
	}
}

// rawSend writes descriptors into r's data ring without validation, the
// way a faulty peer could.
func rawSend(t *testing.T, r *Region, ds ...Descriptor) {
	t.Helper()
	k, _ := r.send.out.Reserve(len(ds))
	if k != len(ds) {
		t.Fatalf("raw reserve %d of %d", k, len(ds))
	}
	for i := range ds {
		ds[i].Encode(r.send.out.Slot(i))
	}
	r.send.out.Commit(k)
}

// rawRelease writes release descriptors into r's outbound release ring.
func rawRelease(t *testing.T, r *Region, ds ...Descriptor) {
	t.Helper()
	k, _ := r.recv.relOut.Reserve(len(ds))
	for i := range k {
		ds[i].Encode(r.recv.relOut.Slot(i))
	}
	r.recv.relOut.Commit(k)
}

// TestReceiverRejects: everything a faulty sender can put in a slot is
// refused by Get with an error, counted, and never turned into a slice.
func TestReceiverRejects(t *testing.T) {
	a, b := newPair(t)
	e := a.Epoch()
	arenaLen := uint32(b.Receiver().ArenaGeometry().Length())
	tests := []struct {
		name  string
		d     Descriptor
		want  error
		inMsg string
	}{
		{"zeroed slot", Descriptor{}, ErrDescriptor, "unknown kind 0"},
		{"unknown kind", Descriptor{Kind: 42, Epoch: e}, ErrDescriptor, "unknown kind 42"},
		{"epoch zero", Descriptor{Kind: KindEnd}, ErrDescriptor, "epoch 0"},
		{"release on data ring", Descriptor{Kind: KindRelease, Epoch: e, Gen: 1}, ErrDescriptor, "release on a data ring"},
		{"offset beyond arena", Descriptor{Kind: KindBody, Epoch: e, Offset: arenaLen, Length: 1, Gen: 1}, ErrDescriptor, "beyond arena"},
		{"huge offset", Descriptor{Kind: KindBody, Epoch: e, Offset: 0xffffff00, Length: 0xff, Gen: 1}, ErrDescriptor, "beyond arena"},
		{"crosses chunk", Descriptor{Kind: KindBody, Epoch: e, Offset: 60, Length: 5, Gen: 1}, ErrDescriptor, "cross"},
		{"longer than chunk", Descriptor{Kind: KindBody, Epoch: e, Offset: 0, Length: 1 << 31, Gen: 1}, ErrDescriptor, "cross"},
		{"unknown epoch", Descriptor{Kind: KindEnd, Epoch: e + 100}, ErrStale, "epoch"},
	}
	rc := b.Receiver()
	for _, tt := range tests {
		rawSend(t, a, tt.d, Descriptor{Kind: KindNop, Epoch: e})
		n, err := rc.Poll(2)
		if n != 2 || err != nil {
			t.Fatalf("%s: Poll = %d, %v", tt.name, n, err)
		}
		_, err = rc.Get(0)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: Get = %v; want %v mentioning %q", tt.name, err, tt.want, tt.inMsg)
		}
		if d, err := rc.Get(1); err != nil || d.Kind != KindNop {
			t.Errorf("%s: the valid descriptor after it: %v, %v", tt.name, d, err)
		}
		rc.Consume(n)
	}
	if got := b.Counter(CounterInvalid); got != uint64(len(tests)-1) {
		t.Errorf("CounterInvalid = %d; want %d", got, len(tests)-1)
	}
	if got := b.Counter(CounterStale); got != 1 {
		t.Errorf("CounterStale = %d; want 1", got)
	}
	// A corrupt tail is reported by Poll, not read through.
	a.send.out.Reserve(1)
	b.recv.in.Available(1)
	u64(a.mem, int(a.layout.Rings[RingData0].Offset)+ringbuf.TailOffset).Store(1 << 40)
	if _, err := rc.Poll(1); err == nil || !strings.Contains(err.Error(), "corrupt index") {
		t.Errorf("Poll with a corrupt tail = %v; want a corrupt index error", err)
	}
}

// TestCollectRejects: releases that do not name a lent chunk of ours are
// refused, counted, and do not free anything.
func TestCollectRejects(t *testing.T) {
	a, b := newPair(t)
	s := a.Sender()
	c, _ := s.Alloc()
	s.Send(&Descriptor{Kind: KindBody, Offset: c.Offset, Length: 10, Gen: c.Gen})
	held, _ := s.Alloc()
	e := a.Epoch()
	rel := func(off, gen uint32) Descriptor {
		return Descriptor{Kind: KindRelease, Epoch: e, Offset: off, Gen: gen}
	}
	tests := []struct {
		name  string
		d     Descriptor
		stale bool
	}{
		{"wrong generation", rel(c.Offset, c.Gen+1), false},
		{"not chunk-aligned", rel(c.Offset+1, c.Gen), false},
		{"outside the arena", rel(8*64, 1), false},
		{"held, not lent", rel(held.Offset, held.Gen), false},
		{"malformed", Descriptor{Kind: KindRelease, Epoch: e, Offset: c.Offset}, false},
		{"data on a release ring", Descriptor{Kind: KindEnd, Epoch: e}, false},
		{"other epoch", Descriptor{Kind: KindRelease, Epoch: e + 5, Offset: c.Offset, Gen: c.Gen}, true},
	}
	for _, tt := range tests {
		invalid, stale := a.Counter(CounterInvalid), a.Counter(CounterStale)
		rawRelease(t, b, tt.d)
		n, err := s.Collect()
		if n != 0 || (err == nil) != tt.stale {
			t.Errorf("%s: Collect = %d, %v", tt.name, n, err)
		}
		if tt.stale && a.Counter(CounterStale) != stale+1 || !tt.stale && a.Counter(CounterInvalid) != invalid+1 {
			t.Errorf("%s: counters invalid %d->%d stale %d->%d", tt.name, invalid, a.Counter(CounterInvalid), stale, a.Counter(CounterStale))
		}
	}
	if _, _, lent := s.Chunks(); lent != 1 {
		t.Fatalf("lent = %d; want the chunk still lent", lent)
	}
	rawRelease(t, b, rel(c.Offset, c.Gen), rel(c.Offset, c.Gen))
	n, err := s.Collect()
	if n != 1 || err == nil {
		t.Fatalf("Collect(valid, duplicate) = %d, %v; want 1 and an error for the duplicate", n, err)
	}
}

func TestWait(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Second, Spin: -1})
	rc := b.Receiver()
	if err := rc.Wait(10*time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Wait on an empty ring = %v; want %v", err, ErrTimeout)
	}
	stop := make(chan struct{})
	close(stop)
	if err := rc.Wait(time.Second, stop); !errors.Is(err, ErrStopped) {
		t.Fatalf("Wait with stop closed = %v; want %v", err, ErrStopped)
	}

	// A sleeper is woken by a publish, and the publisher pays one wake-up.
	done := make(chan error, 1)
	go func() { done <- rc.Wait(30*time.Second, nil) }()
	bell := b.recv.inData
	if !eventually(10*time.Second, func() bool { return bell.sleeping.Load() == 1 }) {
		t.Fatal("receiver never went to sleep")
	}
	wakeups := a.Counter(CounterWakeups)
	a.Sender().Send(&Descriptor{Kind: KindNop})
	if err := <-done; err != nil {
		t.Fatalf("Wait woken by a send = %v", err)
	}
	if got := a.Counter(CounterWakeups) - wakeups; got != 1 {
		t.Errorf("wake-ups for one sleeping receiver = %d; want 1", got)
	}
	// Without a sleeper, sends make no syscall.
	wakeups = a.Counter(CounterWakeups)
	for range 5 {
		a.Sender().Send(&Descriptor{Kind: KindNop})
	}
	if got := a.Counter(CounterWakeups) - wakeups; got != 0 {
		t.Errorf("wake-ups with nobody asleep = %d; want 0", got)
	}
	if err := rc.Wait(time.Second, nil); err != nil {
		t.Fatalf("Wait with data = %v", err)
	}
	// Poll returns what the cached tail covers; loop to drain.
	for n, _ := rc.Poll(16); n > 0; n, _ = rc.Poll(16) {
		rc.Consume(n)
	}

	// Stop plus Wake interrupts a long sleep at once.
	stop = make(chan struct{})
	go func() { done <- rc.Wait(time.Minute, stop) }()
	eventually(10*time.Second, func() bool { return bell.sleeping.Load() == 1 })
	close(stop)
	b.Wake()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("interrupted Wait = %v; want %v", err, ErrStopped)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wake did not interrupt the wait")
	}
}

func TestWaitSpaceAndChunks(t *testing.T) {
	a, b := newPair(t) // 16 slots, 8 chunks
	s, rc := a.Sender(), b.Receiver()
	for ok := true; ok; {
		ok, _ = s.Send(&Descriptor{Kind: KindNop})
	}
	if err := s.WaitSpace(10*time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitSpace on a full ring = %v; want %v", err, ErrTimeout)
	}
	n, _ := rc.Poll(16)
	rc.Consume(n)
	if err := s.WaitSpace(time.Second, nil); err != nil {
		t.Fatalf("WaitSpace after consume = %v", err)
	}
	var out []Descriptor
	for {
		c, ok := s.Alloc()
		if !ok {
			break
		}
		d := Descriptor{Kind: KindBody, Offset: c.Offset, Length: 1, Gen: c.Gen}
		s.Send(&d)
		out = append(out, d)
	}
	if err := s.WaitChunks(10*time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitChunks with all lent = %v; want %v", err, ErrTimeout)
	}
	n, _ = rc.Poll(16)
	d, _ := rc.Get(0)
	rc.Release(&d)
	rc.Consume(n)
	if err := s.WaitChunks(time.Second, nil); err != nil {
		t.Fatalf("WaitChunks after a release = %v", err)
	}
	if got, _ := s.Collect(); got != 1 {
		t.Fatalf("Collect = %d; want 1", got)
	}
}

// TestPeerGone: after the peer detaches, data it sent is still delivered,
// then Wait reports it gone; ReclaimPeer frees the side for a successor.
func TestPeerGone(t *testing.T) {
	a, b := newPair(t)
	if _, err := a.ReclaimPeer(); !errors.Is(err, ErrPeerAlive) {
		t.Fatalf("ReclaimPeer with the peer alive = %v; want %v", err, ErrPeerAlive)
	}
	b.Sender().Send(&Descriptor{Kind: KindNop})
	b.Sender().Send(&Descriptor{Kind: KindNop})
	b.Close()
	rc := a.Receiver()
	if err := rc.Wait(time.Second, nil); err != nil {
		t.Fatalf("Wait with data from a departed peer = %v", err)
	}
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("no data")
	}
	if _, err := rc.Get(0); err != nil {
		t.Fatalf("Get from a departed peer = %v", err)
	}
	rc.Consume(1)
	if !eventually(10*time.Second, func() bool { return a.Peer().State == PeerGone }) {
		t.Fatalf("peer = %v; want gone", a.Peer())
	}
	res, err := a.ReclaimPeer()
	if err != nil || res.DiscardedIn != 1 || res.Epoch != b.Epoch() {
		t.Fatalf("ReclaimPeer = %+v, %v; want 1 descriptor of epoch %d discarded", res, err, b.Epoch())
	}
	if res, err := a.ReclaimPeer(); err != nil || res != (Reclaimed{}) {
		t.Fatalf("second ReclaimPeer = %+v, %v; want nothing", res, err)
	}
	c, err := Open(a.Name(), Options{Dir: a.opts.Dir})
	if err != nil {
		t.Fatalf("Open after reclaim = %v", err)
	}
	defer c.Close()
	if c.Epoch() <= b.Epoch() {
		t.Fatalf("successor epoch %d; want above %d", c.Epoch(), b.Epoch())
	}
}

// TestStaleZombie: a peer declared dead keeps sending (it has not noticed
// yet); after the reclaim its descriptors are refused as stale, and a
// successor's are accepted.
func TestStaleZombie(t *testing.T) {
	a, b := newPair(t)
	b.stopMonitor() // b never notices it was fenced
	b.Sender().Send(&Descriptor{Kind: KindNop, Stream: 1})
	a.mu.Lock()
	a.declareDead(b.own.claim.Load(), "test", time.Now())
	a.mu.Unlock()
	if a.Peer().State != PeerDead {
		t.Fatalf("peer = %v; want dead", a.Peer())
	}
	rc := a.Receiver()
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("no data")
	}
	if d, err := rc.Get(0); err != nil || d.Stream != 1 {
		t.Fatalf("Get of a descriptor sent before the death = %v, %v", d, err)
	}
	rc.Consume(1)
	if _, err := a.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	// The zombie speaks: a process that has not noticed (a Go one checks
	// its claim before each send, so write the ring as a foreign one).
	rawSend(t, b, Descriptor{Kind: KindNop, Stream: 2, Epoch: b.Epoch()})
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("no data from the zombie")
	}
	if _, err := rc.Get(0); !errors.Is(err, ErrStale) {
		t.Fatalf("Get of the zombie's descriptor = %v; want %v", err, ErrStale)
	}
	rc.Consume(1)
	c, err := Open(a.Name(), Options{Dir: a.opts.Dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Sender().Send(&Descriptor{Kind: KindNop, Stream: 3})
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("no data from the successor")
	}
	if d, err := rc.Get(0); err != nil || d.Epoch != c.Epoch() {
		t.Fatalf("Get of the successor's descriptor = %v, %v", d, err)
	}
	if a.Counter(CounterStale) != 1 || a.Counter(CounterPeerDeaths) != 1 {
		t.Errorf("counters stale %d deaths %d; want 1, 1", a.Counter(CounterStale), a.Counter(CounterPeerDeaths))
	}
}

// TestFenced: the side declared dead finds out and every call fails.
func TestFenced(t *testing.T) {
	// The fencing is done by hand: a long bound, so that neither side
	// can be declared dead by a stall of the test (-race, loaded CPUs).
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 2 * time.Second})
	a.mu.Lock()
	a.declareDead(b.own.claim.Load(), "test", time.Now())
	a.mu.Unlock()
	if err := b.Receiver().Wait(10*time.Second, nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("Wait on a fenced side = %v; want %v", err, ErrFenced)
	}
	if _, err := b.Sender().Reserve(1); !errors.Is(err, ErrFenced) {
		t.Errorf("Reserve on a fenced side = %v; want %v", err, ErrFenced)
	}
	if _, err := b.Receiver().Poll(1); !errors.Is(err, ErrFenced) {
		t.Errorf("Poll on a fenced side = %v; want %v", err, ErrFenced)
	}
	if _, err := b.Sender().Collect(); !errors.Is(err, ErrFenced) {
		t.Errorf("Collect on a fenced side = %v; want %v", err, ErrFenced)
	}
}

// TestCloseAlone: a side that leaves while the other side is free resets
// its own rings and frees its side, since nobody will reclaim it.
func TestCloseAlone(t *testing.T) {
	a, b := newPair(t)
	b.mu.Lock()
	b.declareDead(a.own.claim.Load(), "test", time.Now())
	b.mu.Unlock()
	if _, err := b.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	b.Sender().Send(&Descriptor{Kind: KindNop}) // queued, never consumed
	b.Close()
	if c := a.peer.claim.Load(); c != 0 {
		t.Errorf("side 1 claim after a lone Close = %#x; want 0", c)
	}
	off := int(a.layout.Rings[RingData1].Offset)
	if tail, head := u64(a.mem, off+ringbuf.TailOffset).Load(), u64(a.mem, off+ringbuf.HeadOffset).Load(); tail != head || tail != 1 {
		t.Errorf("side 1 data ring after a lone Close: tail %d head %d; want 1 and 1", tail, head)
	}
}

// TestZeroAllocs is the allocation budget of the descriptor path.
func TestZeroAllocs(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 64, ChunkSize: 64, Chunks: 64, PeerTimeout: time.Second})
	s, rc := a.Sender(), b.Receiver()
	f := func() {
		for range 4 {
			c, _ := s.Alloc()
			c.Buf[0] = 1
			s.Send(&Descriptor{Kind: KindBody, Offset: c.Offset, Length: 1, Gen: c.Gen})
		}
		rc.Wait(time.Second, nil)
		n, _ := rc.Poll(8)
		for i := range n {
			d, _ := rc.Get(i)
			_ = rc.Payload(&d)[0]
			rc.Release(&d)
		}
		rc.Consume(n)
		s.Collect()
	}
	if got := testing.AllocsPerRun(1000, f); got != 0 {
		t.Fatalf("send/receive/release/collect: AllocsPerRun = %v; want 0", got)
	}
}

// TestCloseWakesWaiter: Close from another goroutine wakes a worker asleep
// on a doorbell, which returns ErrClosed before the memory is unmapped;
// the monitoring calls stay safe afterwards.
func TestCloseWakesWaiter(t *testing.T) {
	_, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 10 * time.Second, Spin: -1})
	for range 8 { // exhaust the arena so WaitChunks sleeps too
		b.Sender().Alloc()
	}
	done := make(chan error, 2)
	go func() { done <- b.Receiver().Wait(time.Minute, nil) }()
	go func() { done <- b.Sender().WaitChunks(time.Minute, nil) }()
	if !eventually(10*time.Second, func() bool { return b.waiters.Load() == 2 }) {
		t.Fatalf("%d waiters; want 2", b.waiters.Load())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Wait interrupted by Close = %v; want %v", err, ErrClosed)
		}
	}
	if st := b.unmap.Load(); st != unmapDone || b.waiters.Load() != 0 {
		t.Errorf("after the woken waiters left: unmap state %d, %d waiters; want done (%d), 0", st, b.waiters.Load(), unmapDone)
	}
	b.Wake()
	if st := b.Peer().State; st != PeerAlive && st != PeerAbsent {
		t.Errorf("Peer after Close = %v", st)
	}
	if b.Counter(CounterSleeps) != 0 || b.PeerCounter(CounterSleeps) != 0 {
		t.Error("counters after Close should read 0")
	}
	if _, err := b.Receiver().Poll(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close = %v; want %v", err, ErrClosed)
	}
	if err := b.Receiver().Wait(time.Second, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close = %v; want %v", err, ErrClosed)
	}
}

// TestCreatorClose: the creator's Close marks the region closed; the host
// sees its peer gone for good and can still reclaim and detach.
func TestCreatorClose(t *testing.T) {
	a, b := newPair(t)
	if b.CreatorClosed() {
		t.Fatal("CreatorClosed before Close")
	}
	a.Close()
	if !eventually(10*time.Second, func() bool { return b.Peer().State == PeerGone }) {
		t.Fatalf("peer after the creator's Close: %v", b.Peer())
	}
	if !b.CreatorClosed() {
		t.Error("CreatorClosed = false after the creator's Close")
	}
	if _, err := b.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOnReturnAndWaitReleases: Collect reports each returned chunk's
// offset to OnReturn, and WaitReleases waits for releases even while
// chunks are free (which WaitChunks would not).
func TestOnReturnAndWaitReleases(t *testing.T) {
	a, b := newPair(t) // 16 slots, 8 chunks of 64 bytes
	s, rc := a.Sender(), b.Receiver()
	var returned []uint32
	s.OnReturn = func(off uint32) { returned = append(returned, off) }
	if err := s.SendBytes(Descriptor{Kind: KindBody, Stream: 1}, make([]byte, 100)); err != nil { // 2 chunks
		t.Fatal(err)
	}
	if err := s.WaitReleases(20*time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitReleases with nothing released = %v; want %v", err, ErrTimeout)
	}
	n, _ := rc.Poll(16)
	var offs []uint32
	for i := range n {
		d, err := rc.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, d.Offset)
		rc.Release(&d)
	}
	rc.Consume(n)
	if err := s.WaitReleases(time.Second, nil); err != nil {
		t.Fatalf("WaitReleases after releases = %v", err)
	}
	if k, err := s.Collect(); k != 2 || err != nil {
		t.Fatalf("Collect = %d, %v; want 2", k, err)
	}
	if fmt.Sprint(returned) != fmt.Sprint(offs) {
		t.Fatalf("OnReturn saw %v; want the sent chunks %v", returned, offs)
	}
}

// WaitReleases may sleep on one goroutine while another drives the
// Sender (the race detector checks that they share only atomics): it
// wakes for releases the other's Collect has not taken yet, and sleeps
// again once they are taken.
func TestWaitReleasesBesideSender(t *testing.T) {
	a, b := newPair(t)
	s, rc := a.Sender(), b.Receiver()
	woke := make(chan error, 1)
	go func() { woke <- s.WaitReleases(time.Minute, nil) }()
	if !eventually(10*time.Second, func() bool { return s.relData.sleeping.Load() == 1 }) {
		t.Fatal("WaitReleases never went to sleep")
	}
	for range 3 { // sends and collects beside the sleeper
		if err := s.SendBytes(Descriptor{Kind: KindBody, Stream: 1}, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		s.Collect()
	}
	select {
	case err := <-woke:
		t.Fatalf("WaitReleases returned (%v) before any release", err)
	default:
	}
	n, _ := rc.Poll(16)
	d, err := rc.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	rc.Release(&d)
	rc.Consume(n)
	select {
	case err := <-woke:
		if err != nil {
			t.Fatalf("WaitReleases after a release = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitReleases did not wake for a release")
	}
	if k, err := s.Collect(); k != 1 || err != nil {
		t.Fatalf("Collect = %d, %v; want 1", k, err)
	}
	if err := s.WaitReleases(20*time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitReleases with the release taken = %v; want ErrTimeout", err)
	}
}

// TestWaitPeerDead: sleepers on a doorbell are woken with ErrPeerDead when
// the peer is declared dead (here its monitor stops, so it stops
// beating); waiting again fails at once until ReclaimPeer. How soon is
// TestWaitPeerDeadBound's.
func TestWaitPeerDead(t *testing.T) {
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Second, Spin: -1})
	s, rc := b.Sender(), b.Receiver()
	for ok := true; ok; { // fill our data ring: WaitSpace must sleep
		ok, _ = s.Send(&Descriptor{Kind: KindNop})
	}
	done := make(chan error, 2)
	go func() { done <- rc.Wait(time.Minute, nil) }()
	go func() { done <- s.WaitSpace(time.Minute, nil) }()
	if !eventually(10*time.Second, func() bool {
		return b.recv.inData.sleeping.Load() == 1 && b.send.outSpace.sleeping.Load() == 1
	}) {
		t.Fatal("waiters never went to sleep")
	}
	a.stopMonitor()
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, ErrPeerDead) {
				t.Fatalf("wait while the peer stops beating = %v; want %v", err, ErrPeerDead)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("waiters not woken; peer %v", b.Peer())
		}
	}
	if err := rc.Wait(time.Minute, nil); !errors.Is(err, ErrPeerDead) || !strings.Contains(err.Error(), "no heartbeat") {
		t.Fatalf("Wait with the peer dead = %v; want %v with the reason", err, ErrPeerDead)
	}
	if _, err := b.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Wait(10*time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Wait after the reclaim = %v; want %v (no peer yet)", err, ErrTimeout)
	}
}

// TestReleaseRingFull: the release ring has a slot per chunk of the arena,
// so only a receiver releasing more than it was lent (one chunk, over and
// over) to a peer that does not collect can fill it. Release then fails
// with ErrRingFull and counts it; once the peer collects (refusing the
// duplicates) there is room again.
func TestReleaseRingFull(t *testing.T) {
	a, b := newPair(t)
	s, rc := a.Sender(), b.Receiver()
	c, _ := s.Alloc()
	if ok, err := s.Send(&Descriptor{Kind: KindBody, Offset: c.Offset, Length: 1, Gen: c.Gen}); !ok || err != nil {
		t.Fatalf("Send = %v, %v", ok, err)
	}
	if n, _ := rc.Poll(1); n != 1 {
		t.Fatal("no data")
	}
	d, err := rc.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	rc.Consume(1)
	slots := b.layout.Rings[releaseRing(0)].Geometry.SlotCount
	released := 0
	for ; released <= slots; released++ {
		if err = rc.Release(&d); err != nil {
			break
		}
	}
	if released != slots || !errors.Is(err, ErrRingFull) {
		t.Fatalf("after %d releases Release = %v; want %v after %d", released, err, ErrRingFull, slots)
	}
	if n := b.Counter(CounterRingFull); n != 1 {
		t.Errorf("ring_full counter = %d; want 1", n)
	}
	rc.Flush()
	if n, err := s.Collect(); n != 1 || !errors.Is(err, arena.ErrRelease) {
		t.Fatalf("Collect = %d, %v; want 1 chunk back and the duplicates refused", n, err)
	}
	if n := a.Counter(CounterInvalid); n != uint64(slots-1) {
		t.Errorf("invalid counter = %d; want %d duplicates", n, slots-1)
	}
	if err := rc.Release(&d); err != nil {
		t.Fatalf("Release after the peer collected = %v", err)
	}
}

// TestCollectBounded: a peer that keeps releasing -- here every chunk
// that comes back is lent and released again before Collect is done --
// cannot keep Collect from returning: one call takes at most a release
// ring's worth, and the next call goes on.
func TestCollectBounded(t *testing.T) {
	a, b := newPair(t)
	s := a.Sender()
	slots := s.relIn.Geometry().SlotCount
	relOut := b.recv.relOut
	var failed error
	relendAndRelease := func() {
		c, ok := s.alloc.Alloc()
		if !ok {
			failed = errors.New("no free chunk")
			return
		}
		if err := s.alloc.Lend(c.Offset, c.Gen); err != nil {
			failed = err
			return
		}
		if n, err := relOut.Reserve(1); n != 1 {
			failed = fmt.Errorf("release ring full: %v", err)
			return
		}
		d := Descriptor{Kind: KindRelease, Epoch: s.Epoch(), Offset: c.Offset, Gen: c.Gen}
		d.Encode(relOut.Slot(0))
		relOut.Commit(1)
	}
	relendAndRelease()
	returned := 0
	s.OnReturn = func(uint32) { returned++; relendAndRelease() }
	for call := range 3 {
		done := make(chan int, 1)
		before := returned
		go func() { n, _ := s.Collect(); done <- n }()
		select {
		case n := <-done:
			if failed != nil {
				t.Fatal(failed)
			}
			if n != slots || returned-before != slots {
				t.Fatalf("call %d: Collect = %d (%d returns); want a ring's worth, %d", call, n, returned-before, slots)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d: Collect still running after 10 s under a stream of releases", call)
		}
	}
	if err := s.WaitReleases(0, nil); err != nil {
		t.Fatalf("WaitReleases with releases left = %v; want them seen as pending", err)
	}
}

// TestCloseLeavesUnmapToLastWaiter: a waiter still inside a wait when
// Close's grace runs out (here: its ready check blocks, as if it had not
// been scheduled) keeps the mapping alive; it touches the memory after
// Close returned, and the mapping goes only when it leaves.
func TestCloseLeavesUnmapToLastWaiter(t *testing.T) {
	_, b := newPair(t)
	defer func(g time.Duration) { closeGrace = g }(closeGrace)
	closeGrace = 20 * time.Millisecond
	entered, resume := make(chan struct{}), make(chan struct{})
	first := true
	done := make(chan error, 1)
	go func() {
		done <- b.wait(b.recv.inData, func() bool {
			if first {
				first = false
				close(entered)
				<-resume
			}
			return b.recv.hasData() // reads the ring's tail in the mapping
		}, true, time.Minute, nil, nil)
	}()
	<-entered
	if err := b.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if st := b.unmap.Load(); st != unmapPending {
		t.Fatalf("after Close with a waiter inside: unmap state %d; want pending (%d)", st, unmapPending)
	}
	close(resume)
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("straggler's wait = %v; want %v", err, ErrClosed)
	}
	if st := b.unmap.Load(); st != unmapDone || b.waiters.Load() != 0 {
		t.Fatalf("after the straggler left: unmap state %d, %d waiters; want done (%d), 0", st, b.waiters.Load(), unmapDone)
	}
}

// TestCommitQuietRing: a quiet commit publishes without waking a sleeper;
// the Ring after it wakes it, once.
func TestCommitQuietRing(t *testing.T) {
	// A long peer timeout makes the sleep slices long (a tenth of it): the
	// sleeper is still asleep when Ring comes, unless the machine stalls
	// for seconds, which the slice timeouts counter then tells.
	a, b := newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Minute, Spin: -1})
	rc, snd := b.Receiver(), a.Sender()
	timeouts := b.Counter(CounterSleepTimeouts)
	done := make(chan error, 1)
	go func() { done <- rc.Wait(time.Hour, nil) }()
	bell := b.recv.inData
	if !eventually(10*time.Second, func() bool { return bell.sleeping.Load() == 1 }) {
		t.Fatal("receiver never went to sleep")
	}
	wakeups := a.Counter(CounterWakeups)
	for range 3 {
		if n, err := snd.Reserve(1); n != 1 || err != nil {
			t.Fatalf("Reserve = %d, %v", n, err)
		}
		if err := snd.Put(0, &Descriptor{Kind: KindNop}); err != nil {
			t.Fatal(err)
		}
		snd.CommitQuiet(1)
	}
	if got := a.Counter(CounterWakeups) - wakeups; got != 0 {
		t.Errorf("wake-ups after quiet commits = %d; want 0", got)
	}
	snd.Ring()
	if err := <-done; err != nil {
		t.Fatalf("Wait woken by Ring = %v", err)
	}
	got := a.Counter(CounterWakeups) - wakeups
	if b.Counter(CounterSleepTimeouts) == timeouts && got != 1 {
		t.Errorf("wake-ups after Ring = %d; want 1", got)
	}
	if n, _ := rc.Poll(16); n != 3 {
		t.Errorf("Poll after Ring = %d; want the 3 quiet commits", n)
	}
	snd.Ring() // nobody asleep: no system call
	if again := a.Counter(CounterWakeups) - wakeups; again != got {
		t.Errorf("a Ring with nobody asleep woke %d times", again-got)
	}
}
