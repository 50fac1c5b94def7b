//go:build linux

package region

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

// The C side of the contract: tests/c/shm_peer.c and tests/c/test-shm-check.c
// include only include/haywire_shm_impl.h (with the specification,
// haywire_shm.h) and libc. These tests compile them
// with gcc, drive the peer across processes and languages, and check that
// the header's validators agree with the Go ones.

// buildC compiles a C file from tests/c into a temporary directory. It
// skips the test when gcc is not installed.
func buildC(t *testing.T, src string, extra ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("gcc not found in PATH (%v): the C peer tests need a C11 compiler", err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(src, ".c"))
	args := append([]string{"-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join("..", "include")}, extra...)
	args = append(args, "-o", out, filepath.Join("..", "tests", "c", src))
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

type echoPart struct {
	kind    Kind
	flags   Flags
	stream  uint64
	payload []byte
}

// TestCPeerEcho runs the C peer against a region created here: it sends
// payloads of up to three chunks (each checksummed), pauses now and then so
// the peer sleeps on the futex, slips in descriptors the peer must refuse,
// and checks every echo, every refusal and every returned chunk.
func TestCPeerEcho(t *testing.T) {
	bin := buildC(t, "shm_peer.c")
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 64, ChunkSize: 256, Chunks: 32, PeerTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, r.Path())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	if !eventually(20*time.Second, func() bool { return r.Peer().State == PeerAlive }) {
		t.Fatalf("C peer never attached: %v\n%s", r.Peer(), out.String())
	}
	s, rc := r.Sender(), r.Receiver()
	rng := rand.New(rand.NewPCG(7, 7))
	messages := 5000
	if testing.Short() {
		messages = 500
	}
	var expect []echoPart // what the echoes must be, in order
	invalid := 0
	sent, echoed := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	recv := func() {
		n, err := rc.Poll(64)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			d, err := rc.Get(i)
			if err != nil {
				t.Fatalf("echo %d: %v", echoed, err)
			}
			if len(expect) == 0 {
				t.Fatalf("unexpected echo %v", d)
			}
			want := expect[0]
			expect = expect[1:]
			got := rc.Payload(&d)
			if d.Kind != want.kind || d.Flags != want.flags || d.Stream != want.stream || !bytes.Equal(got, want.payload) {
				t.Fatalf("echo %d = %v %q; want %v flags %#x stream %d %q", echoed, d, got, want.kind, want.flags, want.stream, want.payload)
			}
			if len(got) > 0 && d.Conn != fnv1a(got) {
				t.Fatalf("echo %d: checksum %#x, payload says %#x", echoed, d.Conn, fnv1a(got))
			}
			rc.Release(&d)
			echoed++
		}
		rc.Consume(n)
	}
	for sent < messages || len(expect) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stuck: sent %d echoed %d expecting %d; peer %v\n%s", sent, echoed, len(expect), r.Peer(), out.String())
		}
		s.Collect()
		if sent < messages {
			switch {
			case rng.IntN(500) == 0:
				// A bad descriptor, raw: the peer must answer CANCEL aux=1.
				bad := []Descriptor{
					{Kind: KindBody, Epoch: r.Epoch(), Offset: 32 * 256, Length: 1, Gen: 1},
					{Kind: KindBody, Epoch: r.Epoch(), Offset: 250, Length: 10, Gen: 1},
					{Kind: 99, Epoch: r.Epoch()},
					{Kind: KindEnd, Epoch: r.Epoch(), Aux: 5},
				}[rng.IntN(4)]
				if k, _ := s.out.Reserve(1); k == 1 {
					bad.Encode(s.out.Slot(0))
					expect = append(expect, echoPart{kind: KindCancel, stream: s.Position()})
					s.Commit(1)
					invalid++
				}
			default:
				payload := make([]byte, 1+rng.IntN(3*256))
				for i := range payload {
					payload[i] = byte(rng.Uint32())
				}
				stream := uint64(sent)
				d := Descriptor{Kind: []Kind{KindBody, KindRequest, KindData}[rng.IntN(3)], Stream: stream, Flags: FlagEnd, Conn: 0}
				// The checksum travels per part, so send part by part.
				parts := (len(payload) + 255) / 256
				if k, _ := s.Reserve(parts); k < parts {
					break
				}
				if free, _, _ := s.Chunks(); free < parts {
					break
				}
				for p := range parts {
					c, _ := s.Alloc()
					part := payload[p*256 : min(len(payload), (p+1)*256)]
					copy(c.Buf, part)
					pd := d
					pd.Offset, pd.Length, pd.Gen, pd.Conn = c.Offset, uint32(len(part)), c.Gen, fnv1a(part)
					if p < parts-1 {
						pd.Flags = FlagMore
					}
					if err := s.Put(p, &pd); err != nil {
						t.Fatal(err)
					}
					expect = append(expect, echoPart{kind: pd.Kind, flags: pd.Flags, stream: stream, payload: part})
				}
				s.Commit(parts)
				sent++
				if rng.IntN(100) == 0 {
					time.Sleep(2 * time.Millisecond) // let the peer fall asleep
				}
			}
		}
		recv()
	}
	// End: a NOP with stream MaxUint64 is echoed, then the peer detaches.
	s.Send(&Descriptor{Kind: KindNop, Stream: math.MaxUint64})
	expect = append(expect, echoPart{kind: KindNop, stream: math.MaxUint64})
	for len(expect) > 0 && time.Now().Before(deadline) {
		rc.Wait(time.Second, nil)
		recv()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("C peer: %v\n%s", err, out.String())
	}
	line := strings.TrimSpace(out.String())
	if want := fmt.Sprintf("ok received=%d echoed=", s.Position()); !strings.HasPrefix(line, want) {
		t.Errorf("C peer said %q; want it to start with %q", line, want)
	}
	if got := r.PeerCounter(CounterInvalid); got != uint64(invalid) {
		t.Errorf("C peer counted %d invalid descriptors; %d were sent", got, invalid)
	}
	if r.PeerCounter(CounterSleeps) == 0 || r.Counter(CounterWakeups) == 0 {
		t.Errorf("C peer slept %d times, woken %d times; want both > 0", r.PeerCounter(CounterSleeps), r.Counter(CounterWakeups))
	}
	if !eventually(10*time.Second, func() bool { s.Collect(); _, _, lent := s.Chunks(); return lent == 0 }) {
		free, held, lent := s.Chunks()
		t.Errorf("chunks not all returned by the C peer: free %d held %d lent %d", free, held, lent)
	}
	if !eventually(10*time.Second, func() bool { return r.Peer().State == PeerGone }) {
		t.Fatalf("C peer after detaching: %v", r.Peer())
	}
	if _, err := r.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages, %d descriptors, %d refused; C peer: %s; sleeps %d, wake-ups issued here %d",
		sent, s.Position(), invalid, line, r.PeerCounter(CounterSleeps), r.Counter(CounterWakeups))
}

// TestCPeerDetachReclaims: the C peer whose engine left without reclaiming
// it (its claim DETACHED) detaches with hw_shm_side_detach, which reclaims
// the engine's side first: both sides end FREE, every ring empty (the echo
// and the release it had published are discarded), and the reclaim is
// counted on the C side.
func TestCPeerDetachReclaims(t *testing.T) {
	bin := buildC(t, "shm_peer.c")
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, r.Path())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	if !eventually(20*time.Second, func() bool { return r.Peer().State == PeerAlive }) {
		t.Fatalf("C peer never attached: %v\n%s", r.Peer(), out.String())
	}
	payload := []byte("hello")
	if err := r.Sender().SendBytes(Descriptor{Kind: KindBody, Stream: 1, Conn: fnv1a(payload)}, payload); err != nil {
		t.Fatal(err)
	}
	// The echo (ring 1) and the release of our chunk (ring 2) are
	// published; leave both unread and depart without reclaiming.
	if !eventually(20*time.Second, func() bool {
		return r.Receiver().in.ProducerPosition() == 1 && r.send.relIn.ProducerPosition() == 1
	}) {
		t.Fatalf("no echo and release from the C peer\n%s", out.String())
	}
	leaveUnreclaimed(r)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("C peer after the engine left: %v; want exit 3 (engine gone)\n%s", err, out.String())
	}
	for s := range SideCount {
		if c := u64(r.mem, sideOffset(s)+SideClaimOffset).Load(); c != 0 {
			t.Errorf("side %d claim %#x after the C peer detached; want free", s, c)
		}
	}
	for i, ring := range r.layout.Rings {
		off := int(ring.Offset)
		if tail, head := u64(r.mem, off+ringbuf.TailOffset).Load(), u64(r.mem, off+ringbuf.HeadOffset).Load(); tail != head {
			t.Errorf("ring %d: tail %d, head %d; want it emptied", i, tail, head)
		}
	}
	if n, d := r.PeerCounter(CounterReclaims), r.PeerCounter(CounterReclaimedDescs); n != 1 || d != 2 {
		t.Errorf("C peer counted %d reclaims, %d descriptors discarded; want 1 and 2 (the echo, the release)", n, d)
	}
}

// TestCPeerFencedTouchesNothing: the C peer, fenced while it sleeps, is
// woken by a descriptor and exits 2 without consuming it, without
// detaching and without freeing its claim: the side is ours to reclaim.
func TestCPeerFencedTouchesNothing(t *testing.T) {
	bin := buildC(t, "shm_peer.c")
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, r.Path())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	if !eventually(20*time.Second, func() bool { return r.Peer().State == PeerAlive }) {
		t.Fatalf("C peer never attached: %v\n%s", r.Peer(), out.String())
	}
	r.mu.Lock()
	c := r.peer.claim.Load()
	r.declareDead(c, "test", time.Now())
	fencedClaim := r.peer.claim.Load()
	r.mu.Unlock()
	payload := []byte("hello")
	if err := r.Sender().SendBytes(Descriptor{Kind: KindBody, Stream: 1, Conn: fnv1a(payload)}, payload); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("fenced C peer: %v; want exit 2 (fenced)\n%s", err, out.String())
	}
	if head := r.send.out.ConsumerPosition(); head != 0 {
		t.Errorf("fenced C peer consumed ring 0 to %d; want 0", head)
	}
	if got := r.peer.claim.Load(); got != fencedClaim {
		t.Errorf("fenced C peer's claim %#x -> %#x; want it left as fenced", fencedClaim, got)
	}
}

// Codes from HW_SHM_ERRNO_MAP (region/internal/shmcheck TestErrorCodes
// pins them).
const (
	cOK, cTruncated, cMagic, cVersion, cLayout, cDesc, cStale = 0, -101, -102, -103, -104, -107, -108
)

// goDescVerdict is the Go validators' verdict in the order the C helper
// applies its checks (shape, ring role, span, then epoch).
func goDescVerdict(b []byte, role int, g arena.Geometry, minEpoch, wantEpoch uint32) int {
	d, err := DecodeDescriptor(b)
	if err != nil {
		return cDesc
	}
	if (d.Kind == KindRelease) != (role == RoleRelease) {
		return cDesc
	}
	if d.CheckSpan(g) != nil {
		return cDesc
	}
	if d.Epoch < minEpoch || wantEpoch != 0 && d.Epoch != wantEpoch {
		return cStale
	}
	return cOK
}

// TestCDescriptorAgreement runs the same descriptors through the Go decoder
// and hw_shm_desc_check: the two implementations of section 5 must agree
// on every one.
func TestCDescriptorAgreement(t *testing.T) {
	bin := buildC(t, "test-shm-check.c", "-pedantic")
	g := arena.Geometry{ChunkSize: 256, Chunks: 16}
	rng := rand.New(rand.NewPCG(11, 12))
	var descs [][]byte
	enc := func(d Descriptor) []byte { b := make([]byte, DescriptorSize); d.Encode(b); return b }
	for kind := range Kind(12) {
		for _, flags := range []Flags{0, FlagEnd, FlagMore, FlagEnd | FlagMore, 4} {
			for _, span := range [][3]uint32{{0, 0, 0}, {0, 10, 1}, {256, 0, 2}, {250, 6, 1}, {250, 7, 1}, {4095, 1, 3}, {4096, 1, 1}, {5, 0, 0}, {0, 0, 9}} {
				for _, epoch := range []uint32{0, 1, 3, 4} {
					for _, aux := range []uint16{0, 2} {
						descs = append(descs, enc(Descriptor{Kind: kind, Flags: flags, Aux: aux, Epoch: epoch, Stream: rng.Uint64(), Offset: span[0], Length: span[1], Gen: span[2]}))
					}
				}
			}
		}
	}
	for range 5000 {
		b := make([]byte, DescriptorSize)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] %= 11
		b[1] &= 7
		if rng.IntN(2) == 0 {
			binary.LittleEndian.PutUint16(b[2:], 0)
		}
		binary.LittleEndian.PutUint32(b[20:], rng.Uint32N(5000))
		binary.LittleEndian.PutUint32(b[24:], rng.Uint32N(300))
		descs = append(descs, b)
	}
	file := filepath.Join(t.TempDir(), "descs")
	if err := os.WriteFile(file, bytes.Join(descs, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, role := range []int{RoleData, RoleRelease} {
		for _, ep := range [][2]uint32{{1, 0}, {3, 3}} {
			out, err := exec.Command(bin, "desc", file, strconv.Itoa(g.Length()), strconv.Itoa(g.ChunkSize),
				strconv.Itoa(role), strconv.Itoa(int(ep[0])), strconv.Itoa(int(ep[1]))).Output()
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(bytes.NewReader(out))
			i, mismatches, accepted := 0, 0, 0
			for ; sc.Scan(); i++ {
				c, _ := strconv.Atoi(sc.Text())
				if want := goDescVerdict(descs[i], role, g, ep[0], ep[1]); c != want {
					if mismatches++; mismatches <= 5 {
						d, _ := DecodeDescriptor(descs[i])
						t.Errorf("role %d epochs %v: %x (%v): C says %d, Go says %d", role, ep, descs[i], d, c, want)
					}
				}
				if c == cOK {
					accepted++
				}
			}
			if i != len(descs) {
				t.Fatalf("C checked %d of %d descriptors", i, len(descs))
			}
			if accepted == 0 {
				t.Errorf("role %d epochs %v: nothing accepted; the corpus is too weak", role, ep)
			}
		}
	}
}

// TestCHeaderAgreement runs every header mutation of the Go tests, plus
// random byte flips, through hw_shm_header_check and compares the codes.
func TestCHeaderAgreement(t *testing.T) {
	bin := buildC(t, "test-shm-check.c", "-pedantic")
	dir := t.TempDir()
	code := func(err error) int {
		switch {
		case err == nil:
			return cOK
		case errors.Is(err, ErrTruncated):
			return cTruncated
		case errors.Is(err, ErrMagic):
			return cMagic
		case errors.Is(err, ErrVersion):
			return cVersion
		}
		return cLayout
	}
	check := func(name string, b []byte, size int64) {
		t.Helper()
		p := filepath.Join(dir, "image")
		if err := os.WriteFile(p, b[:min(int64(len(b)), size)], 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "header", p).Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, _ := strconv.Atoi(strings.Fields(string(out))[0])
		l, err := ParseHeader(b, size)
		if err == nil {
			err = checkRings(b, &l)
		}
		if want := code(err); c != want {
			t.Errorf("%s: C says %q, Go says %d (%v)", name, strings.TrimSpace(string(out)), want, err)
		}
	}
	for _, m := range headerMutations() {
		b, size := applyMutation(t, m)
		check(m.name, b, size)
	}
	valid, l := validImage(t, 64, 8)
	check("valid", valid, int64(len(valid)))
	legacy := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint64(legacy[LaneOffset:], 0) // lane 0, lanes 0: before lanes
	check("lanes 0", legacy, int64(len(legacy)))
	lane := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint64(lane[LaneOffset:], 64<<32|63)
	check("lane 63 of 64", lane, int64(len(lane)))
	rng := rand.New(rand.NewPCG(5, 6))
	ringOffs := []int{int(l.Rings[0].Offset), int(l.Rings[1].Offset), int(l.Rings[2].Offset), int(l.Rings[3].Offset)}
	for i := range 300 {
		b := append([]byte(nil), valid...)
		var off int
		if i%4 == 0 {
			off = ringOffs[rng.IntN(4)] + rng.IntN(16) // a ring's geometry block
		} else {
			off = rng.IntN(sideOffset(2)) // identity, tables, control, sides
		}
		b[off] ^= byte(1 + rng.IntN(255))
		check(fmt.Sprintf("flip byte %d", off), b, int64(len(b)))
	}
}

// TestCPeerByName: the C peer finds a region under /dev/shm by its name
// alone and checks that the header's uuid matches it.
func TestCPeerByName(t *testing.T) {
	if dirs("")[0] != DefaultDir {
		t.Skipf("%s is not usable here", DefaultDir)
	}
	bin := buildC(t, "shm_peer.c")
	r, err := Create(Options{DataSlots: 16, ChunkSize: 64, Chunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, r.Name())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !eventually(20*time.Second, func() bool { return r.Peer().State == PeerAlive }) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("C peer never attached by name: %s", out.String())
	}
	if err := mustSend(r.Sender(), &Descriptor{Kind: KindNop, Stream: math.MaxUint64}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil || !strings.HasPrefix(out.String(), "ok received=1 ") {
		t.Fatalf("C peer by name: %v: %s", err, out.String())
	}
	if out, err := exec.Command(bin, NewName()).CombinedOutput(); err == nil {
		t.Fatalf("C peer on a missing region succeeded: %s", out)
	}
}
