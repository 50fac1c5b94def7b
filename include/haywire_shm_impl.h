/*
** haywire_shm_impl.h -- the reference implementation of the helpers of
** haywire_shm.h (its section 10): static inline functions, stb style.
**
** haywire_shm.h is the specification and documents every function at its
** declaration; this header only defines them. Include this header (it
** includes haywire_shm.h) to call them:
**
**   #include "haywire_shm_impl.h"
**
** Language: C11, ISO C plus, on Linux, the futex(2) syscall (see
** "Doorbells" below).
*/
#ifndef HAYWIRE_SHM_IMPL_H
#define HAYWIRE_SHM_IMPL_H

#include "haywire_shm.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static inline const char* hw_shm_strerror(int code)
{
    switch (code) {
#define HW_SHM__MSG(name, c, msg) \
    case (c): return (msg);
        HW_SHM_ERRNO_MAP(HW_SHM__MSG)
#undef HW_SHM__MSG
    }
    return "unknown error";
}

static inline int hw_shm__pow2(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

static inline int hw_shm_header_check(const void* base, uint64_t file_size, char* why, size_t why_len)
{
    const hw_shm_header* h = (const hw_shm_header*)base;
    static const uint32_t producer[HW_SHM_RING_COUNT] = {0, 1, 1, 0};
    static const uint32_t role[HW_SHM_RING_COUNT] = {HW_SHM_ROLE_DATA, HW_SHM_ROLE_DATA, HW_SHM_ROLE_RELEASE,
                                                     HW_SHM_ROLE_RELEASE};
    uint64_t starts[HW_SHM_RING_COUNT + HW_SHM_ARENA_COUNT], ends[HW_SHM_RING_COUNT + HW_SHM_ARENA_COUNT];
    uint64_t magic;
    int i, j;
#define HW_SHM__FAIL(code, ...)                                              \
    do {                                                                     \
        if (why != NULL && why_len > 0) snprintf(why, why_len, __VA_ARGS__); \
        return (code);                                                       \
    } while (0)
    if (file_size < HW_SHM_HEADER_SIZE)
        HW_SHM__FAIL(HW_SHM_ETRUNCATED, "region is %llu bytes, header needs %d", (unsigned long long)file_size,
                     HW_SHM_HEADER_SIZE);
    magic = atomic_load_explicit(&((hw_shm_header*)h)->magic, memory_order_acquire);
    if (magic != HW_SHM_MAGIC)
        HW_SHM__FAIL(HW_SHM_EMAGIC, "magic %#llx, want %#llx", (unsigned long long)magic,
                     (unsigned long long)HW_SHM_MAGIC);
    if (h->version != HW_SHM_LAYOUT_VERSION)
        HW_SHM__FAIL(HW_SHM_EVERSION, "layout version %u, this header is version %d", h->version,
                     HW_SHM_LAYOUT_VERSION);
    if (h->header_size != HW_SHM_HEADER_SIZE) HW_SHM__FAIL(HW_SHM_ELAYOUT, "header size %u", h->header_size);
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
        const hw_shm_ring_entry* r = &h->rings[i];
        const hw_shm_ring_ctrl* c;
        if (r->producer != producer[i] || r->role != role[i] || r->slot_size != HW_SHM_DESC_SIZE ||
            !hw_shm__pow2(r->slot_count) || r->slot_count < HW_SHM_RING_MIN_SLOTS ||
            r->slot_count > HW_SHM_RING_MAX_SLOTS ||
            r->size != HW_SHM_RING_HEADER_SIZE + (uint64_t)r->slot_count * r->slot_size ||
            r->offset % HW_SHM_SECTION_ALIGN != 0 || r->offset < HW_SHM_HEADER_SIZE || r->offset > h->total_size ||
            r->size > h->total_size - r->offset)
            HW_SHM__FAIL(HW_SHM_ELAYOUT, "ring %d: offset %llu size %llu slots %u x %u producer %u role %u", i,
                         (unsigned long long)r->offset, (unsigned long long)r->size, r->slot_count, r->slot_size,
                         r->producer, r->role);
        c = (const hw_shm_ring_ctrl*)((const char*)base + r->offset);
        if (c->magic != HW_SHM_RING_MAGIC || c->slot_size != r->slot_size || c->slot_count != r->slot_count ||
            c->flags != 0)
            HW_SHM__FAIL(HW_SHM_ELAYOUT, "ring %d control block: magic %#x slots %u x %u flags %#x", i, c->magic,
                         c->slot_count, c->slot_size, c->flags);
        starts[i] = r->offset;
        ends[i] = r->offset + r->size;
    }
    for (i = 0; i < HW_SHM_ARENA_COUNT; i++) {
        const hw_shm_arena_entry* a = &h->arenas[i];
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
        uint64_t c = atomic_load(&((hw_shm_header*)h)->sides[i].claim);
        if (HW_SHM_CLAIM_STATE(c) > HW_SHM_STATE_DETACHED)
            HW_SHM__FAIL(HW_SHM_ELAYOUT, "side %d claim %#llx", i, (unsigned long long)c);
    }
    return HW_SHM_OK;
#undef HW_SHM__FAIL
}

/* --- Names and lanes (section 1) --- */

static inline int hw_shm__hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static inline int hw_shm_name_parse(const char* name, uint8_t uuid[16], uint32_t* lane)
{
    uint8_t id[16];
    uint32_t l = 0;
    int i, k = 0, v;
    if (name == NULL || strncmp(name, HW_SHM_NAME_PREFIX, sizeof(HW_SHM_NAME_PREFIX) - 1) != 0) return HW_SHM_ENAME;
    name += sizeof(HW_SHM_NAME_PREFIX) - 1;
    for (i = 0; i < 36; i++, name++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (*name != '-') return HW_SHM_ENAME;
            continue;
        }
        if ((v = hw_shm__hex(*name)) < 0) return HW_SHM_ENAME;
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
        if (*name >= '0' && *name <= '9') l = 10 * l + (uint32_t)(*name++ - '0');
        if (l >= HW_SHM_MAX_LANES) return HW_SHM_ENAME;
    }
    if (*name != '\0') return HW_SHM_ENAME;
    if (uuid != NULL) memcpy(uuid, id, 16);
    if (lane != NULL) *lane = l;
    return HW_SHM_OK;
}

static inline int hw_shm_lane_name(char* buf, size_t len, const char* base, uint32_t k)
{
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

static inline int hw_shm_lane_check(const void* base, const uint8_t uuid[16], uint32_t lane, char* why, size_t why_len)
{
    const hw_shm_header* h = (const hw_shm_header*)base;
    if (memcmp(h->uuid, uuid, 16) != 0) {
        if (why != NULL && why_len > 0) snprintf(why, why_len, "the header's uuid is not the one in the name");
        return HW_SHM_ELAYOUT;
    }
    if (h->lane != lane) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "the name says lane %u, the header lane %u of %u", (unsigned)lane, h->lane,
                     h->lanes);
        return HW_SHM_ELAYOUT;
    }
    return HW_SHM_OK;
}

static inline hw_shm_ring_ctrl* hw_shm_ring(hw_shm_header* h, int ring)
{
    return (hw_shm_ring_ctrl*)((char*)h + h->rings[ring].offset);
}
static inline unsigned char* hw_shm_arena(hw_shm_header* h, int arena)
{
    return (unsigned char*)h + h->arenas[arena].offset;
}
static inline hw_shm_bell* hw_shm_data_bell(hw_shm_header* h, int ring) { return &h->bells[2 * ring]; }
static inline hw_shm_bell* hw_shm_space_bell(hw_shm_header* h, int ring) { return &h->bells[2 * ring + 1]; }
static inline void hw_shm_count(hw_shm_header* h, int side, int counter, uint64_t n)
{
    atomic_fetch_add(&h->counters[side].v[counter], n);
}

static inline int hw_shm_producer_init(hw_shm_producer* p, hw_shm_header* h, int ring)
{
    uint64_t head, tail;
    p->ctrl = hw_shm_ring(h, ring);
    p->slots = (hw_shm_desc*)((char*)p->ctrl + HW_SHM_RING_HEADER_SIZE);
    p->capacity = p->ctrl->slot_count;
    p->mask = p->capacity - 1;
    head = atomic_load(&p->ctrl->head);
    tail = atomic_load(&p->ctrl->tail);
    if (tail - head > p->capacity) return HW_SHM_ECORRUPT;
    p->next = tail;
    p->head_cache = head;
    return HW_SHM_OK;
}

static inline int hw_shm_consumer_init(hw_shm_consumer* c, hw_shm_header* h, int ring)
{
    uint64_t head, tail;
    c->ctrl = hw_shm_ring(h, ring);
    c->slots = (hw_shm_desc*)((char*)c->ctrl + HW_SHM_RING_HEADER_SIZE);
    c->capacity = c->ctrl->slot_count;
    c->mask = c->capacity - 1;
    head = atomic_load(&c->ctrl->head);
    tail = atomic_load(&c->ctrl->tail);
    if (tail - head > c->capacity) return HW_SHM_ECORRUPT;
    c->next = head;
    c->tail_cache = tail;
    return HW_SHM_OK;
}

static inline uint32_t hw_shm_producer_reserve(hw_shm_producer* p, uint32_t want, int* err)
{
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

static inline hw_shm_desc* hw_shm_producer_slot(hw_shm_producer* p, uint32_t i)
{
    return &p->slots[(p->next + i) & p->mask];
}

static inline void hw_shm_producer_commit(hw_shm_producer* p, uint32_t n)
{
    p->next += n;
    atomic_store(&p->ctrl->tail, p->next);
}

static inline uint32_t hw_shm_consumer_available(hw_shm_consumer* c, uint32_t max, int* err)
{
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

static inline hw_shm_desc* hw_shm_consumer_slot(hw_shm_consumer* c, uint32_t i)
{
    return &c->slots[(c->next + i) & c->mask];
}

static inline void hw_shm_consumer_consume(hw_shm_consumer* c, uint32_t n)
{
    c->next += n;
    atomic_store(&c->ctrl->head, c->next);
}

static inline int hw_shm_desc_check(const hw_shm_desc* d, int ring_role, const hw_shm_arena_entry* arena,
                                    uint32_t min_epoch, uint32_t want_epoch)
{
    /* payload: 0 none, 1 required, 2 optional, 3 chunk reference */
    static const unsigned char payload[HW_SHM_KIND_COUNT] = {0, 1, 1, 0, 0, 1, 3, 2, 1, 0, 0};
    /* clang-format off */
    static const unsigned char allowed[HW_SHM_KIND_COUNT] = {
        0, HW_SHM_DF_END | HW_SHM_DF_MORE, HW_SHM_DF_END | HW_SHM_DF_MORE, 0, 0, HW_SHM_DF_END | HW_SHM_DF_MORE,
        0, HW_SHM_DF_MORE, HW_SHM_DF_END | HW_SHM_DF_MORE, 0, 0};
    /* clang-format on */
    uint64_t chunk = arena->chunk_size;
    if (d->kind == 0 || d->kind >= HW_SHM_KIND_COUNT) return HW_SHM_EDESC;
    if ((d->kind == HW_SHM_KIND_RELEASE) != (ring_role == HW_SHM_ROLE_RELEASE)) return HW_SHM_EDESC;
    if (d->flags & ~allowed[d->kind]) return HW_SHM_EDESC;
    if ((d->flags & HW_SHM_DF_END) && (d->flags & HW_SHM_DF_MORE)) return HW_SHM_EDESC;
    if (d->aux != 0 && d->kind != HW_SHM_KIND_CANCEL) return HW_SHM_EDESC;
    if (d->epoch == 0) return HW_SHM_EDESC;
    switch (payload[d->kind]) {
    case 1:
        if (d->length == 0) return HW_SHM_EDESC;
        break;
    case 0:
        if (d->length != 0 || d->offset != 0 || d->gen != 0) return HW_SHM_EDESC;
        break;
    case 3:
        if (d->length != 0 || d->gen == 0 || d->offset >= arena->size || d->offset % chunk != 0) return HW_SHM_EDESC;
        break;
    case 2:
        if (d->length == 0 && (d->offset != 0 || d->gen != 0)) return HW_SHM_EDESC;
        break;
    }
    if ((d->flags & HW_SHM_DF_MORE) && d->length == 0) return HW_SHM_EDESC;
    if (d->length != 0) {
        if (d->gen == 0 || d->offset >= arena->size || d->offset % chunk + d->length > chunk) return HW_SHM_EDESC;
    }
    if (d->epoch < min_epoch || (want_epoch != 0 && d->epoch != want_epoch)) return HW_SHM_ESTALE;
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

static inline int hw_shm_bell_wake(hw_shm_bell* b)
{
    if (atomic_load(&b->sleeping) != 0 && atomic_exchange(&b->sleeping, 0) != 0) {
        atomic_fetch_add(&b->seq, 1);
#if defined(__linux__)
        syscall(HW_SHM__SYS_FUTEX, (void*)&b->seq, HW_SHM__FUTEX_WAKE, 0x7fffffff, (void*)0, (void*)0, 0);
#endif
        return 1;
    }
    return 0;
}

static inline void hw_shm_bell_interrupt(hw_shm_bell* b)
{
    atomic_fetch_add(&b->seq, 1);
#if defined(__linux__)
    syscall(HW_SHM__SYS_FUTEX, (void*)&b->seq, HW_SHM__FUTEX_WAKE, 0x7fffffff, (void*)0, (void*)0, 0);
#endif
}

static inline int hw_shm_bell_wait(hw_shm_bell* b, int (*ready)(void*), void* arg, uint64_t timeout_ns)
{
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
        syscall(HW_SHM__SYS_FUTEX, (void*)&b->seq, HW_SHM__FUTEX_WAIT, s, &ts, (void*)0, 0);
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

static inline int hw_shm_side_claim(hw_shm_header* h, int side, uint32_t pid, uint64_t token, uint64_t now_unix_ns,
                                    uint32_t* epoch)
{
    hw_shm_side* s = &h->sides[side];
    uint64_t expect = 0, mine = HW_SHM_CLAIM(pid, HW_SHM_STATE_ATTACHING);
    uint32_t e;
    if (!atomic_compare_exchange_strong(&s->claim, &expect, mine)) return HW_SHM_EBUSY;
    do e = atomic_fetch_add(&h->epoch_source, 1) + 1;
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

static inline int hw_shm_side_beat(hw_shm_header* h, int side, uint32_t pid)
{
    atomic_fetch_add(&h->sides[side].heartbeat, 1);
    return atomic_load(&h->sides[side].claim) == HW_SHM_CLAIM(pid, HW_SHM_STATE_ACTIVE) ? HW_SHM_OK : HW_SHM_EFENCED;
}

static inline uint64_t hw_shm_reclaim_rings(hw_shm_header* h, int side)
{
    int peer = 1 - side, r;
    uint64_t discarded = 0;
    /* Rings the peer consumed: its head := tail. */
    int consumed_by_peer[2] = {HW_SHM_DATA_RING(side), HW_SHM_RELEASE_RING(peer)};
    /* Rings the peer produced: our head := its tail (or its tail := our head). */
    int produced_by_peer[2] = {HW_SHM_DATA_RING(peer), HW_SHM_RELEASE_RING(side)};
    for (r = 0; r < 2; r++) {
        hw_shm_ring_ctrl* c = hw_shm_ring(h, consumed_by_peer[r]);
        uint64_t t = atomic_load(&c->tail), hd = atomic_load(&c->head);
        if (t - hd <= c->slot_count) discarded += t - hd;
        atomic_store(&c->head, t);
        atomic_store(&hw_shm_data_bell(h, consumed_by_peer[r])->sleeping, 0);
    }
    for (r = 0; r < 2; r++) {
        hw_shm_ring_ctrl* c = hw_shm_ring(h, produced_by_peer[r]);
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

static inline int hw_shm_side_detach(hw_shm_header* h, int side, uint32_t pid)
{
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

#endif /* HAYWIRE_SHM_IMPL_H */
