package engine

import (
	"testing"
	"time"
)

// bridgedFunc is a handler marked as bridged.
type bridgedFunc HandlerFunc

func (f bridgedFunc) ServeExchange(x *Exchange) { f(x) }
func (bridgedFunc) Bridged()                    {}

// Responses are counted by status class, refusals included, and each
// route class's latency histogram counts its own responses.
func TestStatsStatusClassesAndLatency(t *testing.T) {
	s := startServer(t, Config{})
	s.Handle("/native", HandlerFunc(func(x *Exchange) { x.WriteString("n") }))
	s.Handle("/bridged", bridgedFunc(func(x *Exchange) { x.SetStatus(503, ""); x.WriteString("b") }))
	c := dial(t, s)
	for range 3 {
		checkResponse(t, c.do(get("/native")), 200)
	}
	checkResponse(t, c.do(get("/bridged")), 503)
	checkResponse(t, c.do(get("/missing")), 404)
	c2 := dial(t, s)
	c2.send("BAD\r\n\r\n")
	checkResponse(t, c2.read(), 400)
	waitFor(t, 5*time.Second, "the responses to be counted", func() bool {
		r := s.Responses()
		return r[1] == 3 && r[3] == 2 && r[4] == 1
	})
	if r := s.Responses(); r[0] != 0 || r[2] != 0 {
		t.Errorf("responses by class = %v", r)
	}
	n, b := s.Latency(RouteNative), s.Latency(RouteBridged)
	if n.Count != 4 || b.Count != 1 { // the 404 is native; the 400 has no handler
		t.Errorf("latency counts native %d bridged %d; want 4 and 1", n.Count, b.Count)
	}
	if q := n.Quantile(0.5); q <= 0 || q > time.Second || n.Sum <= 0 {
		t.Errorf("native p50 %v, sum %v", q, n.Sum)
	}
}

// Quantile interpolates inside the bucket the rank falls in.
func TestLatencyQuantile(t *testing.T) {
	var l Latency
	if l.Quantile(0.5) != 0 {
		t.Error("empty histogram: want 0")
	}
	l.Buckets[3] = 10 // [8.192 µs, 16.384 µs)
	if q := l.Quantile(0.5); q != LatencyBound(2)+(LatencyBound(3)-LatencyBound(2))/2 {
		t.Errorf("p50 = %v", q)
	}
	if q := l.Quantile(1); q != LatencyBound(3) {
		t.Errorf("p100 = %v", q)
	}
}
