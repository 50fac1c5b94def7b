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
	cfg     engine.Config
	cfgSet  bool // cfg was given; otherwise Haywire's defaults apply
	routes  []route
	srv     *engine.Server // built at Start from cfg; kept while cfg is unchanged
	running bool
	stopped chan struct{} // closed when the running server has stopped
}

type route struct {
	pattern string
	h       engine.Handler
}

// DefaultPort is Haywire's listen port when none is configured.
const DefaultPort = 8000

// Configure replaces the configuration. It fails with ErrState while the
// server runs, and with an error wrapping engine.ErrConfig when cfg is bad.
func (e *Engine) Configure(cfg engine.Config) error {
	if _, err := engine.New(cfg); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return fmt.Errorf("%w: stop the server before reconfiguring", ErrState)
	}
	e.cfg, e.cfgSet, e.srv = cfg, true, nil
	return nil
}

// ConfigureFile replaces the configuration by Haywire's defaults updated
// with the INI file at path (see package config).
func (e *Engine) ConfigureFile(path string) error {
	cfg := engine.Config{Port: DefaultPort}
	if err := config.LoadFile(&cfg, path); err != nil {
		return err
	}
	return e.Configure(cfg)
}

// Set changes one configuration key (see package config).
func (e *Engine) Set(key, value string) error {
	cfg := e.Config()
	if err := config.Set(&cfg, key, value); err != nil {
		return err
	}
	return e.Configure(cfg)
}

// Config returns the configuration as given, or Haywire's defaults (port
// 8000) when none was; the engine fills in the other defaults.
func (e *Engine) Config() engine.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.configLocked()
}

func (e *Engine) configLocked() engine.Config {
	if !e.cfgSet {
		return engine.Config{Port: DefaultPort}
	}
	return e.cfg
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
		srv, err := engine.New(e.configLocked())
		if err != nil {
			return err
		}
		for _, r := range e.routes {
			srv.Handle(r.pattern, r.h) // validated by AddRoute
		}
		e.srv = srv
	}
	if err := e.srv.Start(); err != nil {
		return err
	}
	e.running, e.stopped = true, make(chan struct{})
	return nil
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
