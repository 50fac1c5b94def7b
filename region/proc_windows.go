package region

import (
	"golang.org/x/sys/windows"
)

// stillActive is the exit code GetExitCodeProcess reports for a running
// process (STILL_ACTIVE).
const stillActive = 259

// processStatus reports whether pid is a running process and returns its
// creation time (100 ns units since 1601) as the start token.
func processStatus(pid int) (alive bool, token uint64) {
	if pid <= 0 || pid > maxPID {
		return false, 0 // also keeps a forged pid from turning into kill(-pgid)
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		// Access denied means it exists; anything else, assume gone.
		return err == windows.ERROR_ACCESS_DENIED, 0
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil || code != stillActive {
		return false, 0
	}
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(h, &created, &exited, &kernel, &user) == nil {
		token = uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime)
	}
	return true, token
}
