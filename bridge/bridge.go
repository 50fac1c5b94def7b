package bridge

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/http1"
	"github.com/haywireowin/haywire/region"
)

// Options configures a Bridge. Zero fields take the defaults given.
type Options struct {
	// Region configures each lane's region (directory, ring and arena
	// sizes, liveness bound).
	Region region.Options
	// SendTimeout bounds how long a request waits for room in a host's
	// ring and arena before it is answered 503. Default 5 s.
	SendTimeout time.Duration
	// TakeTimeout bounds how long a request published to a live host may
	// wait for the host to take it off the ring before it is answered 503
	// (a host that stopped consuming). Default 10 s.
	TakeTimeout time.Duration
	// BodyInline is the largest request body sent inside the view; larger
	// ones, chunked ones and those behind "Expect: 100-continue" stream
	// (include/haywire_bridge.h section 1). Default 64 KiB.
	BodyInline int
	// BodyWindow bounds the bytes of one request body a host holds
	// unreleased; the engine stops reading that client meanwhile. Default
	// a quarter of the request arena, at least one chunk.
	BodyWindow int
	// RequestLimits are the engine's limits on request heads (its
	// engine.Config.Limits): with BodyInline they bound the largest
	// request view, which New checks the ring and arena can carry. Zero
	// fields: http1.DefaultLimits.
	RequestLimits http1.Limits
	// HostWait bounds how long a request that finds no host ready waits
	// for one to attach (a host starting or restarting) before it is
	// answered 503. Default 5 s; negative: answer 503 at once.
	HostWait time.Duration
	// Lanes is how many hosts may be attached at once (each lane is a
	// region file). Two allow a hot swap: a new host attaches while the old
	// one drains. Default 2, at most region.MaxLanes.
	Lanes int
}

// Bridge is the engine side: it owns the region and serves requests by
// forwarding them to the attached host. Use it as an engine.Handler (the
// server's NotFound handler routes every request without a native route).
type Bridge struct {
	opts   Options
	lanes  []*lane
	nextID atomic.Uint64
	stop   chan struct{}

	closeOnce sync.Once
	closeErr  error // the first Close's
	wg        sync.WaitGroup
	// writers counts the goroutines writing streamed responses: they read
	// the hosts' arenas, which Close must not unmap under them.
	writers sync.WaitGroup
	stats   counters
	// clock is a coarse time.Now (UnixNano), advanced by the receive
	// loops: take deadlines need no clock read per request.
	clock atomic.Int64
	// serving caches pick() for the request path; refreshed under pickMu
	// whenever a lane's host attaches, drains or goes. Under SetAdmit,
	// spread holds every lane that takes new requests (serving is one of
	// them) and choose spreads requests over them.
	serving atomic.Pointer[lane]
	spread  atomic.Pointer[[]*lane]
	turn    atomic.Uint32 // where choose starts looking: ties go round
	pickMu  sync.Mutex
	// admit, when set (SetAdmit), decides which attached hosts serve;
	// nil: the newest does and the others drain. Under pickMu; isManaged
	// is set with it, for pick (which runs under pickMu).
	admit     func(pid int) bool
	isManaged atomic.Bool
	admitMu   sync.Mutex // one SetAdmit at a time: its passes must not interleave
	// hostCame is closed (and replaced) when a lane starts serving: the
	// requests waiting for a host go then. Under pickMu.
	hostCame chan struct{}
}

// refreshServing recomputes the lane new requests go to.
func (b *Bridge) refreshServing() {
	b.pickMu.Lock()
	l := b.pick()
	if b.admit != nil {
		var set []*lane
		for _, o := range b.lanes {
			if o.open.Load() {
				set = append(set, o)
			}
		}
		b.spread.Store(&set)
	}
	b.serving.Store(l)
	if l != nil && b.hostCame != nil {
		close(b.hostCame)
		b.hostCame = nil
	}
	b.pickMu.Unlock()
}

// awaitHost returns the lane new requests go to, waiting until deadline
// for a host when none serves: a host starting (or restarting) costs its
// first requests a delay, not a 503. Nil when none came in time.
func (b *Bridge) awaitHost(deadline time.Time) *lane {
	if l := b.choose(); l != nil || b.opts.HostWait < 0 {
		return l
	}
	if deadline.IsZero() { // the serving lane went since the caller looked
		deadline = time.Now().Add(b.opts.HostWait)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		b.pickMu.Lock()
		l := b.serving.Load()
		if l == nil && b.hostCame == nil {
			b.hostCame = make(chan struct{})
		}
		came := b.hostCame
		b.pickMu.Unlock()
		if l != nil {
			return b.choose()
		}
		select {
		case <-came:
		case <-timer.C:
			return b.choose()
		case <-b.stop:
			return nil
		}
	}
}

// choose returns the lane for a new request: the serving one, or under
// SetAdmit the serving lane with the fewest requests in flight (ties taken
// in turn, so that a light load reaches every host too). Nil when none.
func (b *Bridge) choose() *lane {
	l := b.serving.Load()
	set := b.spread.Load()
	if l == nil || set == nil || len(*set) < 2 {
		return l
	}
	lanes := *set
	start := int(b.turn.Add(1) % uint32(len(lanes)))
	best := lanes[start]
	for i := 1; i < len(lanes); i++ {
		if o := lanes[(start+i)%len(lanes)]; o.n.Load() < best.n.Load() {
			best = o
		}
	}
	return best
}

// SetAdmit makes admit decide which hosts serve, in place of "the newest
// attached host serves and the others drain" (a supervisor that runs
// several hosts at once, and swaps generations of them, says which):
// new requests go to every attached host admit accepts (its pid), spread
// by fewest requests in flight; a host that served and is no longer
// accepted is told to drain; a host never accepted waits, attached and
// idle. SetAdmit re-applies admit to every lane: call it again, with the
// same function, whenever its answers change. Hosts that attach later
// are judged as they attach.
func (b *Bridge) SetAdmit(admit func(pid int) bool) {
	if admit == nil {
		panic("bridge: SetAdmit(nil)")
	}
	b.admitMu.Lock()
	defer b.admitMu.Unlock()
	b.pickMu.Lock()
	b.admit = admit
	b.isManaged.Store(true)
	b.pickMu.Unlock()
	b.judgeLocked(admit)
}

// reAdmit applies the admit function SetAdmit set to every lane again.
func (b *Bridge) reAdmit() {
	b.admitMu.Lock()
	defer b.admitMu.Unlock()
	b.pickMu.Lock()
	admit := b.admit
	b.pickMu.Unlock()
	b.judgeLocked(admit)
}

// judgeLocked is SetAdmit's pass over the lanes, with admitMu held.
func (b *Bridge) judgeLocked(admit func(pid int) bool) {
	// Judge every host first, then drain those that lost their place
	// before opening the newcomers: no request goes to an old host after
	// one went to a new (a swap is never seen mixed back).
	type verdict struct {
		l     *lane
		epoch uint32
		ok    bool
	}
	var verdicts []verdict
	for _, l := range b.lanes {
		l.mu.Lock()
		attached := l.epoch != 0 && !l.draining
		l.mu.Unlock()
		if p := l.r.Peer(); attached && p.State == region.PeerAlive { // gone or going: watchHost deals with it
			verdicts = append(verdicts, verdict{l, p.Epoch, admit(p.PID)})
		}
	}
	for _, v := range verdicts {
		v.l.mu.Lock()
		// The lane may have changed hosts meanwhile: judge only the one seen.
		drop := !v.ok && v.l.admitted && v.l.epoch == v.epoch && !v.l.draining
		v.l.mu.Unlock()
		if drop {
			v.l.drain()
		}
	}
	for _, v := range verdicts {
		v.l.mu.Lock()
		if v.ok && v.l.epoch == v.epoch && !v.l.draining {
			v.l.admitted = true
			v.l.open.Store(true)
		}
		v.l.mu.Unlock()
	}
	b.refreshServing()
}

// managed reports whether SetAdmit was called.
func (b *Bridge) managed() bool { return b.isManaged.Load() }

// now returns the coarse clock.
func (b *Bridge) now() time.Time { return time.Unix(0, b.clock.Load()) }

type counters struct {
	forwarded, completed, noHost, failed, invalid, cancelled, aborted atomic.Uint64
	bodyIn, bodyOut                                                   atomic.Uint64
}

// lane is one region and the streams in flight on it.
type lane struct {
	b *Bridge
	r *region.Region

	// sendMu serialises the region's Sender (single producer) and guards
	// scratch and owner.
	sendMu  sync.Mutex
	scratch []byte
	view    wire.ViewRequest // reused for each request (sendMu)
	owner   []*stream        // by request-arena chunk: the stream whose body it holds
	chunk   int              // request-arena chunk size
	window  int              // BodyWindow in chunks

	// done completes exchanges for the receive goroutine, one write per
	// connection per batch of responses.
	done engine.Completer

	// owed is set when a request was published without waking the host
	// (Sender.CommitQuiet); kick starts the ringer goroutine, which rings
	// once the other connections made ready in the same pass of the
	// scheduler have published theirs (see ringer).
	owed atomic.Bool
	kick chan struct{}
	// poke wakes the receive goroutine where it parks while the host
	// holds nothing (parkIdle): the ringer pokes it after each ring.
	poke chan struct{}

	// fenced and rejoinErr belong to the receive goroutine: the lane was
	// lost to a host that declared this engine dead, and why the last
	// attempt to reinitialise it failed (logged when it changes).
	fenced    bool
	rejoinErr string

	// open is set while the lane takes new requests: its host is alive
	// and not draining. send checks it under sendMu, so no request is
	// published behind a drain notice, or to a host that is gone.
	open atomic.Bool
	// drainOwed is the epoch of the host owed a drain notice the ring had
	// no room for yet (0: none); the receive loop sends it. Written under
	// mu.
	drainOwed atomic.Uint32

	mu       sync.Mutex // guards the fields below
	streams  map[uint64]*stream
	untaken  []untaken // requests published, oldest first, not yet seen taken
	epoch    uint32    // the attached host's epoch; 0 when none
	since    time.Time // when that host attached: the newest one gets new requests
	draining bool      // that host was told to drain
	admitted bool      // under SetAdmit: that host was let serve
	// n is len(streams), stored at each change: choose reads it without mu.
	n atomic.Int32
}

// untaken is a request on the ring the host may not have taken yet.
type untaken struct {
	pos      uint64 // the ring position after its last part
	id       uint64
	deadline time.Time
}

// stream is one request in flight: the held exchange, the response parts
// received so far, and the state of streamed bodies.
type stream struct {
	x    *engine.Exchange
	l    *lane
	id   uint64
	conn uint32
	resp []byte

	// Request body (BodyStreamed): chunks the host holds (l.sendMu), and
	// over once no more body may be sent (the response is complete or
	// the stream failed).
	lent int
	over atomic.Bool

	// Streamed response: pieces for the writer goroutine, and failed
	// closed (once) when the stream must be abandoned.
	out      chan piece
	failed   chan struct{}
	failOnce sync.Once
}

// New creates the region's lanes and starts serving them.
func New(opts Options) (*Bridge, error) {
	if opts.SendTimeout == 0 {
		opts.SendTimeout = 5 * time.Second
	}
	if opts.TakeTimeout == 0 {
		opts.TakeTimeout = 10 * time.Second
	}
	if opts.BodyInline == 0 {
		opts.BodyInline = 64 << 10
	}
	if opts.HostWait == 0 {
		opts.HostWait = 5 * time.Second
	}
	if opts.SendTimeout < 0 || opts.TakeTimeout < 0 || opts.BodyInline < 0 || opts.BodyWindow < 0 {
		return nil, fmt.Errorf("%w: negative option (send timeout %v, take timeout %v, body inline %d, body window %d)",
			ErrConfig, opts.SendTimeout, opts.TakeTimeout, opts.BodyInline, opts.BodyWindow)
	}
	if opts.Lanes == 0 {
		opts.Lanes = 2
	}
	if err := checkGeometry(&opts); err != nil {
		return nil, err
	}
	rs, err := region.CreateLanes(opts.Region, opts.Lanes)
	if err != nil {
		return nil, err
	}
	b := &Bridge{opts: opts, stop: make(chan struct{})}
	b.clock.Store(time.Now().UnixNano())
	for _, r := range rs {
		l := &lane{b: b, r: r, streams: map[uint64]*stream{}, kick: make(chan struct{}, 1), poke: make(chan struct{}, 1)}
		g := r.Sender().ArenaGeometry()
		l.chunk, l.owner = g.ChunkSize, make([]*stream, g.Chunks)
		l.window = max(1, g.Chunks/4)
		if opts.BodyWindow > 0 {
			l.window = max(1, (opts.BodyWindow+g.ChunkSize-1)/g.ChunkSize)
		}
		r.Sender().OnReturn = l.returned
		b.lanes = append(b.lanes, l)
	}
	for _, l := range b.lanes { // once b.lanes is whole: they read it
		b.wg.Add(2)
		go l.receive()
		go l.ringer()
	}
	return b, nil
}

// Name returns the region's name (lane 0), which hosts attach to.
func (b *Bridge) Name() string { return b.lanes[0].r.Name() }

// Dir returns the directory of the region files hosts attach in: the
// configured one, or where the default resolved (/dev/shm, else the
// temporary directory). Empty where regions are not files (Windows).
func (b *Bridge) Dir() string {
	if runtime.GOOS == "windows" {
		return ""
	}
	return filepath.Dir(b.lanes[0].r.Path())
}

// Close stops serving, fails requests in flight with 502 and removes the
// region's lanes. Later calls do nothing and return the first one's error.
func (b *Bridge) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		b.wg.Wait()
		for _, l := range b.lanes {
			l.failAll(502)
		}
		// The writers stop at b.stop, once out of a write to their client
		// (bounded by the engine's write timeout). Until then their
		// arenas stay mapped, whatever it costs.
		b.writers.Wait()
		for _, l := range b.lanes {
			if err := l.r.Close(); err != nil && b.closeErr == nil {
				b.closeErr = err
			}
		}
	})
	return b.closeErr
}

// pick returns the lane of the newest attached host that is not draining
// (and, under SetAdmit, admitted), or nil.
func (b *Bridge) pick() *lane {
	var best *lane
	var bestSince time.Time
	managed := b.managed()
	for _, l := range b.lanes {
		l.mu.Lock()
		ok, since := l.epoch != 0 && !l.draining && (!managed || l.admitted), l.since
		l.mu.Unlock()
		if ok && (best == nil || since.After(bestSince)) {
			best, bestSince = l, since
		}
	}
	return best
}

// rebalance tells every attached host but the newest to drain.
func (b *Bridge) rebalance() {
	newest := b.pick()
	for _, l := range b.lanes {
		if l != newest {
			l.drain()
		}
	}
}

// drain stops routing new requests to the lane's host and tells the host
// so (CANCEL DRAIN), once: every request sent before precedes the notice.
func (l *lane) drain() { l.drainEpoch(0) }

// drainEpoch is drain for the host of the given epoch (0: the one the lane
// knows). A host's own DRAIN names its epoch, which this lane may not have
// seen yet (the host asked to leave at once): it is noted, never routed to.
func (l *lane) drainEpoch(epoch uint32) {
	l.mu.Lock()
	if epoch != 0 && l.epoch != epoch {
		l.epoch, l.since, l.draining = epoch, time.Now(), false
	}
	tell := l.epoch != 0 && !l.draining
	if tell {
		// With the flag send checks under sendMu: no request is published
		// behind the notice.
		l.draining = true
		l.open.Store(false)
		l.drainOwed.Store(l.epoch)
	}
	l.mu.Unlock()
	if tell {
		l.b.refreshServing()
		l.sendOwedDrain()
	}
}

// sendOwedDrain sends the drain notice the lane owes its host, if the ring
// has room now; the receive loop calls it again until it had.
func (l *lane) sendOwedDrain() {
	if l.drainOwed.Load() == 0 {
		return
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	l.mu.Lock()
	epoch := l.drainOwed.Load()
	current := epoch != 0 && epoch == l.epoch // not a later host's
	l.mu.Unlock()
	if !current {
		return
	}
	ok, err := l.r.Sender().Send(&region.Descriptor{Kind: region.KindCancel, Aux: wire.CancelDrain})
	if err != nil {
		log.Printf("bridge: telling lane %d to drain: %v", l.r.Lane(), err)
	}
	if ok || err != nil {
		l.mu.Lock()
		l.drainOwed.CompareAndSwap(epoch, 0)
		l.mu.Unlock()
	}
}

// Stats are the bridge's counters.
type Stats struct {
	Forwarded uint64 // requests published to a host
	Completed uint64 // responses received and handed to the engine
	NoHost    uint64 // requests answered 503: no host, or no room in time
	Failed    uint64 // requests answered 502: host died, detached or answered garbage
	Invalid   uint64 // descriptors or messages from a host that failed validation
	Cancelled uint64 // requests whose client went away, told to the host
	Aborted   uint64 // responses the host abandoned (CANCEL HOST_ABORT)
	BodyIn    uint64 // streamed request-body bytes sent to hosts
	BodyOut   uint64 // streamed response-body bytes written to clients
	InFlight  uint64 // requests waiting for their response now
	HostPID   int    // pid of the host that gets new requests, 0 when none
}

// Stats returns a snapshot of the counters.
func (b *Bridge) Stats() Stats {
	inflight, pid := 0, 0
	for _, l := range b.lanes {
		l.mu.Lock()
		inflight += len(l.streams)
		l.mu.Unlock()
	}
	if l := b.pick(); l != nil {
		pid = l.r.Peer().PID
	}
	return Stats{
		Forwarded: b.stats.forwarded.Load(), Completed: b.stats.completed.Load(),
		NoHost: b.stats.noHost.Load(), Failed: b.stats.failed.Load(), Invalid: b.stats.invalid.Load(),
		Cancelled: b.stats.cancelled.Load(), Aborted: b.stats.aborted.Load(),
		BodyIn: b.stats.bodyIn.Load(), BodyOut: b.stats.bodyOut.Load(),
		InFlight: uint64(inflight), HostPID: pid,
	}
}

// LaneStats describe one lane: its host and what it holds.
type LaneStats struct {
	Lane      int
	Name      string // the lane's region name
	HostState string // absent, attaching, alive, gone or dead
	HostPID   int
	Epoch     uint32 // the host's incarnation
	Serving   bool   // new requests go to this lane
	Draining  bool   // its host was told to drain
	InFlight  int    // requests sent, response not yet received
	// Request arena: chunks in all, free, and lent to the host (occupancy).
	Chunks, ChunksFree, ChunksLent int
	Published                      uint64 // descriptors sent to the host
	Queued                         uint64 // of those, still on the ring: not taken yet
}

// Lanes returns a snapshot of every lane.
func (b *Bridge) Lanes() []LaneStats {
	serving := b.pick()
	managed := b.managed()
	out := make([]LaneStats, 0, len(b.lanes))
	for _, l := range b.lanes {
		p := l.r.Peer()
		st := LaneStats{Lane: l.r.Lane(), Name: l.r.Name(), HostState: p.State.String(), HostPID: p.PID,
			Epoch: p.Epoch, Serving: l == serving || managed && l.open.Load()}
		l.mu.Lock()
		st.Draining, st.InFlight = l.draining, len(l.streams)
		l.mu.Unlock()
		l.sendMu.Lock() // the sender's state belongs to whoever holds sendMu
		st.ChunksFree, _, st.ChunksLent = l.r.Sender().Chunks()
		st.Chunks = l.r.Sender().ArenaGeometry().Chunks
		st.Published = l.r.Sender().Position()
		st.Queued = st.Published - min(st.Published, l.r.Sender().Taken())
		l.sendMu.Unlock()
		out = append(out, st)
	}
	return out
}

// ServeExchange forwards x to the host, or answers 503 when none is
// attached within HostWait or it has no room within SendTimeout.
func (b *Bridge) ServeExchange(x *engine.Exchange) {
	var deadline time.Time // of the wait for a host, set when one is needed
	for try := 0; ; try++ {
		if try > 0 || b.serving.Load() == nil {
			if deadline.IsZero() {
				deadline = time.Now().Add(b.opts.HostWait)
			} else if time.Now().After(deadline) {
				b.stats.noHost.Add(1)
				x.BodyFunc = nil
				respondError(x, 503, "no application host took the request")
				x.Done()
				return
			}
			if try > 0 {
				runtime.Gosched() // the lane that refused is being taken out of service
			}
		}
		l := b.awaitHost(deadline)
		if l == nil {
			b.stats.noHost.Add(1)
			x.BodyFunc = nil
			respondError(x, 503, "no application host attached")
			x.Done() // if an earlier try held x; nothing otherwise
			return
		}
		id := b.nextID.Add(1)
		x.Hold() // copies the request out of the connection's buffer
		s := &stream{x: x, l: l, id: id, conn: uint32(x.ConnID())}
		// Only this goroutine calls x.Cancel, and not before we return.
		x.UserData, x.Cancel = s, cancelStream
		x.BodyFunc = nil
		if x.BodyStreamed() {
			x.BodyFunc = s.forwardBody
		}
		l.mu.Lock()
		l.streams[id] = s
		l.n.Store(int32(len(l.streams)))
		l.mu.Unlock()
		err := l.send(s)
		if err == nil {
			b.stats.forwarded.Add(1)
			return
		}
		if l.take(id) == nil {
			return // failed by the receiver meanwhile
		}
		if errors.Is(err, errLaneClosed) || errors.Is(err, region.ErrFenced) {
			continue // it began to drain, its host went or fenced us: pick again
		}
		b.stats.noHost.Add(1)
		x.BodyFunc = nil // nobody takes the body: the connection closes
		respondError(x, 503, "application host busy: "+err.Error())
		x.Done()
		return
	}
}

// errLaneClosed is send's error for a lane that stopped taking requests
// after the request picked it.
var errLaneClosed = errors.New("bridge: lane closed to new requests")

// StreamBody tells the engine which request bodies to stream rather than
// read whole first (engine.BodyStreamer).
func (b *Bridge) StreamBody(x *engine.Exchange) bool {
	req := x.Request()
	return req.Chunked || req.ExpectContinue || req.ContentLength > int64(b.opts.BodyInline)
}

// send encodes s's request view and publishes it, waiting for room up to
// SendTimeout.
func (l *lane) send(s *stream) error {
	x := s.x
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if !l.open.Load() {
		return errLaneClosed
	}
	v := &l.view
	viewOf(v, s.id, x)
	d := region.Descriptor{Kind: region.KindRequest, Flags: region.FlagEnd, Stream: s.id, Conn: s.conn}
	snd := l.r.Sender()
	if wire.ViewLen(v) <= l.chunk && l.sendOne(snd, &d, v) {
		l.published(snd, s.id)
		return nil
	}
	var err error
	if l.scratch, err = wire.EncodeView(l.scratch[:0], v); err != nil {
		return err
	}
	deadline := time.Now().Add(l.b.opts.SendTimeout)
	for {
		err := snd.SendBytes(d, l.scratch)
		if err == nil {
			l.published(snd, s.id)
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 || !(errors.Is(err, region.ErrRingFull) || errors.Is(err, region.ErrArenaFull)) {
			return err
		}
		if errors.Is(err, region.ErrRingFull) {
			snd.WaitSpace(left, l.b.stop)
		} else {
			snd.WaitChunks(left, l.b.stop)
		}
	}
}

// sendOne encodes a view that fits one chunk straight into the chunk and
// publishes it; false when the ring or arena has no room right now.
func (l *lane) sendOne(snd *region.Sender, d *region.Descriptor, v *wire.ViewRequest) bool {
	c, ok := snd.Alloc()
	if !ok {
		snd.Collect()
		if c, ok = snd.Alloc(); !ok {
			return false
		}
	}
	if k, _ := snd.Reserve(1); k == 0 {
		snd.Free(c)
		return false
	}
	b, err := wire.EncodeView(c.Buf[:0:len(c.Buf)], v) // capped: never past the chunk
	if err != nil || len(b) > len(c.Buf) || &b[0] != &c.Buf[0] {
		snd.Free(c) // cannot happen for a view ViewLen says fits
		return false
	}
	d.Offset, d.Length, d.Gen = c.Offset, uint32(len(b)), c.Gen
	if err := snd.Put(0, d); err != nil {
		snd.Free(c)
		return false
	}
	snd.CommitQuiet(1)
	l.owe()
	return true
}

// owe notes a request published without a wake-up and makes sure the
// ringer will ring for it.
func (l *lane) owe() {
	if !l.owed.Swap(true) {
		select {
		case l.kick <- struct{}{}:
		default: // kicked already
		}
	}
}

// ringOwed wakes the host for what was published quietly, if anything.
// The publisher's tail store precedes its owe, which precedes this Swap,
// which precedes Ring's look at the host's sleeping flag: the doorbell's
// handshake holds as if the publisher had rung itself.
func (l *lane) ringOwed() {
	if l.owed.Swap(false) {
		l.r.Sender().Ring()
	}
}

// ringer rings the host's doorbell for requests published quietly, once
// per pass of the scheduler rather than once per request. The first
// publisher's kick makes it runnable next; it yields once, behind the
// connections made ready by the same network poll, which publish theirs
// meanwhile, and then rings for all of them. A host that shares the CPU
// is woken once per batch instead of preempting the engine (and answering
// a batch of one) at every request; on an idle engine the one request
// waits for its publisher to go back to its read, a few microseconds.
func (l *lane) ringer() {
	defer l.b.wg.Done()
	for {
		select {
		case <-l.kick:
		case <-l.b.stop:
			return
		}
		runtime.Gosched()
		l.ringOwed()
		select {
		case l.poke <- struct{}{}:
		default: // poked already
		}
	}
}

// parkIdle is the receive loop's wait while the lane's host is attached
// and holds no request of ours: nothing is due from it but what a host
// sends unasked (its drain request), so rather than sleep on the doorbell
// it parks in the Go scheduler until the ringer pokes it (requests went
// out: answers will follow) or a sleep slice ends. The doorbell sleep is
// a blocking system call: the Go runtime's monitor takes the P from a
// thread blocked in one after 20 µs and hands it to another thread, so the
// connections' goroutines, ready as soon as the responses were written,
// waited for that hand-off each batch (with the monitor polling every
// 20 µs meanwhile). Parked, the P goes straight to the network poller.
// Measured: engine voluntary switches per request 0.19 -> 0.03, c_host
// hello world +20-45% (docs/benchmarks.md). It reports false when the
// caller should wait on the doorbell: no host (its announcement must
// wake us), a draining one, or requests held (their answers are due).
func (l *lane) parkIdle(rc *region.Receiver, park *time.Timer) bool {
	if !l.open.Load() {
		return false
	}
	if n, _ := rc.Poll(1); n > 0 {
		return true
	}
	l.mu.Lock()
	held := len(l.streams)
	l.mu.Unlock()
	if held > 0 {
		return false
	}
	rc.Flush() // releases staged by writers go out now, as Wait does
	park.Reset(50 * time.Millisecond)
	select {
	case <-l.poke:
	case <-park.C:
	case <-l.b.stop:
	}
	park.Stop()
	return true
}

// published notes a request now on the ring, for the take timeout.
func (l *lane) published(snd *region.Sender, id uint64) {
	l.mu.Lock()
	l.untaken = append(l.untaken, untaken{snd.Position(), id, l.b.now().Add(l.b.opts.TakeTimeout)})
	l.mu.Unlock()
}

// viewOf describes x's request for EncodeView in v, reusing its field
// table.
func viewOf(v *wire.ViewRequest, id uint64, x *engine.Exchange) {
	req, head := x.Request(), x.Head()
	span := func(b []byte) wire.Span {
		off, ok := http1.Offset(head, b)
		if !ok {
			return wire.Span{}
		}
		return wire.Span{Off: uint32(off), Len: uint32(len(b))}
	}
	*v = wire.ViewRequest{
		MethodID: uint8(req.MethodID), Minor: uint8(req.Minor), RequestID: id, ConnID: x.ConnID(),
		ContentLength: req.ContentLength, Head: head, Body: x.Body(),
		MethodSpan: span(req.Method), TargetSpan: span(req.Target), PathSpan: span(req.Path),
		QuerySpan: wire.Span{Len: wire.NoQuery}, AuthoritySpan: span(req.Authority), HostSpan: span(req.Host),
		Remote: addrPort(x.RemoteAddr()), Local: addrPort(x.LocalAddr()), Fields: v.Fields[:0],
	}
	if req.Query != nil {
		v.QuerySpan = span(req.Query)
	}
	if len(req.Path) == 1 && req.Path[0] == '/' && v.PathSpan.Len == 0 {
		v.PathSpan = wire.Span{} // absolute-form without a path: the host reads "" as "/"
	}
	if req.KeepAlive {
		v.Flags |= wire.ViewKeepAlive
	}
	if req.MethodID == http1.MethodHead {
		v.Flags |= wire.ViewHead
	}
	if req.ExpectContinue {
		v.Flags |= wire.ViewExpectContinue
	}
	if req.Chunked {
		v.Flags |= wire.ViewChunked
	}
	if x.BodyStreamed() {
		v.Flags |= wire.ViewBodyStream
	}
	for _, h := range req.Headers {
		v.Fields = append(v.Fields, wire.FieldSpan{Name: span(h.Name), Value: span(h.Value)})
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// cancelStream tells the host that a request's client went away. The
// stream stays registered: the host's response, if it still comes, is
// received (its chunks released) and dropped by the engine.
func cancelStream(x *engine.Exchange) {
	s := x.UserData.(*stream)
	l := s.l
	l.mu.Lock()
	live := l.streams[s.id] == s
	l.mu.Unlock()
	if !live {
		return
	}
	l.b.stats.cancelled.Add(1)
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	d := region.Descriptor{Kind: region.KindCancel, Stream: s.id, Conn: s.conn, Aux: wire.CancelClientGone}
	if ok, err := l.r.Sender().Send(&d); !ok || err != nil {
		// A full ring: the host learns nothing, and answers in vain.
		log.Printf("bridge: cancel of stream %d not sent: %v", s.id, err)
	}
}

// take removes and returns the stream id, or nil if it is gone.
func (l *lane) take(id uint64) *stream {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[id]
	delete(l.streams, id)
	l.n.Store(int32(len(l.streams)))
	return s
}

// receive runs the lane: it watches the host's liveness and turns the
// host's messages into responses.
func (l *lane) receive() {
	defer l.b.wg.Done()
	rc := l.r.Receiver()
	park := time.NewTimer(time.Hour)
	defer park.Stop()
	for {
		select {
		case <-l.b.stop:
			return
		default:
		}
		l.b.clock.Store(time.Now().UnixNano())
		l.watchHost()
		l.sendOwedDrain()
		l.expireUntaken()
		if !l.parkIdle(rc, park) {
			if err := rc.Wait(50*time.Millisecond, l.b.stop); err != nil && !errors.Is(err, region.ErrTimeout) {
				if errors.Is(err, region.ErrClosed) {
					return
				}
			}
		}
		l.receiveBatch(rc)
	}
}

// receiveBatch takes one batch of the host's descriptors off the ring and
// applies them, then writes the responses completed; it returns how many
// descriptors it took.
func (l *lane) receiveBatch(rc *region.Receiver) int {
	n, err := rc.Poll(64)
	if err != nil {
		if !errors.Is(err, region.ErrFenced) { // fenced: watchHost rejoins
			l.b.stats.invalid.Add(1)
		}
		return 0
	}
	for i := 0; i < n; i++ {
		d, err := rc.Get(i)
		if err != nil {
			if !errors.Is(err, region.ErrStale) {
				// Out of bounds or malformed: the stream it names,
				// if any, cannot be answered by it.
				l.b.stats.invalid.Add(1)
				l.failStream(d.Stream, err)
			}
			continue
		}
		if !l.handle(&d, rc.Payload(&d)) {
			rc.Release(&d)
		}
	}
	rc.Consume(n)
	l.done.Flush()
	return n
}

// handle applies one descriptor from the host. It reports whether it kept
// the descriptor's chunk (a streamed response piece, released once
// written); otherwise the caller releases it.
func (l *lane) handle(d *region.Descriptor, payload []byte) (kept bool) {
	switch d.Kind {
	case region.KindResponse:
		l.response(d, payload)
	case region.KindBody, region.KindEnd:
		return l.responseBody(d, payload)
	case region.KindContinue:
		l.mu.Lock()
		s := l.streams[d.Stream]
		l.mu.Unlock()
		if s != nil { // live until its END, which this goroutine routes
			s.x.Continue()
		}
	case region.KindNop: // a host announcing itself: the wake-up was the point
	case region.KindCancel:
		switch {
		case d.Aux == wire.CancelHostAbort:
			l.hostAbort(d.Stream)
		case d.Aux == wire.CancelDrain && d.Stream == 0: // the host asks to leave
			l.drainEpoch(d.Epoch)
		default:
			l.b.stats.invalid.Add(1)
		}
	default:
		l.b.stats.invalid.Add(1)
	}
	return false
}

// response takes a part of a response message.
func (l *lane) response(d *region.Descriptor, payload []byte) {
	l.mu.Lock()
	s := l.streams[d.Stream]
	if s == nil || s.out != nil { // gone, or its head came already
		l.mu.Unlock()
		if s != nil {
			l.b.stats.invalid.Add(1)
		}
		return
	}
	msg := payload // a one-part message is read in place
	if len(s.resp) > 0 || d.Flags&region.FlagEnd == 0 {
		s.resp = append(s.resp, payload...)
		msg = s.resp
	}
	if d.Flags&region.FlagEnd == 0 {
		l.mu.Unlock()
		return
	}
	h, body, err := decodeResponse(msg)
	streamed := err == nil && h.Flags&wire.ResponseStream != 0
	if streamed { // the stream stays registered for its pieces
		s.out, s.failed = make(chan piece, l.r.Receiver().ArenaGeometry().Chunks+1), make(chan struct{})
	} else {
		delete(l.streams, d.Stream)
		l.n.Store(int32(len(l.streams)))
	}
	l.mu.Unlock()
	if !streamed { // complete: the request body, if still coming, is not wanted now
		s.over.Store(true)
	}
	switch {
	case err != nil:
		l.b.stats.invalid.Add(1)
		l.b.stats.failed.Add(1)
		log.Printf("bridge: stream %d: %v", d.Stream, err)
		respondError(s.x, 502, "application host sent an invalid response")
	case streamed:
		applyHead(s.x, &h)
		l.b.writers.Add(1)
		go s.write(h.ContentLength, append([]byte(nil), body...))
		s.resp = nil
		return
	default:
		applyHead(s.x, &h)
		s.x.SetBody(body)
		l.b.stats.completed.Add(1)
	}
	s.resp = nil
	l.done.Done(s.x) // written with the rest of the batch
}

// decodeResponse decodes a response message and checks its length rules.
func decodeResponse(msg []byte) (wire.ResponseHead, []byte, error) {
	h, body, err := wire.DecodeResponse(msg)
	if err != nil {
		return h, nil, err
	}
	n := int64(len(body))
	if h.ContentLength >= 0 && (h.ContentLength < n || (h.ContentLength != n && h.Flags&wire.ResponseStream == 0)) {
		return h, nil, fmt.Errorf("%w: Content-Length %d, body %d bytes", wire.ErrResponse, h.ContentLength, n)
	}
	for f := h.Fields; len(f) > 0; {
		_, _, rest, ok := wire.NextField(f)
		if !ok {
			return h, nil, fmt.Errorf("%w: header block %q", wire.ErrResponse, f)
		}
		f = rest
	}
	return h, body, nil
}

// applyHead sets x's status and fields from a decoded head.
func applyHead(x *engine.Exchange, h *wire.ResponseHead) {
	x.SetStatus(h.Status, string(h.Reason))
	for f := h.Fields; len(f) > 0; {
		name, value, rest, _ := wire.NextField(f) // checked by decodeResponse
		x.AddHeader(name, value)
		f = rest
	}
}

// watchHost notices a host that attached, died or detached. A host that
// is gone fails its requests with 502 and its lane is reclaimed for the
// next one.
func (l *lane) watchHost() {
	if l.r.Fenced() {
		l.rejoin()
		return
	}
	p := l.r.Peer()
	switch p.State {
	case region.PeerAlive:
		l.hostAlive(p)
	case region.PeerDead, region.PeerGone:
		// What the host published before it went is still on the ring: a
		// drained host answers its last requests and detaches at once, and
		// this loop may see the detach before it read those answers.
		// Deliver them first; only the requests left unanswered fail. The
		// host publishes nothing more (gone, or fenced as dead), so the
		// ring empties; the bound is a guard against a faulty one.
		rc := l.r.Receiver()
		for range l.r.Sender().Capacity()/64 + 2 {
			if l.receiveBatch(rc) == 0 {
				break
			}
		}
		if n := l.failAll(502); n > 0 {
			log.Printf("bridge: host pid %d %s: %d requests failed with 502", p.PID, p.State, n)
		}
		l.sendMu.Lock()
		l.r.ReclaimPeer()
		l.sendMu.Unlock()
	}
}

// hostAlive notes the lane's host as alive; a new one takes new requests
// and the others drain.
func (l *lane) hostAlive(p region.PeerInfo) {
	l.mu.Lock()
	fresh := l.epoch != p.Epoch
	l.mu.Unlock()
	if !fresh {
		return
	}
	managed := l.b.managed()
	l.mu.Lock()
	if fresh = l.epoch != p.Epoch; fresh {
		l.epoch, l.since, l.draining, l.admitted = p.Epoch, time.Now(), false, !managed
		l.open.Store(!managed)
		l.drainOwed.Store(0)
	}
	l.mu.Unlock()
	switch {
	case !fresh:
	case managed:
		// Judged with every other host, as SetAdmit judges: admit may
		// accept a new generation already, before its SetAdmit call
		// came, and this host must take no request before the hosts
		// admit no longer accepts are told to drain (a swap is never
		// seen mixed back).
		l.b.reAdmit()
	default:
		l.b.refreshServing()
		l.b.rebalance()
	}
}

// rejoin handles a lane whose host declared this engine dead: the engine
// stalled (SIGSTOP, swapping, a debugger) past the liveness bound, the
// host fenced it, and the lane's rings, arena and side are no longer this
// incarnation's. It fails what was in flight with 502, once, and makes the
// lane a new incarnation (region.Rejoin, a new epoch: descriptors from
// before are stale) as soon as the host has given the side up; the next
// host that attaches is served. Until then it retries once per heartbeat.
func (l *lane) rejoin() {
	if !l.fenced {
		l.fenced = true
		n := l.failAll(502)
		who := "its host" // which may have reclaimed the lane and left
		if pid := l.r.Peer().PID; pid != 0 {
			who = fmt.Sprintf("its host (pid %d)", pid)
		}
		log.Printf("bridge: lane %d: fenced: %s declared this engine dead (it stalled for longer than the %v liveness bound); %d requests failed with 502; reinitialising the lane",
			l.r.Lane(), who, l.r.PeerTimeout(), n)
	}
	l.sendMu.Lock()
	res, err := l.r.Rejoin()
	if err == nil {
		clear(l.owner) // the arena starts over: every chunk is free
	}
	l.sendMu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != l.rejoinErr {
			l.rejoinErr = msg
			log.Printf("bridge: lane %d: not reinitialised yet: %v", l.r.Lane(), err)
		}
		// Every wait on a fenced region fails at once: pace the retries.
		select {
		case <-l.b.stop:
		case <-time.After(l.r.PeerTimeout() / 10):
		}
		return
	}
	l.fenced, l.rejoinErr = false, ""
	how := "the host had reclaimed it"
	if !res.ByPeer {
		how = fmt.Sprintf("no host was left to reclaim it; %d descriptors discarded", res.Discarded)
	}
	log.Printf("bridge: lane %d: reinitialised with epoch %d (was %d; %s; %d chunks freed): it serves the next host that attaches",
		l.r.Lane(), res.Epoch, res.OldEpoch, how, res.Chunks)
}

// failAll answers every stream in flight with status (or aborts the
// connections of streamed responses, which have begun) and returns how
// many. Streamed pieces not yet written are dropped: their chunks belong
// to a host that is gone.
func (l *lane) failAll(status int) int {
	l.mu.Lock()
	streams := l.streams
	l.streams = map[uint64]*stream{}
	l.n.Store(0)
	l.untaken = l.untaken[:0]
	l.epoch, l.draining, l.admitted = 0, false, false
	l.open.Store(false)
	l.drainOwed.Store(0)
	l.mu.Unlock()
	l.b.refreshServing()
	for _, s := range streams {
		l.b.stats.failed.Add(1)
		s.over.Store(true)
		if s.out != nil {
			s.fail()
			continue
		}
		respondError(s.x, status, "application host went away")
		s.x.Done()
	}
	return len(streams)
}

// expireUntaken answers 503 to requests a live host has not taken off the
// ring within TakeTimeout.
func (l *lane) expireUntaken() {
	l.mu.Lock()
	if len(l.untaken) == 0 {
		l.mu.Unlock()
		return
	}
	taken, now := l.r.Sender().Taken(), l.b.now()
	var late []*stream
	k := 0
	for ; k < len(l.untaken); k++ {
		u := l.untaken[k]
		if u.pos <= taken {
			continue
		}
		if now.Before(u.deadline) {
			break
		}
		if s := l.streams[u.id]; s != nil && s.out == nil {
			delete(l.streams, u.id)
			l.n.Store(int32(len(l.streams)))
			late = append(late, s)
		}
	}
	l.untaken = append(l.untaken[:0], l.untaken[k:]...)
	l.mu.Unlock()
	for _, s := range late {
		l.b.stats.noHost.Add(1)
		s.over.Store(true)
		respondError(s.x, 503, "application host did not take the request in time")
		l.done.Done(s.x)
	}
}

// respondError replaces x's response by a plain-text error.
func respondError(x *engine.Exchange, status int, msg string) {
	x.SetStatus(status, "")
	x.AddHeader([]byte("Content-Type"), []byte("text/plain; charset=utf-8"))
	x.SetBody([]byte(http1.StatusText(status) + ": " + msg + "\n"))
}
