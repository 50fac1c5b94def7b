// Package region is the shared-memory transport between the engine and an
// application host: a named, memory-mapped region holding four SPSC rings
// of 32-byte descriptors and two arenas of chunks, plus a header with the
// layout, liveness state, doorbells and counters. Any process that follows
// include/haywire_shm.h can attach; the Go side of that contract is here.
//
// Lifecycle:
//
//  1. The engine calls Create: a new file haywire-<uuid> under /dev/shm,
//     or os.TempDir() when /dev/shm is missing or not writable (mode
//     0600, O_EXCL), formatted, with the engine holding side 0 (or
//     CreateLanes: one such file per lane, see below).
//  2. A host calls Open(name) from another process: the header, every
//     table entry and every ring control block are validated, then it
//     claims side 1 and gets a fresh epoch.
//  3. Each side sends with its Sender (descriptors naming chunks of its own
//     arena) and receives with its Receiver (descriptors naming chunks of
//     the peer's arena, read in place and released when done).
//  4. A monitor goroutine per attachment beats its heartbeat and judges the
//     peer; a peer whose process exits, or that stops beating for
//     PeerTimeout (default 1 s), is declared dead and fenced (an exited
//     process within about two heartbeats, PeerTimeout/5; a silent one after
//     PeerTimeout - PeerTimeout/10 without a beat). The survivor
//     calls ReclaimPeer, which discards what was in flight, takes back
//     every chunk and frees the side; a new peer then attaches with a new
//     epoch, and descriptors of the old one are refused as stale. A side
//     that outlives its fencing (it was stalled, not dead) finds itself
//     Fenced and stops beating; Rejoin makes it a new incarnation of the
//     side once the peer has given the side up.
//  5. Close detaches; the creator's Close also removes the name. Regions
//     left by crashed processes are found by List and removed by
//     RemoveStale.
//
// Lanes: a region has one host side, so for two hosts at once (hot swap:
// a new host takes new requests while the old one drains) an engine calls
// CreateLanes and serves L lanes, L independent regions with the layout
// above. Lane 0 is haywire-<uuid>, the name the engine prints; lane k is
// haywire-<uuid>.<k> (LaneName, ParseLaneName), and every lane's header
// records that uuid, its lane and L, which Open checks against the name.
// A host calls OpenAnyLane with the printed name: it reads L from lane 0
// and claims side 1 of the first lane not taken by another host (or by a
// dead one the engine has not reclaimed yet), failing with ErrSideBusy
// when all are taken, or waiting up to AttachTimeout for one. Open takes
// one particular lane by its name. Which streams go to which lane is the
// engine's choice; each lane has its own epochs, liveness and
// reclamation. List reports each lane file and treats the lanes of one
// uuid as a unit: they are stale together.
//
// Trust: the peer is another program, possibly buggy. Every index, offset,
// length, kind and epoch read from the region is checked before use, and a
// violation is an error (counted in the header's counters), never a panic
// or an access outside the mapping. Out of scope: a peer that shrinks the
// file under the mapping (SIGBUS) — the file is private to one user, who
// could equally ptrace either process.
//
// Concurrency: see Region. The race detector cannot see the mapped memory:
// the cross-process stress, kill and lost-wake-up tests are what prove the
// protocol, and the fuzz targets cover the decoders.
//
// Imports: no HTTP. Windows support (named sections, polling doorbell)
// compiles and shares the protocol; named events will replace polling.
package region
