// Package arena allocates fixed-size chunks of a shared byte region for the
// one side that writes it, and gives the reading side a bounds-checked view.
//
// The writer owns the Allocator: it is private process state, nothing of it
// lives in the shared memory, so a reader cannot corrupt it. A chunk moves
// Free -> Held (Alloc) -> Lent (Lend, when a descriptor naming it is
// published) -> Free (Return, when the reader gives it back, in any order;
// or ReclaimLent, when the reader died). Every hand-out bumps the chunk's
// generation, and Return checks it, so a late or duplicated release from a
// faulty reader is rejected instead of freeing a chunk that was handed out
// again. A payload larger than one chunk is carried as several chunks, each
// named by its own descriptor.
//
// The reader uses a View: every offset and length it receives is checked to
// lie inside one chunk of the arena before a slice is formed.
//
// Concurrency: an Allocator must be used by one goroutine at a time. A View
// is immutable and safe for concurrent use.
//
// Imports: no HTTP, no mmap, no knowledge of rings; package region wires
// arenas to rings and descriptors.
package arena
