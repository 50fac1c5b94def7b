package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Handler serves one request. ServeExchange reads x's request and sets its
// response; the response is sent when ServeExchange returns, unless the
// handler called x.Hold, in which case it is sent when x.Done is called.
type Handler interface {
	ServeExchange(x *Exchange)
}

// BodyStreamer is implemented by handlers that can take a request body as
// a stream rather than whole. Before reading the body of a request routed
// to such a handler, the engine calls StreamBody; if it returns true,
// ServeExchange runs right after the head with no body (Exchange.Body is
// empty and Exchange.BodyStreamed true), must Hold the exchange and set
// its BodyFunc, which the engine then calls on the connection's goroutine
// with the body, piece by piece. max_request_size still applies. A handler
// that does not take the body gets none and the connection closes after
// its response.
type BodyStreamer interface {
	StreamBody(x *Exchange) bool
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(x *Exchange)

// ServeExchange calls f(x).
func (f HandlerFunc) ServeExchange(x *Exchange) { f(x) }

// Routes map request paths to handlers the way Haywire does: a pattern is a
// path whose '/'-separated segments must match the request path's segments
// one for one, a segment that starts with '*' ("*", "*id") matching any
// single segment; empty segments are ignored on both sides, so "/ping/"
// matches "/ping" and the pattern "ping" is "/ping". A path equal to
// a pattern byte for byte is found by one map probe; otherwise patterns are
// tried in the order they were added. The query never takes part.
//
// Routes may be added while the server runs: lookups see an immutable
// table that Add replaces.
type Routes struct {
	mu    sync.Mutex // serialises Add
	table atomic.Pointer[routeTable]
}

type routeTable struct {
	exact   map[string]Handler
	ordered []route
}

type route struct {
	pattern  string
	segments []string
	handler  Handler
}

// Add routes pattern to h, replacing an earlier handler for the same
// pattern. A pattern without a leading '/' gets one, as in Haywire, except
// "*", which takes OPTIONS * alone.
func (rs *Routes) Add(pattern string, h Handler) error {
	if h == nil || pattern == "" {
		return fmt.Errorf("%w: route %q", ErrConfig, pattern)
	}
	if pattern[0] != '/' && pattern != "*" {
		pattern = "/" + pattern
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	next := &routeTable{exact: map[string]Handler{}}
	if old := rs.table.Load(); old != nil {
		for k, v := range old.exact {
			next.exact[k] = v
		}
		for _, r := range old.ordered {
			if r.pattern != pattern {
				next.ordered = append(next.ordered, r)
			}
		}
	}
	next.exact[pattern] = h
	next.ordered = append(next.ordered, route{pattern, splitSegments(pattern), h})
	rs.table.Store(next)
	return nil
}

// Lookup returns the handler for path, or nil. It does not allocate.
func (rs *Routes) Lookup(path []byte) Handler {
	t := rs.table.Load()
	if t == nil {
		return nil
	}
	if h, ok := t.exact[string(path)]; ok {
		return h
	}
	if len(path) == 1 && path[0] == '*' {
		return nil // OPTIONS' "*" is no path: only the pattern "*" takes it
	}
	for i := range t.ordered {
		if matchSegments(t.ordered[i].segments, path) {
			return t.ordered[i].handler
		}
	}
	return nil
}

func splitSegments(p string) []string {
	var segs []string
	for len(p) > 0 {
		var seg string
		seg, p = nextSegment(p)
		if seg != "" {
			segs = append(segs, seg)
		}
	}
	return segs
}

// nextSegment returns the first non-empty '/'-separated segment of p and
// what follows it.
func nextSegment[S string | []byte](p S) (seg, rest S) {
	i := 0
	for i < len(p) && p[i] == '/' {
		i++
	}
	j := i
	for j < len(p) && p[j] != '/' {
		j++
	}
	return p[i:j], p[j:]
}

func matchSegments(pattern []string, path []byte) bool {
	for _, want := range pattern {
		var seg []byte
		seg, path = nextSegment(path)
		if len(seg) == 0 || (want[0] != '*' && want != string(seg)) {
			return false
		}
	}
	seg, _ := nextSegment(path)
	return len(seg) == 0
}
