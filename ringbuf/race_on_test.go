//go:build race

package ringbuf

// raceEnabled shrinks iteration counts: the race detector makes every
// instrumented memory access tens of times slower.
const raceEnabled = true
