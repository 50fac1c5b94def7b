/*
** haywire_shm.h -- the shared-memory transport between a haywire engine
** and application hosts: layout, protocol and rules.
**
** This header is the specification. A process that follows it can attach
** to a region created by the engine without reading any Go code; the Go
** implementation (packages ringbuf, region, region/arena) is one peer of
** this contract, tests/c/shm_peer.c another. Anything not written here is
** not part of the contract.
**
** PROMISES. A line whose text begins with ^ (right after the comment's
** "** ", or after a list item's "- ") opens a PROMISE, which runs to the
** bracketed test names that close it: the implementation keeps it, and
** those tests check it against the real code, [package TestName] meaning
** `go test -run 'TestName' ./package/` from the repository root (the
** tests named TestContract* are in package/contract_test.go). The rest is
** explanation: true of the implementation as it stands, but a test may
** not pin it. Where a promise holds for one peer only, it says which.
**
** Language: C11 (<stdatomic.h>, _Static_assert). Everything is defined in
** this header; the inline helpers are a reference implementation of the
** protocol, usable as they are. Targets are little-endian, 64-bit, with
** lock-free 32- and 64-bit atomics: x86-64 and arm64 out of the box, other
** 64-bit Linux architectures with <sys/syscall.h> included first (see
** "Doorbells" in section 10).
**
** CONTENTS
**   1. Overview, lanes and lifecycle
**   2. Constants, error codes
**   3. Region header            (struct hw_shm_header)
**   4. Rings                    (struct hw_shm_ring_ctrl)
**   5. Descriptors              (struct hw_shm_desc)
**   6. Arenas and chunks
**   7. Publish / consume protocol and memory ordering
**   8. Doorbells
**   9. Attach, liveness, fencing and reclamation
**  10. Helpers
**
** ======================================================================
** 1. OVERVIEW, LANES AND LIFECYCLE
** ======================================================================
**
** A region is one shared mapping of total_size bytes holding a 4096-byte
** header, four single-producer single-consumer rings of 32-byte
** descriptors, and two arenas of fixed-size chunks. It has two SIDES:
** side 0 is the creator (the engine), side 1 the attacher (a host). Each
** side writes one arena -- the engine its request bytes, the host its
** response bytes -- and publishes descriptors naming chunks of its arena
** on its data ring. The reader reads the bytes in place and gives each
** chunk back on that arena's release ring.
**
**   ring 0  data     side 0 -> side 1   names chunks of arena 0
**   ring 1  data     side 1 -> side 0   names chunks of arena 1
**   ring 2  release  side 1 -> side 0   returns chunks of arena 0
**   ring 3  release  side 0 -> side 1   returns chunks of arena 1
**
** Naming: "haywire-" followed by a lowercase canonical UUID (36 chars).
** Linux: the file /dev/shm/NAME -- or, when /dev/shm is missing or not
** writable, $TMPDIR/NAME ($TMPDIR unset or empty: /tmp/NAME); a host
** given only a name looks in /dev/shm first, then there -- mode 0600,
** owned by the engine's user; map it whole with
** mmap(PROT_READ|PROT_WRITE, MAP_SHARED). Windows: the named section
** "Local\NAME" (OpenFileMappingW + MapViewOfFile).
**
** Lanes. A region has one side 1, so one host at a time. To have two
** hosts attached at once (hot swap: a new host takes new requests while
** the old one drains), an engine serves LANES: `lanes` independent
** regions (1 <= lanes <= HW_SHM_MAX_LANES), each with the layout of this
** header, all under one UUID:
**   lane 0      "haywire-UUID"       the name the engine prints
**   lane k      "haywire-UUID.K"     1 <= K < lanes, decimal, no leading
**                                    zero (never ".0", never "07")
** ^Every lane's header holds the UUID of the name, its own lane number
** (header.lane, 0 for a name without suffix) and the lane count
** (header.lanes), the same in every lane; 0 <= lane < lanes. The engine
** creates lane 0 last, so every lane exists once lane 0 does.
** [region TestCreateLanes]
**
** How the engine spreads streams over lanes is its business; each lane is
** a complete region with its own epochs, liveness and reclamation, and a
** host attached to one lane never touches another. hw_shm_name_parse()
** and hw_shm_lane_name() (section 10) read and build names.
**
** Choosing a lane (a host given the printed name, lane 0):
**   a. Open lane 0 (steps 1-2 below); lanes = header.lanes.
**   b. For k = 0, 1, ..., lanes - 1: open lane k (steps 1-2), check that
**      its header.lanes equals lane 0's, and try hw_shm_side_claim() on
**      side 1. HW_SHM_EBUSY: the lane serves another host, or a dead
**      one the engine has not reclaimed yet -- unmap it and try the next
**      lane. HW_SHM_OK: this is your lane; unmap the others. A lane k > 0
**      whose file is missing is skipped like a busy one (the engine is
**      removing its lanes); a missing lane 0 means no engine.
**   c. If every lane was busy, all lanes are taken: fail, or scan again
**      after a pause (a dead host's lane is freed by the engine within
**      about liveness_ms). region.OpenAnyLane scans again, pausing 1 ms
**      doubling to 20 ms, until its attach timeout.
** The scan looks at side 1 only (region.OpenAnyLane, and the C# host):
** the state of the lane's side 0 does not enter the choice. After a claim
** succeeds the host looks at side 0 (step 6): ACTIVE is an engine serving
** the lane; DETACHED means the lane's engine was fenced or left -- the host
** detaches again and scans on (step 6, c-d); FREE (no CLOSED) means a
** fenced engine whose side was reclaimed (step 6). A lane whose side 1 is
** still DETACHED -- its last host left or was fenced, and the engine has
** not reclaimed it yet, for instance because the engine is itself paused
** -- fails the claim with EBUSY and is skipped like a busy one.
** A host that must have one particular lane opens it by its name instead.
**
** Lifecycle of a host (side 1):
**   1. Open the file read-write with O_NOFOLLOW (/dev/shm is world-
**      writable); fstat it and refuse anything but a regular file of your
**      own user whose mode grants nothing to group or others. Map it.
**   2. Validate the header: hw_shm_header_check() (section 3), then check
**      that header.uuid is the UUID in the name and header.lane the lane
**      in the name: hw_shm_name_parse() then hw_shm_lane_check().
**   3. Claim side 1: hw_shm_side_claim() (section 9); keep the epoch.
**   4. Beat: increment sides[1].heartbeat every beat_ms (liveness_ms/10)
**      from a thread that never blocks for long.
**   5. Loop: consume ring 0, read payloads in arena 0, release chunks on
**      ring 2; produce on ring 1 with chunks of arena 1; take chunks back
**      from ring 3. Sleep on doorbells when idle (section 8).
**   6. Watch side 0 (section 9) every beat. The engine is GONE when you
**      declared it dead (you fenced it: its claim is now DETACHED by your
**      CAS), when its claim is DETACHED (it closed its end), or when
**      header.flags has HW_SHM_FLAG_CLOSED (the engine closed the region
**      for good: its name is gone). A host whose engine is gone:
**        a. stops publishing, and ends every request it holds locally
**           (the engine, if it lives, answers them itself:
**           haywire_bridge.h) and drops every pointer into arena 0;
**        b. reclaims the engine's side (section 9, steps 1-6: side 0
**           becomes FREE) -- the survivor's part -- at once or when it
**           detaches: the Go and C hosts (region.Close) and the C# host
**           (HostConnection.Dispose) do it when they detach, which also
**           discards what they published after fencing it. (An engine
**           that comes back to a host that left without reclaiming it
**           repairs its own rings itself: section 9, fencing);
**        c. detaches (step 7), at once, whether or not it reclaimed: an
**           engine that was only paused past liveness_ms (SIGSTOP, a
**           debugger) and resumes notices that it was fenced, and it
**           reinitialises the lane (a new epoch, every chunk free:
**           region.Rejoin) once the host that fenced it has reclaimed side
**           0 or left -- while that host stays attached without
**           reclaiming, the lane serves nobody. (A host that reclaimed and
**           stays is served again by the resumed engine under its new
**           epoch, as region's tests do; detaching and attaching anew is
**           simpler and is what a host does);
**        d. unless the region was CLOSED, attaches again from step 1 (the
**           lane choice above), after a pause of about beat_ms: the
**           resumed engine serves the next host that attaches. An engine
**           that died never serves again (its files stay until removed as
**           stale, see region.List): the scan then finds lanes busy or
**           their engines gone, so bound the attempts, and stop when lane
**           0's file is gone.
**      The Go and C hosts report the engine's loss (host.Host.Next:
**      region.ErrPeerDead or ErrPeerGone) and leave steps c and d to the
**      application (Close, then Attach); the C# host likewise (its Next
**      throws once the engine is gone).
**      Side 0 FREE without CLOSED means a host reclaimed a fenced engine,
**      which may come back (paused) or not (dead): a host that finds it so
**      may wait for side 0 to be claimed again, as the Go host does (it
**      waits while the engine is absent), or treat the engine as gone, as
**      the C# host does.
**   7. Detach: hw_shm_side_detach(), then munmap. Never unlink the file:
**      the creator does.
**
** ======================================================================
** 2. CONSTANTS, ERROR CODES
** ======================================================================
*/
#ifndef HAYWIRE_SHM_H
#define HAYWIRE_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef __cplusplus
#error "haywire_shm.h is C11; include it from a C translation unit"
#endif

/* Layout version and magic. The version is bumped by any change that
** moves a field or changes its meaning.
** ^The engine refuses, and a host must refuse, a region whose magic or
** version differs (EMAGIC, EVERSION). [region TestOpenErrors]
** [region TestCHeaderAgreement] */
#define HW_SHM_LAYOUT_VERSION 2
#define HW_SHM_MAGIC UINT64_C(0x314D485357594148) /* "HAYWSHM1" in memory order */
#define HW_SHM_NAME_PREFIX "haywire-"
#define HW_SHM_NAME_LEN 44 /* lane 0: prefix + 36-char UUID, without the NUL */
#define HW_SHM_NAME_MAX 47 /* longest lane name, "haywire-UUID.63", without the NUL */
#define HW_SHM_MAX_LANES 64 /* lanes of one engine: 0 .. HW_SHM_MAX_LANES-1 */

#define HW_SHM_HEADER_SIZE 4096
#define HW_SHM_BLOCK 128 /* two cache lines: unit of every shared mutable block */
#define HW_SHM_RING_COUNT 4
#define HW_SHM_ARENA_COUNT 2
#define HW_SHM_SIDE_COUNT 2
#define HW_SHM_MAX_TOTAL_SIZE (UINT64_C(1) << 34)
#define HW_SHM_MIN_LIVENESS_MS 10
#define HW_SHM_MAX_LIVENESS_MS 3600000
#define HW_SHM_SECTION_ALIGN 128 /* rings */
#define HW_SHM_ARENA_ALIGN 4096  /* arenas */

/* Ring numbers and roles. Side s produces data on ring s; chunks of arena
** s come back on ring 2 + s. */
#define HW_SHM_RING_DATA0 0
#define HW_SHM_RING_DATA1 1
#define HW_SHM_RING_RELEASE0 2
#define HW_SHM_RING_RELEASE1 3
#define HW_SHM_ROLE_DATA 1
#define HW_SHM_ROLE_RELEASE 2
#define HW_SHM_DATA_RING(side) (side)
#define HW_SHM_RELEASE_RING(side) (2 + (side))

/* Side states: the low 32 bits of a claim word; the high 32 bits are the
** occupant's pid. */
#define HW_SHM_STATE_FREE 0      /* no occupant, nothing to reclaim */
#define HW_SHM_STATE_ATTACHING 1 /* claimed, initialising */
#define HW_SHM_STATE_ACTIVE 2    /* occupied by a live process */
#define HW_SHM_STATE_DETACHED 3  /* left or declared dead; peer must reclaim */
#define HW_SHM_CLAIM(pid, state) (((uint64_t)(uint32_t)(pid) << 32) | (uint32_t)(state))
#define HW_SHM_CLAIM_PID(c) ((uint32_t)((c) >> 32))
#define HW_SHM_CLAIM_STATE(c) ((uint32_t)(c))

/* Region flags (header.flags). */
#define HW_SHM_FLAG_CLOSED 1 /* the creator closed the region and removed its name */

/* Counters: each side's block of 16 uint64, written by that side only
** (atomic add), readable by anyone. A peer should keep at least WAKEUPS,
** SLEEPS, INVALID and STALE. */
#define HW_SHM_COUNTER_WAKEUPS 0          /* futex wakes issued */
#define HW_SHM_COUNTER_SLEEPS 1           /* futex waits entered */
#define HW_SHM_COUNTER_RING_FULL 2        /* sends refused: ring full */
#define HW_SHM_COUNTER_ARENA_FULL 3       /* allocations refused: arena full */
#define HW_SHM_COUNTER_INVALID 4          /* invalid descriptors received */
#define HW_SHM_COUNTER_STALE 5            /* stale-epoch descriptors skipped */
#define HW_SHM_COUNTER_PEER_DEATHS 6      /* peers declared dead */
#define HW_SHM_COUNTER_RECLAIMS 7         /* reclaims performed */
#define HW_SHM_COUNTER_RECLAIMED_DESCS 8  /* descriptors discarded by reclaims */
#define HW_SHM_COUNTER_RECLAIMED_CHUNKS 9 /* own chunks a departed peer still held (lent, not released) */
#define HW_SHM_COUNTER_ATTACHES 10        /* times this side was claimed */
#define HW_SHM_COUNTER_SLEEP_TIMEOUTS 11  /* futex waits that ended by timeout */
#define HW_SHM_NUM_COUNTERS 12

/*
** Error codes: 0 is success, failures are negative. One list gives each a
** name and a message; hw_shm_strerror() maps a code to its message. New
** codes may be added.
*/
/* beginning-of-error-codes */
#define HW_SHM_ERRNO_MAP(XX)                                                        \
  XX(OK, 0, "success")                                                              \
  XX(ETRUNCATED, -1, "region shorter than its header or recorded size")             \
  XX(EMAGIC, -2, "bad magic: not a region, or not initialised yet")                 \
  XX(EVERSION, -3, "unsupported layout version")                                    \
  XX(ELAYOUT, -4, "invalid layout: a size, table entry or ring block is wrong")     \
  XX(EBUSY, -5, "side is occupied or awaits reclamation")                           \
  XX(EFENCED, -6, "this side's claim was revoked by the peer")                      \
  XX(EDESC, -7, "invalid descriptor")                                               \
  XX(ESTALE, -8, "descriptor from an earlier incarnation of the peer")              \
  XX(ECORRUPT, -9, "ring index breaks the protocol")                                \
  XX(ETIMEDOUT, -10, "wait timed out")                                              \
  XX(ENAME, -11, "not a region name (haywire-UUID or haywire-UUID.LANE)")
/* end-of-error-codes */

enum hw_shm_errno {
#define HW_SHM__ENUM(name, code, msg) HW_SHM_##name = (code),
  HW_SHM_ERRNO_MAP(HW_SHM__ENUM)
#undef HW_SHM__ENUM
};

/*
** Return the message for an HW_SHM_* code. The string is static.
** THREADS: any thread.
*/
static inline const char *hw_shm_strerror(int code) {
  switch (code) {
#define HW_SHM__MSG(name, c, msg) \
  case (c):                       \
    return (msg);
    HW_SHM_ERRNO_MAP(HW_SHM__MSG)
#undef HW_SHM__MSG
  }
  return "unknown error";
}

/*
** ======================================================================
** 3. REGION HEADER
** ======================================================================
**
**   0        4096                                                        total_size
**   +--------+--------+--------+-----------+-----------+--...--+---------+---------+
**   | header | ring 0 | ring 1 | ring 2    | ring 3    |  pad  | arena 0 | arena 1 |
**   +--------+--------+--------+-----------+-----------+--...--+---------+---------+
**              data     data     release     release             side 0    side 1
**              0 -> 1   1 -> 0   of arena 0  of arena 1          writes    writes
**                                1 -> 0      0 -> 1
**
** Positions after the header are NOT fixed: read them from the tables.
**
**      0 +---------------------------+
**        | identity        (128)     |  written once by the creator
**    128 | ring table      (4 x 32)  |  written once by the creator
**    256 | arena table     (2 x 32)  |  written once, then 64 zero bytes
**    384 | control         (128)     |  epoch source, region flags
**    512 | side 0          (128)     |  claim, epoch, heartbeat, ...
**    640 | side 1          (128)     |
**    768 | counters side 0 (128)     |  16 x uint64, written by side 0 only
**    896 | counters side 1 (128)     |
**   1024 | doorbells       (8 x 128) |  ring r: data bell, then space bell
**   2048 | zero                      |
**   4096 +---------------------------+
**
** Identity block (immutable after creation):
**
**   0       8        12         16          24          28          32
**   +-------+--------+----------+-----------+-----------+-----------+
**   | magic |version |hdr_size  |total_size |creator_pid|liveness_ms|
**   +-------+--------+----------+-----------+-----------+-----------+
**   32             40              48          64          68          72     76      80 .. 128
**   +--------------+---------------+-----------+-----------+-----------+------+-------+------
**   |creator_token |created_unix_ns| uuid (16) |ring_count |arena_count| lane | lanes | zero
**   +--------------+---------------+-----------+-----------+-----------+------+-------+------
**
** The creator stores magic last, with a seq_cst store: a reader that
** loads the magic (acquire) sees a complete header (no test can catch the
** opposite order reliably: this one is reviewed, not tested).
** liveness_ms is the liveness bound both sides use (section 9).
** creator_token identifies the creator beyond its pid (Linux: field 22 of
** /proc/PID/stat; 0 = unknown). uuid is the 16 bytes of the UUID in the
** name. lane is this region's lane and lanes the engine's lane count
** (section 1).
** ^A reader refuses (HW_SHM_ELAYOUT) lane >= lanes or lanes >
** HW_SHM_MAX_LANES. [region TestParseHeaderErrors] [region TestHeaderLanes]
** ^A creator of this version writes lanes >= 1. [region TestCreateLanes]
**
** lane and lanes were added during
** layout version 1, in bytes that had been zero; readers still take
** lanes == 0 with lane == 0 as one lane (lanes == 1). That tolerance is
** all that is left of it: regions of version 1 fail the version check.
*/
#define HW_SHM_MAGIC_OFFSET 0
#define HW_SHM_VERSION_OFFSET 8
#define HW_SHM_HEADER_SIZE_OFFSET 12
#define HW_SHM_TOTAL_SIZE_OFFSET 16
#define HW_SHM_CREATOR_PID_OFFSET 24
#define HW_SHM_LIVENESS_OFFSET 28
#define HW_SHM_CREATOR_TOKEN_OFFSET 32
#define HW_SHM_CREATED_OFFSET 40
#define HW_SHM_UUID_OFFSET 48
#define HW_SHM_RING_COUNT_OFFSET 64
#define HW_SHM_ARENA_COUNT_OFFSET 68
#define HW_SHM_LANE_OFFSET 72
#define HW_SHM_LANES_OFFSET 76
#define HW_SHM_RING_TABLE_OFFSET 128
#define HW_SHM_ARENA_TABLE_OFFSET 256
#define HW_SHM_CONTROL_OFFSET 384
#define HW_SHM_EPOCH_SOURCE_OFFSET 384
#define HW_SHM_FLAGS_OFFSET 388
#define HW_SHM_SIDE_OFFSET 512
#define HW_SHM_COUNTERS_OFFSET 768
#define HW_SHM_BELLS_OFFSET 1024

/* Ring table entry (32 bytes):
**
**   0            8            16           20           24           28          32
**   +------------+------------+------------+------------+------------+-----------+
**   | offset     | size       | slot_size  | slot_count | producer   | role      |
**   +------------+------------+------------+------------+------------+-----------+
*/
typedef struct hw_shm_ring_entry {
  uint64_t offset;     /* from the region start, HW_SHM_SECTION_ALIGN-aligned */
  uint64_t size;       /* HW_SHM_RING_HEADER_SIZE + slot_count * slot_size */
  uint32_t slot_size;  /* HW_SHM_DESC_SIZE */
  uint32_t slot_count; /* power of two in [2, 2^24] */
  uint32_t producer;   /* side that produces on it */
  uint32_t role;       /* HW_SHM_ROLE_DATA or HW_SHM_ROLE_RELEASE */
} hw_shm_ring_entry;
#define HW_SHM_RING_ENTRY_SIZE 32
#define HW_SHM_RING_ENTRY_OFFSET_OFFSET 0
#define HW_SHM_RING_ENTRY_SIZE_OFFSET 8
#define HW_SHM_RING_ENTRY_SLOT_SIZE_OFFSET 16
#define HW_SHM_RING_ENTRY_SLOT_COUNT_OFFSET 20
#define HW_SHM_RING_ENTRY_PRODUCER_OFFSET 24
#define HW_SHM_RING_ENTRY_ROLE_OFFSET 28

/* Arena table entry (32 bytes):
**
**   0            8            16           20           24           28          32
**   +------------+------------+------------+------------+------------+-----------+
**   | offset     | size       | chunk_size | chunk_count| writer     | zero      |
**   +------------+------------+------------+------------+------------+-----------+
*/
typedef struct hw_shm_arena_entry {
  uint64_t offset;      /* HW_SHM_ARENA_ALIGN-aligned */
  uint64_t size;        /* chunk_size * chunk_count, at most 2^31 */
  uint32_t chunk_size;  /* power of two in [64, 2^20] */
  uint32_t chunk_count; /* in [1, 2^20] */
  uint32_t writer;      /* side that writes it: arena a is written by side a */
  uint32_t reserved;    /* zero */
} hw_shm_arena_entry;
#define HW_SHM_ARENA_ENTRY_SIZE 32
#define HW_SHM_ARENA_ENTRY_OFFSET_OFFSET 0
#define HW_SHM_ARENA_ENTRY_SIZE_OFFSET 8
#define HW_SHM_ARENA_ENTRY_CHUNK_SIZE_OFFSET 16
#define HW_SHM_ARENA_ENTRY_CHUNK_COUNT_OFFSET 20
#define HW_SHM_ARENA_ENTRY_WRITER_OFFSET 24
#define HW_SHM_MIN_CHUNK_SIZE 64
#define HW_SHM_MAX_CHUNK_SIZE (1u << 20)
#define HW_SHM_MAX_CHUNKS (1u << 20)
#define HW_SHM_MAX_ARENA_SIZE (UINT64_C(1) << 31)

/* Side block (128 bytes), one per side:
**
**   0                 8        12        16          24        32              40 .. 128
**   +-----------------+--------+---------+-----------+---------+---------------+------
**   | claim           | epoch  | beat_ms | heartbeat | token   | attach_unix_ns| zero
**   +-----------------+--------+---------+-----------+---------+---------------+------
**
** claim = pid << 32 | state, changed only by compare-and-swap (section 9).
** epoch: the occupant's incarnation, unique in the region, never 0.
** heartbeat: a counter the occupant increments every beat_ms ms.
** token: occupant's process start token (see creator_token), 0 if unknown.
*/
typedef struct hw_shm_side {
  _Atomic uint64_t claim;
  _Atomic uint32_t epoch;
  _Atomic uint32_t beat_ms;
  _Atomic uint64_t heartbeat;
  _Atomic uint64_t token;
  _Atomic uint64_t attach_unix_ns;
  uint8_t reserved[88];
} hw_shm_side;
#define HW_SHM_SIDE_CLAIM_OFFSET 0
#define HW_SHM_SIDE_EPOCH_OFFSET 8
#define HW_SHM_SIDE_BEAT_OFFSET 12
#define HW_SHM_SIDE_HEARTBEAT_OFFSET 16
#define HW_SHM_SIDE_TOKEN_OFFSET 24
#define HW_SHM_SIDE_ATTACHED_OFFSET 32

/* Doorbell (128 bytes): seq is the futex word, sleeping the sleeper's flag
** (section 8). Ring r has its data bell at bells[2r] (its consumer sleeps
** there when it is empty) and its space bell at bells[2r+1] (its producer
** sleeps there when it is full). */
typedef struct hw_shm_bell {
  _Atomic uint32_t seq;
  _Atomic uint32_t sleeping;
  uint8_t reserved[120];
} hw_shm_bell;
#define HW_SHM_BELL_SEQ_OFFSET 0
#define HW_SHM_BELL_SLEEPING_OFFSET 4

typedef struct hw_shm_counters {
  _Atomic uint64_t v[16];
} hw_shm_counters;

/* The header. Map the region and cast its base to this type. */
typedef struct hw_shm_header {
  /* identity: immutable after creation */
  _Atomic uint64_t magic;
  uint32_t version;
  uint32_t header_size;
  uint64_t total_size;
  uint32_t creator_pid;
  uint32_t liveness_ms;
  uint64_t creator_token;
  uint64_t created_unix_ns;
  uint8_t uuid[16];
  uint32_t ring_count;
  uint32_t arena_count;
  uint32_t lane;  /* this region's lane, < lanes */
  uint32_t lanes; /* the engine's lane count, <= HW_SHM_MAX_LANES (0: 1, see above) */
  uint8_t reserved0[48];
  hw_shm_ring_entry rings[HW_SHM_RING_COUNT];
  hw_shm_arena_entry arenas[HW_SHM_ARENA_COUNT];
  uint8_t reserved1[64];
  /* control */
  _Atomic uint32_t epoch_source; /* last epoch handed out */
  _Atomic uint32_t flags;        /* HW_SHM_FLAG_* */
  uint8_t reserved2[120];
  hw_shm_side sides[HW_SHM_SIDE_COUNT];
  hw_shm_counters counters[HW_SHM_SIDE_COUNT];
  hw_shm_bell bells[2 * HW_SHM_RING_COUNT];
  uint8_t reserved3[2048];
} hw_shm_header;

/*
** ======================================================================
** 4. RINGS
** ======================================================================
**
** A ring is a control block of three 128-byte blocks, then slot_count
** slots of slot_size bytes. The producer's and the consumer's indices each
** own a 128-byte block, so neither side's stores invalidate the line the
** other side writes.
**
**   0                 128               256               384
**   +-----------------+-----------------+-----------------+--------+--------+----
**   | geometry        | producer block  | consumer block  | slot 0 | slot 1 | ...
**   +-----------------+-----------------+-----------------+--------+--------+----
**
** Geometry block, written once by the creator, read-only afterwards:
**
**   0               4               8               12              16         128
**   +---------------+---------------+---------------+---------------+-- ... --+
**   | magic "HWRG"  | slot_size     | slot_count    | flags (0)     | zero    |
**   +---------------+---------------+---------------+---------------+-- ... --+
**
** tail (producer block): number of slots ever published. Written only by
** the producer. head (consumer block): number of slots ever consumed.
** Written only by the consumer. Both are free-running uint64 counters;
** slot i lives at HW_SHM_RING_HEADER_SIZE + (i & (slot_count-1)) *
** slot_size. All index arithmetic is modulo 2^64.
**
** Full: tail - head == slot_count. Empty: tail == head.
** ^Invariant: (tail - head) mod 2^64 <= slot_count; a side that finds it
** broken reports ECORRUPT and touches no slot. [ringbuf TestCorruptIndex]
** [ringbuf TestIndexWrap64]
*/
#define HW_SHM_RING_MAGIC 0x47525748u /* "HWRG" */
#define HW_SHM_RING_GEOMETRY_OFFSET 0
#define HW_SHM_RING_MAGIC_OFFSET 0
#define HW_SHM_RING_SLOT_SIZE_OFFSET 4
#define HW_SHM_RING_SLOT_COUNT_OFFSET 8
#define HW_SHM_RING_FLAGS_OFFSET 12
#define HW_SHM_RING_TAIL_OFFSET 128
#define HW_SHM_RING_HEAD_OFFSET 256
#define HW_SHM_RING_HEADER_SIZE 384
#define HW_SHM_RING_MIN_SLOTS 2
#define HW_SHM_RING_MAX_SLOTS (1u << 24)

typedef struct hw_shm_ring_ctrl {
  uint32_t magic;
  uint32_t slot_size;
  uint32_t slot_count;
  uint32_t flags;
  uint8_t reserved0[HW_SHM_BLOCK - 16];
  _Atomic uint64_t tail; /* producer writes (seq_cst store); consumer loads */
  uint8_t reserved1[HW_SHM_BLOCK - 8];
  _Atomic uint64_t head; /* consumer writes (seq_cst store); producer loads */
  uint8_t reserved2[HW_SHM_BLOCK - 8];
  /* slots follow */
} hw_shm_ring_ctrl;

/*
** ======================================================================
** 5. DESCRIPTORS
** ======================================================================
**
** Every ring slot holds one descriptor (32 bytes):
**
**   0      1       2              4              8                             16
**   +------+-------+--------------+--------------+-----------------------------+
**   | kind | flags | aux (u16)    | epoch (u32)  | stream (u64)                |
**   +------+-------+--------------+--------------+-----------------------------+
**   16             20             24             28             32
**   +--------------+--------------+--------------+--------------+
**   | conn (u32)   | offset (u32) | length (u32) | gen (u32)    |
**   +--------------+--------------+--------------+--------------+
**
** kind: HW_SHM_KIND_*. flags: HW_SHM_DF_*; undefined bits are zero.
** aux: kind-specific (CANCEL: reason); zero for every other kind.
** epoch: the incarnation of the side that OWNS THE CHUNK: the sender's
**   own epoch on data descriptors (and on those without a chunk); on a
**   RELEASE, the epoch copied from the data descriptor being released.
** stream: request / duplex stream id, chosen by the engine; 0 for what
**   concerns no stream (NOP, CANCEL DRAIN).
** conn: client connection id (its low 32 bits), chosen by the engine; 0
**   where stream is 0. A host copies it from the REQUEST into every
**   descriptor it sends on that stream (haywire_bridge.h section 1).
** offset, length: the payload, inside the OWNER's arena, relative to the
**   arena's start. length > 0: [offset, offset + length) lies inside ONE
**   chunk, and gen is that chunk's generation. length == 0: no chunk, and
**   offset == gen == 0 -- except RELEASE, which names a chunk by its start
**   offset and gen with length 0.
** gen: generation of the chunk hand-out, never 0 for a chunk; a RELEASE
**   echoes it so the owner can refuse a late or duplicated release.
**
** A RELEASE copies kind-independent fields from the data descriptor it
** releases: epoch (the owner's, above), offset rounded down to the start
** of its chunk, gen, and -- for the owner's logs only -- stream and conn;
** flags, aux and length are 0.
** ^The owner identifies the chunk by epoch, offset and gen alone: stream
** and conn of a RELEASE are never checked (the Go host keeps its own table
** of which stream a chunk belongs to), so a wrong stream or conn in a
** valid release frees the chunk all the same. [region TestContractRelease]
**
** ^A receiver accepts a descriptor only if its epoch is the current epoch
** of the side it must come from -- on a data ring the sender's
** sides[s].epoch (reload that word when they differ: the sender may have
** been replaced), on a release ring your own -- and is above every epoch
** you have reclaimed (section 9). Otherwise it is stale (HW_SHM_ESTALE):
** skip it, and never release its chunk. [region TestReceiverRejects]
** [region TestStaleZombie] [region TestCollectRejects]
**
** ^A receiver rejects (HW_SHM_EDESC) any descriptor breaking these rules:
** unknown kind; flags outside the kind's set; END and MORE together; MORE
** without payload; aux != 0 except on CANCEL; epoch 0; payload missing for
** a kind that requires one or present for a kind that forbids one; gen 0
** with a payload; a span outside one chunk of the arena; a RELEASE on a
** data ring or anything but a RELEASE on a release ring.
** [region TestDescriptorValidate] [region TestReceiverRejects]
** [region TestCDescriptorAgreement] (the C helper below agrees)
**
** Flags. END and MORE say where a MESSAGE ends; what a message is depends
** on the kind:
**   REQUEST, RESPONSE  the message is the payload: a request view or a
**                      response message (haywire_bridge.h), one or more
**                      parts. MORE on every part but the last, END on the
**                      last. END here ends the message, NOT the stream:
**                      whether body descriptors follow is said inside the
**                      message (view flag BODY_STREAM, response flag
**                      STREAM).
**   BODY, DATA         the message is the body in this direction; each
**                      descriptor is one piece of it. END on a piece: it is
**                      the last piece, exactly as if an END descriptor
**                      followed it. MORE on a piece means nothing more than
**                      "not the last" (every piece without END is that);
**                      the engine never sets it on BODY and ignores it.
**   UPGRADE            MORE as for RESPONSE (duplex streams are not used
**                      by the bridge yet).
** ^The engine flags every REQUEST part it sends: MORE on all but the last,
** END on the last, also when BODY pieces follow; it never sets MORE on a
** BODY and sends END on the last BODY piece or as an END descriptor.
** [bridge TestContractFlags]
*/
typedef struct hw_shm_desc {
  uint8_t kind;
  uint8_t flags;
  uint16_t aux;
  uint32_t epoch;
  uint64_t stream;
  uint32_t conn;
  uint32_t offset;
  uint32_t length;
  uint32_t gen;
} hw_shm_desc;
#define HW_SHM_DESC_SIZE 32
#define HW_SHM_DESC_KIND_OFFSET 0
#define HW_SHM_DESC_FLAGS_OFFSET 1
#define HW_SHM_DESC_AUX_OFFSET 2
#define HW_SHM_DESC_EPOCH_OFFSET 4
#define HW_SHM_DESC_STREAM_OFFSET 8
#define HW_SHM_DESC_CONN_OFFSET 16
#define HW_SHM_DESC_OFFSET_OFFSET 20
#define HW_SHM_DESC_LENGTH_OFFSET 24
#define HW_SHM_DESC_GEN_OFFSET 28

/* Kinds. A new kind needs a new layout version: receivers reject kinds
** they do not know rather than guess whether they may skip them. "flags
** allowed" is what a receiver accepts (section 5, "Flags", for their
** meaning).
**                                     payload     flags allowed */
#define HW_SHM_KIND_REQUEST 1  /* required    END MORE  request view, engine -> host */
#define HW_SHM_KIND_BODY 2     /* required    END MORE  body bytes, either direction */
#define HW_SHM_KIND_END 3      /* none        -         end of the body in this direction */
#define HW_SHM_KIND_CANCEL 4   /* none        -         abort the stream; aux = reason */
#define HW_SHM_KIND_RESPONSE 5 /* required    END MORE  response message, host -> engine */
#define HW_SHM_KIND_RELEASE 6  /* chunk ref   -         give a chunk back (release rings) */
#define HW_SHM_KIND_UPGRADE 7  /* optional    MORE      stream becomes duplex (after 101) */
#define HW_SHM_KIND_DATA 8     /* required    END MORE  duplex bytes after UPGRADE */
#define HW_SHM_KIND_NOP 9      /* none        -         skip (keep-alive, tests) */
#define HW_SHM_KIND_CONTINUE 10 /* none       -         the host reads the body: send it */
#define HW_SHM_KIND_COUNT 11

/* Descriptor flags: where a message ends (section 5, "Flags"). END: the
** last part of a message (REQUEST, RESPONSE), or the last piece of a body
** (BODY, DATA). MORE: the message continues in the stream's next
** descriptor of the same kind. */
#define HW_SHM_DF_END 0x01
#define HW_SHM_DF_MORE 0x02

/*
** ======================================================================
** 6. ARENAS AND CHUNKS
** ======================================================================
**
** Arena a (chunk_count chunks of chunk_size bytes, chunk i at offset
** i * chunk_size) is written only by side a, which owns its allocator --
** private memory of side a, never in the region. A chunk is:
**   FREE  -> HELD  (allocated: the owner writes it; gen is incremented,
**                   skipping 0)
**   HELD  -> LENT  (a descriptor naming it was published)
**   LENT  -> FREE  (a valid RELEASE for it arrived: kind RELEASE, epoch ==
**                   the owner's epoch, offset == chunk start, gen == the
**                   chunk's current gen; anything else is counted INVALID
**                   (or STALE, for another epoch) and ignored)
** ^Releases may come in any order, and a chunk is named by at most one
** descriptor at a time: the Go sender refuses to publish a chunk that is
** lent. [region TestContractRelease]
**
** A payload longer than a chunk goes as several descriptors of the same
** stream, each with one chunk, all but the last flagged MORE. The reader
** must not touch a chunk after releasing it, and must not write to the
** peer's arena at all.
**
** ^Each release ring has at least as many slots as the arena it serves
** has chunks, so a reader that releases only chunks it holds never finds
** it full. [region TestPlan] [region TestCheckRingsErrors]
**
** ======================================================================
** 7. PUBLISH / CONSUME PROTOCOL AND MEMORY ORDERING
** ======================================================================
**
** Producer (keeps private copies: next = its tail, head_cache):
**   1. free = slot_count - (next - head_cache). If fewer slots are free
**      than needed, reload head_cache = atomic_load(&head) (acquire or
**      stronger) and check it: (head - old_head_cache) <= (next -
**      old_head_cache), else the ring is corrupt (ECORRUPT).
**   2. Write the descriptors into slots next, next+1, ... with plain
**      stores. Write each chunk's bytes before its descriptor.
**   3. Publish: next += n; atomic_store(&tail, next) -- seq_cst (release
**      is enough for the ring; seq_cst is required by the doorbell).
**   4. Doorbell: hw_shm_bell_wake(data bell of the ring) (section 8).
** Consumer (keeps private copies: next = its head, tail_cache):
**   1. avail = tail_cache - next. If 0, reload tail_cache =
**      atomic_load(&tail) (acquire or stronger) and check: (tail -
**      old_tail_cache) <= (next + slot_count - old_tail_cache), else
**      ECORRUPT.
**   2. Read slots next .. next+avail-1 with plain loads; validate each
**      descriptor (section 5) before using any field.
**   3. Consume: next += n; atomic_store(&head, next) -- seq_cst. Slots are
**      the producer's again; chunks are not (release them separately).
**   4. Doorbell: hw_shm_bell_wake(space bell of the ring).
** Publishing one descriptor or a batch costs one store of the index.
** ^Each side reloads the other's index only when the ring looks full
** (producer) or empty (consumer), so in steady state neither touches the
** other's cache line. [ringbuf TestCachedIndex]
**
** The acquire/release pairs order the payload: chunk bytes and slot
** writes happen-before the tail store; the consumer's tail load
** happens-before its slot and chunk reads; its slot reads happen-before
** its head store, after which the producer may overwrite them.
**
** Without C11 atomics. A peer written in a language without native
** atomics (or one that reaches the mapping only through byte accessors)
** must still move every SHARED WORD -- the ring indices head and tail,
** claim, epoch, beat_ms, heartbeat, token, attach_unix_ns, epoch_source,
** flags, the counters, a bell's seq and sleeping -- as one:
**   - one full-width, naturally aligned load or store per access: a
**     single 64-bit instruction for an 8-byte word, a 32-bit one for a
**     4-byte word (every such word sits at an offset that is a multiple
**     of its size, so aligned access is always possible). Never write a
**     word byte by byte or in halves: the peer may load it between the
**     partial stores and see a torn value -- a tail that is neither the
**     old nor the new one, which the index checks above report as
**     ECORRUPT at best, and at worst lets the consumer read slots that
**     were never written.
**   - where this header says seq_cst (the index stores, the bell's
**     sleeping and seq, the loads in the doorbell's ready check), a FULL
**     fence between the store and the next load: x86-64 MFENCE (or make
**     the store an XCHG), arm64 DMB ISH after the store and before the
**     load. Acquire and release alone do not order a store before a later
**     load, which is what the doorbell handshake of section 8 needs. In
**     .NET: Interlocked.Exchange for such stores, Interlocked operations
**     or Volatile.Read after Interlocked.MemoryBarrier for the loads.
**   - compare-and-swap (claim) and fetch-add (epoch_source, heartbeat,
**     counters, seq) need the processor's atomic read-modify-write (x86
**     LOCK CMPXCHG / LOCK XADD; arm64 CASAL / LDADDAL, or an LDAXR/STLXR
**     loop): they cannot be emulated with loads and stores.
** Descriptor slots and chunk bytes are plain memory, ordered by the index
** stores: copy them with any loads and stores you like.
**
** ======================================================================
** 8. DOORBELLS
** ======================================================================
**
** A consumer that finds its ring empty may spin for a while, then sleep
** on the ring's data bell; a producer that finds it full sleeps on the
** space bell. The handshake is Dekker's, with seq_cst atomics on BOTH
** sides (in .NET: Interlocked, not Volatile):
**
**   sleeper                               waker (right after step 3 above)
**   s = load(&bell.seq)                   if (load(&bell.sleeping) != 0 &&
**   store(&bell.sleeping, 1)                  exchange(&bell.sleeping, 0) != 0) {
**   if (ring ready) {                         fetch_add(&bell.seq, 1);
**     store(&bell.sleeping, 0); done          futex_wake(&bell.seq, INT_MAX);
**   }                                     }
**   futex_wait(&bell.seq, s, timeout)
**   store(&bell.sleeping, 0); re-check
**
** ^Either the waker sees the flag or the sleeper sees the publication:
** each stores before it loads, and seq_cst operations have one total
** order. If the wake lands between the sleeper's load of seq and its
** futex_wait, the kernel finds seq changed and returns at once. The
** exchange makes one waker pay the syscall per sleep; under load a
** publish costs one uncontended load of the flag.
** [region TestCrossProcessLostWakeup]
**
** Linux: futex(2) FUTEX_WAIT / FUTEX_WAKE on the 32-bit seq WITHOUT
** FUTEX_PRIVATE_FLAG: the waiters are in another process. Sleep in slices
** (at most beat_ms) and re-check the peer's liveness between slices: a
** dead peer never rings. Other systems: poll seq with short sleeps.
**
** One bell per wait. A futex sleeps on one word, so a process waits for
** one ring per sleeper: there is no bell for "a request OR a returned
** chunk". A host that waits for both -- requests and cancels on ring 0,
** and its chunks coming back on ring 3 so it can send the next response
** piece -- either
**   - gives each its own sleeper: one thread sleeps on ring 0's data bell
**     (bells[0]) and, while a writer lacks chunks, another sleeps on ring
**     3's data bell (bells[6]). The engine rings bells[6] each time it
**     publishes releases. This is what the Go and C# hosts do. A bell has
**     ONE sleeper at a time (the waker's exchange clears the flag for
**     all): other threads waiting for the same ring wait on the sleeper,
**     in process; or
**   - with one thread, sleeps on bells[0] and looks at ring 3 between
**     slices, with slices as short as the latency it accepts for a
**     returned chunk (releases do not ring bells[0]).
** Set a bell's sleeping flag only right before a futex_wait on it.
** Likewise a host whose ring 1 is full sleeps on ring 1's space bell
** (bells[3]).
**
** Local stop. Whatever a sleeper checks only between slices -- its own
** shutdown request, say -- it notices up to one slice late (beat_ms, a
** tenth of liveness_ms: 100 ms by default). A process that must stop a
** sleeper at once calls hw_shm_bell_interrupt() on the bell it sleeps on
** after setting its own stop flag: the futex wait returns and the sleeper
** re-checks. (The Go implementation: closing a Wait's stop channel is
** seen at the end of the slice; Region.Wake interrupts at once.)
**
** ======================================================================
** 9. ATTACH, LIVENESS, FENCING AND RECLAMATION
** ======================================================================
**
** Claim (hw_shm_side_claim):
**   1. CAS sides[s].claim: 0 -> CLAIM(pid, ATTACHING). If it fails the
**      side is busy (EBUSY): retry later; the peer may be reclaiming it.
**   2. epoch = fetch_add(&epoch_source, 1) + 1 (skip 0); store epoch,
**      beat_ms = liveness_ms / 10, token, attach_unix_ns; heartbeat += 1.
**   3. CAS claim: CLAIM(pid, ATTACHING) -> CLAIM(pid, ACTIVE). If it
**      fails, the peer declared us dead while attaching: EFENCED.
**   4. Build private ring state from the CURRENT indices (never assume 0):
**      producers start at tail (head_cache = head), consumers at head
**      (tail_cache = tail), after checking the invariant. Start with every
**      chunk of your arena FREE.
**
** Liveness. Each side runs a monitor that ticks every beat_ms, where
** beat_ms = liveness_ms / 10 (at least 1) computed from the HEADER's
** liveness_ms: the checker's own period, the same on both sides. The
** beat_ms word of a side block records the occupant's period for tools;
** no implementation reads the peer's. On each tick the monitor first
** increments its own heartbeat, then judges the peer's side block,
** keeping across ticks (private memory): the claim word and heartbeat it
** last saw, `changed`, when either last changed (its own monotonic
** clock), and `quiet`, the number of its consecutive ticks on which
** neither changed (0 on a tick that saw a change).
**   - claim FREE: no peer.
**   - claim ATTACHING or ACTIVE: the peer is DEAD when
**       (a) quiet >= 1 and its pid no longer runs (a zombie counts as
**           dead); or
**       (b) quiet >= 1, the claim is ACTIVE (while attaching the token may
**           still be a predecessor's), its token is non-zero and no
**           longer matches the pid's current token; or
**       (c) now - changed >= liveness_ms - beat_ms AND quiet >=
**           (liveness_ms - beat_ms) / beat_ms ticks -- 9 with the beat of
**           a tenth: nine of YOUR ticks, spanning at least nine tenths of
**           the bound, saw no beat.
**     The tick count in (c) keeps a stall of the checker itself (it was
**     descheduled or stopped: its clock ran, its ticks did not) from being
**     blamed on the peer: after resuming it needs nine fresh ticks of
**     silence. Requiring quiet >= 1 for (a) and (b) keeps a peer in
**     another pid namespace, whose pid means nothing to you, alive while
**     it beats. The pid comes from the peer: treat 0 or a value above
**     INT32_MAX as "not running" rather than passing it to kill(2), where
**     it would name a process group.
**   - claim DETACHED: the peer left (or was declared dead): reclaim it
**     (below). For a host its engine is gone (section 1, step 6).
** ^A peer that dies, or stops beating, is declared dead within about
** liveness_ms of its last beat: (c) fires nine ticks after the last tick
** that saw a beat, which came at most one beat after it; a late tick adds
** its lateness (the tests allow 0.5 s). [region TestKillConsumer]
** [region TestKillProducer] [region TestHungPeerDeclaredDead]
**
** Declaring the peer dead FENCES it: CAS its claim from the value you
** judged to CLAIM(pid, DETACHED).
** ^A process that finds its own claim no longer CLAIM(own pid, ACTIVE) is
** fenced. It stops touching the region at once: it publishes nothing,
** releases nothing, consumes nothing, and stops beating (the side is no
** longer its own). It never CASes its claim back. It checks its claim
** before each poll and publish, not only when it beats: a process resumed
** after a stall runs its loops before its beat thread. (The Go peer loads
** its claim word on every Reserve, Poll and Collect, which then fail with
** region.ErrFenced; tests/c/shm_peer.c before each poll, consume, publish
** and collect.) [region TestFencedStopsBeating]
** [region TestFencedNoticedBeforeBeat] [region TestRejoinAfterPeerReclaim]
** [region TestCPeerFencedTouchesNothing]
** A fenced process may detach, or rejoin as a new incarnation once the
** side is given up (region.Rejoin):
**   - the side is FREE (the peer reclaimed it): claim it again;
**   - it is still CLAIM(own pid, DETACHED) and the peer side is FREE or
**     DETACHED: nobody will reclaim it, so reset your own rings as a
**     detach with a FREE peer does (below), store token = 0 and claim = 0,
**     then claim it;
**   - the peer is ATTACHING or ACTIVE: wait (retry each beat), it owes the
**     reclaim.
** After claiming, build the ring state from the current indices with
** every chunk FREE (claim step 4).
** ^A Go side rejoins with a new epoch whether its peer reclaimed it or
** left without doing so, and refuses (region.ErrSideBusy) while a live
** peer still owes the reclaim. [region TestRejoinAfterPeerReclaim]
** [region TestRejoinPeerLeft] [region TestRejoinAfterSIGSTOP]
** A fenced host may also attach again anew (section 1, lane choice).
** ^A fenced engine (it was paused past liveness_ms: SIGSTOP, swapping, a
** debugger) logs the fencing, fails that lane's requests in flight with
** 502 (or cuts their connections if a streamed response had begun),
** reinitialises the lane with a new epoch once its host has given the side
** up (region.Rejoin, retried each beat), logs the new epoch and serves the
** next host that attaches. [tests TestEnginePauseRejoins]
**
** Reclamation, by the survivor after the peer was fenced or detached:
** the engine always does it for its host; a host does it for an engine
** that left or that it fenced, at the latest when it detaches (section 1,
** step 6 b). hw_shm_reclaim_rings does steps 1-3
** (collect the releases of step 4 before calling it):
**   1. Rings the dead side consumed (your data ring, the release ring you
**      produce on): store head = tail -- you write its index; nobody else
**      is there. Everything it had not consumed is discarded.
**   2. Rings the dead side produced: store your head = tail (drain first
**      if the published descriptors are still useful, as the releases of
**      step 4 are), or, if tail is corrupt, store tail = head.
**   3. Clear the sleeping flag of every bell the dead side waits on.
**   4. First take the releases the dead side published on the release
**      ring of your arena, as a collect would (section 6): those chunks
**      were given back (do it before step 2 skips them). Then free every
**      chunk still LENT. Only these count in
**      HW_SHM_COUNTER_RECLAIMED_CHUNKS. Drop every pointer into the dead
**      side's arena (its successor will overwrite it).
**      ^The Go peer counts in RECLAIMED_CHUNKS only the chunks the
**      departed peer had not released, whether it detached cleanly or was
**      killed. [region TestReclaimCountsOnlyHeldChunks]
**      [region TestReclaimCountsChunksOfKilledPeer]
**      [tests TestReclaimedChunksOnlyForHeldChunks]
**   5. Remember its epoch: from now on reject descriptors with an epoch
**      <= it (ESTALE).
**   6. Store its token = 0, then its claim = 0 (FREE). A successor may
**      now claim the side and gets a new epoch.
**
** Detach (hw_shm_side_detach), only while your claim is CLAIM(pid,
** ACTIVE) (fenced, touch nothing: above). If the peer's claim is DETACHED
** (it left, or you declared it dead), reclaim it first (steps 1-6). Then,
** if the peer side is FREE, reset your own rings (steps 1-3 as the peer
** would do them: hw_shm_reclaim_rings for the peer), store your token = 0
** and CAS your claim to 0; if the peer is attached, CAS your claim
** CLAIM(pid, ACTIVE) -> CLAIM(pid, DETACHED): it reclaims you. Then ring
** every bell the peer may sleep on so it notices at once.
** ^hw_shm_side_detach, and a Go side's Close, reclaim a peer that left or
** was declared dead, so both sides are left FREE and what the peer
** published unread is discarded; a fenced side's Close touches neither
** rings nor claims.
** [region TestRejoinPeerLeft] [region TestRejoinAfterSIGSTOP]
** [region TestFencedStopsBeating] [region TestCPeerDetachReclaims]
*/

/* Compile-time checks: the structs above and the offsets documented with
** them must agree.
**
** Why the structs are not declared packed. The contract is a byte layout
** with no padding anywhere, which is what "packed" is usually asked for.
** It is obtained here without packing: every field sits at an offset that
** is a multiple of its size (natural alignment), explicit reserved[]
** arrays fill every gap, and the asserts below prove, field by field and
** for the size of every struct, that the compiler inserted no padding --
** so the natural layout IS the packed layout, byte for byte. Declaring
** the structs packed (__attribute__((packed)), #pragma pack(1)) would buy
** nothing and would endanger the atomics: packing lowers each member's
** alignment to 1, whereas C11 atomic operations need the object aligned
** for its type (a misaligned atomic access is undefined behaviour, and
** GCC warns that the address of a packed member may be unaligned). In
** practice arm64 raises an alignment fault on a misaligned exclusive or
** acquire/release access, and on x86-64 a locked operation straddling a
** cache line takes a bus lock, slow and trapped by recent kernels
** (split-lock detection). Other languages should do the same: explicit
** offsets at natural alignment (C#: StructLayout(LayoutKind.Explicit) and
** FieldOffset, never Pack = 1 around fields used atomically). */
#define HW_SHM__CHECK(cond) _Static_assert(cond, #cond)
HW_SHM__CHECK(sizeof(_Atomic uint64_t) == 8);
HW_SHM__CHECK(sizeof(_Atomic uint32_t) == 4);
HW_SHM__CHECK(offsetof(hw_shm_header, magic) == HW_SHM_MAGIC_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, version) == HW_SHM_VERSION_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, header_size) == HW_SHM_HEADER_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, total_size) == HW_SHM_TOTAL_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, creator_pid) == HW_SHM_CREATOR_PID_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, liveness_ms) == HW_SHM_LIVENESS_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, creator_token) == HW_SHM_CREATOR_TOKEN_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, created_unix_ns) == HW_SHM_CREATED_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, uuid) == HW_SHM_UUID_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, ring_count) == HW_SHM_RING_COUNT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, arena_count) == HW_SHM_ARENA_COUNT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, lane) == HW_SHM_LANE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, lanes) == HW_SHM_LANES_OFFSET);
HW_SHM__CHECK(sizeof(HW_SHM_NAME_PREFIX) - 1 + 36 == HW_SHM_NAME_LEN);
HW_SHM__CHECK(HW_SHM_NAME_MAX == HW_SHM_NAME_LEN + 3 && HW_SHM_MAX_LANES <= 100);
HW_SHM__CHECK(offsetof(hw_shm_header, rings) == HW_SHM_RING_TABLE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, arenas) == HW_SHM_ARENA_TABLE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, epoch_source) == HW_SHM_EPOCH_SOURCE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, flags) == HW_SHM_FLAGS_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, sides) == HW_SHM_SIDE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, counters) == HW_SHM_COUNTERS_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_header, bells) == HW_SHM_BELLS_OFFSET);
HW_SHM__CHECK(sizeof(hw_shm_header) == HW_SHM_HEADER_SIZE);
HW_SHM__CHECK(sizeof(hw_shm_ring_entry) == HW_SHM_RING_ENTRY_SIZE);
HW_SHM__CHECK(offsetof(hw_shm_ring_entry, size) == HW_SHM_RING_ENTRY_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_entry, slot_size) == HW_SHM_RING_ENTRY_SLOT_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_entry, slot_count) == HW_SHM_RING_ENTRY_SLOT_COUNT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_entry, producer) == HW_SHM_RING_ENTRY_PRODUCER_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_entry, role) == HW_SHM_RING_ENTRY_ROLE_OFFSET);
HW_SHM__CHECK(sizeof(hw_shm_arena_entry) == HW_SHM_ARENA_ENTRY_SIZE);
HW_SHM__CHECK(offsetof(hw_shm_arena_entry, size) == HW_SHM_ARENA_ENTRY_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_arena_entry, chunk_size) == HW_SHM_ARENA_ENTRY_CHUNK_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_arena_entry, chunk_count) == HW_SHM_ARENA_ENTRY_CHUNK_COUNT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_arena_entry, writer) == HW_SHM_ARENA_ENTRY_WRITER_OFFSET);
HW_SHM__CHECK(sizeof(hw_shm_side) == HW_SHM_BLOCK);
HW_SHM__CHECK(offsetof(hw_shm_side, epoch) == HW_SHM_SIDE_EPOCH_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_side, beat_ms) == HW_SHM_SIDE_BEAT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_side, heartbeat) == HW_SHM_SIDE_HEARTBEAT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_side, token) == HW_SHM_SIDE_TOKEN_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_side, attach_unix_ns) == HW_SHM_SIDE_ATTACHED_OFFSET);
HW_SHM__CHECK(sizeof(hw_shm_bell) == HW_SHM_BLOCK);
HW_SHM__CHECK(offsetof(hw_shm_bell, sleeping) == HW_SHM_BELL_SLEEPING_OFFSET);
HW_SHM__CHECK(sizeof(hw_shm_counters) == HW_SHM_BLOCK);
HW_SHM__CHECK(offsetof(hw_shm_ring_ctrl, slot_size) == HW_SHM_RING_SLOT_SIZE_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_ctrl, slot_count) == HW_SHM_RING_SLOT_COUNT_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_ctrl, flags) == HW_SHM_RING_FLAGS_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_ctrl, tail) == HW_SHM_RING_TAIL_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_ring_ctrl, head) == HW_SHM_RING_HEAD_OFFSET);
HW_SHM__CHECK(sizeof(hw_shm_ring_ctrl) == HW_SHM_RING_HEADER_SIZE);
HW_SHM__CHECK(sizeof(hw_shm_desc) == HW_SHM_DESC_SIZE);
HW_SHM__CHECK(offsetof(hw_shm_desc, flags) == HW_SHM_DESC_FLAGS_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, aux) == HW_SHM_DESC_AUX_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, epoch) == HW_SHM_DESC_EPOCH_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, stream) == HW_SHM_DESC_STREAM_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, conn) == HW_SHM_DESC_CONN_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, offset) == HW_SHM_DESC_OFFSET_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, length) == HW_SHM_DESC_LENGTH_OFFSET);
HW_SHM__CHECK(offsetof(hw_shm_desc, gen) == HW_SHM_DESC_GEN_OFFSET);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "haywire_shm.h: the region layout is little-endian"
#endif

/*
** ======================================================================
** 10. HELPERS
** ======================================================================
**
** A reference implementation of sections 1 (names) and 3-9. THREADS: a
** producer or consumer object belongs to one thread at a time; the
** header, name and bell functions are safe from any thread.
*/

static inline int hw_shm__pow2(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

/*
** Validate a mapped region of file_size bytes (section 3): magic, version,
** sizes, the lane fields, every table entry (fixed roles, geometry, alignment, bounds, no
** overlap, release rings large enough), the ring control blocks, and the
** side claims. On error, if why is not NULL, a message with the values is
** written into why (at most why_len bytes, NUL-terminated).
** RETURNS: HW_SHM_OK, HW_SHM_ETRUNCATED, HW_SHM_EMAGIC, HW_SHM_EVERSION,
** HW_SHM_ELAYOUT.
*/
static inline int hw_shm_header_check(const void *base, uint64_t file_size, char *why, size_t why_len) {
  const hw_shm_header *h = (const hw_shm_header *)base;
  static const uint32_t producer[HW_SHM_RING_COUNT] = {0, 1, 1, 0};
  static const uint32_t role[HW_SHM_RING_COUNT] = {HW_SHM_ROLE_DATA, HW_SHM_ROLE_DATA, HW_SHM_ROLE_RELEASE,
                                                   HW_SHM_ROLE_RELEASE};
  uint64_t starts[HW_SHM_RING_COUNT + HW_SHM_ARENA_COUNT], ends[HW_SHM_RING_COUNT + HW_SHM_ARENA_COUNT];
  uint64_t magic;
  int i, j;
#define HW_SHM__FAIL(code, ...)                       \
  do {                                                \
    if (why != NULL && why_len > 0)                   \
      snprintf(why, why_len, __VA_ARGS__);            \
    return (code);                                    \
  } while (0)
  if (file_size < HW_SHM_HEADER_SIZE)
    HW_SHM__FAIL(HW_SHM_ETRUNCATED, "region is %llu bytes, header needs %d", (unsigned long long)file_size,
                 HW_SHM_HEADER_SIZE);
  magic = atomic_load_explicit(&((hw_shm_header *)h)->magic, memory_order_acquire);
  if (magic != HW_SHM_MAGIC)
    HW_SHM__FAIL(HW_SHM_EMAGIC, "magic %#llx, want %#llx", (unsigned long long)magic,
                 (unsigned long long)HW_SHM_MAGIC);
  if (h->version != HW_SHM_LAYOUT_VERSION)
    HW_SHM__FAIL(HW_SHM_EVERSION, "layout version %u, this header is version %d", h->version,
                 HW_SHM_LAYOUT_VERSION);
  if (h->header_size != HW_SHM_HEADER_SIZE)
    HW_SHM__FAIL(HW_SHM_ELAYOUT, "header size %u", h->header_size);
  if (h->total_size < HW_SHM_HEADER_SIZE || h->total_size > HW_SHM_MAX_TOTAL_SIZE ||
      h->total_size % HW_SHM_ARENA_ALIGN != 0)
    HW_SHM__FAIL(HW_SHM_ELAYOUT, "total size %llu", (unsigned long long)h->total_size);
  if (file_size < h->total_size)
    HW_SHM__FAIL(HW_SHM_ETRUNCATED, "region is %llu bytes, header says %llu", (unsigned long long)file_size,
                 (unsigned long long)h->total_size);
  if (h->creator_pid == 0 || h->creator_pid > 0x7fffffffu)
    HW_SHM__FAIL(HW_SHM_ELAYOUT, "creator pid %u", h->creator_pid);
  if (h->liveness_ms < HW_SHM_MIN_LIVENESS_MS || h->liveness_ms > HW_SHM_MAX_LIVENESS_MS)
    HW_SHM__FAIL(HW_SHM_ELAYOUT, "liveness %u ms", h->liveness_ms);
  if (h->ring_count != HW_SHM_RING_COUNT || h->arena_count != HW_SHM_ARENA_COUNT)
    HW_SHM__FAIL(HW_SHM_ELAYOUT, "%u rings and %u arenas", h->ring_count, h->arena_count);
  if (h->lanes > HW_SHM_MAX_LANES || h->lane >= (h->lanes != 0 ? h->lanes : 1))
    HW_SHM__FAIL(HW_SHM_ELAYOUT, "lane %u of %u lanes", h->lane, h->lanes);
  for (i = 0; i < HW_SHM_RING_COUNT; i++) {
    const hw_shm_ring_entry *r = &h->rings[i];
    const hw_shm_ring_ctrl *c;
    if (r->producer != producer[i] || r->role != role[i] || r->slot_size != HW_SHM_DESC_SIZE ||
        !hw_shm__pow2(r->slot_count) || r->slot_count < HW_SHM_RING_MIN_SLOTS ||
        r->slot_count > HW_SHM_RING_MAX_SLOTS ||
        r->size != HW_SHM_RING_HEADER_SIZE + (uint64_t)r->slot_count * r->slot_size ||
        r->offset % HW_SHM_SECTION_ALIGN != 0 || r->offset < HW_SHM_HEADER_SIZE || r->offset > h->total_size ||
        r->size > h->total_size - r->offset)
      HW_SHM__FAIL(HW_SHM_ELAYOUT, "ring %d: offset %llu size %llu slots %u x %u producer %u role %u", i,
                   (unsigned long long)r->offset, (unsigned long long)r->size, r->slot_count, r->slot_size,
                   r->producer, r->role);
    c = (const hw_shm_ring_ctrl *)((const char *)base + r->offset);
    if (c->magic != HW_SHM_RING_MAGIC || c->slot_size != r->slot_size || c->slot_count != r->slot_count ||
        c->flags != 0)
      HW_SHM__FAIL(HW_SHM_ELAYOUT, "ring %d control block: magic %#x slots %u x %u flags %#x", i, c->magic,
                   c->slot_count, c->slot_size, c->flags);
    starts[i] = r->offset;
    ends[i] = r->offset + r->size;
  }
  for (i = 0; i < HW_SHM_ARENA_COUNT; i++) {
    const hw_shm_arena_entry *a = &h->arenas[i];
    if (a->writer != (uint32_t)i || !hw_shm__pow2(a->chunk_size) || a->chunk_size < HW_SHM_MIN_CHUNK_SIZE ||
        a->chunk_size > HW_SHM_MAX_CHUNK_SIZE || a->chunk_count < 1 || a->chunk_count > HW_SHM_MAX_CHUNKS ||
        a->size != (uint64_t)a->chunk_size * a->chunk_count || a->size > HW_SHM_MAX_ARENA_SIZE ||
        a->offset % HW_SHM_ARENA_ALIGN != 0 || a->offset < HW_SHM_HEADER_SIZE || a->offset > h->total_size ||
        a->size > h->total_size - a->offset)
      HW_SHM__FAIL(HW_SHM_ELAYOUT, "arena %d: offset %llu size %llu chunks %u x %u writer %u", i,
                   (unsigned long long)a->offset, (unsigned long long)a->size, a->chunk_count, a->chunk_size,
                   a->writer);
    if (h->rings[HW_SHM_RELEASE_RING(i)].slot_count < a->chunk_count)
      HW_SHM__FAIL(HW_SHM_ELAYOUT, "release ring of arena %d has %u slots for %u chunks", i,
                   h->rings[HW_SHM_RELEASE_RING(i)].slot_count, a->chunk_count);
    starts[HW_SHM_RING_COUNT + i] = a->offset;
    ends[HW_SHM_RING_COUNT + i] = a->offset + a->size;
  }
  for (i = 0; i < HW_SHM_RING_COUNT + HW_SHM_ARENA_COUNT; i++)
    for (j = 0; j < HW_SHM_RING_COUNT + HW_SHM_ARENA_COUNT; j++)
      if (i != j && starts[i] < ends[j] && starts[j] < ends[i])
        HW_SHM__FAIL(HW_SHM_ELAYOUT, "sections %d and %d overlap", i, j);
  for (i = 0; i < HW_SHM_SIDE_COUNT; i++) {
    uint64_t c = atomic_load(&((hw_shm_header *)h)->sides[i].claim);
    if (HW_SHM_CLAIM_STATE(c) > HW_SHM_STATE_DETACHED)
      HW_SHM__FAIL(HW_SHM_ELAYOUT, "side %d claim %#llx", i, (unsigned long long)c);
  }
  return HW_SHM_OK;
#undef HW_SHM__FAIL
}

/* --- Names and lanes (section 1) --- */

static inline int hw_shm__hex(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
** Parse a region name: "haywire-" + lowercase canonical UUID, optionally
** "." + a lane in [1, HW_SHM_MAX_LANES) in decimal without leading zeros.
** On HW_SHM_OK, uuid (if not NULL) gets the UUID's 16 bytes and *lane (if
** not NULL) the lane, 0 without a suffix. Reads no further than the first
** character that breaks the form.
** RETURNS: HW_SHM_OK, HW_SHM_ENAME.
*/
static inline int hw_shm_name_parse(const char *name, uint8_t uuid[16], uint32_t *lane) {
  uint8_t id[16];
  uint32_t l = 0;
  int i, k = 0, v;
  if (name == NULL || strncmp(name, HW_SHM_NAME_PREFIX, sizeof(HW_SHM_NAME_PREFIX) - 1) != 0)
    return HW_SHM_ENAME;
  name += sizeof(HW_SHM_NAME_PREFIX) - 1;
  for (i = 0; i < 36; i++, name++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (*name != '-')
        return HW_SHM_ENAME;
      continue;
    }
    if ((v = hw_shm__hex(*name)) < 0)
      return HW_SHM_ENAME;
    if (k % 2 == 0)
      id[k / 2] = (uint8_t)(v << 4);
    else
      id[k / 2] |= (uint8_t)v;
    k++;
  }
  if (*name == '.') {
    name++;
    if (*name < '1' || *name > '9') /* no ".", ".0", ".07", ".x" */
      return HW_SHM_ENAME;
    l = (uint32_t)(*name++ - '0');
    if (*name >= '0' && *name <= '9')
      l = 10 * l + (uint32_t)(*name++ - '0');
    if (l >= HW_SHM_MAX_LANES)
      return HW_SHM_ENAME;
  }
  if (*name != '\0')
    return HW_SHM_ENAME;
  if (uuid != NULL)
    memcpy(uuid, id, 16);
  if (lane != NULL)
    *lane = l;
  return HW_SHM_OK;
}

/*
** Write the name of lane k of the engine whose lane-0 name is base into
** buf (len >= HW_SHM_NAME_MAX + 1 bytes): base itself for k == 0,
** "base.k" otherwise.
** RETURNS: HW_SHM_OK, HW_SHM_ENAME (base is not a lane-0 name, k >=
** HW_SHM_MAX_LANES, or buf is too short).
*/
static inline int hw_shm_lane_name(char *buf, size_t len, const char *base, uint32_t k) {
  uint32_t lane;
  if (buf == NULL || len < HW_SHM_NAME_MAX + 1 || hw_shm_name_parse(base, NULL, &lane) != HW_SHM_OK || lane != 0 ||
      k >= HW_SHM_MAX_LANES)
    return HW_SHM_ENAME;
  if (k == 0)
    snprintf(buf, len, "%s", base);
  else
    snprintf(buf, len, "%s.%u", base, (unsigned)k);
  return HW_SHM_OK;
}

/*
** After hw_shm_header_check: check that the region holds the UUID and the
** lane of its name, as returned by hw_shm_name_parse (lifecycle step 2).
** RETURNS: HW_SHM_OK, HW_SHM_ELAYOUT.
*/
static inline int hw_shm_lane_check(const void *base, const uint8_t uuid[16], uint32_t lane, char *why,
                                    size_t why_len) {
  const hw_shm_header *h = (const hw_shm_header *)base;
  if (memcmp(h->uuid, uuid, 16) != 0) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "the header's uuid is not the one in the name");
    return HW_SHM_ELAYOUT;
  }
  if (h->lane != lane) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "the name says lane %u, the header lane %u of %u", (unsigned)lane, h->lane, h->lanes);
    return HW_SHM_ELAYOUT;
  }
  return HW_SHM_OK;
}

/* Pointers into a validated region. */
static inline hw_shm_ring_ctrl *hw_shm_ring(hw_shm_header *h, int ring) {
  return (hw_shm_ring_ctrl *)((char *)h + h->rings[ring].offset);
}
static inline unsigned char *hw_shm_arena(hw_shm_header *h, int arena) {
  return (unsigned char *)h + h->arenas[arena].offset;
}
static inline hw_shm_bell *hw_shm_data_bell(hw_shm_header *h, int ring) { return &h->bells[2 * ring]; }
static inline hw_shm_bell *hw_shm_space_bell(hw_shm_header *h, int ring) { return &h->bells[2 * ring + 1]; }
static inline void hw_shm_count(hw_shm_header *h, int side, int counter, uint64_t n) {
  atomic_fetch_add(&h->counters[side].v[counter], n);
}

/* Producer and consumer state: private memory of the one thread that
** drives that end of the ring. */
typedef struct hw_shm_producer {
  hw_shm_ring_ctrl *ctrl;
  hw_shm_desc *slots;
  uint64_t mask, capacity;
  uint64_t next;       /* private tail */
  uint64_t head_cache; /* last validated head */
} hw_shm_producer;

typedef struct hw_shm_consumer {
  hw_shm_ring_ctrl *ctrl;
  hw_shm_desc *slots;
  uint64_t mask, capacity;
  uint64_t next;       /* private head */
  uint64_t tail_cache; /* last validated tail */
} hw_shm_consumer;

/* Attach to ring `ring` of a validated region (section 9, step 4).
** RETURNS: HW_SHM_OK, HW_SHM_ECORRUPT. */
static inline int hw_shm_producer_init(hw_shm_producer *p, hw_shm_header *h, int ring) {
  uint64_t head, tail;
  p->ctrl = hw_shm_ring(h, ring);
  p->slots = (hw_shm_desc *)((char *)p->ctrl + HW_SHM_RING_HEADER_SIZE);
  p->capacity = p->ctrl->slot_count;
  p->mask = p->capacity - 1;
  head = atomic_load(&p->ctrl->head);
  tail = atomic_load(&p->ctrl->tail);
  if (tail - head > p->capacity)
    return HW_SHM_ECORRUPT;
  p->next = tail;
  p->head_cache = head;
  return HW_SHM_OK;
}

static inline int hw_shm_consumer_init(hw_shm_consumer *c, hw_shm_header *h, int ring) {
  uint64_t head, tail;
  c->ctrl = hw_shm_ring(h, ring);
  c->slots = (hw_shm_desc *)((char *)c->ctrl + HW_SHM_RING_HEADER_SIZE);
  c->capacity = c->ctrl->slot_count;
  c->mask = c->capacity - 1;
  head = atomic_load(&c->ctrl->head);
  tail = atomic_load(&c->ctrl->tail);
  if (tail - head > c->capacity)
    return HW_SHM_ECORRUPT;
  c->next = head;
  c->tail_cache = tail;
  return HW_SHM_OK;
}

/* Number of free slots, at most want; reloads head only when fewer than
** want look free. *err gets HW_SHM_ECORRUPT if the head is invalid. */
static inline uint32_t hw_shm_producer_reserve(hw_shm_producer *p, uint32_t want, int *err) {
  uint64_t free_slots = p->capacity - (p->next - p->head_cache);
  *err = HW_SHM_OK;
  if (free_slots < want) {
    uint64_t h = atomic_load(&p->ctrl->head);
    if (h - p->head_cache > p->next - p->head_cache) {
      *err = HW_SHM_ECORRUPT;
      return 0;
    }
    p->head_cache = h;
    free_slots = p->capacity - (p->next - h);
  }
  return free_slots < want ? (uint32_t)free_slots : want;
}

/* Slot i (< what reserve returned) of the reservation. */
static inline hw_shm_desc *hw_shm_producer_slot(hw_shm_producer *p, uint32_t i) {
  return &p->slots[(p->next + i) & p->mask];
}

/* Publish n reserved slots: one seq_cst store. Call hw_shm_bell_wake on
** the ring's data bell right after. */
static inline void hw_shm_producer_commit(hw_shm_producer *p, uint32_t n) {
  p->next += n;
  atomic_store(&p->ctrl->tail, p->next);
}

/* Number of published slots, at most max; reloads tail only when none
** remain from the last load. *err gets HW_SHM_ECORRUPT if the tail is
** invalid. */
static inline uint32_t hw_shm_consumer_available(hw_shm_consumer *c, uint32_t max, int *err) {
  uint64_t n = c->tail_cache - c->next;
  *err = HW_SHM_OK;
  if (n == 0) {
    uint64_t t = atomic_load(&c->ctrl->tail);
    if (t - c->tail_cache > c->next + c->capacity - c->tail_cache) {
      *err = HW_SHM_ECORRUPT;
      return 0;
    }
    c->tail_cache = t;
    n = t - c->next;
  }
  return n > max ? max : (uint32_t)n;
}

/* Slot i (< what available returned). Copy it before validating: the
** producer cannot rewrite it until consume, but a faulty one might. */
static inline hw_shm_desc *hw_shm_consumer_slot(hw_shm_consumer *c, uint32_t i) {
  return &c->slots[(c->next + i) & c->mask];
}

/* Hand n slots back: one seq_cst store. Call hw_shm_bell_wake on the
** ring's space bell right after. */
static inline void hw_shm_consumer_consume(hw_shm_consumer *c, uint32_t n) {
  c->next += n;
  atomic_store(&c->ctrl->head, c->next);
}

/*
** Validate a descriptor received from the peer (section 5). ring_role is
** the role of the ring it came from; arena is the arena it points into
** (the peer's arena for data rings, your own for release rings);
** min_epoch is the lowest acceptable epoch (the oldest unreclaimed one)
** and want_epoch the expected epoch (0 = accept any >= min_epoch).
** RETURNS: HW_SHM_OK, HW_SHM_EDESC, HW_SHM_ESTALE.
*/
static inline int hw_shm_desc_check(const hw_shm_desc *d, int ring_role, const hw_shm_arena_entry *arena,
                                    uint32_t min_epoch, uint32_t want_epoch) {
  /* payload: 0 none, 1 required, 2 optional, 3 chunk reference */
  static const unsigned char payload[HW_SHM_KIND_COUNT] = {0, 1, 1, 0, 0, 1, 3, 2, 1, 0, 0};
  static const unsigned char allowed[HW_SHM_KIND_COUNT] = {
      0, HW_SHM_DF_END | HW_SHM_DF_MORE, HW_SHM_DF_END | HW_SHM_DF_MORE, 0, 0, HW_SHM_DF_END | HW_SHM_DF_MORE,
      0, HW_SHM_DF_MORE, HW_SHM_DF_END | HW_SHM_DF_MORE, 0, 0};
  uint64_t chunk = arena->chunk_size;
  if (d->kind == 0 || d->kind >= HW_SHM_KIND_COUNT)
    return HW_SHM_EDESC;
  if ((d->kind == HW_SHM_KIND_RELEASE) != (ring_role == HW_SHM_ROLE_RELEASE))
    return HW_SHM_EDESC;
  if (d->flags & ~allowed[d->kind])
    return HW_SHM_EDESC;
  if ((d->flags & HW_SHM_DF_END) && (d->flags & HW_SHM_DF_MORE))
    return HW_SHM_EDESC;
  if (d->aux != 0 && d->kind != HW_SHM_KIND_CANCEL)
    return HW_SHM_EDESC;
  if (d->epoch == 0)
    return HW_SHM_EDESC;
  switch (payload[d->kind]) {
  case 1:
    if (d->length == 0)
      return HW_SHM_EDESC;
    break;
  case 0:
    if (d->length != 0 || d->offset != 0 || d->gen != 0)
      return HW_SHM_EDESC;
    break;
  case 3:
    if (d->length != 0 || d->gen == 0 || d->offset >= arena->size || d->offset % chunk != 0)
      return HW_SHM_EDESC;
    break;
  case 2:
    if (d->length == 0 && (d->offset != 0 || d->gen != 0))
      return HW_SHM_EDESC;
    break;
  }
  if ((d->flags & HW_SHM_DF_MORE) && d->length == 0)
    return HW_SHM_EDESC;
  if (d->length != 0) {
    if (d->gen == 0 || d->offset >= arena->size || d->offset % chunk + d->length > chunk)
      return HW_SHM_EDESC;
  }
  if (d->epoch < min_epoch || (want_epoch != 0 && d->epoch != want_epoch))
    return HW_SHM_ESTALE;
  return HW_SHM_OK;
}

/* --- Doorbells (section 8) --- */

#if defined(__linux__)
/* Declared here so the header needs no feature-test macro. */
long syscall(long number, ...);
/* The futex(2) syscall number, which differs by architecture. The two
** targets are built in, so that the header needs nothing beyond ISO C. On
** another 64-bit Linux architecture, include <sys/syscall.h> before this
** header and its SYS_futex is used; anything else is a compile error
** rather than a wrong syscall. (32-bit targets are not supported: the
** layout needs lock-free 64-bit atomics, and SYS_futex there takes the old
** 32-bit struct timespec.) */
#if defined(__x86_64__)
#define HW_SHM__SYS_FUTEX 202
#elif defined(__aarch64__)
#define HW_SHM__SYS_FUTEX 98
#elif defined(SYS_futex) && defined(__LP64__)
#define HW_SHM__SYS_FUTEX SYS_futex
#else
#error "haywire_shm.h: futex syscall number unknown for this architecture; include <sys/syscall.h> first (64-bit only)"
#endif
#define HW_SHM__FUTEX_WAIT 0 /* NOT FUTEX_PRIVATE_FLAG: cross-process */
#define HW_SHM__FUTEX_WAKE 1
#endif

/* Waker's half, right after the publishing store. Returns 1 if it made the
** wake syscall (count it in HW_SHM_COUNTER_WAKEUPS). */
static inline int hw_shm_bell_wake(hw_shm_bell *b) {
  if (atomic_load(&b->sleeping) != 0 && atomic_exchange(&b->sleeping, 0) != 0) {
    atomic_fetch_add(&b->seq, 1);
#if defined(__linux__)
    syscall(HW_SHM__SYS_FUTEX, (void *)&b->seq, HW_SHM__FUTEX_WAKE, 0x7fffffff, (void *)0, (void *)0, 0);
#endif
    return 1;
  }
  return 0;
}

/* Wake the sleeper unconditionally (shutdown, detach, peer death). */
static inline void hw_shm_bell_interrupt(hw_shm_bell *b) {
  atomic_fetch_add(&b->seq, 1);
#if defined(__linux__)
  syscall(HW_SHM__SYS_FUTEX, (void *)&b->seq, HW_SHM__FUTEX_WAKE, 0x7fffffff, (void *)0, (void *)0, 0);
#endif
}

/*
** Sleeper's half: sleep on b until ready(arg) is true or about timeout_ns
** pass (one slice; call it in a loop that also checks the peer's
** liveness). ready must load the ring index with a seq_cst load.
** RETURNS: HW_SHM_OK when ready, HW_SHM_ETIMEDOUT otherwise (including a
** spurious wake: just re-check).
*/
static inline int hw_shm_bell_wait(hw_shm_bell *b, int (*ready)(void *), void *arg, uint64_t timeout_ns) {
  uint32_t s = atomic_load(&b->seq);
  atomic_store(&b->sleeping, 1);
  if (ready(arg)) {
    atomic_store(&b->sleeping, 0);
    return HW_SHM_OK;
  }
#if defined(__linux__)
  {
    struct timespec ts;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
    ts.tv_nsec = (long)(timeout_ns % 1000000000u);
    syscall(HW_SHM__SYS_FUTEX, (void *)&b->seq, HW_SHM__FUTEX_WAIT, s, &ts, (void *)0, 0);
  }
#else
  {
    /* Portable fallback: poll seq (a real peer would sleep briefly here). */
    uint64_t spins = timeout_ns / 64 + 1;
    while (spins-- > 0 && atomic_load(&b->seq) == s)
      ;
  }
#endif
  atomic_store(&b->sleeping, 0);
  return ready(arg) ? HW_SHM_OK : HW_SHM_ETIMEDOUT;
}

/* --- Sides (section 9) --- */

/*
** Claim side `side` for process pid. On HW_SHM_OK *epoch is this
** attachment's epoch: stamp it on everything you send.
** RETURNS: HW_SHM_OK, HW_SHM_EBUSY (retry later), HW_SHM_EFENCED.
*/
static inline int hw_shm_side_claim(hw_shm_header *h, int side, uint32_t pid, uint64_t token, uint64_t now_unix_ns,
                                    uint32_t *epoch) {
  hw_shm_side *s = &h->sides[side];
  uint64_t expect = 0, mine = HW_SHM_CLAIM(pid, HW_SHM_STATE_ATTACHING);
  uint32_t e;
  if (!atomic_compare_exchange_strong(&s->claim, &expect, mine))
    return HW_SHM_EBUSY;
  do
    e = atomic_fetch_add(&h->epoch_source, 1) + 1;
  while (e == 0);
  atomic_store(&s->epoch, e);
  atomic_store(&s->beat_ms, h->liveness_ms / 10 ? h->liveness_ms / 10 : 1);
  atomic_store(&s->token, token);
  atomic_store(&s->attach_unix_ns, now_unix_ns);
  atomic_fetch_add(&s->heartbeat, 1);
  expect = mine;
  if (!atomic_compare_exchange_strong(&s->claim, &expect, HW_SHM_CLAIM(pid, HW_SHM_STATE_ACTIVE)))
    return HW_SHM_EFENCED;
  hw_shm_count(h, side, HW_SHM_COUNTER_ATTACHES, 1);
  *epoch = e;
  return HW_SHM_OK;
}

/* Beat: call every beat_ms. Returns HW_SHM_EFENCED once the peer has
** revoked this claim: stop using the region. */
static inline int hw_shm_side_beat(hw_shm_header *h, int side, uint32_t pid) {
  atomic_fetch_add(&h->sides[side].heartbeat, 1);
  return atomic_load(&h->sides[side].claim) == HW_SHM_CLAIM(pid, HW_SHM_STATE_ACTIVE) ? HW_SHM_OK
                                                                                        : HW_SHM_EFENCED;
}

/*
** Steps 1-3 of reclamation for the survivor `side` after the peer was
** fenced or detached: fix the indices of all four rings and clear the
** peer's sleeping flags. Collect the releases on the release ring of your
** arena first (step 4): this discards them. The caller then frees its
** chunks still LENT, drops pointers into the peer's arena, records the
** peer's epoch as stale and frees the peer's claim (token = 0, then claim
** = 0). Returns the number of descriptors discarded.
*/
static inline uint64_t hw_shm_reclaim_rings(hw_shm_header *h, int side) {
  int peer = 1 - side, r;
  uint64_t discarded = 0;
  /* Rings the peer consumed: its head := tail. */
  int consumed_by_peer[2] = {HW_SHM_DATA_RING(side), HW_SHM_RELEASE_RING(peer)};
  /* Rings the peer produced: our head := its tail (or its tail := our head). */
  int produced_by_peer[2] = {HW_SHM_DATA_RING(peer), HW_SHM_RELEASE_RING(side)};
  for (r = 0; r < 2; r++) {
    hw_shm_ring_ctrl *c = hw_shm_ring(h, consumed_by_peer[r]);
    uint64_t t = atomic_load(&c->tail), hd = atomic_load(&c->head);
    if (t - hd <= c->slot_count)
      discarded += t - hd;
    atomic_store(&c->head, t);
    atomic_store(&hw_shm_data_bell(h, consumed_by_peer[r])->sleeping, 0);
  }
  for (r = 0; r < 2; r++) {
    hw_shm_ring_ctrl *c = hw_shm_ring(h, produced_by_peer[r]);
    uint64_t t = atomic_load(&c->tail), hd = atomic_load(&c->head);
    if (t - hd <= c->slot_count) {
      discarded += t - hd;
      atomic_store(&c->head, t);
    } else {
      atomic_store(&c->tail, hd);
    }
    atomic_store(&hw_shm_space_bell(h, produced_by_peer[r])->sleeping, 0);
  }
  return discarded;
}

/*
** Detach side `side` of process pid (section 9). A peer that left or was
** declared dead (DETACHED) is reclaimed first: steps 1-3 and 6, counted in
** RECLAIMS and RECLAIMED_DESCS (steps 4-5 concern the caller's private
** state, which it drops now: a caller that keeps RECLAIMED_CHUNKS collects
** and counts before). Then, the peer side being FREE, our rings are reset
** and our claim freed; a peer still attached finds us DETACHED and
** reclaims us. Then the bells the peer may sleep on are rung.
** RETURNS: HW_SHM_OK, or HW_SHM_EFENCED when our claim is no longer
** CLAIM(pid, ACTIVE): fenced, it touches nothing.
*/
static inline int hw_shm_side_detach(hw_shm_header *h, int side, uint32_t pid) {
  int peer = 1 - side, ok;
  uint64_t mine = HW_SHM_CLAIM(pid, HW_SHM_STATE_ACTIVE);
  uint64_t pc = atomic_load(&h->sides[peer].claim);
  if (atomic_load(&h->sides[side].claim) != mine)
    return HW_SHM_EFENCED; /* the rings and the side are the peer's to reclaim */
  if (HW_SHM_CLAIM_STATE(pc) == HW_SHM_STATE_DETACHED) {
    uint64_t discarded = hw_shm_reclaim_rings(h, side); /* we are the survivor */
    atomic_store(&h->sides[peer].token, 0);
    if (atomic_compare_exchange_strong(&h->sides[peer].claim, &pc, 0)) {
      hw_shm_count(h, side, HW_SHM_COUNTER_RECLAIMS, 1);
      hw_shm_count(h, side, HW_SHM_COUNTER_RECLAIMED_DESCS, discarded);
    }
  }
  if (HW_SHM_CLAIM_STATE(atomic_load(&h->sides[peer].claim)) == HW_SHM_STATE_FREE) {
    hw_shm_reclaim_rings(h, peer); /* as if the (absent) peer reclaimed us */
    atomic_store(&h->sides[side].token, 0);
    ok = atomic_compare_exchange_strong(&h->sides[side].claim, &mine, 0);
  } else {
    ok = atomic_compare_exchange_strong(&h->sides[side].claim, &mine, HW_SHM_CLAIM(pid, HW_SHM_STATE_DETACHED));
  }
  hw_shm_bell_interrupt(hw_shm_data_bell(h, HW_SHM_DATA_RING(side)));
  hw_shm_bell_interrupt(hw_shm_data_bell(h, HW_SHM_RELEASE_RING(peer)));
  hw_shm_bell_interrupt(hw_shm_space_bell(h, HW_SHM_DATA_RING(peer)));
  hw_shm_bell_interrupt(hw_shm_space_bell(h, HW_SHM_RELEASE_RING(side)));
  return ok ? HW_SHM_OK : HW_SHM_EFENCED;
}

#endif /* HAYWIRE_SHM_H */
