package admin

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/supervisor"
)

// Status is what GET /api/status returns (docs/admin.md describes each
// field).
type Status struct {
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Healthy       bool      `json:"healthy"`
	Health        string    `json:"health"`
	Engine        Engine    `json:"engine"`
	Bridge        *Bridge   `json:"bridge,omitempty"`
	Supervised    bool      `json:"supervised"`
	Generation    int       `json:"generation"`
	Processes     int       `json:"processes"`
	Hosts         []Host    `json:"hosts"`
	Exited        []Host    `json:"exited"`
	Swaps         []Swap    `json:"swaps"`
	SwapsOK       int       `json:"swaps_ok"`
	SwapsFailed   int       `json:"swaps_failed"`
	HostExits     int       `json:"host_exits"`
	Config        []Setting `json:"config"`
}

// Engine is the HTTP side's counters.
type Engine struct {
	ConnectionsAccepted uint64             `json:"connections_accepted"`
	ConnectionsOpen     uint64             `json:"connections_open"`
	Requests            uint64             `json:"requests"`
	Refused             uint64             `json:"refused"`
	Timeouts            uint64             `json:"timeouts"`
	HandlerPanics       uint64             `json:"handler_panics"`
	BytesRead           uint64             `json:"bytes_read"`
	BytesWritten        uint64             `json:"bytes_written"`
	Responses           map[string]uint64  `json:"responses"` // "1xx" .. "5xx"
	Latency             map[string]Latency `json:"latency"`   // "native", "bridged"
}

// Latency summarizes a route class's latency histogram.
type Latency struct {
	Count      uint64  `json:"count"`
	SumSeconds float64 `json:"sum_seconds"`
	P50ms      float64 `json:"p50_ms"`
	P90ms      float64 `json:"p90_ms"`
	P99ms      float64 `json:"p99_ms"`
}

// Bridge is the bridge's counters.
type Bridge struct {
	Region    string `json:"region"`
	Forwarded uint64 `json:"forwarded"`
	Completed uint64 `json:"completed"`
	NoHost    uint64 `json:"no_host"`
	Failed    uint64 `json:"failed"`
	Invalid   uint64 `json:"invalid"`
	Cancelled uint64 `json:"cancelled"`
	Aborted   uint64 `json:"aborted"`
	BodyIn    uint64 `json:"body_in_bytes"`
	BodyOut   uint64 `json:"body_out_bytes"`
	InFlight  uint64 `json:"in_flight"`
	Lanes     []Lane `json:"lanes"`
}

// Lane is one lane of the region: the host attached and what it holds.
type Lane struct {
	Lane       int    `json:"lane"`
	HostPID    int    `json:"host_pid"`
	HostState  string `json:"host_state"`
	Serving    bool   `json:"serving"`
	Draining   bool   `json:"draining"`
	InFlight   int    `json:"in_flight"`
	Published  uint64 `json:"published"`
	Queued     uint64 `json:"queued"`
	Chunks     int    `json:"chunks"`
	ChunksLent int    `json:"chunks_lent"`
	// The region's counters: wake-ups each side issued, sends refused full.
	EngineWakeups uint64 `json:"engine_wakeups"`
	HostWakeups   uint64 `json:"host_wakeups"`
	RingFull      uint64 `json:"ring_full"`
	ArenaFull     uint64 `json:"arena_full"`
}

// Host is one host process, supervised or attached by hand.
type Host struct {
	PID           int      `json:"pid"`
	Generation    int      `json:"generation"`
	State         string   `json:"state"` // starting, ready, draining, dead
	Lane          int      `json:"lane"`  // -1: not attached
	Started       string   `json:"started,omitempty"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	ReadyAfterMs  float64  `json:"ready_after_ms,omitempty"`
	Restarts      int      `json:"restarts"`
	Exit          string   `json:"exit,omitempty"`
	Exited        string   `json:"exited,omitempty"`
	Tail          []string `json:"tail,omitempty"`
	// Of its lane, while attached.
	Published  uint64 `json:"published"`
	InFlight   int    `json:"in_flight"`
	Queued     uint64 `json:"queued"`
	ChunksLent int    `json:"chunks_lent"`
	Chunks     int    `json:"chunks"`
	Wakeups    uint64 `json:"wakeups"`
}

// Swap is one swap of the timeline.
type Swap struct {
	Requested  string  `json:"requested"`
	Reason     string  `json:"reason"`
	From       int     `json:"from"`
	To         int     `json:"to"`
	TookMs     float64 `json:"took_ms"`
	Result     string  `json:"result"`
	Successful bool    `json:"ok"`
}

// Setting is one configuration value.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s *Server) snapshot() Status {
	now := time.Now()
	st := Status{Time: now, UptimeSeconds: now.Sub(s.started).Seconds(), Hosts: []Host{}, Exited: []Host{}, Swaps: []Swap{}}
	st.Healthy, st.Health = s.healthy()
	srv := s.opts.Server
	es := srv.Stats()
	st.Engine = Engine{ConnectionsAccepted: es.ConnectionsAccepted, ConnectionsOpen: es.ConnectionsOpen,
		Requests: es.Requests, Refused: es.Refused, Timeouts: es.Timeouts, HandlerPanics: es.HandlerPanics,
		BytesRead: es.BytesRead, BytesWritten: es.BytesWritten,
		Responses: map[string]uint64{}, Latency: map[string]Latency{}}
	for i, n := range srv.Responses() {
		st.Engine.Responses[fmt.Sprintf("%dxx", i+1)] = n
	}
	for class, name := range routeClasses {
		l := srv.Latency(class)
		st.Engine.Latency[name] = Latency{Count: l.Count, SumSeconds: l.Sum.Seconds(),
			P50ms: ms(l.Quantile(0.5)), P90ms: ms(l.Quantile(0.9)), P99ms: ms(l.Quantile(0.99))}
	}
	var lanes []Lane
	if b := s.opts.Bridge; b != nil {
		bs := b.Stats()
		lanes = readLanes(b)
		st.Bridge = &Bridge{Region: b.Name(), Forwarded: bs.Forwarded, Completed: bs.Completed, NoHost: bs.NoHost,
			Failed: bs.Failed, Invalid: bs.Invalid, Cancelled: bs.Cancelled, Aborted: bs.Aborted,
			BodyIn: bs.BodyIn, BodyOut: bs.BodyOut, InFlight: bs.InFlight, Lanes: lanes}
	}
	laneOf := func(h *Host) {
		h.Lane = -1
		for _, l := range lanes {
			if l.HostPID != 0 && (l.HostState == "alive" || l.HostState == "attaching") && supervisor.InGroup(l.HostPID, h.PID) {
				h.Lane, h.Published, h.InFlight, h.Queued = l.Lane, l.Published, l.InFlight, l.Queued
				h.ChunksLent, h.Chunks, h.Wakeups = l.ChunksLent, l.Chunks, l.HostWakeups
				return
			}
		}
	}
	if sup := s.supervisor(); sup != nil {
		ss := sup.Status()
		st.Supervised, st.Generation, st.Processes = true, ss.Generation, ss.Processes
		st.SwapsOK, st.SwapsFailed, st.HostExits = ss.SwapsOK, ss.SwapsFailed, ss.Exits
		for _, hs := range ss.Hosts {
			h := hostOf(hs, now)
			laneOf(&h)
			st.Hosts = append(st.Hosts, h)
		}
		for _, hs := range slices.Backward(ss.Exited) {
			st.Exited = append(st.Exited, hostOf(hs, now))
		}
		for _, r := range slices.Backward(ss.Swaps) {
			st.Swaps = append(st.Swaps, Swap{Requested: r.Requested.UTC().Format(time.RFC3339Nano), Reason: r.Reason,
				From: r.From, To: r.To, TookMs: ms(r.Took), Result: r.Result, Successful: r.Result == "ok"})
		}
	} else {
		for _, l := range lanes { // hosts attached by hand
			if l.HostPID == 0 || l.HostState == "absent" {
				continue
			}
			state := "ready"
			switch {
			case l.HostState == "attaching":
				state = "starting"
			case l.Draining:
				state = "draining"
			case l.HostState != "alive":
				state = "dead"
			}
			h := Host{PID: l.HostPID, State: state}
			laneOf(&h)
			st.Hosts = append(st.Hosts, h)
		}
	}
	st.Config = settingsOf(s.opts.Settings)
	return st
}

var routeClasses = map[int]string{engine.RouteNative: "native", engine.RouteBridged: "bridged"}

func hostOf(hs supervisor.HostStatus, now time.Time) Host {
	h := Host{PID: hs.PID, Generation: hs.Generation, State: hs.State, Lane: -1, Restarts: hs.Restarts,
		Exit: hs.Exit, Tail: hs.Tail, Started: hs.Started.UTC().Format(time.RFC3339Nano)}
	end := now
	if !hs.Exited.IsZero() {
		end = hs.Exited
		h.Exited = hs.Exited.UTC().Format(time.RFC3339Nano)
	}
	h.UptimeSeconds = end.Sub(hs.Started).Seconds()
	if !hs.Ready.IsZero() {
		h.ReadyAfterMs = ms(hs.Ready.Sub(hs.Started))
	}
	return h
}

// readLanes reads each lane's state from the bridge and its counters from
// the region (as haywire --stats does).
func readLanes(b *bridge.Bridge) []Lane {
	var out []Lane
	for _, ls := range b.Lanes() {
		l := Lane{Lane: ls.Lane, HostPID: ls.HostPID, HostState: ls.HostState, Serving: ls.Serving, Draining: ls.Draining,
			InFlight: ls.InFlight, Published: ls.Published, Queued: ls.Queued, Chunks: ls.Chunks, ChunksLent: ls.ChunksLent}
		if c, err := region.ReadCounters(ls.Name, b.Dir()); err == nil {
			l.EngineWakeups = c.Side[0][region.CounterWakeups]
			l.HostWakeups = c.Side[1][region.CounterWakeups]
			l.RingFull = c.Side[0][region.CounterRingFull]
			l.ArenaFull = c.Side[0][region.CounterArenaFull]
		}
		out = append(out, l)
	}
	return out
}

// settingsOf lists the configuration's fields by path (Engine.Port),
// leaving out functions and writers, with the admin token masked.
func settingsOf(set any) []Setting {
	var out []Setting
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			if d, ok := v.Interface().(fmt.Stringer); ok && v.Type().PkgPath() == "time" {
				out = append(out, Setting{prefix, d.String()})
				return
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				name := f.Name
				if prefix != "" {
					name = prefix + "." + name
				}
				walk(name, v.Field(i))
			}
		case reflect.Func, reflect.Interface, reflect.Chan, reflect.Pointer, reflect.UnsafePointer:
		case reflect.Int64:
			if d, ok := v.Interface().(time.Duration); ok {
				out = append(out, Setting{prefix, d.String()})
				return
			}
			out = append(out, Setting{prefix, fmt.Sprint(v.Interface())})
		default:
			val := fmt.Sprint(v.Interface())
			if prefix == "Admin.Token" {
				val = "********"
			}
			out = append(out, Setting{prefix, val})
		}
	}
	walk("", reflect.ValueOf(set))
	return out
}
