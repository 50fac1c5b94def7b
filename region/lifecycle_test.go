//go:build linux

package region

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	peerRoles["open-send"] = openSendMain
	peerRoles["create-wait"] = createWaitMain
}

func TestCreateFile(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0) // a permissive umask must not widen the mode
	r, err := Create(Options{Dir: dir})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseName(r.Name()); err != nil {
		t.Errorf("Name() = %q: %v", r.Name(), err)
	}
	if want := filepath.Join(dir, r.Name()); r.Path() != want {
		t.Errorf("Path() = %q; want %q", r.Path(), want)
	}
	st, err := os.Stat(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %#o; want 0600", st.Mode().Perm())
	}
	if st.Size() != int64(r.Layout().TotalSize) {
		t.Errorf("size = %d; want %d", st.Size(), r.Layout().TotalSize)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := os.Stat(r.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close: stat = %v; want not exist", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v; want %v", err, ErrClosed)
	}
}

func TestCreateDefaultDir(t *testing.T) {
	r, err := Create(Options{DataSlots: 16, ChunkSize: 64, Chunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := dirs("")[0]
	if filepath.Dir(r.Path()) != want {
		t.Errorf("Path() = %q; want it in %q", r.Path(), want)
	}
	if st, err := os.Stat(DefaultDir); err == nil && st.IsDir() && want != DefaultDir {
		t.Errorf("default directory %q; want %q", want, DefaultDir)
	}
}

// TestCreateTempDirFallback: when /dev/shm is unusable (missing, not a
// directory, or not writable), regions are created in os.TempDir(), and
// Open, List and Remove with the default directory find them there.
func TestCreateTempDirFallback(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	defer func(d string) { defaultDir = d }(defaultDir)
	notDir := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unusable := map[string]string{"missing": filepath.Join(tmp, "no-such-dir"), "not a directory": notDir}
	if os.Geteuid() != 0 { // root may write anywhere
		ro := filepath.Join(tmp, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		unusable["read-only"] = ro
	}
	for why, dir := range unusable {
		defaultDir = dir
		if ds := dirs(""); len(ds) != 1 || ds[0] != tmp {
			t.Fatalf("%s: dirs = %v; want [%s]", why, ds, tmp)
		}
		r, err := Create(Options{DataSlots: 16, ChunkSize: 64, Chunks: 4})
		if err != nil {
			t.Fatalf("%s: Create = %v", why, err)
		}
		if filepath.Dir(r.Path()) != tmp {
			t.Errorf("%s: Path() = %q; want it in %q", why, r.Path(), tmp)
		}
		h, err := Open(r.Name(), Options{})
		if err != nil {
			t.Fatalf("%s: Open by name = %v", why, err)
		}
		h.Close()
		infos, err := List("")
		if err != nil || len(infos) != 1 || infos[0].Name != r.Name() {
			t.Errorf("%s: List = %+v, %v; want just %s", why, infos, err, r.Name())
		}
		r.Close()
		if _, err := os.Stat(r.Path()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: after Close: stat = %v; want not exist", why, err)
		}
		// Remove, too, looks there.
		m, err := createMapping("", NewName(), 8192)
		if err != nil {
			t.Fatal(err)
		}
		m.close()
		if err := Remove(filepath.Base(m.path), Options{}); err != nil || filepath.Dir(m.path) != tmp {
			t.Errorf("%s: Remove(%s) = %v", why, m.path, err)
		}
	}
}

func TestCreateExclusive(t *testing.T) {
	dir := t.TempDir()
	name := NewName()
	m, err := createMapping(dir, name, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if _, err := createMapping(dir, name, 8192); !errors.Is(err, ErrExists) {
		t.Fatalf("second createMapping(%s) = %v; want %v", name, err, ErrExists)
	}
	if _, err := os.Stat(m.path); err != nil {
		t.Fatalf("the failed create removed the first file: %v", err)
	}
}

func openSendMain() int {
	r, err := Open(os.Getenv(envRegion), Options{Dir: os.Getenv(envDir)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	s := r.Sender()
	if err := s.SendBytes(Descriptor{Kind: KindResponse, Stream: uint64(os.Getpid()), Flags: FlagEnd}, []byte("hello from the host")); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		return 1
	}
	// Wait for the chunk to come back before leaving.
	if !eventually(20*time.Second, func() bool { s.Collect(); _, _, lent := s.Chunks(); return lent == 0 }) {
		fmt.Fprintln(os.Stderr, "chunk never released")
		return 1
	}
	if err := r.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// TestOpenFromAnotherProcess: a second process opens the region by name,
// sends a response, waits for its chunk and detaches; this side reclaims
// it and finds the file still there (only the creator removes it).
func TestOpenFromAnotherProcess(t *testing.T) {
	r, err := Create(Options{Dir: t.TempDir(), DataSlots: 16, ChunkSize: 64, Chunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd, out := startPeer(t, r, "open-send")
	rc := r.Receiver()
	if err := rc.Wait(30*time.Second, nil); err != nil {
		t.Fatalf("Wait = %v\n%s", err, out)
	}
	var got []byte
	var stream uint64
	for done := false; !done; {
		n, err := rc.Poll(8)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			d, err := rc.Get(i)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rc.Payload(&d)...)
			stream = d.Stream
			done = d.Flags&FlagEnd != 0
			rc.Release(&d)
		}
		rc.Consume(n)
		if n == 0 {
			rc.Wait(time.Second, nil)
		}
	}
	if string(got) != "hello from the host" || stream != uint64(cmd.Process.Pid) {
		t.Errorf("received %q from stream %d; want %q from the peer's pid %d", got, stream, "hello from the host", cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("peer: %v\n%s", err, out)
	}
	if !eventually(10*time.Second, func() bool { return r.Peer().State == PeerGone }) {
		t.Fatalf("peer after its Close: %v; want gone", r.Peer())
	}
	if err := rc.Wait(time.Second, nil); !errors.Is(err, ErrPeerGone) {
		t.Errorf("Wait with the peer gone = %v; want %v", err, ErrPeerGone)
	}
	res, err := r.ReclaimPeer()
	if err != nil || res.PID != cmd.Process.Pid || res.Reason != "" {
		t.Errorf("ReclaimPeer = %+v, %v; want pid %d, no death reason", res, err, cmd.Process.Pid)
	}
	if _, err := os.Stat(r.Path()); err != nil {
		t.Errorf("the peer's Close removed the file: %v", err)
	}
}

func createWaitMain() int {
	r, err := Create(Options{Dir: os.Getenv(envDir), DataSlots: 16, ChunkSize: 64, Chunks: 4, PeerTimeout: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		return 1
	}
	fmt.Println("region:", r.Name())
	time.Sleep(time.Hour) // until killed
	return 0
}

// spawnCreator starts a peer process that creates a region in dir and
// returns it with the region's name.
func spawnCreator(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd, out := startPeerAt(t, "-", dir, "create-wait")
	var name string
	if !eventually(30*time.Second, func() bool {
		line, _, _ := strings.Cut(out.String(), "\n")
		name, _ = strings.CutPrefix(strings.TrimSpace(line), "region: ")
		_, err := ParseName(name)
		return err == nil
	}) {
		t.Fatalf("creator printed no region name: %q", out)
	}
	return cmd, name
}

// TestStaleRegions: a region whose creator was killed is stale unless a
// live process still holds a side; a live creator's region never is; a
// file with a bad header is stale only once older than StaleGrace.
func TestStaleRegions(t *testing.T) {
	dir := t.TempDir()
	// A: creator killed, nobody attached: stale.
	cmdA, nameA := spawnCreator(t, dir)
	// B: creator killed, but this process holds side 1: not stale.
	cmdB, nameB := spawnCreator(t, dir)
	rb, err := Open(nameB, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	// C: creator alive: not stale.
	live, err := Create(Options{Dir: dir, DataSlots: 16, ChunkSize: 64, Chunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// D and E: unreadable files, old and young.
	old, young := filepath.Join(dir, NewName()), filepath.Join(dir, NewName())
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("not a region"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * StaleGrace)
	os.Chtimes(old, past, past)
	// Unrelated files are ignored.
	os.WriteFile(filepath.Join(dir, "haywire-not-a-uuid"), nil, 0o600)

	cmdA.Process.Signal(syscall.SIGKILL)
	cmdB.Process.Signal(syscall.SIGKILL)
	cmdA.Wait()
	cmdB.Wait()

	infos, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{nameA: true, nameB: false, live.Name(): false, filepath.Base(old): true, filepath.Base(young): false}
	if len(infos) != len(want) {
		t.Fatalf("List found %d regions; want %d: %+v", len(infos), len(want), infos)
	}
	for _, in := range infos {
		stale, ok := want[in.Name]
		if !ok {
			t.Errorf("List returned unexpected %q", in.Name)
		} else if in.Stale != stale {
			t.Errorf("%s: stale = %v (%s); want %v", in.Name, in.Stale, in.Reason, stale)
		}
	}
	removed, err := RemoveStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("RemoveStale removed %d; want 2: %+v", len(removed), removed)
	}
	for name, stale := range want {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := errors.Is(err, os.ErrNotExist); gone != stale {
			t.Errorf("%s: removed = %v; want %v", name, gone, stale)
		}
	}
}

// TestCreatorRestart: the creator dies, the host reclaims side 0, and a
// new engine takes side 0 over with OpenSide and a new epoch.
func TestCreatorRestart(t *testing.T) {
	dir := t.TempDir()
	cmd, name := spawnCreator(t, dir)
	host, err := Open(name, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	oldEpoch := host.peer.epoch.Load()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !eventually(10*time.Second, func() bool { return host.Peer().State == PeerDead }) {
		t.Fatalf("dead creator: %v", host.Peer())
	}
	if _, err := host.ReclaimPeer(); err != nil {
		t.Fatal(err)
	}
	engine, err := OpenSide(name, 0, Options{Dir: dir})
	if err != nil {
		t.Fatalf("OpenSide(0) after reclaim = %v", err)
	}
	defer engine.Close()
	if engine.Epoch() <= oldEpoch || engine.Epoch() <= host.Epoch() {
		t.Errorf("new engine epoch %d; want above %d and %d", engine.Epoch(), oldEpoch, host.Epoch())
	}
	if ok, err := engine.Sender().Send(&Descriptor{Kind: KindNop}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n, _ := host.Receiver().Poll(1); n != 1 {
		t.Fatalf("host sees %d descriptors", n)
	}
	if d, err := host.Receiver().Get(0); err != nil || d.Epoch != engine.Epoch() {
		t.Fatalf("host Get = %v, %v; want epoch %d", d, err, engine.Epoch())
	}
}

// TestStaleButBeating: a region whose pids all look dead (as they would to
// a process in another pid namespace) is not stale while a heartbeat
// moves.
func TestStaleButBeating(t *testing.T) {
	dir := t.TempDir()
	r, err := Create(Options{Dir: dir, DataSlots: 16, ChunkSize: 64, Chunks: 4, PeerTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	dead := gone.Process.Pid // reaped: no such process any more
	// Our monitor would find the side no longer ours and stop beating:
	// beat here instead, as the occupant in another namespace would.
	r.stopMonitor()
	u32(r.mem, CreatorPIDOffset).Store(uint32(dead))
	r.own.claim.Store(claimWord(dead, StateActive))
	stop, beat := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(beat)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				r.own.heartbeat.Add(1)
			}
		}
	}()
	infos, err := List(dir)
	close(stop)
	<-beat
	if err != nil || len(infos) != 1 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	if infos[0].Stale || !strings.Contains(infos[0].Reason, "heartbeat is moving") {
		t.Fatalf("region with a moving heartbeat: stale %v (%s); want not stale", infos[0].Stale, infos[0].Reason)
	}
	// Now nothing beats.
	infos, err = List(dir)
	if err != nil || len(infos) != 1 || !infos[0].Stale {
		t.Fatalf("region without heartbeat: %+v, %v; want stale", infos, err)
	}
}

// ReadCounters sees from outside what the sides count.
func TestReadCounters(t *testing.T) {
	dir := t.TempDir()
	eng, err := Create(Options{Dir: dir, DataSlots: 16, ChunkSize: 64, Chunks: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	host, err := Open(eng.Name(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	for range 3 {
		eng.Sender().Send(&Descriptor{Kind: KindNop})
	}
	for eng.Sender().Alloc(); ; { // exhaust the arena: counts arena_full
		if _, ok := eng.Sender().Alloc(); !ok {
			break
		}
	}
	c, err := ReadCounters(eng.Name(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Side[0][CounterArenaFull] != eng.Counter(CounterArenaFull) || c.Side[0][CounterArenaFull] == 0 ||
		c.Side[1][CounterAttaches] != host.Counter(CounterAttaches) || c.Side[1][CounterAttaches] == 0 {
		t.Fatalf("read %v; want what the sides count", c)
	}
	if _, err := ReadCounters(NewName(), dir); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadCounters of a missing region = %v; want %v", err, ErrNotFound)
	}
	junk := NewName()
	os.WriteFile(filepath.Join(dir, junk), make([]byte, 8192), 0o600)
	if _, err := ReadCounters(junk, dir); !errors.Is(err, ErrMagic) {
		t.Fatalf("ReadCounters(junk) = %v; want %v", err, ErrMagic)
	}
}
