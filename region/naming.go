package region

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// maxPID is the largest pid a claim may name: pids are positive 32-bit
// integers everywhere we run.
const maxPID = 1<<31 - 1

// NamePrefix starts every region name: haywire-<uuid>, the uuid in its
// canonical lowercase 36-character form. The name is also the file name
// under the region directory (Unix) or, prefixed with Local\, the name of
// the mapping (Windows).
const NamePrefix = "haywire-"

// NewName returns a fresh random region name.
func NewName() string { return NamePrefix + uuid.NewString() }

// ParseName checks that name is a region name and returns its uuid. Only
// the canonical form is accepted, so a name can never carry a path
// separator or a second spelling of the same region.
func ParseName(name string) (uuid.UUID, error) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok || len(rest) != 36 {
		return uuid.UUID{}, fmt.Errorf("%w: %q is not %s<uuid>", ErrName, name, NamePrefix)
	}
	id, err := uuid.Parse(rest)
	if err != nil || id.String() != rest {
		return uuid.UUID{}, fmt.Errorf("%w: %q is not %s<uuid> in canonical form", ErrName, name, NamePrefix)
	}
	return id, nil
}
