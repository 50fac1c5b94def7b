// Package admin is the engine's admin listener: a console page, a JSON
// status API, Prometheus metrics, a health check, and actions (hot swap,
// restart a host) for the launcher's supervised hosts. It serves with
// net/http on a listener of its own, never the public port: it is not the
// hot path, and it reads the counters the engine, the bridge and the
// region keep anyway (atomics), so that watching costs requests nothing.
//
// Security (docs/admin.md): actions are POST only and need the token in
// a header (Authorization: Bearer T, or X-Haywire-Token: T), never a
// cookie, so a page of another site cannot send it; a POST whose Origin
// is not the listener's own is refused. Reads are open on a loopback
// listener (whose Host header must then name a loopback address, against
// DNS rebinding); on any other address they need the token too.
package admin

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/supervisor"
)

// Options configures an admin listener.
type Options struct {
	// Address is HOST:PORT to listen on (port 0: any free port).
	Address string
	// Token is what actions require; "" generates one (Server.Token).
	Token string
	// TokenFile, if set, is where a generated token is written (mode
	// 0600) for tools and operators; removed by Close.
	TokenFile string
	// Server is the engine served; Bridge its bridge, nil without one.
	Server *engine.Server
	Bridge *bridge.Bridge
	// Settings is the configuration shown (admin_token masked).
	Settings config.Settings
}

// Server is a running admin listener.
type Server struct {
	opts      Options
	token     string
	generated bool
	ln        net.Listener
	http      *http.Server
	loopback  bool
	started   time.Time
	stopping  atomic.Bool
	metrics   http.Handler

	mu  sync.Mutex
	sup *supervisor.Supervisor
}

// Start listens on opts.Address and serves in the background.
func Start(opts Options) (*Server, error) {
	if opts.Server == nil {
		return nil, errors.New("admin: no engine server")
	}
	s := &Server{opts: opts, token: opts.Token, started: time.Now()}
	if s.token == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("admin: token: %w", err)
		}
		s.token, s.generated = hex.EncodeToString(b[:]), true
	}
	ln, err := net.Listen("tcp", opts.Address)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	s.ln = ln
	s.loopback = ln.Addr().(*net.TCPAddr).IP.IsLoopback()
	if s.generated && opts.TokenFile != "" {
		if err := os.WriteFile(opts.TokenFile, []byte(s.token+"\n"), 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin: token file: %w", err)
		}
	}
	s.metrics = newMetrics(s)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page(s.console))
	mux.HandleFunc("GET /healthz", s.read(s.healthz))
	mux.HandleFunc("GET /api/status", s.read(s.status))
	mux.HandleFunc("GET /metrics", s.read(s.metrics.ServeHTTP))
	mux.HandleFunc("POST /api/swap", s.action(s.swap))
	mux.HandleFunc("POST /api/hosts/{pid}/restart", s.action(s.restart))
	mux.HandleFunc("POST /api/generations/{gen}/stop", s.action(s.stopGeneration))
	// Every other method on the action paths: 405, as the mux answers
	// for the read paths.
	for _, p := range []string{"/api/swap", "/api/hosts/{pid}/restart", "/api/generations/{gen}/stop"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "POST")
			httpError(w, http.StatusMethodNotAllowed, "POST only")
		})
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// Addr returns the address it listens on.
func (s *Server) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// URL returns the console's address: http://HOST:PORT/.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Token returns the token actions require.
func (s *Server) Token() string { return s.token }

// Generated reports whether the token was generated (not configured).
func (s *Server) Generated() bool { return s.generated }

// SetSupervisor gives the supervisor of the engine's hosts: the status
// shows its hosts and swaps, and the actions drive it.
func (s *Server) SetSupervisor(sup *supervisor.Supervisor) {
	s.mu.Lock()
	s.sup = sup
	s.mu.Unlock()
}

func (s *Server) supervisor() *supervisor.Supervisor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sup
}

// SetStopping marks the engine as stopping: /healthz answers 503 from now
// on, while the listener still serves.
func (s *Server) SetStopping() { s.stopping.Store(true) }

// Close stops the listener and removes a token file it wrote.
func (s *Server) Close() error {
	err := s.http.Close()
	if s.generated && s.opts.TokenFile != "" {
		os.Remove(s.opts.TokenFile)
	}
	return err
}

// read wraps a read handler: on a loopback listener, the Host must be a
// loopback name (a page of another site that rebinds its name to
// 127.0.0.1 sends its own); off loopback, the token is required.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r) {
			httpError(w, http.StatusForbidden, "Host must name the admin listener's loopback address")
			return
		}
		if !s.loopback && !s.authorized(w, r) {
			return
		}
		h(w, r)
	}
}

// page wraps the console page: it holds no data (its script fetches the
// status with the token), so it needs none; the Host check still applies.
func (s *Server) page(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r) {
			httpError(w, http.StatusForbidden, "Host must name the admin listener's loopback address")
			return
		}
		h(w, r)
	}
}

// action wraps a POST handler: same-origin (if the browser says), and the
// token.
func (s *Server) action(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r) {
			httpError(w, http.StatusForbidden, "Host must name the admin listener's loopback address")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			httpError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		if !s.authorized(w, r) {
			return
		}
		h(w, r)
	}
}

func (s *Server) hostAllowed(r *http.Request) bool {
	if !s.loopback {
		return true // the token guards reads there
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// authorized checks the token: 401 when none is sent, 403 when it is
// wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	got := r.Header.Get("X-Haywire-Token")
	if a := r.Header.Get("Authorization"); got == "" && a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if strings.EqualFold(scheme, "Bearer") {
			got = strings.TrimSpace(tok)
		}
	}
	switch {
	case got == "":
		w.Header().Set("WWW-Authenticate", `Bearer realm="haywire admin"`)
		httpError(w, http.StatusUnauthorized, "token required (Authorization: Bearer TOKEN or X-Haywire-Token: TOKEN)")
		return false
	case subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1:
		httpError(w, http.StatusForbidden, "wrong token")
		return false
	}
	return true
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

//go:embed console.html
var consolePage []byte

func (s *Server) console(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Everything the page needs is in it: no other origin is reachable.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(consolePage)
}

// healthy says whether the engine serves and a host can take requests.
func (s *Server) healthy() (bool, string) {
	if s.stopping.Load() {
		return false, "stopping"
	}
	if sup := s.supervisor(); sup != nil {
		if sup.Status().Stopping {
			return false, "stopping"
		}
		if !sup.Ready() {
			return false, "no host of the current generation is ready"
		}
		return true, "ok"
	}
	if b := s.opts.Bridge; b != nil {
		for _, l := range b.Lanes() {
			if l.HostState == "alive" && !l.Draining {
				return true, "ok"
			}
		}
		return false, "no host attached"
	}
	return true, "ok"
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ok, why := s.healthy()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, why+"\n")
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *Server) swap(w http.ResponseWriter, r *http.Request) {
	sup := s.supervisor()
	if sup == nil {
		httpError(w, http.StatusConflict, "no supervised hosts (--host-command) to swap")
		return
	}
	from := sup.Generation()
	go sup.SwapFor("console") // it logs how it went; the timeline shows it
	writeJSON(w, http.StatusAccepted, map[string]any{"swap": "started", "from": from})
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	sup := s.supervisor()
	if sup == nil {
		httpError(w, http.StatusConflict, "no supervised hosts (--host-command) to restart")
		return
	}
	pid, err := strconv.Atoi(r.PathValue("pid"))
	if err != nil || pid <= 0 {
		httpError(w, http.StatusBadRequest, "want a pid")
		return
	}
	if err := sup.Restart(pid); err != nil {
		httpError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"restart": pid})
}

func (s *Server) stopGeneration(w http.ResponseWriter, r *http.Request) {
	sup := s.supervisor()
	if sup == nil {
		httpError(w, http.StatusConflict, "no supervised hosts (--host-command)")
		return
	}
	gen, err := strconv.Atoi(r.PathValue("gen"))
	if err != nil || gen <= 0 {
		httpError(w, http.StatusBadRequest, "want a generation number")
		return
	}
	n, err := sup.StopGeneration(gen)
	switch {
	case errors.Is(err, supervisor.ErrServing):
		httpError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		httpError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"stop": gen, "hosts": n})
}
