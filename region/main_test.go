package region

import (
	"fmt"
	"os"
	"testing"
)

// Cross-process tests re-execute this test binary as the peer: the parent
// sets envRole (and the parameters below) and TestMain runs that role
// instead of the tests.
const (
	envRole   = "HAYWIRE_SHM_PEER"
	envRegion = "HAYWIRE_SHM_REGION"
	envDir    = "HAYWIRE_SHM_DIR"
	envCount  = "HAYWIRE_SHM_COUNT"
	envMode   = "HAYWIRE_SHM_MODE"
)

// peerRoles maps a role name to its main; files with build constraints
// register their roles in init.
var peerRoles = map[string]func() int{}

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		f := peerRoles[role]
		if f == nil {
			fmt.Fprintf(os.Stderr, "unknown peer role %q\n", role)
			os.Exit(100)
		}
		os.Exit(f())
	}
	os.Exit(m.Run())
}
