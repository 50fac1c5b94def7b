package region

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/haywireowin/haywire/region/arena"
	"github.com/haywireowin/haywire/ringbuf"
)

// Defaults applied to zero Options fields.
const (
	DefaultDataSlots   = 4096
	DefaultChunkSize   = 4096
	DefaultChunks      = 1024
	DefaultPeerTimeout = time.Second
	DefaultSpin        = 20 * time.Microsecond
)

// Options configure Create, CreateLanes, Open and OpenAnyLane. Zero fields
// take the defaults above.
type Options struct {
	// Dir is the directory holding region files (Unix). Default: /dev/shm
	// if it exists and is writable, else os.TempDir(); Open searches both.
	Dir string
	// Name is the name Create gives the region, or CreateLanes gives lane
	// 0, instead of a fresh one: a lane-0 name, haywire-<uuid> (see
	// ParseLaneName). Create and CreateLanes only; empty: NewName().
	Name string

	// DataSlots is the number of descriptors each data ring holds, a power
	// of two. Create only.
	DataSlots int
	// ChunkSize and Chunks give each arena's geometry: ChunkSize a power of
	// two in [64, 1 MiB]. Create only.
	ChunkSize int
	Chunks    int
	// PeerTimeout bounds how long a dead or stalled peer goes unnoticed;
	// both sides use the creator's value, recorded in the header. Create
	// only; at least 10 ms.
	PeerTimeout time.Duration

	// Spin is how long a Wait polls before it sleeps on the futex.
	// Default: DefaultSpin (20 µs) when this process may run on more than
	// one CPU, else no spin — confined to one CPU, a spinner only takes
	// time from a peer that shares it (docs/benchmarks.md, "Design
	// choices"). Spinning much longer than a futex round trip (tens of µs)
	// rarely pays. Negative: sleep at once.
	Spin time.Duration
	// AttachTimeout is how long Open waits for its side to become free,
	// e.g. while the peer reclaims a dead predecessor. Zero: do not wait.
	AttachTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.DataSlots == 0 {
		o.DataSlots = DefaultDataSlots
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.Chunks == 0 {
		o.Chunks = DefaultChunks
	}
	if o.PeerTimeout == 0 {
		o.PeerTimeout = DefaultPeerTimeout
	}
	if o.Spin == 0 {
		o.Spin = DefaultSpin
		if runtime.NumCPU() == 1 { // counts only the CPUs our affinity allows
			o.Spin = -1
		}
	}
}

// Region is one process's attachment to a shared region, as one of its two
// sides. Its Sender and Receiver move descriptors; a monitor goroutine
// beats this side's heartbeat and watches the peer's.
//
// Concurrency: the Sender and the Receiver may each be driven by its own
// goroutine. Peer, PeerTimeout, Counter, PeerCounter and Wake are safe from
// any goroutine at any time, and so is Fenced. ReclaimPeer and Rejoin must
// not run concurrently with any Sender or Receiver call (Receiver.Release
// and Flush excepted); Close may only overlap their Wait methods (see
// Close).
type Region struct {
	// Immutable after Open/Create.
	name     string
	m        *mapping
	layout   Layout
	side     int  // 0 or 1
	creator  bool // this attachment created the file and removes it on Close
	opts     Options
	pid      int
	interval time.Duration // heartbeat period and longest sleep slice: PeerTimeout/10

	epoch atomic.Uint32 // this attachment's incarnation; a new one after Rejoin

	// Views of the shared header, valid while mem is mapped. own is
	// written by this process (claim by CAS, the peer may CAS it too when
	// fencing us); peer is read here and CASed only to fence or free it.
	mem       []byte // the whole mapping; nil after Close (under mu)
	own, peer sideWords
	ctlFlags  *atomic.Uint32
	counters  *[16]atomic.Uint64 // own counter block: atomic adds from any goroutine of ours

	send *Sender   // used by the sending goroutine
	recv *Receiver // used by the receiving goroutine

	// mu guards obs and the unmapping of mem; the monitor holds it while
	// judging the peer. The flags are atomics so hot paths and waits read
	// them without the lock.
	mu        sync.Mutex
	obs       peerObservation
	verdict   atomic.Int32 // PeerState; written under mu, read anywhere
	fenced    atomic.Bool  // set by the monitor when our claim was revoked
	closed    atomic.Bool  // set first thing in Close
	waiters   atomic.Int32 // goroutines inside wait; the mapping is never unmapped while > 0
	unmap     atomic.Int32 // unmapNone, then unmapPending (Close left it to the last waiter), unmapDone
	stopMon   chan struct{}
	monDone   chan struct{}
	closeOnce sync.Once
	stopOnce  sync.Once
}

// States of Region.unmap. Close unmaps the region itself once every
// waiter has left; if some are still inside wait after closeGrace (a
// goroutine that has not been scheduled since it was woken), it marks the
// unmap pending and the last waiter to leave does it. Whoever moves
// unmapPending to unmapDone by compare-and-swap unmaps: exactly one.
const (
	unmapNone = iota
	unmapPending
	unmapDone
)

// closeGrace is how long Close waits for woken waiters to leave before it
// leaves the unmap to the last of them. A variable for tests.
var closeGrace = 5 * time.Second

// sideWords are the atomics of one side block.
type sideWords struct {
	claim     *atomic.Uint64
	epoch     *atomic.Uint32
	beatMS    *atomic.Uint32
	heartbeat *atomic.Uint64
	token     *atomic.Uint64
	attached  *atomic.Uint64
}

func u64(mem []byte, off int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&mem[off])) }
func u32(mem []byte, off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&mem[off])) }

func sideAt(mem []byte, s int) sideWords {
	o := sideOffset(s)
	return sideWords{
		claim:     u64(mem, o+SideClaimOffset),
		epoch:     u32(mem, o+SideEpochOffset),
		beatMS:    u32(mem, o+SideBeatOffset),
		heartbeat: u64(mem, o+SideHeartbeatOffset),
		token:     u64(mem, o+SideTokenOffset),
		attached:  u64(mem, o+SideAttachedOffset),
	}
}

func claimWord(pid int, state uint32) uint64 { return uint64(uint32(pid))<<32 | uint64(state) }
func claimPID(c uint64) int                  { return int(c >> 32) }
func claimState(c uint64) uint32             { return uint32(c) }

// Create creates a new region with a fresh name (or opts.Name), formats it
// and attaches to it as side 0. The file (Unix) is created exclusively
// with mode 0600 and removed by Close. The region is lane 0 of 1; see
// CreateLanes for more.
func Create(opts Options) (*Region, error) {
	name, err := baseName(opts.Name)
	if err != nil {
		return nil, err
	}
	return create(opts, name, 0, 1)
}

// baseName returns name, or a fresh name if it is empty, after checking
// that it is a lane-0 name.
func baseName(name string) (string, error) {
	if name == "" {
		return NewName(), nil
	}
	_, lane, err := ParseLaneName(name)
	if err != nil {
		return "", err
	}
	if lane != 0 {
		return "", fmt.Errorf("%w: Options.Name %q is lane %d; give the lane-0 name, %s", ErrConfig, name, lane, LaneName(name, 0))
	}
	return name, nil
}

// create creates region name as lane lane of lanes.
func create(opts Options, name string, lane, lanes int) (*Region, error) {
	opts.setDefaults()
	opts.Name = name
	l, err := plan(opts.DataSlots, arena.Geometry{ChunkSize: opts.ChunkSize, Chunks: opts.Chunks}, opts.PeerTimeout)
	if err != nil {
		return nil, err
	}
	id, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	m, err := createMapping(opts.Dir, name, int64(l.TotalSize))
	if err != nil {
		return nil, err
	}
	mem := m.bytes()
	l.UUID = id
	l.Lane, l.Lanes = lane, lanes
	l.CreatorPID = os.Getpid()
	_, l.CreatorToken = processStatus(l.CreatorPID)
	l.Created = time.Now()
	hdr := mem[:HeaderSize]
	clear(hdr) // tmpfs pages start zeroed; other backings might not
	l.encode(hdr)
	for _, ri := range l.Rings {
		if err := ringbuf.Init(mem[ri.Offset:ri.Offset+ri.Size], ri.Geometry); err != nil {
			m.close()
			m.remove()
			return nil, fmt.Errorf("region: format ring: %w", err)
		}
	}
	// The magic goes last, with an atomic store: an opener that sees it
	// also sees everything written above.
	u64(mem, MagicOffset).Store(Magic)
	r := newRegion(name, m, l, 0, true, opts)
	if err := r.claim(0); err != nil {
		m.close()
		m.remove()
		return nil, err
	}
	if err := r.attach(); err != nil {
		r.release()
		m.close()
		m.remove()
		return nil, err
	}
	return r, nil
}

// Open attaches to an existing region as side 1 (the host side).
func Open(name string, opts Options) (*Region, error) { return OpenSide(name, 1, opts) }

// OpenSide attaches to an existing region as the given side. Side 0 is
// normally held by the creator; a restarted engine can take it over once
// the peer has reclaimed the previous one. Open validates the whole header
// and every ring before claiming anything, and fails with an error carrying
// the offending values. The name may be any lane's: the header must hold
// the name's uuid and lane.
func OpenSide(name string, side int, opts Options) (*Region, error) {
	if side != 0 && side != 1 {
		return nil, fmt.Errorf("%w: side %d", ErrConfig, side)
	}
	opts.setDefaults()
	m, l, err := openValidated(opts.Dir, name)
	if err != nil {
		return nil, err
	}
	return attachSide(name, m, l, side, opts, opts.AttachTimeout)
}

// openValidated maps region name and validates it: the header, every ring
// control block, and that the header's uuid and lane are the name's.
func openValidated(dir, name string) (*mapping, Layout, error) {
	id, lane, err := ParseLaneName(name)
	if err != nil {
		return nil, Layout{}, err
	}
	m, size, err := openMapping(dir, name)
	if err != nil {
		return nil, Layout{}, err
	}
	mem := m.bytes()
	l, err := ParseHeader(mem, min(size, int64(len(mem))))
	switch {
	case err != nil:
	case l.UUID != id:
		err = fmt.Errorf("%w: %s holds region %s", ErrLayout, name, l.UUID)
	case l.Lane != lane:
		err = fmt.Errorf("%w: %s is named lane %d but its header says lane %d of %d", ErrLayout, name, lane, l.Lane, l.Lanes)
	default:
		err = checkRings(mem, &l)
	}
	if err != nil {
		m.close()
		return nil, Layout{}, fmt.Errorf("%w (%s)", err, m.path)
	}
	return m, l, nil
}

// attachSide claims side of the validated mapping m, waiting up to wait
// for it to be free, and attaches. m is unmapped if it fails.
func attachSide(name string, m *mapping, l Layout, side int, opts Options, wait time.Duration) (*Region, error) {
	opts.PeerTimeout = l.PeerTimeout
	r := newRegion(name, m, l, side, false, opts)
	if err := r.claim(wait); err != nil {
		m.close()
		return nil, err
	}
	if err := r.attach(); err != nil {
		r.release()
		m.close()
		return nil, err
	}
	return r, nil
}

func newRegion(name string, m *mapping, l Layout, side int, creator bool, opts Options) *Region {
	mem := m.bytes()
	r := &Region{
		name:     name,
		m:        m,
		mem:      mem,
		layout:   l,
		side:     side,
		creator:  creator,
		opts:     opts,
		pid:      os.Getpid(),
		own:      sideAt(mem, side),
		peer:     sideAt(mem, 1-side),
		ctlFlags: u32(mem, FlagsOffset),
		counters: (*[16]atomic.Uint64)(unsafe.Pointer(&mem[counterOffset(side, 0)])),
		interval: max(l.PeerTimeout/10, time.Millisecond),
	}
	return r
}

// claim takes this side: FREE -> ATTACHING(pid) by compare-and-swap, then
// epoch, token and heartbeat, then ACTIVE. It waits up to wait for the side
// to be free.
func (r *Region) claim(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	mine := claimWord(r.pid, StateAttaching)
	for !r.own.claim.CompareAndSwap(0, mine) {
		if time.Now().After(deadline) {
			c := r.own.claim.Load()
			alive, _ := processStatus(claimPID(c))
			return fmt.Errorf("%w: side %d is %s by pid %d (alive: %v)",
				ErrSideBusy, r.side, stateName(claimState(c)), claimPID(c), alive)
		}
		time.Sleep(time.Millisecond)
	}
	src := u32(r.mem, EpochSourceOffset)
	epoch := src.Add(1)
	for epoch == 0 { // 0 means "no epoch" in descriptors
		epoch = src.Add(1)
	}
	r.epoch.Store(epoch)
	_, token := processStatus(r.pid)
	r.own.epoch.Store(epoch)
	r.own.beatMS.Store(uint32(r.interval / time.Millisecond))
	r.own.token.Store(token)
	r.own.attached.Store(uint64(time.Now().UnixNano()))
	r.own.heartbeat.Add(1)
	if !r.own.claim.CompareAndSwap(mine, claimWord(r.pid, StateActive)) {
		return fmt.Errorf("%w: claim of side %d revoked while attaching", ErrFenced, r.side)
	}
	r.count(CounterAttaches, 1)
	return nil
}

// release gives up a claim taken by claim when attach fails.
func (r *Region) release() {
	r.own.claim.CompareAndSwap(claimWord(r.pid, StateActive), 0)
}

// attach builds the Sender and Receiver over the rings and arenas and
// starts the monitor.
func (r *Region) attach() error {
	e, err := r.endpoints()
	if err != nil {
		return err
	}
	s, p := r.side, 1-r.side
	r.send = &Sender{
		r: r, out: e.out, relIn: e.relIn, alloc: e.alloc, epoch: r.epoch.Load(),
		outData:  r.bellAt(dataBellOffset(dataRing(s))),
		outSpace: r.bellAt(spaceBellOffset(dataRing(s))),
		relData:  r.bellAt(dataBellOffset(releaseRing(s))),
		relSpace: r.bellAt(spaceBellOffset(releaseRing(s))),
	}
	r.send.collected.Store(e.relIn.Position())
	r.recv = &Receiver{
		r: r, in: e.in, relOut: e.relOut, view: e.view,
		inData:   r.bellAt(dataBellOffset(dataRing(p))),
		inSpace:  r.bellAt(spaceBellOffset(dataRing(p))),
		relData:  r.bellAt(dataBellOffset(releaseRing(p))),
		relSpace: r.bellAt(spaceBellOffset(releaseRing(p))),
	}
	r.recv.minEpoch = 1
	r.observePeer(time.Now())
	r.stopMon = make(chan struct{})
	r.monDone = make(chan struct{})
	go r.monitor()
	return nil
}

// endpointState is the private state of a Sender and a Receiver: ring
// positions taken from the current indices, and an allocator with every
// chunk free (include/haywire_shm.h section 9, claim step 4).
type endpointState struct {
	out, relOut *ringbuf.Producer
	in, relIn   *ringbuf.Consumer
	alloc       *arena.Allocator
	view        arena.View
}

// endpoints builds fresh endpoint state over this side's rings and arenas.
func (r *Region) endpoints() (endpointState, error) {
	s, p := r.side, 1-r.side
	ring := func(i int) []byte {
		ri := r.layout.Rings[i]
		return r.mem[ri.Offset : ri.Offset+ri.Size]
	}
	arenaMem := func(i int) []byte {
		ai := r.layout.Arenas[i]
		return r.mem[ai.Offset : ai.Offset+ai.Size]
	}
	out, err := ringbuf.NewProducer(ring(dataRing(s)))
	if err != nil {
		return endpointState{}, fmt.Errorf("%w: ring %d: %w", ErrLayout, dataRing(s), err)
	}
	relIn, err := ringbuf.NewConsumer(ring(releaseRing(s)))
	if err != nil {
		return endpointState{}, fmt.Errorf("%w: ring %d: %w", ErrLayout, releaseRing(s), err)
	}
	in, err := ringbuf.NewConsumer(ring(dataRing(p)))
	if err != nil {
		return endpointState{}, fmt.Errorf("%w: ring %d: %w", ErrLayout, dataRing(p), err)
	}
	relOut, err := ringbuf.NewProducer(ring(releaseRing(p)))
	if err != nil {
		return endpointState{}, fmt.Errorf("%w: ring %d: %w", ErrLayout, releaseRing(p), err)
	}
	alloc, err := arena.NewAllocator(arenaMem(s), r.layout.Arenas[s].Geometry)
	if err != nil {
		return endpointState{}, fmt.Errorf("%w: arena %d: %w", ErrLayout, s, err)
	}
	view, err := arena.NewView(arenaMem(p), r.layout.Arenas[p].Geometry)
	if err != nil {
		return endpointState{}, fmt.Errorf("%w: arena %d: %w", ErrLayout, p, err)
	}
	return endpointState{out: out, relOut: relOut, in: in, relIn: relIn, alloc: alloc, view: view}, nil
}

// halted reports ErrClosed or ErrFenced, the states in which no ring may be
// touched. Three plain loads on the hot path; a best effort against misuse
// after Close, a guarantee against publishing once fenced is noticed. The
// claim itself is checked, not only the monitor's verdict: a process
// resumed after a stall must not read or publish even once before its
// monitor's next tick, since the peer may have reclaimed the rings.
func (r *Region) halted() error {
	if r.fenced.Load() {
		return ErrFenced
	}
	if r.closed.Load() {
		return ErrClosed
	}
	if r.own.claim.Load() != claimWord(r.pid, StateActive) {
		r.fence()
		return ErrFenced
	}
	return nil
}

// fence records that this side's claim was revoked and wakes its
// sleepers, which then fail with ErrFenced.
func (r *Region) fence() {
	if r.fenced.CompareAndSwap(false, true) {
		r.wakeOwn()
	}
}

// stopMonitor stops the monitor goroutine and waits for it.
func (r *Region) stopMonitor() {
	r.stopOnce.Do(func() {
		close(r.stopMon)
		<-r.monDone
	})
}

func (r *Region) bellAt(off int) bell {
	return bell{seq: u32(r.mem, off+BellSeqOffset), sleeping: u32(r.mem, off+BellSleepingOffset)}
}

// Name returns the region's name, haywire-<uuid> (lane 0) or
// haywire-<uuid>.<lane>.
func (r *Region) Name() string { return r.name }

// Lane returns the region's lane number, in [0, Lanes()).
func (r *Region) Lane() int { return r.layout.Lane }

// Lanes returns the number of lanes of the engine this region belongs to.
func (r *Region) Lanes() int { return r.layout.Lanes }

// Path returns the file path (Unix) or the mapping's object name (Windows).
func (r *Region) Path() string { return r.m.path }

// Side returns the side this attachment holds, 0 or 1.
func (r *Region) Side() int { return r.side }

// Epoch returns this attachment's incarnation number, unique in the region.
func (r *Region) Epoch() uint32 { return r.epoch.Load() }

// Layout returns the validated header layout.
func (r *Region) Layout() Layout { return r.layout }

// CreatorClosed reports whether the creator closed the region: its name is
// gone and no engine will attach to it again, so a host that finds its
// peer gone should detach rather than wait for a successor.
func (r *Region) CreatorClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mem == nil || r.ctlFlags.Load()&FlagClosed != 0
}

// Sender returns this side's sending half.
func (r *Region) Sender() *Sender { return r.send }

// Receiver returns this side's receiving half.
func (r *Region) Receiver() *Receiver { return r.recv }

// Counter returns one of this side's counters (Counter* constants), or 0
// after Close.
func (r *Region) Counter(c int) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return 0
	}
	return r.counters[c].Load()
}

// PeerCounter returns one of the peer side's counters, as the peer wrote
// it, or 0 after Close.
func (r *Region) PeerCounter(c int) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return 0
	}
	return u64(r.mem, counterOffset(1-r.side, c)).Load()
}

func (r *Region) count(c int, n uint64) { r.counters[c].Add(n) }

// Close detaches from the region and unmaps it. A peer that left or was
// declared dead is reclaimed first (as ReclaimPeer, but without calling
// OnReturn). If the peer is attached it finds this side detached and
// reclaims it; if not, this side's rings are reset here; if this side is
// fenced it touches neither the rings nor the side, which are the peer's
// to reclaim. The creator also marks the region closed and removes its
// name.
//
// Goroutines blocked in Wait, WaitSpace, WaitChunks or WaitReleases are
// woken and return ErrClosed, so Close may be called from another
// goroutine to stop a worker sleeping on a doorbell. The memory is never
// unmapped while such a goroutine is still inside its wait: Close waits up
// to 5 s for them to leave (they leave as soon as they are scheduled), and
// if one has not left by then, Close returns without unmapping and the
// last waiter to leave unmaps. Any other Sender or Receiver call must not
// run concurrently with Close, and none may be made after it (their
// memory is gone): the worker must stop on ErrClosed. Payload slices
// obtained from the Receiver become invalid. Peer, Counter, PeerCounter
// and Wake are safe at any time.
func (r *Region) Close() error {
	err := ErrClosed
	r.closeOnce.Do(func() {
		err = nil
		r.closed.Store(true)
		r.stopMonitor()
		// Waiters re-check closed after every wake (and at most every
		// interval): let them leave. Store closed, then load waiters;
		// a waiter adds itself, then loads closed: one sees the other.
		r.wakeOwn()
		for deadline := time.Now().Add(closeGrace); r.waiters.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Microsecond)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		mine := claimWord(r.pid, StateActive)
		if r.creator {
			r.ctlFlags.Or(FlagClosed)
		}
		if !r.fenced.Load() && r.own.claim.Load() == mine && claimState(r.peer.claim.Load()) == StateDetached {
			// The peer left or was declared dead and nobody else will
			// reclaim it: do, so the region is left clean for
			// successors (and what it published unread is discarded
			// rather than read by a successor of ours).
			r.reclaimLocked(false)
		}
		peerState := claimState(r.peer.claim.Load())
		switch {
		case r.fenced.Load() || r.own.claim.Load() != mine:
			// Fenced: the rings and the side are the peer's to reclaim
			// (or a successor's); touch neither.
		case peerState == StateFree:
			// Nobody will reclaim for us: leave the rings as a fresh
			// occupant of this side will expect them (nothing lent,
			// nothing pending) and free the side.
			r.recv.Flush()
			r.send.out.Reclaim()
			r.send.relIn.Reclaim()
			r.recv.relOut.Reclaim()
			r.recv.in.Reclaim()
			r.own.token.Store(0)
			r.own.claim.CompareAndSwap(mine, 0)
		default:
			r.recv.Flush()
			r.own.claim.CompareAndSwap(mine, claimWord(r.pid, StateDetached))
		}
		r.wakePeer()
		if r.creator {
			if rerr := r.m.remove(); rerr != nil {
				err = fmt.Errorf("region: remove %s: %w", r.m.path, rerr)
			}
		}
		r.mem = nil
		// Unmap now unless a waiter is still inside wait (it would fault
		// on its next access): then the last one to leave unmaps. Store
		// pending, then load waiters; a waiter decrements, then CASes
		// pending: at least one of the two sees the other, the CAS picks
		// one.
		r.unmap.Store(unmapPending)
		if r.waiters.Load() == 0 && r.unmap.CompareAndSwap(unmapPending, unmapDone) {
			if cerr := r.m.close(); cerr != nil && err == nil {
				err = fmt.Errorf("region: unmap %s: %w", r.m.path, cerr)
			}
		}
	})
	return err
}

// leaveWait is the last thing a waiter does: it deregisters and, if Close
// left the unmap to the last waiter, unmaps when it is that one. Nothing
// may touch the mapping after it.
func (r *Region) leaveWait() {
	if r.waiters.Add(-1) == 0 && r.unmap.Load() == unmapPending && r.unmap.CompareAndSwap(unmapPending, unmapDone) {
		r.m.close() // nobody to report an error to; the mapping is gone either way
	}
}

// Remove deletes the region named name from opts.Dir (or the default
// directories) whatever its state. Processes that mapped it keep their
// mapping. On Windows it does nothing: a section disappears with its last
// handle.
func Remove(name string, opts Options) error {
	if _, err := ParseName(name); err != nil {
		return err
	}
	return removeName(opts.Dir, name)
}

func stateName(s uint32) string {
	switch s {
	case StateFree:
		return "free"
	case StateAttaching:
		return "attaching"
	case StateActive:
		return "active"
	case StateDetached:
		return "detached"
	}
	return fmt.Sprintf("state(%d)", s)
}
