// Package lifecycle holds the process-wide engine behind the C ABI:
// Haywire's model of one configuration, one route table and at most one
// running server per process, with the transitions hw_init_*,
// hw_http_add_route, hw_start, hw_http_open and hw_stop need. It keeps the
// C shims in cmd/libhaywire free of logic. Its methods are safe for
// concurrent use: every one takes Engine.mu with a deferred unlock, so a
// panic below it (recovered by the C shim) never leaves the engine locked.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/admin"
	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/engine"
)

// ErrState is returned for calls the engine's state does not allow, such
// as reconfiguring while running.
var ErrState = errors.New("lifecycle: not allowed in the current state")

// Engine is a configuration, a route table and at most one running server.
// The zero value is ready: unconfigured, it serves Haywire's defaults.
//
// States: stopped → (Start) running → (Stop) stopping → stopped. Running
// and stopping both count as running for Start and the Configure
// methods (ErrState); a Stop that finds another Stop under way waits for
// it, then returns ErrState as any Stop of a stopped engine does.
type Engine struct {
	mu       sync.Mutex // guards every field below except handlerErrors
	set      config.Settings
	cfgSet   bool // set was given; otherwise Haywire's defaults apply
	routes   []route
	srv      *engine.Server // built at Start from set; kept while set is unchanged
	bridge   *bridge.Bridge // while running with the bridge enabled
	admin    *admin.Server  // while running with admin_address set
	running  bool           // from a successful Start until its Stop has finished
	stopping bool           // a Stop is under way (running is still true)
	stopped  chan struct{}  // closed when the running server has stopped

	// handlerErrors counts requests a handler failed on (answered 500)
	// that the engine does not see as such; reset with the configuration,
	// as the engine's own counters are (a new configuration builds a new
	// server). Atomic: handlers count from any goroutine.
	handlerErrors atomic.Uint64
}

type route struct {
	pattern string
	h       engine.Handler
}

// DefaultPort is Haywire's listen port when none is configured.
const DefaultPort = 8000

// HaywireDefaults returns Haywire's configuration before any key is set:
// port 8000 and, as a zeroed Haywire configuration struct has
// tcp_nodelay false, Nagle's algorithm left on (NoTCPNoDelay). The
// engine fills in the other defaults. hw_init_from_config and
// hw_config_set start from it.
func HaywireDefaults() config.Settings {
	return config.Settings{Engine: engine.Config{Port: DefaultPort, NoTCPNoDelay: true}}
}

// Configure replaces the engine's configuration and turns the bridge off.
// It fails with ErrState while the server runs, and with an error wrapping
// engine.ErrConfig when cfg is bad.
func (e *Engine) Configure(cfg engine.Config) error {
	return e.ConfigureSettings(config.Settings{Engine: cfg})
}

// ConfigureSettings replaces the whole configuration, bridge included, and
// resets the counters (see Stats).
func (e *Engine) ConfigureSettings(s config.Settings) error {
	if _, err := engine.New(s.Engine); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return fmt.Errorf("%w: stop the server before reconfiguring", ErrState)
	}
	e.set, e.cfgSet, e.srv = s, true, nil
	e.handlerErrors.Store(0)
	return nil
}

// ConfigureFile replaces the configuration by HaywireDefaults updated with
// the INI file at path (see package config): a file without tcp_nodelay
// leaves Nagle's algorithm on, as Haywire did.
func (e *Engine) ConfigureFile(path string) error {
	s := HaywireDefaults()
	if err := config.LoadFile(&s, path); err != nil {
		return err
	}
	return e.ConfigureSettings(s)
}

// Set changes one configuration key (see package config).
func (e *Engine) Set(key, value string) error {
	s := e.Settings()
	if err := config.Set(&s, key, value); err != nil {
		return err
	}
	return e.ConfigureSettings(s)
}

// Config returns the configuration as given, or HaywireDefaults when none
// was; the engine fills in the other defaults.
func (e *Engine) Config() engine.Config { return e.Settings().Engine }

// Settings returns the whole configuration (see Config).
func (e *Engine) Settings() config.Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settingsLocked()
}

func (e *Engine) settingsLocked() config.Settings {
	if !e.cfgSet {
		return HaywireDefaults()
	}
	return e.set
}

// AddRoute routes pattern to h, now and across restarts.
func (e *Engine) AddRoute(pattern string, h engine.Handler) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		if err := e.srv.Handle(pattern, h); err != nil {
			return err
		}
	} else if err := (&engine.Routes{}).Add(pattern, h); err != nil {
		return err
	}
	e.routes = append(e.routes, route{pattern, h})
	return nil
}

// Start starts serving and returns once listening.
func (e *Engine) Start() error {
	_, err := e.start()
	return err
}

// start is Start, returning the channel closed when this run stops.
func (e *Engine) start() (stopped <-chan struct{}, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.startLocked(); err != nil {
		return nil, err
	}
	return e.stopped, nil
}

func (e *Engine) startLocked() error {
	if e.running {
		return fmt.Errorf("%w: already running", ErrState)
	}
	if e.srv == nil {
		srv, err := engine.New(e.settingsLocked().Engine)
		if err != nil {
			return err
		}
		for _, r := range e.routes {
			srv.Handle(r.pattern, r.h) // validated by AddRoute
		}
		e.srv = srv
	}
	if set := e.settingsLocked(); set.Bridge {
		opts := set.BridgeOptions
		opts.RequestLimits = set.Engine.Limits // the geometry must carry the largest head
		b, err := bridge.New(opts)
		if err != nil {
			return err
		}
		e.bridge = b
		if len(set.HostRoutes) == 0 {
			e.srv.SetNotFound(b) // every request without a native route
		} else {
			e.srv.SetNotFound(nil)
			for _, r := range set.HostRoutes {
				if err := e.srv.Handle(r, b); err != nil { // replaces the last run's bridge
					b.Close()
					e.bridge = nil
					return err
				}
			}
		}
	} else {
		e.srv.SetNotFound(nil)
	}
	if err := e.startAdmin(); err != nil {
		if e.bridge != nil {
			e.bridge.Close()
			e.bridge = nil
		}
		return err
	}
	if err := e.srv.Start(); err != nil {
		if e.admin != nil {
			e.admin.Close()
			e.admin = nil
		}
		if e.bridge != nil {
			e.bridge.Close()
			e.bridge = nil
		}
		return err
	}
	e.running, e.stopped = true, make(chan struct{})
	return nil
}

// startAdmin starts the admin listener when admin_address is set; a
// generated token is written next to the region (NAME.admin-token).
func (e *Engine) startAdmin() error {
	set := e.settingsLocked()
	if set.Admin.Address == "" {
		return nil
	}
	opts := admin.Options{Address: set.Admin.Address, Token: set.Admin.Token, Server: e.srv, Bridge: e.bridge, Settings: set}
	if e.bridge != nil {
		opts.TokenFile = filepath.Join(e.bridge.Dir(), e.bridge.Name()+".admin-token")
	}
	a, err := admin.Start(opts)
	if err != nil && set.Admin.BestEffort {
		fmt.Fprintf(os.Stderr, "haywire: %v: no admin listener (set --admin ADDR, or off)\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	e.admin = a
	return nil
}

// Admin returns the running admin listener, nil when there is none.
func (e *Engine) Admin() *admin.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.admin
}

// Addr returns the address the running server listens on (its real port
// when port 0 was configured), or nil when it is not running.
func (e *Engine) Addr() *net.TCPAddr {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running || e.srv == nil {
		return nil
	}
	a, _ := e.srv.Addr().(*net.TCPAddr)
	return a
}

// RegionName returns the name hosts attach to while the bridge runs, or "".
func (e *Engine) RegionName() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bridge == nil {
		return ""
	}
	return e.bridge.Name()
}

// Bridge returns the running bridge, or nil.
func (e *Engine) Bridge() *bridge.Bridge {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bridge
}

// Run starts serving and blocks until Stop is called, like hw_http_open.
func (e *Engine) Run() error {
	stopped, err := e.start()
	if err != nil {
		return err
	}
	<-stopped
	return nil
}

// Stop stops the server gracefully, waiting up to timeout for requests in
// progress (a negative timeout waits for as long as they take). It returns
// engine.ErrStopTimeout if connections had to be cut, and ErrState if the
// server is not running. A Stop called while another is under way waits
// until that one has finished, then returns ErrState: the server was
// stopped, but not by this call.
func (e *Engine) Stop(timeout time.Duration) error {
	srv, stopped, mine, err := e.beginStop()
	if err != nil {
		return err
	}
	if !mine {
		<-stopped
		return fmt.Errorf("%w: not running: stopped by a concurrent Stop", ErrState)
	}
	defer e.endStop() // also if srv.Stop panics: the waiters must wake
	ctx := context.Background()
	if timeout >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return srv.Stop(ctx)
}

// beginStop moves a running engine to stopping. mine is false when another
// Stop got there first; stopped is closed when that run has stopped.
func (e *Engine) beginStop() (srv *engine.Server, stopped <-chan struct{}, mine bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !e.running:
		return nil, nil, false, fmt.Errorf("%w: not running", ErrState)
	case e.stopping:
		return nil, e.stopped, false, nil
	}
	e.stopping = true
	if e.admin != nil {
		e.admin.SetStopping() // /healthz: 503 while the requests in flight finish
	}
	return e.srv, e.stopped, true, nil
}

// endStop closes the bridge, after the server (no request can reach it
// now), and marks the engine stopped, waking Run and concurrent Stops.
func (e *Engine) endStop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() { // also if Close panics
		e.running, e.stopping = false, false
		close(e.stopped)
	}()
	if a := e.admin; a != nil {
		e.admin = nil
		a.Close()
	}
	if b := e.bridge; b != nil {
		e.bridge = nil
		b.Close()
	}
}

// CountHandlerError counts a request a handler failed on and answered 500
// without the engine seeing a panic (a C callback that abandoned its
// response, a request that could not be handed to C). Safe from any
// goroutine.
func (e *Engine) CountHandlerError() { e.handlerErrors.Add(1) }

// Stats returns the running or last server's counters, cumulative since
// the configuration was last set (all zero before the first Start after
// it, except that HandlerPanics already includes the errors counted with
// CountHandlerError).
func (e *Engine) Stats() engine.Stats {
	var st engine.Stats
	if srv := e.Server(); srv != nil {
		st = srv.Stats()
	}
	st.HandlerPanics += e.handlerErrors.Load()
	return st
}

// Running reports whether the server is running.
func (e *Engine) Running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running
}

// Server returns the current server, or nil before the first Start.
func (e *Engine) Server() *engine.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}
