package supervisor

import (
	"os"
	"syscall"
)

// sysProcAttr: Windows has no process groups to signal; a host is
// stopped by terminating its process.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup terminates the host process pid (Windows has no SIGTERM).
func signalGroup(pid int, kill bool) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// InGroup reports whether pid is the host leader (Windows: only itself).
func InGroup(pid, leader int) bool { return pid == leader }

// processGone: without a cheap check on Windows, a copy is never taken
// for stale.
func processGone(pid int) bool { return false }
