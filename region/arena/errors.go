package arena

import "errors"

// Errors returned by this package, wrapped with the offending values; test
// with errors.Is. An exhausted arena is not an error: Alloc reports false.
var (
	// ErrGeometry means a chunk size or count is out of range or not a
	// power of two, or the memory is too short for the geometry.
	ErrGeometry = errors.New("arena: invalid geometry")
	// ErrSpan means an offset/length pair does not lie inside one chunk of
	// the arena.
	ErrSpan = errors.New("arena: span outside the arena")
	// ErrRelease means a chunk given back is not one that is out: bad
	// offset, not chunk-aligned, not lent, or a stale generation.
	ErrRelease = errors.New("arena: invalid release")
	// ErrNotHeld means the writer tried to lend or free a chunk it does
	// not hold (a local bug, not peer data).
	ErrNotHeld = errors.New("arena: chunk not held")
)
