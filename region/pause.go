package region

// pauseSink keeps pause's loop from being optimised away.
var pauseSink uint32

// pause burns roughly n short iterations without touching shared memory.
// Go has no PAUSE intrinsic; a poller that backs off this way between
// polls of an index leaves the cache line to its writer, which measurably
// raises cross-process throughput (each poll of a line being written costs
// the writer a cache miss on its next store).
//
//go:noinline
func pause(n int) {
	x := pauseSink
	for i := 0; i < n; i++ {
		x = x*1664525 + 1013904223
	}
	pauseSink = x
}
