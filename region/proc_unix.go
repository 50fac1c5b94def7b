//go:build unix && !linux

package region

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// processStatus reports whether pid is a running process. There is no
// portable start token outside Linux; pid reuse is then caught only by the
// heartbeat.
func processStatus(pid int) (alive bool, token uint64) {
	if pid <= 0 || pid > maxPID {
		return false, 0 // also keeps a forged pid from turning into kill(-pgid)
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM), 0
}
