//go:build !linux

package region

import (
	"sync/atomic"
	"time"
)

// Portable fallback: without a cross-process futex, a sleeper polls the
// bell word with growing sleeps (50 µs to 1 ms), so a wake costs the waker
// nothing but the word's increment and the sleeper at most a millisecond.
// Windows will move to named events behind the same bell protocol.

func futexWait(addr *atomic.Uint32, val uint32, d time.Duration) (timedOut bool) {
	deadline := time.Now().Add(d)
	step := 50 * time.Microsecond
	for addr.Load() == val {
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		time.Sleep(min(step, left))
		step = min(2*step, time.Millisecond)
	}
	return false
}

func futexWake(*atomic.Uint32) {}

const futexSupported = false
