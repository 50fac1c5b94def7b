// Package lifecycle holds the process-wide engine behind the C ABI:
// Haywire's model of one configuration, one route table and at most one
// running server per process, with the transitions hw_init_*,
// hw_http_add_route, hw_start, hw_http_open and hw_stop need. It keeps the
// C shims in cmd/libhaywire free of logic. Its methods are safe for
// concurrent use.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/engine"
)

// ErrState is returned for calls the engine's state does not allow, such
// as reconfiguring while running.
var ErrState = errors.New("lifecycle: not allowed in the current state")

// Engine is a configuration, a route table and at most one running server.
// The zero value is ready: unconfigured, it serves Haywire's defaults.
type Engine struct {
	mu      sync.Mutex
	set     config.Settings
	cfgSet  bool // set was given; otherwise Haywire's defaults apply
	routes  []route
	srv     *engine.Server // built at Start from set; kept while set is unchanged
	bridge  *bridge.Bridge // while running with the bridge enabled
	running bool
	stopped chan struct{} // closed when the running server has stopped
}

type route struct {
	pattern string
	h       engine.Handler
}

// DefaultPort is Haywire's listen port when none is configured.
const DefaultPort = 8000

// Configure replaces the engine's configuration and turns the bridge off.
// It fails with ErrState while the server runs, and with an error wrapping
// engine.ErrConfig when cfg is bad.
func (e *Engine) Configure(cfg engine.Config) error {
	return e.ConfigureSettings(config.Settings{Engine: cfg})
}

// ConfigureSettings replaces the whole configuration, bridge included.
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
	return nil
}

// ConfigureFile replaces the configuration by Haywire's defaults updated
// with the INI file at path (see package config).
func (e *Engine) ConfigureFile(path string) error {
	s := config.Settings{Engine: engine.Config{Port: DefaultPort}}
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

// Config returns the configuration as given, or Haywire's defaults (port
// 8000) when none was; the engine fills in the other defaults.
func (e *Engine) Config() engine.Config { return e.Settings().Engine }

// Settings returns the whole configuration (see Config).
func (e *Engine) Settings() config.Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settingsLocked()
}

func (e *Engine) settingsLocked() config.Settings {
	if !e.cfgSet {
		return config.Settings{Engine: engine.Config{Port: DefaultPort}}
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
	e.mu.Lock()
	defer e.mu.Unlock()
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
		b, err := bridge.New(set.BridgeOptions)
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
	if err := e.srv.Start(); err != nil {
		if e.bridge != nil {
			e.bridge.Close()
			e.bridge = nil
		}
		return err
	}
	e.running, e.stopped = true, make(chan struct{})
	return nil
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
	if err := e.Start(); err != nil {
		return err
	}
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	<-stopped
	return nil
}

// Stop stops the server gracefully, waiting up to timeout for requests in
// progress (a negative timeout waits for as long as they take). It returns
// engine.ErrStopTimeout if connections had to be cut.
func (e *Engine) Stop(timeout time.Duration) error {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return fmt.Errorf("%w: not running", ErrState)
	}
	srv := e.srv
	e.mu.Unlock()
	ctx := context.Background()
	if timeout >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := srv.Stop(ctx)
	e.mu.Lock()
	if e.bridge != nil {
		e.bridge.Close() // after the server: no request can reach it now
		e.bridge = nil
	}
	e.running = false
	close(e.stopped)
	e.mu.Unlock()
	return err
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
