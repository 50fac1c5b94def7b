package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// How much history Status keeps.
const (
	maxSwaps  = 50
	maxExited = 20
)

// A SwapRecord is one swap of the timeline: when it was asked for, why,
// and how it ended.
type SwapRecord struct {
	Requested time.Time
	Reason    string        // "signal", "file change", "console", "call"
	From, To  int           // generations; To is 0 when the swap never began (stopping)
	Took      time.Duration // until it served, or failed
	Result    string        // "ok", or the error
}

// HostStatus describes one host process.
type HostStatus struct {
	PID        int
	Generation int
	// State: starting (not ready yet), ready (ready, its generation
	// serves or is about to), draining (told to stop, or its generation
	// retired), dead (exited).
	State    string
	Started  time.Time
	Ready    time.Time // zero until ready
	Exited   time.Time // zero until dead
	Restarts int       // how many hosts its place ran before it
	Exit     string    // how it ended ("exit status 1", "signal: killed"); "" while it runs
	Tail     []string  // its last stderr lines
}

// Status is a snapshot of the supervisor.
type Status struct {
	Generation int          // the current one
	Processes  int          // hosts per generation
	Hosts      []HostStatus // running, by generation then pid
	Exited     []HostStatus // the last hosts that exited, oldest first
	Swaps      []SwapRecord // the last swaps, oldest first
	Stopping   bool         // Hold or Stop was called
	// Since Start: swaps that succeeded, swaps that failed, host exits.
	SwapsOK, SwapsFailed, Exits int
}

// Status returns a snapshot of the hosts and the swap timeline.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Generation: s.current.id, Processes: s.opts.Processes, Stopping: s.stopping(),
		Exited: slices.Clone(s.exited), Swaps: slices.Clone(s.swaps),
		SwapsOK: s.swapsOK, SwapsFailed: s.swapsFailed, Exits: s.exits}
	for h := range s.hosts {
		st.Hosts = append(st.Hosts, s.statusLocked(h))
	}
	slices.SortFunc(st.Hosts, func(a, b HostStatus) int {
		if a.Generation != b.Generation {
			return a.Generation - b.Generation
		}
		return a.PID - b.PID
	})
	return st
}

func (s *Supervisor) statusLocked(h *host) HostStatus {
	st := HostStatus{PID: h.pid, Generation: h.gen.id, Started: h.started, Ready: h.ready,
		Restarts: h.restarts, Tail: h.tail.lines()}
	switch {
	case h.stopping || h.gen.isRetired() && h.gen != s.current:
		st.State = "draining"
	case h.ready.IsZero():
		st.State = "starting"
	default:
		st.State = "ready"
	}
	return st
}

// Ready reports whether a host of the current generation is ready to
// serve (and Stop was not called).
func (s *Supervisor) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping() {
		return false
	}
	for h := range s.hosts {
		if h.gen == s.current && !h.ready.IsZero() && !h.stopping {
			return true
		}
	}
	return false
}

// ErrNoHost is returned by Restart for a pid that is not a running host.
var ErrNoHost = errors.New("supervisor: no such host")

// Restart stops host pid (SIGTERM, then SIGKILL after StopTimeout) to
// have it started again, as one that exited: its siblings keep serving
// meanwhile. It returns once the host was told to stop.
func (s *Supervisor) Restart(pid int) error {
	s.mu.Lock()
	var h *host
	for c := range s.hosts {
		if c.pid == pid {
			h = c
		}
	}
	if h == nil || s.stopping() {
		s.mu.Unlock()
		return fmt.Errorf("%w: pid %d", ErrNoHost, pid)
	}
	s.wg.Add(1) // under mu, as Swap: Stop waits for it
	s.mu.Unlock()
	s.log.printf("haywire: host pid %d: restart requested", pid)
	go func() { defer s.wg.Done(); s.terminate(h, "restart requested") }()
	return nil
}

// ErrServing is returned by StopGeneration for the generation that serves:
// swap first.
var ErrServing = errors.New("supervisor: the generation serves; swap it out first")

// StopGeneration kills (SIGKILL, the whole process group) the hosts of
// generation gen, one that a swap replaced and that still drains, rather
// than letting them finish what they hold for up to StopTimeout: the
// requests they held fail (502). It returns how many hosts it killed.
func (s *Supervisor) StopGeneration(gen int) (int, error) {
	s.mu.Lock()
	if gen == s.current.id {
		s.mu.Unlock()
		return 0, ErrServing
	}
	var hosts []*host
	for h := range s.hosts {
		if h.gen.id == gen {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 || s.stopping() {
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: no host of generation %d runs", ErrNoHost, gen)
	}
	s.wg.Add(len(hosts)) // under mu, as Swap: Stop waits for them
	s.mu.Unlock()
	s.log.printf("haywire: generation %d: stop requested: killing its %s", gen, plural(len(hosts), "host"))
	for _, h := range hosts {
		go func() {
			defer s.wg.Done()
			s.mu.Lock()
			h.stopping = true
			s.mu.Unlock()
			signalGroup(h.pid, true)
			<-h.exited
		}()
	}
	return len(hosts), nil
}
