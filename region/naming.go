package region

import (
	"fmt"
	"strconv"
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

// Lanes: an engine may serve several independent regions under one uuid,
// so that two hosts can be attached at once (hot swap). Lane 0 is named
// haywire-<uuid>, the name the engine prints; lane k, 1 <= k < lanes, is
// named haywire-<uuid>.<k>, k in decimal without leading zeros. Each lane
// is a complete region whose header records the same uuid, its lane number
// and the lane count.
const (
	// MaxLanes bounds the lane count of an engine: lanes are 0..MaxLanes-1.
	MaxLanes = 64
	// MaxNameLen is the length of the longest region name, lane
	// MaxLanes-1's.
	MaxNameLen = len(NamePrefix) + 36 + 3
)

// NewName returns a fresh random region name (a lane-0 name).
func NewName() string { return NamePrefix + uuid.NewString() }

// ParseName checks that name is a region name, of any lane, and returns its
// uuid (shared by all lanes of an engine; see ParseLaneName for the lane).
// Only the canonical form is accepted, so a name can never carry a path
// separator or a second spelling of the same region.
func ParseName(name string) (uuid.UUID, error) {
	id, _, err := ParseLaneName(name)
	return id, err
}

// ParseLaneName checks that name is a region name and returns its uuid and
// lane: haywire-<uuid> is lane 0, haywire-<uuid>.<k> lane k for k in
// [1, MaxLanes). The suffix is canonical too: no ".0", no leading zeros,
// no sign, digits only.
func ParseLaneName(name string) (uuid.UUID, int, error) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok || len(rest) < 36 {
		return uuid.UUID{}, 0, fmt.Errorf("%w: %q is not %s<uuid>[.<lane>]", ErrName, name, NamePrefix)
	}
	rest, suffix := rest[:36], rest[36:]
	id, err := uuid.Parse(rest)
	if err != nil || id.String() != rest {
		return uuid.UUID{}, 0, fmt.Errorf("%w: %q is not %s<uuid> in canonical form", ErrName, name, NamePrefix)
	}
	if suffix == "" {
		return id, 0, nil
	}
	digits, ok := strings.CutPrefix(suffix, ".")
	if !ok {
		return uuid.UUID{}, 0, fmt.Errorf("%w: %q: %q after the uuid, want nothing or .<lane>", ErrName, name, suffix)
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return uuid.UUID{}, 0, fmt.Errorf("%w: %q: lane %q is not a decimal number", ErrName, name, digits)
	}
	if digits[0] == '0' {
		return uuid.UUID{}, 0, fmt.Errorf("%w: %q: lane %q: lane 0 has no suffix, and lanes have no leading zeros", ErrName, name, digits)
	}
	lane, err := strconv.Atoi(digits)
	if err != nil || len(digits) > 2 || lane >= MaxLanes {
		return uuid.UUID{}, 0, fmt.Errorf("%w: %q: lane %s, at most %d", ErrName, name, digits, MaxLanes-1)
	}
	return id, lane, nil
}

// LaneName returns the name of lane k of the engine whose lane-0 name is
// base: base itself for k = 0, base.<k> otherwise. A lane suffix already on
// base is replaced. k should be in [0, MaxLanes); other values give names
// ParseLaneName refuses.
func LaneName(base string, k int) string {
	base, _, _ = strings.Cut(base, ".") // neither the prefix nor a uuid has a dot
	if k == 0 {
		return base
	}
	return base + "." + strconv.Itoa(k)
}
