//go:build unix

package supervisor

import (
	"errors"
	"syscall"
)

// sysProcAttr puts a host in a process group of its own (its pid), which
// signalGroup reaches whole; a terminal's Ctrl-C reaches the launcher
// only, which stops the hosts in order.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends SIGTERM (kill: SIGKILL) to the process group of the
// host whose pid leads it.
func signalGroup(pid int, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-pid, sig)
}

// InGroup reports whether process pid belongs to the process group led
// by leader: the host the supervisor started, or a process it started
// (a host run through a wrapper script).
func InGroup(pid, leader int) bool {
	if pid == leader {
		return true
	}
	g, err := syscall.Getpgid(pid)
	return err == nil && g == leader
}

// processGone reports whether no process pid exists.
func processGone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }
