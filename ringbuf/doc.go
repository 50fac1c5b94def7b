// Package ringbuf is a single-producer single-consumer ring of fixed-size
// slots over a caller-supplied []byte, which may be ordinary heap memory or a
// shared mapping seen by another process.
//
// The buffer starts with a control block (geometry, then the producer's tail
// index and the consumer's head index, each in its own 128-byte block) and
// continues with a power-of-two array of slots; layout.go draws it and
// include/haywire_shm.h carries the same drawing for C peers. Indices are
// free-running 64-bit counters (slot = index & (count-1)), so "full" and
// "empty" need no spare slot; all index arithmetic is modulo 2^64, so even a
// wrap (or a peer that starts near 2^64) is handled.
//
// Publication: the producer writes slots, then stores the new tail with an
// atomic (sequentially consistent, hence release) store; the consumer loads
// the tail atomically (acquire), reads the slots, then stores the new head.
// Each side caches the other side's index and reloads it only when the ring
// looks full (producer) or empty (consumer), so in steady state neither side
// touches the other's cache line.
//
// Trust: the other side may be another process with bugs. Every index loaded
// from the buffer is checked (head <= tail <= head+capacity, monotonic) and a
// violation is returned as an error wrapping ErrCorrupt; nothing the other
// side writes can make this package panic or access memory outside buf.
// Panics are reserved for local misuse (committing more than was reserved).
//
// Concurrency: a Producer and a Consumer over the same buffer may run in
// different goroutines or processes. A Producer must be used by one goroutine
// at a time, and likewise a Consumer; at most one Producer and one Consumer
// may be attached to a ring at any time.
//
// Imports: this package knows nothing about HTTP, files or mmap; the region
// package maps memory and hands slices to it. It must not import either.
package ringbuf
