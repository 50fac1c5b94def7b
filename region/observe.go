package region

// CounterNames names the side counters (Counter*), in index order.
var CounterNames = [NumCounters]string{
	"wakeups", "sleeps", "ring_full", "arena_full", "invalid", "stale", "peer_deaths", "reclaims",
	"reclaimed_descs", "reclaimed_chunks", "attaches", "sleep_timeouts",
}

// Counters are both sides' counters of one region as an observer reads
// them: Side[0] the engine's, Side[1] the host's.
type Counters struct {
	Side [SideCount][NumCounters]uint64
}

// ReadCounters reads the counters of region (lane) name without attaching
// to it: tools watch a running engine and host this way. The region is
// validated as Open validates it; each counter is read atomically, as of
// some moment during the call.
func ReadCounters(name, dir string) (Counters, error) {
	var c Counters
	m, _, err := openValidated(dir, name)
	if err != nil {
		return c, err
	}
	defer m.close()
	mem := m.bytes()
	for s := range SideCount {
		for k := range NumCounters {
			c.Side[s][k] = u64(mem, counterOffset(s, k)).Load()
		}
	}
	return c, nil
}
