package engine

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats are the server's counters since New. All are cumulative except
// ConnectionsOpen.
type Stats struct {
	ConnectionsAccepted uint64 // connections accepted
	ConnectionsOpen     uint64 // connections currently open
	Requests            uint64 // requests parsed and dispatched to a handler
	Refused             uint64 // requests answered with an error by the engine (400, 408, 413, 414, 431, 501, 505…)
	Timeouts            uint64 // connections that stalled mid-request (408)
	HandlerPanics       uint64 // handler panics recovered (answered 500)
	BytesRead           uint64 // bytes read from clients
	BytesWritten        uint64 // bytes written to clients
}

type counters struct {
	accepted, closed, requests, refused, timeouts, panics atomic.Uint64
	bytesRead, bytesWritten                               atomic.Uint64
	status                                                [5]atomic.Uint64 // by class: 1xx..5xx
	latency                                               [RouteClasses]latency
}

// Stats returns a snapshot of the counters. Each is read atomically; the
// set is not one consistent instant.
func (s *Server) Stats() Stats {
	c := &s.stats
	acc, closed := c.accepted.Load(), c.closed.Load()
	return Stats{
		ConnectionsAccepted: acc,
		ConnectionsOpen:     acc - min(closed, acc),
		Requests:            c.requests.Load(),
		Refused:             c.refused.Load(),
		Timeouts:            c.timeouts.Load(),
		HandlerPanics:       c.panics.Load(),
		BytesRead:           c.bytesRead.Load(),
		BytesWritten:        c.bytesWritten.Load(),
	}
}

// A BridgedHandler forwards its requests to another process (the bridge
// does): the latency histograms count them apart from native routes'.
type BridgedHandler interface {
	Handler
	// Bridged marks the handler; it is never called.
	Bridged()
}

func isBridged(h Handler) bool {
	_, ok := h.(BridgedHandler)
	return ok
}

// Route classes: the index of Server.Latency's histograms.
const (
	RouteNative  = 0 // a handler of the engine's process
	RouteBridged = 1 // a BridgedHandler
	RouteClasses = 2
)

// LatencyBuckets is the number of buckets of a latency histogram. Bucket i
// counts responses whose latency is below LatencyBound(i); the last one
// has no bound.
const LatencyBuckets = 28

// LatencyBound returns the upper bound of bucket i: 1.024 µs << i; 0 for
// the last bucket (none).
func LatencyBound(i int) time.Duration {
	if i >= LatencyBuckets-1 {
		return 0
	}
	return time.Duration(1024) << i
}

// Latency is a histogram of response latencies: from the read that
// completed the request's head to the write of its response (of its last
// part, for a streamed one).
type Latency struct {
	Buckets [LatencyBuckets]uint64
	Count   uint64
	Sum     time.Duration
}

// Quantile returns an estimate of the q-quantile (0 < q <= 1): the upper
// bound of the bucket it falls in, interpolated linearly inside it; 0
// with no responses.
func (l Latency) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range l.Buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen uint64
	for i, n := range l.Buckets {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		lo := time.Duration(0)
		if i > 0 {
			lo = LatencyBound(i - 1)
		}
		hi := LatencyBound(i)
		if hi == 0 { // the open bucket: its lower bound
			return lo
		}
		frac := (rank - float64(seen)) / float64(n)
		return lo + time.Duration(frac*float64(hi-lo))
	}
	return LatencyBound(LatencyBuckets - 2)
}

// latency is a Latency kept with atomics: a response costs two adds.
type latency struct {
	buckets [LatencyBuckets]atomic.Uint64
	sum     atomic.Int64
}

// observe counts x's response, written at now (monoNow): its status class
// and, when its start is known, its latency.
func (c *counters) observe(x *Exchange, now time.Duration) {
	c.statusClass(x.status)
	if now <= 0 || x.start <= 0 || now < x.start {
		return
	}
	d := now - x.start
	h := &c.latency[RouteNative]
	if x.bridged {
		h = &c.latency[RouteBridged]
	}
	h.buckets[min(bits.Len64(uint64(d)>>10), LatencyBuckets-1)].Add(1)
	h.sum.Add(int64(d))
}

func (c *counters) statusClass(status int) {
	k := status / 100
	if k < 1 || k > 5 {
		k = 5 // sent as 500
	}
	c.status[k-1].Add(1)
}

// Latency returns the histogram of route class class (RouteNative,
// RouteBridged). Each bucket is read atomically; the set is not one
// consistent instant.
func (s *Server) Latency(class int) Latency {
	var l Latency
	h := &s.stats.latency[class]
	for i := range l.Buckets {
		l.Buckets[i] = h.buckets[i].Load()
		l.Count += l.Buckets[i]
	}
	l.Sum = time.Duration(h.sum.Load())
	return l
}

// Responses returns the responses sent by status class: [0] the 1xx, ...,
// [4] the 5xx, the engine's own refusals (Refused) included.
func (s *Server) Responses() [5]uint64 {
	var r [5]uint64
	for i := range r {
		r[i] = s.stats.status[i].Load()
	}
	return r
}
