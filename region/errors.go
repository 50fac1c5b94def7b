package region

import "errors"

// Errors returned by this package. Most are wrapped with the values that
// caused them (fmt.Errorf("%w: ...")); test with errors.Is. A full ring or an
// exhausted arena on a single attempt is a false/zero return, not an error.
var (
	// ErrName means a region name is not of the form haywire-<uuid> or
	// haywire-<uuid>.<lane> (see ParseLaneName).
	ErrName = errors.New("region: invalid region name")
	// ErrExists means Create found a region with that name already.
	ErrExists = errors.New("region: region already exists")
	// ErrNotFound means Open found no region with that name.
	ErrNotFound = errors.New("region: no such region")
	// ErrPermission means the region file or mapping cannot be opened, or
	// its mode gives access to other users.
	ErrPermission = errors.New("region: permission denied")
	// ErrTruncated means the file is shorter than the header, or than the
	// total size the header records.
	ErrTruncated = errors.New("region: truncated region")
	// ErrMagic means the file does not start with Magic (not a region, or
	// its creator has not finished initialising it).
	ErrMagic = errors.New("region: bad magic")
	// ErrVersion means the region uses another layout version.
	ErrVersion = errors.New("region: unsupported layout version")
	// ErrLayout means the header's sizes, tables or ring control blocks are
	// inconsistent: a section outside the region, overlapping sections, a
	// bad geometry, a wrong role.
	ErrLayout = errors.New("region: invalid layout")
	// ErrConfig means Options asked for a geometry this package cannot
	// build.
	ErrConfig = errors.New("region: invalid options")

	// ErrSideBusy means the side to claim is occupied, or its previous
	// occupant has not been reclaimed yet.
	ErrSideBusy = errors.New("region: side is occupied")
	// ErrFenced means this process's claim on its side was revoked: the
	// peer declared it dead (it stalled longer than the liveness bound).
	// Nothing it sends is accepted any more: close the region, or make a
	// new incarnation of the side with Rejoin.
	ErrFenced = errors.New("region: attachment fenced by the peer")
	// ErrPeerDead means the peer was declared dead (its process exited or
	// it stopped beating); call ReclaimPeer.
	ErrPeerDead = errors.New("region: peer is dead")
	// ErrPeerGone means the peer detached cleanly; call ReclaimPeer.
	ErrPeerGone = errors.New("region: peer detached")
	// ErrPeerAlive means ReclaimPeer was called while the peer is alive.
	ErrPeerAlive = errors.New("region: peer is alive")
	// ErrClosed means the region was closed.
	ErrClosed = errors.New("region: region closed")

	// ErrTimeout means a wait ran out of time.
	ErrTimeout = errors.New("region: wait timed out")
	// ErrStopped means a wait was abandoned because its stop channel closed.
	ErrStopped = errors.New("region: wait stopped")

	// ErrDescriptor means a descriptor read from the peer is malformed:
	// unknown kind or flags, non-zero reserved bits, a payload where none
	// is allowed (or none where one is required), or a span outside the
	// sender's arena. The peer is faulty.
	ErrDescriptor = errors.New("region: invalid descriptor")
	// ErrStale means a descriptor carries the epoch of an earlier
	// incarnation of the peer; it must be skipped.
	ErrStale = errors.New("region: stale descriptor")
	// ErrRingFull means a ring that cannot legitimately be full was full
	// (the release ring), or a multi-descriptor send did not fit.
	ErrRingFull = errors.New("region: ring full")
	// ErrArenaFull means a multi-chunk send needed more free chunks than
	// the arena has.
	ErrArenaFull = errors.New("region: arena full")
)
