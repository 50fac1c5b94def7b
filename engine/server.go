package engine

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server is an HTTP/1.1 server. Create it with New, add routes, then Start
// and Stop it, as often as needed; routes survive a restart.
type Server struct {
	cfg          Config
	routes       Routes
	serverHeader []byte // "Server: name\r\n", or empty
	notFound     atomic.Pointer[Handler]
	stats        counters
	stopping     atomic.Bool
	connSeq      atomic.Uint64

	mu        sync.Mutex // guards the fields below
	running   bool
	listeners []net.Listener
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // accept loops and connections
}

// New validates cfg and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: c}
	if c.ServerName != "-" {
		s.serverHeader = []byte("Server: " + c.ServerName + "\r\n")
	}
	return s, nil
}

// Config returns the server's configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Handle routes requests whose path matches pattern to h (see Routes). It
// may be called at any time.
func (s *Server) Handle(pattern string, h Handler) error { return s.routes.Add(pattern, h) }

// HandleFunc routes requests whose path matches pattern to f.
func (s *Server) HandleFunc(pattern string, f func(x *Exchange)) error {
	return s.routes.Add(pattern, HandlerFunc(f))
}

// SetNotFound sets the handler for requests no route matches; nil restores
// the default, which answers 404.
func (s *Server) SetNotFound(h Handler) {
	if h == nil {
		s.notFound.Store(nil)
		return
	}
	s.notFound.Store(&h)
}

func (s *Server) fallback() Handler {
	if h := s.notFound.Load(); h != nil {
		return *h
	}
	return notFound
}

var notFound = HandlerFunc(func(x *Exchange) {
	x.SetStatus(404, "")
	x.AddHeader([]byte("Content-Type"), []byte("text/plain; charset=utf-8"))
	x.WriteString("404 Not Found\n")
})

// Start opens the listeners and serves in the background. It returns once
// the server accepts connections, or with the error that prevented it.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return ErrRunning
	}
	port := s.cfg.Port
	var ls []net.Listener
	for i := 0; i < s.cfg.Listeners; i++ {
		l, err := listen(s.cfg.Address, port, s.cfg.Balancer == BalancerReusePort, s.cfg.Backlog)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return fmt.Errorf("engine: listen on %s: %w", net.JoinHostPort(s.cfg.Address, strconv.Itoa(port)), err)
		}
		// Port 0 picks a port once; the other listeners share it.
		port = l.Addr().(*net.TCPAddr).Port
		ls = append(ls, l)
	}
	s.stopping.Store(false)
	s.listeners, s.conns, s.running = ls, map[*conn]struct{}{}, true
	for _, l := range ls {
		s.wg.Add(1)
		go s.accept(l)
	}
	return nil
}

// Addr returns the address the server listens on, or nil when stopped.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return nil
	}
	return s.listeners[0].Addr()
}

func (s *Server) accept(l net.Listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("engine: accept: %v; retrying in %v", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if tc, ok := rwc.(*net.TCPConn); ok && s.cfg.NoTCPNoDelay {
			tc.SetNoDelay(false) // Go sets TCP_NODELAY on accepted sockets by default
		}
		c := newConn(s, rwc, s.connSeq.Add(1))
		s.mu.Lock()
		if s.stopping.Load() {
			s.mu.Unlock()
			rwc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.stats.accepted.Add(1)
		go c.serve()
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.closed.Add(1)
	s.wg.Done()
}

// Stop stops accepting, closes idle connections, lets requests in progress
// finish (their responses say "Connection: close") and returns when every
// connection has ended. When ctx ends first, the remaining connections are
// closed and Stop returns ErrStopTimeout. The server can be started again.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return ErrNotRunning
	}
	s.stopping.Store(true)
	for _, l := range s.listeners {
		l.Close()
	}
	s.listeners = nil
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		// Dekker with conn.fill: stopping is set, so a connection that goes
		// idle from now on sees it; one that already is idle is woken here.
		if c.idle.Load() {
			c.rwc.SetReadDeadline(aLongTimeAgo)
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ErrStopTimeout
		s.mu.Lock()
		for c := range s.conns {
			c.abort()
		}
		s.mu.Unlock()
		<-done
	}
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	return err
}

func (s *Server) logf(format string, args ...any) {
	log.Printf(format, args...)
}
