package region

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations. No FUTEX_PRIVATE_FLAG (128): the word lives in a shared
// mapping and the waker is another process, so the kernel must key the wait
// queue on the physical page, not on this process's address space.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWait sleeps while *addr == val, at most d. It returns early when the
// word changes (EAGAIN before sleeping), on a wake, on a signal (EINTR) or
// on timeout, and reports whether it timed out; the caller re-checks its
// condition in every case.
func futexWait(addr *atomic.Uint32, val uint32, d time.Duration) (timedOut bool) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
	return e == unix.ETIMEDOUT
}

// futexWake wakes every waiter on addr (there is at most one per bell, but
// waking all costs the same and survives misuse).
func futexWake(addr *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, math.MaxInt32, 0, 0, 0)
}

// futexSupported reports whether waits sleep in the kernel (true) or poll.
const futexSupported = true
