// Package supervisor runs an engine's application hosts as child
// processes: it starts them, restarts one that exits or is killed (with
// backoff), replaces them all by a new generation on request (a hot swap
// of the application), and stops them all.
//
// Hosts belong to a generation: Processes hosts started together from
// the same files. The current generation serves (Serving); Swap starts
// the next one, and only once each of its hosts is ready does it become
// current, the old one being drained (the launcher's bridge tells its
// hosts) and stopped. A new generation that fails to get ready (a host
// exits, or is not ready within ReadyTimeout) is stopped, and the old one
// keeps serving. With Watch, a change of the application's files makes a
// swap, and each generation runs from its own copy of them (shadow.go).
//
// It knows nothing of HTTP or of the region: the launcher (cmd/haywire)
// gives it the command, the environment that names the region, and a
// function that says whether a host process is ready (attached to a lane).
// Each host runs in a process group of its own, so that stopping a host
// (or cleaning up after one that died) also reaches the processes it
// started.
package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Options configures a Supervisor. Zero durations take the defaults given.
type Options struct {
	// Command is the host's program and its arguments (SplitCommand
	// parses a command line).
	Command []string
	// Processes is how many hosts run at once. Default 1.
	Processes int
	// RestartMin is the delay before the first restart of a host that
	// exited; each exit that follows without the host having served for
	// RestartReset doubles it, up to RestartMax. Defaults 100 ms and 5 s.
	RestartMin, RestartMax time.Duration
	// RestartReset is how long a host must have been ready for its exit
	// to count as a new failure, restarted after RestartMin again rather
	// than after the doubled delay. Default 10 s.
	RestartReset time.Duration
	// ReadyTimeout bounds how long a host may take to become ready (Ready
	// true) before it is stopped and counted as failed. Default 30 s.
	ReadyTimeout time.Duration
	// StopTimeout is how long a host told to stop (SIGTERM) has before it
	// is killed (SIGKILL). Default 10 s.
	StopTimeout time.Duration
	// Watch, if set, is a file or directory whose change makes a Swap,
	// once nothing under it changed for WatchQuiet (default 500 ms).
	Watch      string
	WatchQuiet time.Duration
	// NoShadowCopy runs the hosts from the watched files themselves rather
	// than from a private copy per generation (see shadow.go).
	NoShadowCopy bool

	// Env is added to the launcher's environment for each host (later
	// entries win): the region's name and directory.
	Env []string
	// Ready reports whether the host process pid (its group leader) is
	// ready to serve; polled until it is. Nil: ready once started.
	Ready func(pid int) bool
	// Changed, if set, is called when the answers of Serving may have
	// changed: once at Start, when a host becomes ready, and when a new
	// generation becomes current. The launcher re-applies Serving to its
	// bridge then (bridge.SetAdmit). Serving may be called from it.
	Changed func(s *Supervisor)
	// Log receives the supervisor's lines (starts, exits with the host's
	// last stderr lines, restarts) and every line the hosts print, each
	// prefixed "host PID: ". Nil: os.Stderr.
	Log io.Writer
}

// The defaults of Options' zero fields.
const (
	DefaultRestartMin   = 100 * time.Millisecond
	DefaultRestartMax   = 5 * time.Second
	DefaultRestartReset = 10 * time.Second
	DefaultReadyTimeout = 30 * time.Second
	DefaultStopTimeout  = 10 * time.Second
	DefaultWatchQuiet   = 500 * time.Millisecond
)

// tailLines is how many of a host's last stderr lines an exit report shows.
const tailLines = 20

// Supervisor runs the hosts. Its methods are safe for concurrent use.
type Supervisor struct {
	opts Options
	log  *lineLog

	stop     chan struct{} // closed by Stop: no more starts
	stopOnce sync.Once
	wg       sync.WaitGroup // every goroutine of ours: keep loops, swaps, retirements, the watch
	swapMu   sync.Mutex     // one Swap at a time
	// retiredLast is closed once the generation the last swap replaced
	// has exited: the next swap waits for it, so that two generations at
	// most hold lanes (2 x Processes). Under swapMu.
	retiredLast chan struct{}

	mu      sync.Mutex
	hosts   map[*host]bool // running
	current *generation
	gens    int          // generations started
	swaps   []SwapRecord // the last maxSwaps, oldest first
	exited  []HostStatus // the last maxExited hosts that exited, oldest first
	// Counts since Start, for Status.
	swapsOK, swapsFailed, exits int
	// shadowBase holds the generations' shadow copies; made by the first,
	// removed by Stop. Written before the hosts start, under swapMu after.
	shadowBase string
}

// generation is a set of hosts started together; retired is closed once
// it no longer serves (a newer one took over, or it failed to get ready).
type generation struct {
	id      int
	retired chan struct{}
	command []string // Options.Command, its paths into the shadow copy
	dir     string   // the shadow copy; "" for none
}

func (g *generation) isRetired() bool {
	select {
	case <-g.retired:
		return true
	default:
		return false
	}
}

// host is one host process.
type host struct {
	gen     *generation
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed once reaped and its output read
	ready   time.Time     // when it became ready; zero until then (under Supervisor.mu)
	tail    *tail
	err     error // how it ended: cmd.Wait's error
	// restarts is how many hosts its slot (keep) ran before this one.
	restarts int
	// stopping is set when the host was told to stop (under Supervisor.mu).
	stopping bool
}

// Start validates opts and starts the hosts; it returns at once, while
// they start.
func Start(opts Options) (*Supervisor, error) {
	if len(opts.Command) == 0 || opts.Command[0] == "" {
		return nil, errors.New("supervisor: no host command")
	}
	if opts.Processes == 0 {
		opts.Processes = 1
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.RestartMin, DefaultRestartMin)
	def(&opts.RestartMax, DefaultRestartMax)
	def(&opts.RestartReset, DefaultRestartReset)
	def(&opts.ReadyTimeout, DefaultReadyTimeout)
	def(&opts.StopTimeout, DefaultStopTimeout)
	def(&opts.WatchQuiet, DefaultWatchQuiet)
	if opts.RestartMax < opts.RestartMin {
		opts.RestartMax = opts.RestartMin
	}
	if opts.Processes < 0 {
		return nil, fmt.Errorf("supervisor: %d processes", opts.Processes)
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if _, err := exec.LookPath(opts.Command[0]); err != nil {
		return nil, fmt.Errorf("supervisor: host command: %w", err)
	}
	s := &Supervisor{opts: opts, log: &lineLog{w: opts.Log}, stop: make(chan struct{}), hosts: map[*host]bool{}}
	s.gens = 1
	g, err := s.newGeneration(1)
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	s.current = g
	s.changed()
	for range opts.Processes {
		s.wg.Add(1)
		go s.keep(s.current, nil)
	}
	if opts.Watch != "" {
		s.wg.Add(1)
		go s.watch(opts.Watch, opts.WatchQuiet)
	}
	return s, nil
}

func (s *Supervisor) changed() {
	if s.opts.Changed != nil {
		s.opts.Changed(s)
	}
}

// Serving reports whether process pid is (or belongs to the process group
// of) a host of the current generation: the hosts that may take requests.
// A host of a generation being started is not serving until the whole
// generation is ready.
func (s *Supervisor) Serving(pid int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := range s.hosts {
		if h.gen == s.current && InGroup(pid, h.pid) {
			return true
		}
	}
	return false
}

// Generation returns the number of the current generation: 1 at Start,
// one more at each successful Swap.
func (s *Supervisor) Generation() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.id
}

// ErrSwapFailed is wrapped by Swap's error when the new generation did not
// get ready; the old one still serves.
var ErrSwapFailed = errors.New("supervisor: the new generation failed to get ready")

// Swap replaces the running hosts by a new generation started with the
// same command (a new version of the application): it starts Processes
// hosts, waits until every one is ready, makes them current (Changed: the
// bridge sends them the new requests and drains the old hosts), lets the
// old hosts finish what they hold and exit (SIGTERM, then SIGKILL, if one
// still runs StopTimeout later). If a new host exits or is not ready
// within ReadyTimeout, the whole new generation is stopped, the old one
// keeps serving, and the error (ErrSwapFailed) says why, with the host's
// last stderr lines; so does the log. Swaps run one at a time.
func (s *Supervisor) Swap() error { return s.SwapFor("call") }

// SwapFor is Swap, recording why in the swap timeline (Status): "signal",
// "file change", "console".
func (s *Supervisor) SwapFor(reason string) error {
	rec := SwapRecord{Reason: reason, Requested: time.Now()}
	err := s.swap(&rec)
	rec.Took = time.Since(rec.Requested)
	rec.Result = "ok"
	if err != nil {
		rec.Result = err.Error()
	}
	s.mu.Lock()
	if err == nil {
		s.swapsOK++
	} else {
		s.swapsFailed++
	}
	s.swaps = append(s.swaps, rec)
	if len(s.swaps) > maxSwaps {
		s.swaps = s.swaps[len(s.swaps)-maxSwaps:]
	}
	s.mu.Unlock()
	return err
}

func (s *Supervisor) swap(rec *SwapRecord) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	if s.retiredLast != nil {
		select {
		case <-s.retiredLast:
		case <-s.stop:
			return errStopped
		}
	}
	s.mu.Lock()
	if s.stopping() {
		s.mu.Unlock()
		return errStopped
	}
	s.wg.Add(1) // under mu, before Hold: Stop waits for this swap
	defer s.wg.Done()
	s.gens++
	id, old := s.gens, s.current
	s.mu.Unlock()
	rec.From, rec.To = old.id, id
	s.log.printf("haywire: swap: starting generation %d (%s) to replace generation %d", id, plural(s.opts.Processes, "host"), old.id)
	began := time.Now()
	hosts := make([]*host, 0, s.opts.Processes)
	g, failure := s.newGeneration(id)
	for range s.opts.Processes {
		if failure != nil {
			break
		}
		h, err := s.spawn(g)
		if err != nil {
			failure = fmt.Errorf("cannot start %q: %w", s.opts.Command[0], err)
			break
		}
		hosts = append(hosts, h)
	}
	if failure == nil {
		results := make(chan error, len(hosts))
		for _, h := range hosts {
			go func() { results <- s.awaitReady(h, g.retired) }()
		}
		for range hosts {
			if err := <-results; err != nil && failure == nil {
				failure = err
				close(g.retired) // the others stop waiting
			}
		}
	}
	if failure == nil && s.stopping() {
		failure = errStopped
	}
	if failure != nil {
		if !g.isRetired() {
			close(g.retired)
		}
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Add(1)
			go func() { defer wg.Done(); s.terminate(h, "its generation failed"); s.forget(h) }()
		}
		wg.Wait()
		s.dropShadow(g)
		msg := fmt.Sprintf("haywire: swap to generation %d failed: %v; generation %d keeps serving", g.id, failure, old.id)
		var ff *hostFailure
		if errors.As(failure, &ff) {
			if lines := ff.h.tail.lines(); len(lines) > 0 {
				msg += "; the host's last stderr lines:\n    " + strings.Join(lines, "\n    ")
			}
		}
		s.log.printf("%s", msg)
		return fmt.Errorf("%w: %w", ErrSwapFailed, failure)
	}
	s.mu.Lock()
	s.current = g
	close(old.retired) // under mu: spawn starts no host of it after this
	var retiring []*host
	for h := range s.hosts {
		if h.gen != g {
			h.stopping = true
			retiring = append(retiring, h)
		}
	}
	s.mu.Unlock()
	s.changed() // the bridge: new requests to g, the old hosts drain
	for _, h := range hosts {
		s.wg.Add(1)
		go s.keep(g, h)
	}
	s.log.printf("haywire: swap: generation %d serving (ready after %v); generation %d drains",
		g.id, time.Since(began).Round(time.Millisecond), old.id)
	var retired sync.WaitGroup
	for _, h := range retiring {
		retired.Add(1)
		go func() {
			defer retired.Done()
			s.retire(h)
		}()
	}
	done := make(chan struct{})
	s.retiredLast = done
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		retired.Wait()
		s.dropShadow(old)
		close(done)
	}()
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// retire waits for a host of a generation that no longer serves to exit
// once drained; it stops one that was never ready at once, and one still
// running StopTimeout later.
func (s *Supervisor) retire(h *host) {
	s.mu.Lock()
	ready := !h.ready.IsZero()
	s.mu.Unlock()
	if ready {
		select {
		case <-h.exited:
			return
		case <-time.After(s.opts.StopTimeout):
		}
	}
	s.terminate(h, "its generation retired")
}

// forget removes an exited host from the running ones.
func (s *Supervisor) forget(h *host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hosts[h] {
		return
	}
	delete(s.hosts, h)
	s.exits++
	st := s.statusLocked(h)
	st.State, st.Exit = "dead", exitText(h.err)
	st.Exited = time.Now()
	s.exited = append(s.exited, st)
	if len(s.exited) > maxExited {
		s.exited = s.exited[len(s.exited)-maxExited:]
	}
}

// PIDs returns the pids of the host processes running now.
func (s *Supervisor) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for h := range s.hosts {
		pids = append(pids, h.pid)
	}
	return pids
}

// Hold starts no more hosts: one that exits from now on is not
// restarted. The running ones keep running (the launcher lets them answer
// the requests in flight before it stops them).
func (s *Supervisor) Hold() {
	s.stopOnce.Do(func() {
		s.mu.Lock() // a Swap that began is counted in wg before: Stop waits for it
		close(s.stop)
		s.mu.Unlock()
	})
}

// Stop starts no more hosts and stops the running ones: SIGTERM to each
// host's process group, SIGKILL to the groups still there StopTimeout
// later. It returns once every host has exited. Later calls wait likewise.
func (s *Supervisor) Stop() {
	s.Hold()
	s.mu.Lock()
	running := make([]*host, 0, len(s.hosts))
	for h := range s.hosts {
		running = append(running, h)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, h := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.terminate(h, "stopping")
		}()
	}
	wg.Wait()
	s.wg.Wait()
	s.swapMu.Lock() // a Swap under way has stopped its hosts, and made no copy after
	defer s.swapMu.Unlock()
	if s.shadowBase != "" {
		os.RemoveAll(s.shadowBase)
	}
}

// terminate stops h: SIGTERM, then SIGKILL after StopTimeout; it returns
// once h has exited.
func (s *Supervisor) terminate(h *host, why string) {
	s.mu.Lock()
	h.stopping = true
	s.mu.Unlock()
	signalGroup(h.pid, false)
	select {
	case <-h.exited:
		return
	case <-time.After(s.opts.StopTimeout):
	}
	s.log.printf("haywire: host pid %d still running %v after SIGTERM (%s): SIGKILL", h.pid, s.opts.StopTimeout, why)
	signalGroup(h.pid, true)
	<-h.exited
}

func (s *Supervisor) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// keep keeps one host of generation g running until Stop or until g
// retires: it waits for h (nil: starts one) to exit, and starts another
// after the backoff delay.
func (s *Supervisor) keep(g *generation, h *host) {
	defer s.wg.Done()
	var delay time.Duration // before the next restart; 0 before the first exit
	for restarts := 0; ; restarts++ {
		var err error
		if h == nil {
			if h, err = s.spawn(g); errors.Is(err, errStopped) {
				return
			}
			if h != nil {
				s.mu.Lock()
				h.restarts = restarts
				s.mu.Unlock()
			}
		}
		served, msg := false, ""
		if err != nil {
			msg = fmt.Sprintf("haywire: host: cannot start %q: %v", s.opts.Command[0], err)
		} else {
			s.mu.Lock()
			wasReady := !h.ready.IsZero() // a host Swap made current is
			s.mu.Unlock()
			if !wasReady && s.awaitReady(h, g.retired) == nil {
				s.changed()
			}
			<-h.exited
			s.forget(h)
			s.mu.Lock()
			ready := h.ready
			s.mu.Unlock()
			if s.stopping() || g.isRetired() {
				s.log.printf("haywire: host pid %d exited (%s)", h.pid, exitText(h.err))
				return
			}
			served = !ready.IsZero() && time.Since(ready) >= s.opts.RestartReset
			ran := time.Since(h.started).Round(time.Millisecond)
			how := fmt.Sprintf("ran %v, never ready", ran)
			if !ready.IsZero() {
				how = fmt.Sprintf("ran %v, ready for %v", ran, time.Since(ready).Round(time.Millisecond))
			}
			msg = fmt.Sprintf("haywire: host pid %d exited (%s; %s)", h.pid, exitText(h.err), how)
		}
		if served || delay == 0 {
			delay = s.opts.RestartMin
		} else {
			delay = min(2*delay, s.opts.RestartMax)
		}
		msg += fmt.Sprintf(": restarting in %v", delay)
		if h != nil {
			if lines := h.tail.lines(); len(lines) > 0 {
				msg += "; its last stderr lines:\n    " + strings.Join(lines, "\n    ")
			}
		}
		s.log.printf("%s", msg)
		select {
		case <-time.After(delay):
		case <-s.stop:
			return
		case <-g.retired:
			return
		}
		h = nil
	}
}

var errStopped = errors.New("supervisor: stopped")

// spawn starts a host process of generation g, unless Stop was called.
func (s *Supervisor) spawn(g *generation) (*host, error) {
	s.mu.Lock()
	defer s.mu.Unlock() // Stop and Swap see either no host or a started one
	if s.stopping() || g.isRetired() {
		return nil, errStopped
	}
	cmd := exec.Command(g.command[0], g.command[1:]...)
	cmd.Env = append(os.Environ(), s.opts.Env...)
	cmd.SysProcAttr = sysProcAttr()
	// Pipes of our own rather than io.Writers: Wait then returns when the
	// host exits, even if a process it started still holds them.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	h := &host{gen: g, cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), exited: make(chan struct{}), tail: &tail{}}
	s.hosts[h] = true
	s.log.printf("haywire: host pid %d started: %s", h.pid, strings.Join(g.command, " "))
	var copied sync.WaitGroup
	copied.Add(2)
	prefix := fmt.Sprintf("host %d: ", h.pid)
	go func() { defer copied.Done(); s.forward(outR, prefix, nil) }()
	go func() { defer copied.Done(); s.forward(errR, prefix, h.tail) }()
	go func() {
		h.err = cmd.Wait()
		// What it started goes with it: no orphan outlives its host.
		signalGroup(h.pid, true)
		waitTimeout(&copied, time.Second) // its last lines, for the exit report
		close(h.exited)
	}()
	return h, nil
}

// A hostFailure is a host that did not get ready.
type hostFailure struct {
	h   *host
	why string
}

func (f *hostFailure) Error() string { return fmt.Sprintf("host pid %d %s", f.h.pid, f.why) }

// awaitReady polls Ready until h is ready (nil), exits, or ReadyTimeout
// passes (then h is stopped), or Stop or cancel cut the wait.
func (s *Supervisor) awaitReady(h *host, cancel <-chan struct{}) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(s.opts.ReadyTimeout)
	defer deadline.Stop()
	for {
		if s.opts.Ready == nil || s.opts.Ready(h.pid) {
			s.mu.Lock()
			h.ready = time.Now()
			s.mu.Unlock()
			s.log.printf("haywire: host pid %d ready after %v", h.pid, time.Since(h.started).Round(time.Millisecond))
			return nil
		}
		select {
		case <-h.exited:
			return &hostFailure{h, "exited (" + exitText(h.err) + ") before it was ready"}
		case <-s.stop:
			return errStopped
		case <-cancel:
			return errors.New("cancelled")
		case <-deadline.C:
			s.log.printf("haywire: host pid %d not ready after %v: stopping it", h.pid, s.opts.ReadyTimeout)
			s.terminate(h, "not ready")
			return &hostFailure{h, fmt.Sprintf("not ready after %v", s.opts.ReadyTimeout)}
		case <-tick.C:
		}
	}
}

// forward copies r's lines to the log with prefix, keeping the last ones
// in t (when not nil), until r ends. Overlong lines are cut, never left
// unread: a host blocked writing its stderr would hang.
func (s *Supervisor) forward(r *os.File, prefix string, t *tail) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 4096)
	const maxLine = 1000
	var line []byte
	for {
		frag, more, err := br.ReadLine()
		if len(line) < maxLine {
			line = append(line, frag[:min(len(frag), maxLine-len(line))]...)
		}
		if err != nil {
			if len(line) > 0 {
				s.emit(prefix, line, t)
			}
			return
		}
		if !more {
			s.emit(prefix, line, t)
			line = line[:0]
		}
	}
}

func (s *Supervisor) emit(prefix string, line []byte, t *tail) {
	s.log.printf("%s%s", prefix, line)
	if t != nil {
		t.add(string(line))
	}
}

// exitText says how a host ended: "exit status 3", "signal: killed".
func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// tail keeps the last tailLines lines.
type tail struct {
	mu sync.Mutex
	l  []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.l) == tailLines {
		copy(t.l, t.l[1:])
		t.l = t.l[:tailLines-1]
	}
	t.l = append(t.l, line)
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.l...)
}

// lineLog writes whole lines to w, one writer at a time.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLog) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, s)
}
