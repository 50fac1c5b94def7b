package region

// pause burns roughly n short iterations without touching shared memory.
// Go has no PAUSE intrinsic; a poller that backs off this way between
// polls of an index leaves the cache line to its writer, which measurably
// raises cross-process throughput (each poll of a line being written costs
// the writer a cache miss on its next store). It returns its result, which
// callers ignore, so the loop is not optimised away without writing a
// global: two pollers in one process would race on it and share its line.
//
//go:noinline
func pause(n int) uint32 {
	x := uint32(n)
	for i := 0; i < n; i++ {
		x = x*1664525 + 1013904223
	}
	return x
}
