/*
** attach.c -- attaching a host to a lane of an engine's region, its
** liveness (heartbeat, judging the engine, fencing) and detaching
** (include/haywire_shm.h sections 1 and 9).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host_internal.h"

/* ---- errors and versions ---- */

#ifndef HW_HOST_IN_LIBHAYWIRE
/* Compiled into libhaywire (cmd/libhaywire/hostlib.c), these come from
** its capi.c instead: one hw_last_error per library. */
static __thread char hw__errbuf[1024];

void hw__set_error(const char* msg) { snprintf(hw__errbuf, sizeof hw__errbuf, "%s", msg); }

const char* hw_last_error(void) { return hw__errbuf; }

const char* hw_version(void) { return HW_VERSION_STRING; }
int hw_version_number(void) { return HW_VERSION_NUMBER; }
#endif

uint64_t hw__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t hw__unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hw__sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

int hw__usable(hw_host* host) { return !atomic_load(&host->gone) && !atomic_load(&host->fenced); }

/* ---- opening a lane ---- */

typedef struct hw__map
{
    void* base;
    size_t size;
} hw__map;

/* Steps 1-2 of a host's lifecycle: open, check, map, validate. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
static int hw__open_lane(const char* dir, const char* name, hw__map* m, char* why, size_t why_len)
{
    char path[4096];
    struct stat st;
    uint8_t uuid[16];
    uint32_t lane;
    int fd, rc;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(why, why_len, "hw_host_attach: region path too long");
        return HW_EINVAL;
    }
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_len, "hw_host_attach: %s: %s: %s", e == ENOENT ? "no such region" : "permission denied", path,
                 strerror(e));
        return e == ENOENT ? HW_ENOENT : HW_EPERM;
    }
    if (fstat(fd, &st) != 0) memset(&st, 0, sizeof st);
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        close(fd);
        snprintf(why, why_len,
                 "hw_host_attach: permission denied: %s: mode %04o, owner %u: want a regular file of mode 0600 "
                 "owned by this user",
                 path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
        return HW_EPERM;
    }
    if ((uint64_t)st.st_size < HW_SHM_HEADER_SIZE || (uint64_t)st.st_size > HW_SHM_MAX_TOTAL_SIZE) {
        close(fd);
        snprintf(why, why_len, "hw_host_attach: %s: size %lld is not a region's", path, (long long)st.st_size);
        return HW_EVERSION;
    }
    m->size = (size_t)st.st_size;
    m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m->base == MAP_FAILED) {
        snprintf(why, why_len, "hw_host_attach: mmap %s: %s", path, strerror(errno));
        return HW_ENOMEM;
    }
    rc = hw_shm_header_check(m->base, (uint64_t)m->size, why, why_len);
    if (rc == HW_SHM_OK && hw_shm_name_parse(name, uuid, &lane) == HW_SHM_OK)
        rc = hw_shm_lane_check(m->base, uuid, lane, why, why_len);
    if (rc != HW_SHM_OK) {
        munmap(m->base, m->size);
        return HW_EVERSION;
    }
    return HW_OK;
}

/* The directory holding lane 0 of name: dir, or /dev/shm, else $TMPDIR. */
static int hw__region_dir(const char* dir, const char* name, char* out, size_t len)
{
    char path[4096];
    const char* tmp;
    if (dir != NULL && *dir != '\0') {
        snprintf(out, len, "%s", dir);
        return HW_OK;
    }
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    if (access(path, F_OK) == 0) {
        snprintf(out, len, "/dev/shm");
        return HW_OK;
    }
    tmp = getenv("TMPDIR");
    snprintf(out, len, "%s", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    return HW_OK;
}

/* ---- the liveness monitor (section 9) ---- */

static int hw__pid_running(uint32_t pid)
{
    if (pid == 0 || pid > 0x7fffffffu) return 0; /* untrusted: never a process group */
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
        char path[64], buf[512];
        FILE* f;
        snprintf(path, sizeof path, "/proc/%u/stat", pid);
        if ((f = fopen(path, "r")) != NULL) { /* a zombie counts as dead */
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            char* p;
            fclose(f);
            buf[n] = 0;
            p = strrchr(buf, ')');
            if (p != NULL && p[1] == ' ' && p[2] == 'Z') return 0;
        }
        return 1;
    }
    return 0;
}

static void hw__lost(hw_host* host)
{
    atomic_store(&host->gone, 1);
    hw__interrupt(host);
}

static void* hw__monitor(void* arg)
{
    hw_host* host = arg;
    hw_shm_header* h = host->h;
    uint32_t liveness = h->liveness_ms;
    uint64_t beat = host->beat_ns, changed = hw__now_ns();
    uint64_t seen_claim = atomic_load(&h->sides[HW__PEER].claim);
    uint64_t seen_beat = atomic_load(&h->sides[HW__PEER].heartbeat);
    uint32_t quiet = 0, need = (liveness - (uint32_t)(beat / 1000000u)) / (uint32_t)(beat / 1000000u);
    while (!atomic_load(&host->stop)) {
        uint64_t claim, hb, now;
        hw__sleep_ns(beat);
        if (atomic_load(&host->stop) || atomic_load(&host->fenced)) break;
        if (hw_shm_side_beat(h, HW__SIDE, host->pid) != HW_SHM_OK) {
            atomic_store(&host->fenced, 1);
            hw__interrupt(host);
            break;
        }
        if (atomic_load(&host->gone)) continue;
        if (atomic_load(&h->flags) & HW_SHM_FLAG_CLOSED) {
            hw__lost(host);
            continue;
        }
        claim = atomic_load(&h->sides[HW__PEER].claim);
        hb = atomic_load(&h->sides[HW__PEER].heartbeat);
        now = hw__now_ns();
        if (claim != seen_claim || hb != seen_beat) {
            seen_claim = claim;
            seen_beat = hb;
            changed = now;
            quiet = 0;
        } else {
            quiet++;
        }
        switch (HW_SHM_CLAIM_STATE(claim)) {
        case HW_SHM_STATE_DETACHED:
            hw__lost(host); /* the engine left, or someone fenced it */
            break;
        case HW_SHM_STATE_ATTACHING:
        case HW_SHM_STATE_ACTIVE:
            if ((quiet >= 1 && !hw__pid_running(HW_SHM_CLAIM_PID(claim))) ||
                (now - changed >= (uint64_t)liveness * 1000000u - beat && quiet >= need)) {
                uint64_t expect = claim;
                /* Fence it: CAS from the value judged. */
                if (atomic_compare_exchange_strong(&h->sides[HW__PEER].claim, &expect,
                                                   HW_SHM_CLAIM(HW_SHM_CLAIM_PID(claim), HW_SHM_STATE_DETACHED)))
                    hw_shm_count(h, HW__SIDE, HW_SHM_COUNTER_PEER_DEATHS, 1);
                hw__lost(host);
            }
            break;
        default: /* FREE: a reclaimed engine may come back; wait for it */ break;
        }
    }
    return NULL;
}

/* ---- attach / detach ---- */

static int hw__init_host(hw_host* host, hw__map* m)
{
    hw_shm_header* h = m->base;
    uint32_t i;
    host->h = h;
    host->map_size = m->size;
    host->beat_ns = (uint64_t)(h->liveness_ms / 10 ? h->liveness_ms / 10 : 1) * 1000000u;
    host->peer_epoch = atomic_load(&h->sides[HW__PEER].epoch);
    host->min_epoch = 1;
    if (hw_shm_consumer_init(&host->in, h, HW_SHM_DATA_RING(HW__PEER)) != HW_SHM_OK ||
        hw_shm_producer_init(&host->out_ring, h, HW_SHM_DATA_RING(HW__SIDE)) != HW_SHM_OK ||
        hw_shm_producer_init(&host->rel_out, h, HW_SHM_RELEASE_RING(HW__PEER)) != HW_SHM_OK ||
        hw_shm_consumer_init(&host->rel_in, h, HW_SHM_RELEASE_RING(HW__SIDE)) != HW_SHM_OK) {
        hw__set_error("hw_host_attach: corrupt ring indices");
        return HW_EVERSION;
    }
    host->chunk_size = h->arenas[HW__SIDE].chunk_size;
    host->chunk_count = h->arenas[HW__SIDE].chunk_count;
    host->free_stack = calloc(host->chunk_count, sizeof(uint32_t));
    host->gen = calloc(host->chunk_count, sizeof(uint32_t));
    host->lent = calloc(host->chunk_count, 1);
    host->chunk_owner = calloc(host->chunk_count, sizeof(hw_host_request*));
    if (!host->free_stack || !host->gen || !host->lent || !host->chunk_owner) {
        hw__set_error("hw_host_attach: out of memory");
        return HW_ENOMEM;
    }
    for (i = 0; i < host->chunk_count; i++) host->free_stack[host->nfree++] = host->chunk_count - 1 - i;
    return HW_OK;
}

static void hw__free_host(hw_host* host)
{
    hw_host_request* r;
    while ((r = host->free_reqs) != NULL) {
        host->free_reqs = r->next;
        hw__free_request(r);
    }
    free(host->free_stack);
    free(host->gen);
    free(host->lent);
    free(host->chunk_owner);
    free(host->parts);
    pthread_mutex_destroy(&host->mu);
    pthread_mutex_destroy(&host->rmu);
    pthread_mutex_destroy(&host->smu);
    pthread_cond_destroy(&host->cv);
    free(host);
}

int hw_host_attach(const char* region_name, const char* region_dir, hw_host** out)
{
    char dir[4096], name[HW_SHM_NAME_MAX + 1], why[256];
    uint64_t start = hw__now_ns(), pause = 1000000u;
    uint32_t lane0;
    hw__map m0;
    hw_host* host;
    int rc;
    if (out != NULL) *out = NULL;
    if (region_name == NULL || out == NULL) {
        hw__set_error(out == NULL ? "hw_host_attach: out is NULL" : "hw_host_attach: region_name is NULL");
        return HW_EINVAL;
    }
    if (hw_shm_name_parse(region_name, NULL, &lane0) != HW_SHM_OK || lane0 != 0) {
        char msg[HW_SHM_NAME_MAX + 128];
        snprintf(msg, sizeof msg, "hw_host_attach: invalid region name %.*s: want \"haywire-\" and a lowercase UUID",
                 HW_SHM_NAME_MAX, region_name);
        hw__set_error(msg);
        return HW_EINVAL;
    }
    hw__region_dir(region_dir, region_name, dir, sizeof dir);
    host = calloc(1, sizeof *host);
    if (host == NULL) {
        hw__set_error("hw_host_attach: out of memory");
        return HW_ENOMEM;
    }
    pthread_mutex_init(&host->mu, NULL);
    pthread_mutex_init(&host->rmu, NULL);
    pthread_mutex_init(&host->smu, NULL);
    pthread_cond_init(&host->cv, NULL);
    host->pid = (uint32_t)getpid();
    for (;;) {
        uint32_t lanes, k;
        rc = hw__open_lane(dir, region_name, &m0, why, sizeof why);
        if (rc != HW_OK) {
            hw__set_error(why);
            hw__free_host(host);
            return rc;
        }
        lanes = ((hw_shm_header*)m0.base)->lanes;
        for (k = 0; k < lanes; k++) {
            hw__map m = m0;
            if (k > 0) {
                if (hw_shm_lane_name(name, sizeof name, region_name, k) != HW_SHM_OK) break;
                if (hw__open_lane(dir, name, &m, why, sizeof why) != HW_OK) continue; /* being removed */
                if (((hw_shm_header*)m.base)->lanes != lanes) {
                    munmap(m.base, m.size);
                    continue;
                }
            }
            rc = hw_shm_side_claim(m.base, HW__SIDE, host->pid, 0, hw__unix_ns(), &host->epoch);
            if (rc == HW_SHM_OK) {
                if (k > 0) munmap(m0.base, m0.size);
                if ((rc = hw__init_host(host, &m)) != HW_OK) {
                    hw_shm_side_detach(m.base, HW__SIDE, host->pid);
                    munmap(m.base, m.size);
                    hw__free_host(host);
                    return rc;
                }
                goto claimed;
            }
            if (k > 0) munmap(m.base, m.size);
        }
        munmap(m0.base, m0.size);
        if (hw__now_ns() - start >= (uint64_t)HW__ATTACH_TIMEOUT_MS * 1000000u) {
            hw__set_error("hw_host_attach: every lane of the region is taken by a host");
            hw__free_host(host);
            return HW_EBUSY;
        }
        hw__sleep_ns(pause);
        if ((pause *= 2) > 20000000u) pause = 20000000u;
    }
claimed:
    if (pthread_create(&host->monitor, NULL, hw__monitor, host) != 0) {
        hw_shm_side_detach(host->h, HW__SIDE, host->pid);
        munmap(host->h, host->map_size);
        hw__free_host(host);
        hw__set_error("hw_host_attach: cannot start the liveness thread");
        return HW_ENOMEM;
    }
    host->monitor_started = 1;
    host->magic = HW__HOST_MAGIC;
    /* Wake the engine: it routes to us at once, not at its next look. */
    hw__send_control(host, HW_SHM_KIND_NOP, 0, 0, 0);
    *out = host;
    return HW_OK;
}

/* Section 9, reclamation step 4, before hw_shm_side_detach reclaims an
** engine that left or was fenced: take the releases it published, then
** count the chunks of arena 1 it still held in RECLAIMED_CHUNKS. */
static void hw__reclaim_chunks(hw_host* host)
{
    uint64_t held = 0;
    uint32_t i;
    if (HW_SHM_CLAIM_STATE(atomic_load(&host->h->sides[HW__PEER].claim)) != HW_SHM_STATE_DETACHED) return;
    pthread_mutex_lock(&host->smu);
    hw__collect_returns(host);
    for (i = 0; i < host->chunk_count; i++)
        if (host->lent[i]) {
            host->lent[i] = 0;
            host->chunk_owner[i] = NULL;
            host->free_stack[host->nfree++] = i;
            held++;
        }
    pthread_mutex_unlock(&host->smu);
    if (held > 0) hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_RECLAIMED_CHUNKS, held);
}

int hw_host_detach(hw_host* host)
{
    hw_host_request* r;
    if (host == NULL) return HW_OK;
    if (host->magic != HW__HOST_MAGIC) {
        hw__set_error("hw_host_detach: not an attached host");
        return HW_EINVAL;
    }
    pthread_mutex_lock(&host->mu);
    if (host->out > 0) {
        pthread_mutex_unlock(&host->mu);
        hw__set_error("hw_host_detach: requests handed out by hw_host_next are not ended; end them first");
        return HW_ESTATE;
    }
    /* Requests not handed out: the engine answers them 502. */
    while ((r = host->qhead) != NULL) {
        host->qhead = r->next;
        free(r->buf);
        hw__free_request(r); /* frees its pieces */
    }
    free(host->index);
    host->index = NULL;
    host->index_cap = host->nlive = 0;
    pthread_mutex_unlock(&host->mu);
    host->magic = 0;
    atomic_store(&host->stop, 1);
    if (host->monitor_started) pthread_join(host->monitor, NULL);
    if (!atomic_load(&host->fenced)) {
        hw__reclaim_chunks(host);
        hw_shm_side_detach(host->h, HW__SIDE, host->pid);
    }
    munmap(host->h, host->map_size);
    hw__free_host(host);
    return HW_OK;
}

int hw_host_leave(hw_host* host)
{
    if (host == NULL || host->magic != HW__HOST_MAGIC) {
        hw__set_error("hw_host_leave: not an attached host");
        return HW_EINVAL;
    }
    return hw__send_control(host, HW_SHM_KIND_CANCEL, HW_BRIDGE_CANCEL_DRAIN, 0, 0);
}
