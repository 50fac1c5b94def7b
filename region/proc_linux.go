package region

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// processStatus reports whether pid is a running process and returns its
// start token (start time in clock ticks since boot, field 22 of
// /proc/pid/stat), 0 if unknown. A zombie counts as dead: a killed child
// that its parent has not reaped yet must not keep its region claims alive.
func processStatus(pid int) (alive bool, token uint64) {
	if pid <= 0 || pid > maxPID {
		return false, 0 // also keeps a forged pid from turning into kill(-pgid)
	}
	kerr := unix.Kill(pid, 0)
	if errors.Is(kerr, syscall.ESRCH) {
		return false, 0
	}
	// EPERM means the process exists but belongs to someone else.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// No /proc (or it vanished in between): trust kill, no token.
		return kerr == nil || errors.Is(kerr, syscall.EPERM), 0
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// parentheses: parse from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return true, 0
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 22 (starttime) is f[19].
	if len(f) < 20 {
		return true, 0
	}
	if f[0][0] == 'Z' || f[0][0] == 'X' {
		return false, 0
	}
	t, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return true, t
}
