package engine

import "sync/atomic"

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
