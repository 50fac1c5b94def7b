package admin

import (
	"net/http"
	"strconv"

	"github.com/haywireowin/haywire/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// collector exports the counters the status reads, at each scrape: no
// state of its own, nothing on the request path.
type collector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("haywire_"+name, help, labels, nil)
}

var (
	dUp          = desc("healthy", "1 while the engine serves and a host of the current generation is ready (as /healthz)")
	dAccepted    = desc("connections_accepted_total", "Connections accepted.")
	dOpen        = desc("connections_open", "Connections open now.")
	dRequests    = desc("requests_total", "Requests parsed and dispatched to a handler.")
	dResponses   = desc("responses_total", "Responses sent, by status class (refusals by the engine included).", "class")
	dRefused     = desc("refused_total", "Requests the engine answered with an error itself (400, 408, 413, 414, 431, 501, 505).")
	dTimeouts    = desc("timeouts_total", "Connections that stalled mid-request (408).")
	dPanics      = desc("handler_errors_total", "Handler panics and failures answered 500.")
	dRead        = desc("read_bytes_total", "Bytes read from clients.")
	dWritten     = desc("written_bytes_total", "Bytes written to clients.")
	dLatency     = desc("request_duration_seconds", "From the read that completed a request's head to the write of its response, by route class.", "route")
	dForwarded   = desc("bridge_forwarded_total", "Requests published to a host.")
	dCompleted   = desc("bridge_completed_total", "Host responses handed to the engine.")
	dNoHost      = desc("bridge_no_host_total", "Requests answered 503: no host, or no room in time.")
	dFailed      = desc("bridge_failed_total", "Requests answered 502: the host died, detached or answered garbage.")
	dInvalid     = desc("bridge_invalid_total", "Descriptors or messages from a host that failed validation.")
	dCancelled   = desc("bridge_cancelled_total", "Requests whose client went away, told to the host.")
	dAborted     = desc("bridge_aborted_total", "Responses the host abandoned.")
	dBodyIn      = desc("bridge_body_in_bytes_total", "Streamed request-body bytes sent to hosts.")
	dBodyOut     = desc("bridge_body_out_bytes_total", "Streamed response-body bytes written to clients.")
	dInFlight    = desc("bridge_in_flight", "Requests waiting for their host's response now.")
	dLaneFlight  = desc("lane_in_flight", "Requests sent on the lane, response not yet received.", "lane")
	dLaneQueued  = desc("lane_queued", "Descriptors on the lane's ring the host has not taken yet.", "lane")
	dLaneLent    = desc("lane_arena_chunks_lent", "Request-arena chunks lent to the host.", "lane")
	dLaneChunks  = desc("lane_arena_chunks", "Request-arena chunks in all.", "lane")
	dLanePub     = desc("lane_published_total", "Descriptors sent to the lane's hosts.", "lane")
	dLaneWakeups = desc("lane_wakeups_total", "Futex wake-ups issued, by side (engine, host).", "lane", "side")
	dLaneHost    = desc("lane_host_alive", "1 when a live host is attached to the lane.", "lane")
	dGeneration  = desc("generation", "The serving generation of supervised hosts.")
	dHosts       = desc("hosts", "Supervised host processes, by state (starting, ready, draining).", "state")
	dSwaps       = desc("swaps_total", "Hot swaps, by result (ok, failed).", "result")
	dExits       = desc("host_exits_total", "Supervised host processes that exited, for any reason.")
)

// Describe describes nothing: an unchecked collector, as which lanes and
// route classes exist depends on the configuration.
func (c collector) Describe(ch chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := 0.0
	if st.Healthy {
		up = 1
	}
	gauge(dUp, up)
	e := st.Engine
	counter(dAccepted, e.ConnectionsAccepted)
	gauge(dOpen, float64(e.ConnectionsOpen))
	counter(dRequests, e.Requests)
	for _, class := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
		counter(dResponses, e.Responses[class], class)
	}
	counter(dRefused, e.Refused)
	counter(dTimeouts, e.Timeouts)
	counter(dPanics, e.HandlerPanics)
	counter(dRead, e.BytesRead)
	counter(dWritten, e.BytesWritten)
	for class, name := range routeClasses {
		l := c.s.opts.Server.Latency(class)
		buckets := make(map[float64]uint64, engine.LatencyBuckets-1)
		var cum uint64
		for i, n := range l.Buckets[:engine.LatencyBuckets-1] {
			cum += n
			buckets[engine.LatencyBound(i).Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(dLatency, l.Count, l.Sum.Seconds(), buckets, name)
	}
	if b := st.Bridge; b != nil {
		counter(dForwarded, b.Forwarded)
		counter(dCompleted, b.Completed)
		counter(dNoHost, b.NoHost)
		counter(dFailed, b.Failed)
		counter(dInvalid, b.Invalid)
		counter(dCancelled, b.Cancelled)
		counter(dAborted, b.Aborted)
		counter(dBodyIn, b.BodyIn)
		counter(dBodyOut, b.BodyOut)
		gauge(dInFlight, float64(b.InFlight))
		for _, l := range b.Lanes {
			lane := strconv.Itoa(l.Lane)
			gauge(dLaneFlight, float64(l.InFlight), lane)
			gauge(dLaneQueued, float64(l.Queued), lane)
			gauge(dLaneLent, float64(l.ChunksLent), lane)
			gauge(dLaneChunks, float64(l.Chunks), lane)
			counter(dLanePub, l.Published, lane)
			counter(dLaneWakeups, l.EngineWakeups, lane, "engine")
			counter(dLaneWakeups, l.HostWakeups, lane, "host")
			alive := 0.0
			if l.HostState == "alive" {
				alive = 1
			}
			gauge(dLaneHost, alive, lane)
		}
	}
	if st.Supervised {
		gauge(dGeneration, float64(st.Generation))
		states := map[string]float64{"starting": 0, "ready": 0, "draining": 0}
		for _, h := range st.Hosts {
			states[h.State]++
		}
		for state, n := range states {
			gauge(dHosts, n, state)
		}
		counter(dSwaps, uint64(st.SwapsOK), "ok")
		counter(dSwaps, uint64(st.SwapsFailed), "failed")
		counter(dExits, uint64(st.HostExits))
	}
}

// newMetrics returns the /metrics handler: a registry of its own (nothing
// registered globally by anyone else shows), with the Go runtime's and
// the process's collectors beside ours.
func newMetrics(s *Server) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
