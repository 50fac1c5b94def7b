//go:build linux

package region

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

func init() {
	peerRoles["lane-host"] = laneHostMain
	peerRoles["create-lanes-wait"] = createLanesWaitMain
}

func laneOptions(dir string) Options {
	return Options{Dir: dir, DataSlots: 16, ChunkSize: 64, Chunks: 4}
}

func closeAll(rs []*Region) {
	for _, r := range rs {
		r.Close()
	}
}

// regionFiles returns the names of the files in dir.
func regionFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestCreateLanes: L files named after lane 0, mode 0600 whatever the
// umask, each recording the uuid, its lane and L, each removed by its own
// Close; bad arguments create nothing.
func TestCreateLanes(t *testing.T) {
	for _, lanes := range []int{1, 2, 5} {
		t.Run(strconv.Itoa(lanes), func(t *testing.T) {
			dir := t.TempDir()
			name := NewName()
			o := laneOptions(dir)
			o.Name = name
			old := syscall.Umask(0)
			rs, err := CreateLanes(o, lanes)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAll(rs)
			if len(rs) != lanes {
				t.Fatalf("CreateLanes made %d regions; want %d", len(rs), lanes)
			}
			id, _ := ParseName(name)
			for k, r := range rs {
				if r.Name() != LaneName(name, k) || r.Lane() != k || r.Lanes() != lanes || r.Side() != 0 {
					t.Errorf("lane %d: %s, lane %d of %d, side %d", k, r.Name(), r.Lane(), r.Lanes(), r.Side())
				}
				st, err := os.Stat(r.Path())
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 || filepath.Dir(r.Path()) != dir {
					t.Errorf("lane %d: %s mode %#o; want 0600 in %s", k, r.Path(), st.Mode().Perm(), dir)
				}
				hdr, err := readHeader(r.Path())
				if err != nil {
					t.Fatal(err)
				}
				l, err := ParseHeader(hdr, st.Size())
				if err != nil || l.UUID != id || l.Lane != k || l.Lanes != lanes {
					t.Errorf("lane %d header: uuid %v lane %d of %d, %v; want %v lane %d of %d", k, l.UUID, l.Lane, l.Lanes, err, id, k, lanes)
				}
			}
			if files := regionFiles(t, dir); len(files) != lanes {
				t.Errorf("%d files in %s; want %d: %v", len(files), dir, lanes, files)
			}
			for k, r := range rs {
				if err := r.Close(); err != nil {
					t.Errorf("Close lane %d = %v", k, err)
				}
				if _, err := os.Stat(r.Path()); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("lane %d after Close: stat = %v; want not exist", k, err)
				}
			}
		})
	}

	dir := t.TempDir()
	taken := NewName()
	m, err := createMapping(dir, LaneName(taken, 2), 8192) // squats on lane 2
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	bad := []struct {
		name  string
		lanes int
		opts  Options
		want  error
		inMsg string
	}{
		{"no lanes", 0, laneOptions(dir), ErrConfig, "0 lanes"},
		{"too many lanes", MaxLanes + 1, laneOptions(dir), ErrConfig, "65 lanes, want 1 to 64"},
		{"lane name", 2, Options{Dir: dir, Name: NewName() + ".1"}, ErrConfig, "is lane 1"},
		{"bad name", 2, Options{Dir: dir, Name: "haywire-x"}, ErrName, "haywire-x"},
		{"bad geometry", 2, Options{Dir: dir, ChunkSize: 100}, ErrConfig, "100"},
		{"a lane exists", 4, Options{Dir: dir, Name: taken, DataSlots: 16, ChunkSize: 64, Chunks: 4}, ErrExists, "creating lane 2 of 4"},
	}
	for _, tt := range bad {
		rs, err := CreateLanes(tt.opts, tt.lanes)
		if err == nil {
			closeAll(rs)
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: CreateLanes = %v; want %v mentioning %q", tt.name, err, tt.want, tt.inMsg)
		}
	}
	// Lane 3, created before lane 2 failed, is gone again; the squatter
	// is untouched.
	if files := regionFiles(t, dir); len(files) != 1 || files[0] != LaneName(taken, 2) {
		t.Errorf("after the failures %s holds %v; want only %s", dir, files, LaneName(taken, 2))
	}
	// Create takes a name too, a lane-0 one.
	o := laneOptions(dir)
	o.Name = NewName()
	r, err := Create(o)
	if err != nil || r.Name() != o.Name || r.Lane() != 0 || r.Lanes() != 1 {
		t.Fatalf("Create(Name %s) = %v, %v", o.Name, r, err)
	}
	if _, err := Create(o); !errors.Is(err, ErrExists) {
		t.Errorf("Create(same name) = %v; want %v", err, ErrExists)
	}
	r.Close()
	o.Name += ".2"
	if _, err := Create(o); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "is lane 2") {
		t.Errorf("Create(Name lane 2) = %v; want %v", err, ErrConfig)
	}
}

// TestOpenAnyLane: hosts take the lanes in order; when all are taken the
// error says so; a freed lane is taken again, also by a host that was
// waiting for it.
func TestOpenAnyLane(t *testing.T) {
	dir := t.TempDir()
	rs, err := CreateLanes(laneOptions(dir), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(rs)
	base := rs[0].Name()
	o := Options{Dir: dir}
	var hosts []*Region
	defer func() { closeAll(hosts) }()
	for k := range 3 {
		h, err := OpenAnyLane(base, o)
		if err != nil {
			t.Fatalf("host %d: %v", k, err)
		}
		hosts = append(hosts, h)
		if h.Lane() != k || h.Lanes() != 3 || h.Side() != 1 || h.Name() != LaneName(base, k) {
			t.Errorf("host %d got %s, lane %d of %d, side %d; want lane %d", k, h.Name(), h.Lane(), h.Lanes(), h.Side(), k)
		}
		if !eventually(5*time.Second, func() bool { return rs[k].Peer().State == PeerAlive }) {
			t.Errorf("lane %d: engine sees %v", k, rs[k].Peer())
		}
	}
	_, err = OpenAnyLane(base, o)
	if !errors.Is(err, ErrSideBusy) {
		t.Fatalf("fourth host: %v; want %v", err, ErrSideBusy)
	}
	for _, s := range []string{"all 3 lanes of " + base + " are taken", "lane 0: side 1 is active by pid", "lane 2: side 1 is active"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("fourth host: %q; want it to mention %q", err, s)
		}
	}
	start := time.Now()
	o.AttachTimeout = 100 * time.Millisecond
	if _, err := OpenAnyLane(base, o); !errors.Is(err, ErrSideBusy) || time.Since(start) < o.AttachTimeout {
		t.Errorf("fourth host waiting %v: %v after %v; want %v after the timeout", o.AttachTimeout, err, time.Since(start), ErrSideBusy)
	}

	// Host 1 leaves; lane 1 is busy (DETACHED) until the engine reclaims
	// it. A host waiting meanwhile gets it then.
	hosts[1].Close()
	if !eventually(5*time.Second, func() bool { return rs[1].Peer().State == PeerGone }) {
		t.Fatalf("lane 1 after its host left: %v", rs[1].Peer())
	}
	if _, err := OpenAnyLane(base, Options{Dir: dir}); !errors.Is(err, ErrSideBusy) {
		t.Fatalf("before reclaim: %v; want %v", err, ErrSideBusy)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		rs[1].ReclaimPeer()
	}()
	o.AttachTimeout = 10 * time.Second
	h, err := OpenAnyLane(base, o)
	if err != nil || h.Lane() != 1 {
		t.Fatalf("waiting host: %v, %v; want lane 1", h, err)
	}
	hosts[1] = h
	if rs[1].Peer().State != PeerAlive && !eventually(5*time.Second, func() bool { return rs[1].Peer().State == PeerAlive }) {
		t.Errorf("lane 1: engine sees %v", rs[1].Peer())
	}

	// One lane: Create's region is lane 0 of 1.
	single, err := Create(laneOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	h, err = OpenAnyLane(single.Name(), Options{Dir: dir})
	if err != nil || h.Lane() != 0 || h.Lanes() != 1 {
		t.Fatalf("OpenAnyLane(single) = %v, %v", h, err)
	}
	hosts = append(hosts, h)
	if _, err := OpenAnyLane(single.Name(), Options{Dir: dir}); !errors.Is(err, ErrSideBusy) || !strings.Contains(err.Error(), "the only lane of") {
		t.Errorf("second host on one lane: %v; want %v", err, ErrSideBusy)
	}

	// Names.
	for _, tt := range []struct {
		name  string
		want  error
		inMsg string
	}{
		{LaneName(base, 1), ErrName, "OpenAnyLane takes the lane-0 name " + base},
		{"haywire-nope", ErrName, "haywire-nope"},
		{NewName(), ErrNotFound, "not in"},
	} {
		if _, err := OpenAnyLane(tt.name, Options{Dir: dir}); !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("OpenAnyLane(%q) = %v; want %v mentioning %q", tt.name, err, tt.want, tt.inMsg)
		}
	}
}

// TestOpenLaneErrors writes lane files whose headers disagree with their
// names or with lane 0: Open and OpenAnyLane refuse them with clear
// errors.
func TestOpenLaneErrors(t *testing.T) {
	dir := t.TempDir()
	rs, err := CreateLanes(laneOptions(dir), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(rs)
	image := func(k int) []byte {
		b, err := os.ReadFile(rs[k].Path())
		if err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint64(b[sideOffset(1)+SideClaimOffset:], 0)
		return b
	}
	le := binary.LittleEndian
	// write stores lane k's image as name (uuid fixed up to the name's)
	// after mutate.
	write := func(name string, k int, mutate func(b []byte)) string {
		id, err := ParseName(name)
		if err != nil {
			t.Fatal(err)
		}
		b := image(k)
		copy(b[UUIDOffset:], id[:])
		if mutate != nil {
			mutate(b)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	setLane := func(lane, lanes uint32) func([]byte) {
		return func(b []byte) { le.PutUint32(b[LaneOffset:], lane); le.PutUint32(b[LanesOffset:], lanes) }
	}
	tests := []struct {
		name  string
		open  string
		want  error
		inMsg string
	}{
		{"lane 1 as lane 0", write(NewName(), 1, nil), ErrLayout, "is named lane 0 but its header says lane 1 of 2"},
		{"lane 0 as lane 1", write(NewName()+".1", 0, nil), ErrLayout, "is named lane 1 but its header says lane 0 of 2"},
		{"lane 1 as lane 2", write(NewName()+".2", 1, nil), ErrLayout, "is named lane 2 but its header says lane 1 of 2"},
		{"corrupt lane", write(NewName()+".1", 1, setLane(5, 2)), ErrLayout, "lane 5 of 2 lanes"},
		{"corrupt lane count", write(NewName()+".1", 1, setLane(1, 65)), ErrLayout, "lane 1 of 65 lanes"},
		{"lane count 0", write(NewName()+".1", 1, setLane(1, 0)), ErrLayout, "lane 1 of 0 lanes"},
		{"other uuid", write(NewName()+".1", 1, func(b []byte) { u := uuid.New(); copy(b[UUIDOffset:], u[:]) }), ErrLayout, "holds region"},
	}
	for _, tt := range tests {
		r, err := Open(tt.open, Options{Dir: dir})
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: Open = %v; want %v mentioning %q", tt.name, err, tt.want, tt.inMsg)
		}
	}
	// The untouched copies open, by name and as lanes.
	good := NewName()
	write(good, 0, nil)
	write(LaneName(good, 1), 1, nil)
	r, err := Open(LaneName(good, 1), Options{Dir: dir})
	if err != nil || r.Lane() != 1 || r.Lanes() != 2 {
		t.Fatalf("Open(valid lane 1 copy) = %v, %v", r, err)
	}
	r.Close()

	// OpenAnyLane: lane 0 taken, then a lane that disagrees with lane 0,
	// or none at all.
	busy0 := func(b []byte) { le.PutUint64(b[sideOffset(1)+SideClaimOffset:], claimWord(os.Getpid(), StateActive)) }
	mixed := write(NewName(), 0, busy0)
	write(LaneName(mixed, 1), 1, setLane(1, 3))
	short := write(NewName(), 0, busy0) // lane 1 missing
	corrupt := write(NewName(), 0, busy0)
	write(LaneName(corrupt, 1), 1, func(b []byte) { b[MagicOffset] = 'X' })
	for _, tt := range []struct {
		name, open string
		want       error
		inMsg      string
	}{
		{"lane counts differ", mixed, ErrLayout, "records 3 lanes, lane 0 records 2"},
		{"lane missing", short, ErrSideBusy, "lane 1: not found"},
		{"lane corrupt", corrupt, ErrMagic, LaneName(corrupt, 1)},
	} {
		r, err := OpenAnyLane(tt.open, Options{Dir: dir})
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: OpenAnyLane = %v; want %v mentioning %q", tt.name, err, tt.want, tt.inMsg)
		}
	}
}

// laneHostMain is a host process: it takes any lane (waiting up to the
// duration in envMode), says which, sends a NOP carrying its pid on it,
// and stays attached until killed.
func laneHostMain() int {
	wait, _ := time.ParseDuration(os.Getenv(envMode))
	r, err := OpenAnyLane(os.Getenv(envRegion), Options{Dir: os.Getenv(envDir), AttachTimeout: wait})
	if err != nil {
		fmt.Println("error:", err)
		if errors.Is(err, ErrSideBusy) {
			return 5
		}
		return 1
	}
	fmt.Printf("lane %d\n", r.Lane())
	if err := mustSend(r.Sender(), &Descriptor{Kind: KindNop, Stream: uint64(os.Getpid())}); err != nil {
		fmt.Println("send:", err)
		return 1
	}
	time.Sleep(time.Hour)
	return 0
}

// awaitHostLane waits for a lane-host process to say which lane it took.
func awaitHostLane(t *testing.T, out *syncBuffer) int {
	t.Helper()
	var lane int
	if !eventually(30*time.Second, func() bool {
		_, err := fmt.Sscanf(out.String(), "lane %d", &lane)
		return err == nil || strings.HasPrefix(out.String(), "error:")
	}) || strings.HasPrefix(out.String(), "error:") {
		t.Fatalf("host took no lane: %q", out)
	}
	return lane
}

// awaitNop waits for a NOP with the given stream on r.
func awaitNop(t *testing.T, r *Region, stream uint64) {
	t.Helper()
	rc := r.Receiver()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		n, err := rc.Poll(8)
		if err != nil {
			t.Fatalf("lane %d: %v", r.Lane(), err)
		}
		for i := range n {
			if d, err := rc.Get(i); err == nil && d.Kind == KindNop && d.Stream == stream {
				rc.Consume(n)
				return
			}
		}
		rc.Consume(n)
		if n == 0 {
			rc.Wait(100*time.Millisecond, nil)
		}
	}
	t.Fatalf("lane %d: no NOP from pid %d", r.Lane(), stream)
}

// TestLanesCrossProcessKill: host processes take lanes 0 and 1 of three;
// the first is killed with SIGKILL. Its lane stays taken until the engine
// reclaims it, so the next host picks the free lane 2; then every lane is
// taken; a host that waits gets lane 0 back once the engine has declared
// the dead host dead and reclaimed it.
func TestLanesCrossProcessKill(t *testing.T) {
	dir := t.TempDir()
	rs, err := CreateLanes(laneOptions(dir), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(rs)
	base := rs[0].Name()
	host := func(wait time.Duration, want int) *exec.Cmd {
		t.Helper()
		cmd, out := startPeerAt(t, base, dir, "lane-host", envMode+"="+wait.String())
		if got := awaitHostLane(t, out); got != want {
			t.Fatalf("host %d took lane %d; want %d", cmd.Process.Pid, got, want)
		}
		awaitNop(t, rs[want], uint64(cmd.Process.Pid))
		return cmd
	}
	a := host(0, 0)
	host(0, 1)
	a.Process.Signal(syscall.SIGKILL)
	a.Wait()
	host(0, 2) // lane 0 is still A's: the free lane
	_, err = OpenAnyLane(base, Options{Dir: dir})
	// Lane 0 is A's: still active, or detached once the engine fenced it.
	heldByA := err != nil && (strings.Contains(err.Error(), fmt.Sprintf("lane 0: side 1 is active by pid %d", a.Process.Pid)) ||
		strings.Contains(err.Error(), fmt.Sprintf("lane 0: side 1 is detached by pid %d", a.Process.Pid)))
	if !errors.Is(err, ErrSideBusy) || !strings.Contains(err.Error(), "all 3 lanes") || !heldByA {
		t.Fatalf("with lanes 1, 2 held and A dead on lane 0: %v; want all 3 lanes taken, lane 0 by pid %d", err, a.Process.Pid)
	}
	// D waits; the engine finds A dead and reclaims its lane; D takes it.
	cmd, out := startPeerAt(t, base, dir, "lane-host", envMode+"=30s")
	if !eventually(10*time.Second, func() bool { return rs[0].Peer().State == PeerDead }) {
		t.Fatalf("lane 0 after its host was killed: %v", rs[0].Peer())
	}
	if res, err := rs[0].ReclaimPeer(); err != nil || res.PID != a.Process.Pid {
		t.Fatalf("ReclaimPeer = %+v, %v; want pid %d", res, err, a.Process.Pid)
	}
	if got := awaitHostLane(t, out); got != 0 {
		t.Fatalf("waiting host took lane %d; want 0", got)
	}
	awaitNop(t, rs[0], uint64(cmd.Process.Pid))
}

func createLanesWaitMain() int {
	n, _ := strconv.Atoi(os.Getenv(envCount))
	rs, err := CreateLanes(Options{Dir: os.Getenv(envDir), DataSlots: 16, ChunkSize: 64, Chunks: 4, PeerTimeout: 200 * time.Millisecond}, n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		return 1
	}
	fmt.Println("region:", rs[0].Name())
	time.Sleep(time.Hour) // until killed
	return 0
}

// TestStaleLanes: the lanes of a killed engine are stale together: not
// while a host holds any of them, all of them once none does. A live
// engine's lanes never are.
func TestStaleLanes(t *testing.T) {
	dir := t.TempDir()
	cmd, out := startPeerAt(t, "-", dir, "create-lanes-wait", envCount+"=3")
	var base string
	if !eventually(30*time.Second, func() bool {
		line, _, _ := strings.Cut(out.String(), "\n")
		base, _ = strings.CutPrefix(strings.TrimSpace(line), "region: ")
		_, err := ParseName(base)
		return err == nil
	}) {
		t.Fatalf("creator printed no region name: %q", out)
	}
	live, err := CreateLanes(laneOptions(dir), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(live)
	host, err := Open(LaneName(base, 1), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	list := func() map[string]Info {
		t.Helper()
		infos, err := List(dir)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]Info{}
		for _, in := range infos {
			m[in.Name] = in
		}
		if len(m) != 5 {
			t.Fatalf("List found %d regions; want 5: %+v", len(m), infos)
		}
		return m
	}
	infos := list()
	for _, name := range []string{base, LaneName(base, 1), LaneName(base, 2), live[0].Name(), live[1].Name()} {
		in := infos[name]
		_, lane, _ := ParseLaneName(name)
		want := 3
		if strings.HasPrefix(name, live[0].Name()) {
			want = 2
		}
		if in.Stale || in.Lane != lane || in.Lanes != want {
			t.Errorf("%s: stale %v (%s), lane %d of %d; want not stale, lane %d of %d", name, in.Stale, in.Reason, in.Lane, in.Lanes, lane, want)
		}
	}
	if in := infos[LaneName(base, 2)]; !strings.Contains(in.Reason, "a lane of the same engine, is not stale") {
		t.Errorf("lane 2 of the dead engine: %q; want the lane rule as the reason", in.Reason)
	}
	if removed, err := RemoveStale(dir); err != nil || len(removed) != 0 {
		t.Fatalf("RemoveStale with a host on lane 1 = %+v, %v; want nothing", removed, err)
	}
	host.Close()
	infos = list()
	for k := range 3 {
		if in := infos[LaneName(base, k)]; !in.Stale {
			t.Errorf("lane %d of the dead engine without hosts: not stale (%s)", k, in.Reason)
		}
	}
	removed, err := RemoveStale(dir)
	if err != nil || len(removed) != 3 {
		t.Fatalf("RemoveStale = %+v, %v; want the 3 lanes of the dead engine", removed, err)
	}
	files := regionFiles(t, dir)
	if len(files) != 2 || !strings.HasPrefix(files[0], live[0].Name()) || !strings.HasPrefix(files[1], live[0].Name()) {
		t.Errorf("after RemoveStale %s holds %v; want the live engine's 2 lanes", dir, files)
	}
}

// TestCPeerLane: the C peer attaches to lane 1 by its path and echoes on
// it; it refuses a lane file whose header names another lane.
func TestCPeerLane(t *testing.T) {
	bin := buildC(t, "shm_peer.c")
	dir := t.TempDir()
	rs, err := CreateLanes(laneOptions(dir), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(rs)
	var out bytes.Buffer
	cmd := exec.Command(bin, rs[1].Path())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !eventually(20*time.Second, func() bool { return rs[1].Peer().State == PeerAlive }) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("C peer never attached to lane 1: %s", out.String())
	}
	if rs[0].Peer().State != PeerAbsent {
		t.Errorf("lane 0 has a peer: %v", rs[0].Peer())
	}
	if err := mustSend(rs[1].Sender(), &Descriptor{Kind: KindNop, Stream: math.MaxUint64}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil || !strings.HasPrefix(out.String(), "ok received=1 ") {
		t.Fatalf("C peer on lane 1: %v: %s", err, out.String())
	}
	// A copy of lane 1 under the name of lane 0 of another uuid... whose
	// header says lane 1: refused.
	b, err := os.ReadFile(rs[1].Path())
	if err != nil {
		t.Fatal(err)
	}
	name := NewName()
	id, _ := ParseName(name)
	copy(b[UUIDOffset:], id[:])
	binary.LittleEndian.PutUint64(b[sideOffset(1)+SideClaimOffset:], 0)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command(bin, p).CombinedOutput(); err == nil || !strings.Contains(string(o), "the name says lane 0, the header lane 1 of 2") {
		t.Errorf("C peer on a lane-1 header named as lane 0: %v: %s", err, o)
	}
}
