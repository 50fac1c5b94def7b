//go:build unix

package engine

import (
	"syscall"
	"testing"
)

func raiseFDLimit(t testing.TB, want uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if rl.Cur >= want {
		return
	}
	rl.Cur = min(want, rl.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < want {
		t.Skipf("cannot raise the open file limit to %d (have %d): %v", want, rl.Cur, err)
	}
}
