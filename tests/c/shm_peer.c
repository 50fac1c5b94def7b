/*
** shm_peer -- a host-side (side 1) peer written only from haywire_shm.h.
**
** Usage: shm_peer PATH|NAME
**
** Attaches to the region file PATH (or, for a bare region name of any
** lane, /dev/shm/NAME, else $TMPDIR/NAME or /tmp/NAME: haywire_shm.h
** section 1) as side 1 and echoes: every data
** descriptor it receives on ring 0 is validated, its payload checked
** against the FNV-1a checksum the sender put in `conn`, copied into a chunk
** of arena 1 and sent back on ring 1 with the same kind, flags, stream and
** conn; the arena-0 chunk is released on ring 2. A descriptor that fails
** validation is answered with a CANCEL whose aux is 1 (invalid) and whose
** stream is the slot position, and counted in the INVALID counter. A NOP
** with stream UINT64_MAX ends the run: the peer answers with a NOP,
** detaches and exits 0. It sleeps on the ring-0 doorbell when idle, beats
** its heartbeat, and exits 2 if fenced, or 3 if the engine goes away
** (after detaching, which reclaims an engine that left).
**
** Output (stdout, one line): ok received=N echoed=N invalid=N sleeps=N
*/
#define _POSIX_C_SOURCE 200809L

#include "haywire_shm_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SIDE 1
#define PEER 0

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t fnv1a(const unsigned char* p, uint32_t n)
{
    uint32_t h = 2166136261u;
    while (n-- > 0) h = (h ^ *p++) * 16777619u;
    return h;
}

static int die(int code, const char* what)
{
    fprintf(stderr, "shm_peer: %s\n", what);
    return code;
}

/* Private allocator of arena 1 (section 6): a free stack and generations. */
typedef struct
{
    uint32_t *free_stack, nfree, count, chunk;
    uint32_t* gen;
    unsigned char* lent;
} allocator;

static int alloc_chunk(allocator* a, uint32_t* off, uint32_t* gen)
{
    uint32_t i;
    if (a->nfree == 0) return 0;
    i = a->free_stack[--a->nfree];
    if (++a->gen[i] == 0) a->gen[i] = 1;
    a->lent[i] = 1;
    *off = i * a->chunk;
    *gen = a->gen[i];
    return 1;
}

static int return_chunk(allocator* a, uint32_t off, uint32_t gen)
{
    uint32_t i = off / a->chunk;
    if (off % a->chunk != 0 || i >= a->count || !a->lent[i] || a->gen[i] != gen) return 0;
    a->lent[i] = 0;
    a->free_stack[a->nfree++] = i;
    return 1;
}

typedef struct
{
    hw_shm_header* h;
    hw_shm_consumer in;      /* ring 0 */
    hw_shm_producer out;     /* ring 1 */
    hw_shm_producer rel_out; /* ring 2: chunks of arena 0 back to the engine */
    hw_shm_consumer rel_in;  /* ring 3: chunks of arena 1 back to us */
    allocator a;
    uint32_t epoch, peer_epoch;
    uint32_t pid;
    uint64_t last_beat;
    uint64_t beat_ns;
} peer;

/* Fenced (section 9): our claim is no longer ours. Checked before every
** poll and publish, not only when beating: a process resumed after a stall
** must not read or write a ring the engine may have reclaimed. */
static int fenced(const peer* p)
{
    return atomic_load(&p->h->sides[SIDE].claim) != HW_SHM_CLAIM(p->pid, HW_SHM_STATE_ACTIVE);
}

/* Take back released chunks of arena 1. */
static int collect(peer* p)
{
    int err;
    uint32_t n, i;
    if (fenced(p)) return HW_SHM_EFENCED;
    while ((n = hw_shm_consumer_available(&p->rel_in, 64, &err)) > 0) {
        for (i = 0; i < n; i++) {
            hw_shm_desc d = *hw_shm_consumer_slot(&p->rel_in, i); /* copy, then validate */
            int rc = hw_shm_desc_check(&d, HW_SHM_ROLE_RELEASE, &p->h->arenas[SIDE], p->epoch, p->epoch);
            if (rc == HW_SHM_ESTALE)
                hw_shm_count(p->h, SIDE, HW_SHM_COUNTER_STALE, 1);
            else if (rc != HW_SHM_OK || !return_chunk(&p->a, d.offset, d.gen))
                hw_shm_count(p->h, SIDE, HW_SHM_COUNTER_INVALID, 1);
        }
        hw_shm_consumer_consume(&p->rel_in, n);
        if (hw_shm_bell_wake(hw_shm_space_bell(p->h, HW_SHM_RELEASE_RING(SIDE))))
            hw_shm_count(p->h, SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
    }
    return err;
}

/* Beat when due; report fencing (2: touch nothing more) or the engine's
** departure (3, once detached: section 1, step 6). */
static int beat(peer* p)
{
    uint64_t t = now_ns();
    uint64_t c;
    if (t - p->last_beat < p->beat_ns) return 0;
    p->last_beat = t;
    if (hw_shm_side_beat(p->h, SIDE, p->pid) != HW_SHM_OK) return 2;
    c = atomic_load(&p->h->sides[PEER].claim);
    /* A pid from the region is untrusted: 0 or > INT32_MAX would name a
    ** process group in kill(2). (A real host would also require the
    ** heartbeat to have stopped, section 9.) */
    if (HW_SHM_CLAIM_STATE(c) != HW_SHM_STATE_ACTIVE || HW_SHM_CLAIM_PID(c) == 0 || HW_SHM_CLAIM_PID(c) > 0x7fffffffu ||
        (kill((pid_t)HW_SHM_CLAIM_PID(c), 0) != 0 && errno == ESRCH)) {
        /* Reclaims an engine that left (DETACHED) first, then frees side 1. */
        hw_shm_side_detach(p->h, SIDE, p->pid);
        return 3;
    }
    return 0;
}

static int ready_in(void* arg)
{
    peer* p = (peer*)arg;
    return atomic_load(&p->in.ctrl->tail) != p->in.next;
}

static int ready_chunks(void* arg)
{
    peer* p = (peer*)arg;
    return atomic_load(&p->rel_in.ctrl->tail) != p->rel_in.next;
}

static int ready_space(void* arg)
{
    peer* p = (peer*)arg;
    return p->out.capacity - (p->out.next - atomic_load(&p->out.ctrl->head)) > 0;
}

/* Publish one descriptor on ring 1, waiting for room. */
static int send_desc(peer* p, hw_shm_desc* d)
{
    int err, rc;
    while (hw_shm_producer_reserve(&p->out, 1, &err) == 0) {
        if (err != HW_SHM_OK) return die(4, "ring 1 head corrupt");
        if ((rc = beat(p)) != 0) return rc;
        hw_shm_count(p->h, SIDE, HW_SHM_COUNTER_SLEEPS, 1);
        hw_shm_bell_wait(hw_shm_space_bell(p->h, HW_SHM_DATA_RING(SIDE)), ready_space, p, p->beat_ns);
    }
    if (fenced(p)) return 2;
    d->epoch = p->epoch;
    *hw_shm_producer_slot(&p->out, 0) = *d;
    hw_shm_producer_commit(&p->out, 1);
    if (hw_shm_bell_wake(hw_shm_data_bell(p->h, HW_SHM_DATA_RING(SIDE))))
        hw_shm_count(p->h, SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
    return 0;
}

/* Release a chunk of arena 0 on ring 2 (never full: one slot per chunk). */
static int release(peer* p, const hw_shm_desc* d)
{
    int err;
    hw_shm_desc r;
    if (fenced(p)) return 2;
    if (hw_shm_producer_reserve(&p->rel_out, 1, &err) == 0) return die(4, "release ring full or corrupt");
    memset(&r, 0, sizeof r);
    r.kind = HW_SHM_KIND_RELEASE;
    r.epoch = d->epoch;
    r.stream = d->stream;
    r.conn = d->conn;
    r.offset = d->offset - d->offset % p->h->arenas[PEER].chunk_size;
    r.gen = d->gen;
    *hw_shm_producer_slot(&p->rel_out, 0) = r;
    hw_shm_producer_commit(&p->rel_out, 1);
    if (hw_shm_bell_wake(hw_shm_data_bell(p->h, HW_SHM_RELEASE_RING(PEER))))
        hw_shm_count(p->h, SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
    return 0;
}

int main(int argc, char** argv)
{
    peer p;
    struct stat st;
    char why[256], path[4096];
    void* base;
    int fd, rc, err;
    uint32_t i;
    uint64_t received = 0, echoed = 0, invalid = 0;

    if (argc != 2) return die(1, "usage: shm_peer PATH|NAME");
    memset(&p, 0, sizeof p);
    p.pid = (uint32_t)getpid();
    if (strchr(argv[1], '/') == NULL) {
        if (hw_shm_name_parse(argv[1], NULL, NULL) != HW_SHM_OK) return die(1, "not a region name");
        snprintf(path, sizeof path, "/dev/shm/%s", argv[1]);
        if (access(path, F_OK) != 0) { /* the fallback directory: os.TempDir() on the Go side */
            const char* tmp = getenv("TMPDIR");
            if (snprintf(path, sizeof path, "%s/%s", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", argv[1]) >=
                (int)sizeof path)
                return die(1, "path too long");
        }
    } else if (snprintf(path, sizeof path, "%s", argv[1]) >= (int)sizeof path) {
        return die(1, "path too long");
    }

    /* 1. Open and map: no symlinks, a regular file private to our user. */
    fd = open(path, O_RDWR | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) return die(1, strerror(errno));
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != geteuid())
        return die(1, "not a regular file private to this user");
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return die(1, strerror(errno));

    /* 2. Validate. */
    rc = hw_shm_header_check(base, (uint64_t)st.st_size, why, sizeof why);
    if (rc != HW_SHM_OK) {
        fprintf(stderr, "shm_peer: %s: %s\n", hw_shm_strerror(rc), why);
        return 1;
    }
    p.h = (hw_shm_header*)base;
    /* The uuid and lane in the header must be the ones in the name. */
    {
        uint8_t id[16];
        uint32_t lane;
        if (hw_shm_name_parse(strrchr(path, '/') + 1, id, &lane) != HW_SHM_OK)
            return die(1, "the file name is not a region name");
        if ((rc = hw_shm_lane_check(base, id, lane, why, sizeof why)) != HW_SHM_OK) {
            fprintf(stderr, "shm_peer: %s: %s\n", hw_shm_strerror(rc), why);
            return 1;
        }
    }

    /* 3. Claim side 1 (the engine may still be reclaiming a predecessor). */
    for (i = 0; (rc = hw_shm_side_claim(p.h, SIDE, p.pid, 0, unix_ns(), &p.epoch)) == HW_SHM_EBUSY; i++) {
        struct timespec ms = {0, 1000000};
        if (i > 5000) return die(1, "side 1 stays busy");
        nanosleep(&ms, NULL);
    }
    if (rc != HW_SHM_OK) return die(2, hw_shm_strerror(rc));
    p.beat_ns = (uint64_t)atomic_load(&p.h->sides[SIDE].beat_ms) * 1000000u;
    p.last_beat = now_ns();
    p.peer_epoch = atomic_load(&p.h->sides[PEER].epoch);

    /* 4. Private ring state from the current indices; all chunks free. */
    if (hw_shm_consumer_init(&p.in, p.h, HW_SHM_DATA_RING(PEER)) != HW_SHM_OK ||
        hw_shm_producer_init(&p.out, p.h, HW_SHM_DATA_RING(SIDE)) != HW_SHM_OK ||
        hw_shm_producer_init(&p.rel_out, p.h, HW_SHM_RELEASE_RING(PEER)) != HW_SHM_OK ||
        hw_shm_consumer_init(&p.rel_in, p.h, HW_SHM_RELEASE_RING(SIDE)) != HW_SHM_OK)
        return die(4, "corrupt ring indices at attach");
    p.a.count = p.h->arenas[SIDE].chunk_count;
    p.a.chunk = p.h->arenas[SIDE].chunk_size;
    p.a.free_stack = calloc(p.a.count, sizeof(uint32_t));
    p.a.gen = calloc(p.a.count, sizeof(uint32_t));
    p.a.lent = calloc(p.a.count, 1);
    if (!p.a.free_stack || !p.a.gen || !p.a.lent) return die(1, "out of memory");
    for (i = 0; i < p.a.count; i++) p.a.free_stack[p.a.nfree++] = p.a.count - 1 - i;

    /* 5. Echo loop. */
    for (;;) {
        uint32_t n;
        if (fenced(&p)) return die(2, "fenced");
        n = hw_shm_consumer_available(&p.in, 64, &err);
        if (err != HW_SHM_OK) return die(4, "ring 0 tail corrupt");
        if ((rc = beat(&p)) != 0) return rc;
        if (n == 0) {
            uint32_t spin;
            for (spin = 0; spin < 2000 && !ready_in(&p); spin++)
                ;
            if (!ready_in(&p)) {
                hw_shm_count(p.h, SIDE, HW_SHM_COUNTER_SLEEPS, 1);
                hw_shm_bell_wait(hw_shm_data_bell(p.h, HW_SHM_DATA_RING(PEER)), ready_in, &p, p.beat_ns);
            }
            continue;
        }
        for (i = 0; i < n; i++) {
            hw_shm_desc d = *hw_shm_consumer_slot(&p.in, i); /* copy, then validate */
            hw_shm_desc out;
            uint32_t off, gen;
            rc = hw_shm_desc_check(&d, HW_SHM_ROLE_DATA, &p.h->arenas[PEER], 1, p.peer_epoch);
            received++;
            if (rc == HW_SHM_OK && d.length != 0 && fnv1a(hw_shm_arena(p.h, PEER) + d.offset, d.length) != d.conn)
                rc = HW_SHM_EDESC; /* torn or corrupt payload */
            if (rc != HW_SHM_OK) {
                invalid++;
                hw_shm_count(p.h, SIDE, rc == HW_SHM_ESTALE ? HW_SHM_COUNTER_STALE : HW_SHM_COUNTER_INVALID, 1);
                memset(&out, 0, sizeof out);
                out.kind = HW_SHM_KIND_CANCEL;
                out.aux = 1;
                out.stream = p.in.next + i;
                if ((rc = send_desc(&p, &out)) != 0) return rc;
                continue;
            }
            if (d.kind == HW_SHM_KIND_NOP && d.stream == UINT64_MAX) {
                hw_shm_consumer_consume(&p.in, i + 1);
                memset(&out, 0, sizeof out);
                out.kind = HW_SHM_KIND_NOP;
                out.stream = UINT64_MAX;
                if ((rc = send_desc(&p, &out)) != 0) return rc;
                printf("ok received=%llu echoed=%llu invalid=%llu sleeps=%llu\n", (unsigned long long)received,
                       (unsigned long long)echoed, (unsigned long long)invalid,
                       (unsigned long long)atomic_load(&p.h->counters[SIDE].v[HW_SHM_COUNTER_SLEEPS]));
                fflush(stdout);
                hw_shm_side_detach(p.h, SIDE, p.pid);
                munmap(base, (size_t)st.st_size);
                return 0;
            }
            out = d;
            out.offset = out.gen = 0;
            if (d.length != 0) {
                while (!alloc_chunk(&p.a, &off, &gen)) {
                    if ((rc = collect(&p)) != HW_SHM_OK)
                        return rc == HW_SHM_EFENCED ? die(2, "fenced") : die(4, "ring 3 tail corrupt");
                    if (p.a.nfree > 0) continue;
                    if ((rc = beat(&p)) != 0) return rc;
                    hw_shm_count(p.h, SIDE, HW_SHM_COUNTER_SLEEPS, 1);
                    hw_shm_bell_wait(hw_shm_data_bell(p.h, HW_SHM_RELEASE_RING(SIDE)), ready_chunks, &p, p.beat_ns);
                }
                memcpy(hw_shm_arena(p.h, SIDE) + off, hw_shm_arena(p.h, PEER) + d.offset, d.length);
                out.offset = off;
                out.gen = gen;
                if ((rc = release(&p, &d)) != 0) return rc;
            }
            if ((rc = send_desc(&p, &out)) != 0) return rc;
            echoed++;
        }
        if (fenced(&p)) return die(2, "fenced");
        hw_shm_consumer_consume(&p.in, n);
        if (hw_shm_bell_wake(hw_shm_space_bell(p.h, HW_SHM_DATA_RING(PEER))))
            hw_shm_count(p.h, SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
        if ((rc = collect(&p)) != HW_SHM_OK)
            return rc == HW_SHM_EFENCED ? die(2, "fenced") : die(4, "ring 3 tail corrupt");
    }
}
