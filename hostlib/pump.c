/*
** pump.c -- driving ring 0 (engine -> host): requests, body pieces,
** cancels and the drain notice, routed to the requests they concern;
** hw_host_next and hw_host_request_body_read wait here. Chunks of arena 0
** go back to the engine on ring 2.
**
** Whichever thread needs a descriptor and finds no other driving the
** ring drives it (the pump): hw_host_next, or a body read with nothing
** to read. It polls in batches of 64, spins briefly on an empty ring,
** then sleeps on ring 0's data bell in slices of beat_ms. Other waiters
** sleep on host->cv, which the pump broadcasts when it routes something
** and when it stops. No syscall is made while requests keep coming.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_internal.h"

void hw__free_request(hw_host_request* r)
{
    free(r->reason);
    free(r->msg);
    free(r->pieces);
    free(r);
}

void hw__interrupt(hw_host* host)
{
    hw_shm_bell_interrupt(hw_shm_data_bell(host->h, HW_SHM_DATA_RING(HW__PEER)));
    hw_shm_bell_interrupt(hw_shm_data_bell(host->h, HW_SHM_RELEASE_RING(HW__SIDE)));
    pthread_mutex_lock(&host->mu);
    pthread_cond_broadcast(&host->cv);
    pthread_mutex_unlock(&host->mu);
}

/* ---- releases (ring 2) ---- */

/* Publish the staged releases (rmu held); returns how many. */
static uint32_t hw__publish_locked(hw_host* host)
{
    uint32_t n = host->rel_staged;
    if (n > 0) hw_shm_producer_commit(&host->rel_out, n);
    host->rel_staged = 0;
    return n;
}

static void hw__rel_wake(hw_host* host)
{
    if (hw_shm_bell_wake(hw_shm_data_bell(host->h, HW_SHM_RELEASE_RING(HW__PEER))))
        hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
}

/* Give d's chunk of arena 0 back. Releases are staged and published
** together (one index store, one bell check): by hw__release_flush, at
** once when flush is set, or when 64 are staged. The pump flushes once
** per batch it drains, hw__finish once per request. */
void hw__release(hw_host* host, const hw_shm_desc* d, int flush)
{
    hw_shm_desc r;
    uint32_t k, published = 0;
    int err;
    if (d->length == 0 && d->gen == 0) return; /* no chunk */
    pthread_mutex_lock(&host->rmu);
    if (atomic_load(&host->fenced)) {
        host->rel_staged = 0; /* the rings are no longer ours */
        pthread_mutex_unlock(&host->rmu);
        return;
    }
    k = hw_shm_producer_reserve(&host->rel_out, host->rel_staged + 1, &err);
    if (k < host->rel_staged + 1) {
        published = hw__publish_locked(host);
        if (err != HW_SHM_OK || hw_shm_producer_reserve(&host->rel_out, 1, &err) == 0) {
            pthread_mutex_unlock(&host->rmu); /* never full with chunks we hold: a faulty engine */
            if (published) hw__rel_wake(host);
            return;
        }
    }
    memset(&r, 0, sizeof r);
    r.kind = HW_SHM_KIND_RELEASE;
    r.epoch = d->epoch;
    r.stream = d->stream;
    r.conn = d->conn;
    r.offset = d->offset - d->offset % host->h->arenas[HW__PEER].chunk_size;
    r.gen = d->gen;
    *hw_shm_producer_slot(&host->rel_out, host->rel_staged) = r;
    host->rel_staged++;
    if (flush || host->rel_staged >= 64) published += hw__publish_locked(host);
    pthread_mutex_unlock(&host->rmu);
    if (published) hw__rel_wake(host);
}

void hw__release_flush(hw_host* host)
{
    uint32_t n = 0;
    pthread_mutex_lock(&host->rmu);
    if (!atomic_load(&host->fenced)) n = hw__publish_locked(host);
    pthread_mutex_unlock(&host->rmu);
    if (n) hw__rel_wake(host);
}

/* ---- routing (pump holder only) ---- */

/* The live requests are indexed by id (chained hashing, grown by
** doubling): each descriptor of a stream finds its request in O(1)
** however many are in flight. Under mu. */
static size_t hw__bucket(uint64_t id, size_t cap) { return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1); }

static hw_host_request* hw__live(hw_host* host, uint64_t id)
{
    hw_host_request* r;
    if (host->index_cap == 0) return NULL;
    for (r = host->index[hw__bucket(id, host->index_cap)]; r != NULL; r = r->live_next)
        if (r->id == id) return r;
    return NULL;
}

/* Index r; 0, or -1 when no index could be allocated. */
static int hw__index_add(hw_host* host, hw_host_request* r)
{
    size_t b;
    if (host->nlive + 1 > host->index_cap) { /* grow: keep chains short */
        size_t cap = host->index_cap ? host->index_cap * 2 : 64, i;
        hw_host_request** idx = calloc(cap, sizeof *idx);
        if (idx == NULL && host->index_cap == 0) return -1;
        if (idx != NULL) { /* else keep the old table: longer chains */
            for (i = 0; i < host->index_cap; i++) {
                hw_host_request* q = host->index[i];
                while (q != NULL) {
                    hw_host_request* n = q->live_next;
                    b = hw__bucket(q->id, cap);
                    q->live_next = idx[b];
                    idx[b] = q;
                    q = n;
                }
            }
            free(host->index);
            host->index = idx;
            host->index_cap = cap;
        }
    }
    b = hw__bucket(r->id, host->index_cap);
    r->live_next = host->index[b];
    host->index[b] = r;
    host->nlive++;
    return 0;
}

static void hw__index_remove(hw_host* host, hw_host_request* r)
{
    hw_host_request** p;
    if (host->index_cap == 0) return;
    for (p = &host->index[hw__bucket(r->id, host->index_cap)]; *p != NULL; p = &(*p)->live_next)
        if (*p == r) {
            *p = r->live_next;
            r->live_next = NULL;
            host->nlive--;
            return;
        }
}

static void hw__addr(const uint8_t* ip, uint16_t port, char* buf, size_t* len, int* out_port)
{
    static const uint8_t zero[16];
    if (port == 0 && memcmp(ip, zero, 16) == 0) {
        *len = 0;
        *out_port = 0;
        return;
    }
    if (hw_bridge_ip_is_v4(ip))
        inet_ntop(AF_INET, ip + 12, buf, 48);
    else
        inet_ntop(AF_INET6, ip, buf, 48);
    *len = strlen(buf);
    *out_port = port;
}

static void hw__accept(hw_host* host, uint64_t stream, uint32_t conn, const uint8_t* b, size_t n,
                       const hw_shm_desc* chunk, uint8_t* buf)
{
    char why[160] = "host: ", *w = why + 6;
    hw_host_request* r;
    uint16_t flags;
    if (hw_bridge_view_check(b, n, w, sizeof why - 7) != HW_BRIDGE_OK) {
        if (chunk != NULL) hw__release(host, chunk, 0);
        free(buf);
        strcat(why, "\n");
        hw__refuse(host, stream, conn, 500, why);
        return;
    }
    pthread_mutex_lock(&host->mu);
    r = host->free_reqs;
    if (r != NULL) host->free_reqs = r->next;
    pthread_mutex_unlock(&host->mu);
    if (r == NULL && (r = calloc(1, sizeof *r)) == NULL) {
        if (chunk != NULL) hw__release(host, chunk, 0);
        free(buf);
        hw__refuse(host, stream, conn, 503, "host: out of memory for a request\n");
        return;
    }
    r->host = host;
    r->next = r->live_next = NULL;
    r->id = stream;
    r->conn = conn;
    r->view = b;
    r->view_len = n;
    if (chunk != NULL)
        r->chunk = *chunk;
    else
        memset(&r->chunk, 0, sizeof r->chunk);
    r->buf = buf;
    hw__addr(hw_bridge_view_remote_ip(b), hw_bridge_view_remote_port(b), r->remote_addr, &r->remote_len,
             &r->remote_port);
    hw__addr(hw_bridge_view_local_ip(b), hw_bridge_view_local_port(b), r->local_addr, &r->local_len, &r->local_port);
    r->given = 0;
    atomic_store(&r->cancelled, 0);
    flags = hw_bridge_view_flags(b);
    r->body_stream = (flags & HW_BRIDGE_VIEW_F_BODY_STREAM) != 0;
    r->expect_continue = (flags & HW_BRIDGE_VIEW_F_EXPECT_CONTINUE) != 0;
    r->continued = 0;
    r->npieces = r->piece0 = 0;
    r->body_ended = r->body_failed = 0;
    r->inline_read = r->piece_read = 0;
    atomic_store(&r->state, HW__OPEN);
    r->body_out = 0;
    pthread_mutex_lock(&host->mu);
    if (hw__index_add(host, r) != 0) {
        r->buf = NULL;
        r->next = host->free_reqs;
        host->free_reqs = r;
        pthread_mutex_unlock(&host->mu);
        if (chunk != NULL) hw__release(host, chunk, 0);
        free(buf);
        hw__refuse(host, stream, conn, 503, "host: out of memory for a request\n");
        return;
    }
    if (host->qtail)
        host->qtail->next = r;
    else
        host->qhead = r;
    host->qtail = r;
    pthread_cond_broadcast(&host->cv);
    pthread_mutex_unlock(&host->mu);
}

static int hw__append_part(hw_host* host, const uint8_t* p, size_t n)
{
    if (host->parts_len + n > host->parts_cap) {
        size_t c = host->parts_cap ? host->parts_cap : 4096;
        uint8_t* q;
        while (c < host->parts_len + n) c *= 2;
        if ((q = realloc(host->parts, c)) == NULL) return -1;
        host->parts = q;
        host->parts_cap = c;
    }
    memcpy(host->parts + host->parts_len, p, n);
    host->parts_len += n;
    return 0;
}

static void hw__request(hw_host* host, const hw_shm_desc* d)
{
    const uint8_t* payload = hw_shm_arena(host->h, HW__PEER) + d->offset;
    uint8_t* msg;
    size_t len;
    if ((d->flags & HW_SHM_DF_END) && !host->in_parts) {
        hw__accept(host, d->stream, d->conn, payload, d->length, d, NULL);
        return;
    }
    if (!host->in_parts) {
        size_t hint = d->length;
        host->in_parts = 1;
        host->parts_failed = 0;
        host->parts = NULL;
        host->parts_len = host->parts_cap = 0;
        if (d->length >= HW_BRIDGE_VIEW_HEADER_LEN) { /* body_off + body_len is the view's length */
            uint64_t total = (uint64_t)hw_bridge_get32(payload + HW_BRIDGE_VIEW_BODY_OFF_OFFSET) +
                             hw_bridge_get32(payload + HW_BRIDGE_VIEW_BODY_LEN_OFFSET);
            if (total > hint && total <= HW__MAX_VIEW_HINT) hint = (size_t)total;
        }
        if ((host->parts = malloc(hint)) == NULL)
            host->parts_failed = 1;
        else
            host->parts_cap = hint;
    }
    if (!host->parts_failed && hw__append_part(host, payload, d->length) != 0) {
        free(host->parts);
        host->parts = NULL;
        host->parts_failed = 1;
    }
    hw__release(host, d, 0);
    if (!(d->flags & HW_SHM_DF_END)) return;
    msg = host->parts;
    len = host->parts_len;
    host->in_parts = 0;
    host->parts = NULL;
    host->parts_len = host->parts_cap = 0;
    if (host->parts_failed) {
        hw__refuse(host, d->stream, d->conn, 503, "host: out of memory for a request view\n");
        return;
    }
    hw__accept(host, d->stream, d->conn, msg, len, NULL, msg);
}

static void hw__body_piece(hw_host* host, const hw_shm_desc* d)
{
    hw_host_request* r;
    pthread_mutex_lock(&host->mu);
    r = hw__live(host, d->stream);
    if (r == NULL || !r->body_stream || r->body_ended || r->body_failed || d->length == 0) {
        pthread_mutex_unlock(&host->mu);
        hw__release(host, d, 0);
        return;
    }
    if (r->npieces == r->cappieces) {
        size_t c = r->cappieces ? r->cappieces * 2 : 8;
        hw__piece* p;
        if (r->piece0 > 0) { /* compact first */
            memmove(r->pieces, r->pieces + r->piece0, (r->npieces - r->piece0) * sizeof *p);
            r->npieces -= r->piece0;
            r->piece0 = 0;
        }
        if (r->npieces == r->cappieces) {
            if ((p = realloc(r->pieces, c * sizeof *p)) == NULL) {
                r->body_failed = 1; /* the read fails as if the client went away */
                pthread_cond_broadcast(&host->cv);
                pthread_mutex_unlock(&host->mu);
                hw__release(host, d, 0);
                return;
            }
            r->pieces = p;
            r->cappieces = c;
        }
    }
    r->pieces[r->npieces].d = *d;
    r->pieces[r->npieces].data = hw_shm_arena(host->h, HW__PEER) + d->offset;
    r->pieces[r->npieces].len = d->length;
    r->npieces++;
    if (d->flags & HW_SHM_DF_END) r->body_ended = 1;
    pthread_cond_broadcast(&host->cv);
    pthread_mutex_unlock(&host->mu);
}

static void hw__stream_event(hw_host* host, const hw_shm_desc* d)
{
    hw_host_request* r;
    pthread_mutex_lock(&host->mu);
    r = hw__live(host, d->stream);
    if (r != NULL) {
        if (d->kind == HW_SHM_KIND_END) {
            if (r->body_stream && !r->body_failed) r->body_ended = 1;
        } else { /* CANCEL, client gone */
            atomic_store(&r->cancelled, 1);
            if (r->body_stream && !r->body_ended) r->body_failed = 1;
        }
        pthread_cond_broadcast(&host->cv);
    }
    pthread_mutex_unlock(&host->mu);
}

static void hw__take(hw_host* host, uint32_t n)
{
    hw_shm_header* h = host->h;
    uint32_t i;
    for (i = 0; i < n; i++) {
        hw_shm_desc d = *hw_shm_consumer_slot(&host->in, i); /* copy, then validate */
        int rc = hw_shm_desc_check(&d, HW_SHM_ROLE_DATA, &h->arenas[HW__PEER], host->min_epoch, host->peer_epoch);
        if (rc == HW_SHM_ESTALE && d.epoch != host->peer_epoch) {
            host->peer_epoch = atomic_load(&h->sides[HW__PEER].epoch); /* the engine may have rejoined */
            rc = hw_shm_desc_check(&d, HW_SHM_ROLE_DATA, &h->arenas[HW__PEER], host->min_epoch, host->peer_epoch);
        }
        if (rc != HW_SHM_OK) {
            hw_shm_count(h, HW__SIDE, rc == HW_SHM_ESTALE ? HW_SHM_COUNTER_STALE : HW_SHM_COUNTER_INVALID, 1);
            continue;
        }
        switch (d.kind) {
        case HW_SHM_KIND_REQUEST: hw__request(host, &d); break;
        case HW_SHM_KIND_BODY: hw__body_piece(host, &d); break;
        case HW_SHM_KIND_END: hw__stream_event(host, &d); break;
        case HW_SHM_KIND_CANCEL:
            if (d.stream == 0 && d.aux == HW_BRIDGE_CANCEL_DRAIN) {
                pthread_mutex_lock(&host->mu);
                host->draining = 1;
                pthread_cond_broadcast(&host->cv);
                pthread_mutex_unlock(&host->mu);
            } else if (d.aux == HW_BRIDGE_CANCEL_CLIENT_GONE) {
                hw__stream_event(host, &d);
            }
            break;
        default: hw__release(host, &d, 0); /* kinds a host does not act upon */
        }
    }
    hw_shm_consumer_consume(&host->in, n);
    hw__release_flush(host); /* the batch's releases at once */
    if (hw_shm_bell_wake(hw_shm_space_bell(h, HW_SHM_DATA_RING(HW__PEER))))
        hw_shm_count(h, HW__SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
}

/* ---- waiting ---- */

typedef int (*hw__ready_fn)(hw_host*, void*);

static int hw__ring_ready(void* arg)
{
    hw_host* host = arg;
    return atomic_load(&host->in.ctrl->tail) != host->in.next || !hw__usable(host);
}

static int hw__ready(hw_host* host, hw__ready_fn ready, void* arg)
{
    int r;
    pthread_mutex_lock(&host->mu);
    r = ready(host, arg);
    pthread_mutex_unlock(&host->mu);
    return r;
}

/* Drive ring 0 until ready holds, the deadline (0: none) passes or the
** engine is lost. Called holding the pump, without mu. */
static int hw__lead(hw_host* host, hw__ready_fn ready, void* arg, uint64_t deadline)
{
    for (;;) {
        uint32_t n, spin;
        int err;
        if (!hw__usable(host)) return HW_ECLOSED;
        n = hw_shm_consumer_available(&host->in, 64, &err);
        if (err != HW_SHM_OK) {
            atomic_store(&host->gone, 1); /* a corrupt ring: nothing more can be read */
            return HW_ECLOSED;
        }
        if (n > 0) hw__take(host, n);
        if (hw__ready(host, ready, arg)) return HW_OK;
        if (n > 0) continue;
        for (spin = 0; spin < HW__SPIN && !hw__ring_ready(host); spin++)
            ;
        if (hw__ring_ready(host)) continue;
        {
            uint64_t now = hw__now_ns(), slice = host->beat_ns;
            if (deadline != 0) {
                if (now >= deadline) return HW_ETIMEDOUT;
                if (deadline - now < slice) slice = deadline - now;
            }
            pthread_mutex_lock(&host->mu);
            if (ready(host, arg)) {
                pthread_mutex_unlock(&host->mu);
                return HW_OK;
            }
            host->pump_sleeping = 1;
            pthread_mutex_unlock(&host->mu);
            hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_SLEEPS, 1);
            hw_shm_bell_wait(hw_shm_data_bell(host->h, HW_SHM_DATA_RING(HW__PEER)), hw__ring_ready, host, slice);
            pthread_mutex_lock(&host->mu);
            host->pump_sleeping = 0;
            pthread_mutex_unlock(&host->mu);
            if (hw__ready(host, ready, arg)) return HW_OK;
        }
    }
}

int hw__await(hw_host* host, hw__ready_fn ready, void* arg, int timeout_ms)
{
    uint64_t deadline = timeout_ms < 0 ? 0 : hw__now_ns() + (uint64_t)timeout_ms * 1000000u;
    if (deadline == 0 && timeout_ms >= 0) deadline = 1;
    pthread_mutex_lock(&host->mu);
    for (;;) {
        uint64_t now;
        if (ready(host, arg)) break;
        if (!hw__usable(host)) {
            pthread_mutex_unlock(&host->mu);
            return HW_ECLOSED;
        }
        now = hw__now_ns();
        if (!host->pumping) {
            int rc;
            host->pumping = 1;
            pthread_mutex_unlock(&host->mu);
            rc = hw__lead(host, ready, arg, timeout_ms == 0 ? now + 1 : deadline);
            pthread_mutex_lock(&host->mu);
            host->pumping = 0;
            pthread_cond_broadcast(&host->cv);
            if (rc == HW_OK || ready(host, arg)) break;
            pthread_mutex_unlock(&host->mu);
            return rc;
        }
        if (deadline != 0 && now >= deadline) {
            pthread_mutex_unlock(&host->mu);
            return HW_ETIMEDOUT;
        }
        {
            struct timespec ts;
            uint64_t until = now + host->beat_ns;
            if (deadline != 0 && deadline < until) until = deadline;
            clock_gettime(CLOCK_REALTIME, &ts);
            until = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (until - now);
            ts.tv_sec = (time_t)(until / 1000000000u);
            ts.tv_nsec = (long)(until % 1000000000u);
            pthread_cond_timedwait(&host->cv, &host->mu, &ts);
        }
    }
    pthread_mutex_unlock(&host->mu);
    return HW_OK;
}

/* ---- next ---- */

static int hw__next_ready(hw_host* host, void* arg)
{
    (void)arg;
    return host->qhead != NULL || (host->draining && host->nlive == 0);
}

int hw_host_next(hw_host* host, int timeout_ms, hw_host_request** out)
{
    hw_host_request* r;
    int rc;
    if (out) *out = NULL;
    if (host == NULL || host->magic != HW__HOST_MAGIC || out == NULL) {
        hw__set_error(out == NULL ? "hw_host_next: out is NULL" : "hw_host_next: not an attached host");
        return HW_EINVAL;
    }
    rc = hw__await(host, hw__next_ready, NULL, timeout_ms);
    if (rc != HW_OK) {
        hw__set_error(rc == HW_ETIMEDOUT ? "hw_host_next: no request within the timeout"
                                         : "hw_host_next: the engine went away");
        return rc;
    }
    pthread_mutex_lock(&host->mu);
    r = host->qhead;
    if (r == NULL) {
        pthread_mutex_unlock(&host->mu);
        hw__set_error("hw_host_next: drained: a newer host took over");
        return HW_EDRAINED;
    }
    host->qhead = r->next;
    if (host->qhead == NULL) host->qtail = NULL;
    r->next = NULL;
    r->given = 1;
    host->out++;
    pthread_mutex_unlock(&host->mu);
    r->status = 200;
    r->head_ended = r->failed = 0;
    r->reason_len = 0;
    r->fields_end = HW_BRIDGE_RESPONSE_HEAD_LEN;
    r->streaming = 0;
    r->content_length = -1;
    r->written = 0;
    r->msg_len = 0;
    if (r->msg_cap < HW_BRIDGE_RESPONSE_HEAD_LEN) {
        char* m = realloc(r->msg, 256);
        if (m != NULL) {
            r->msg = m;
            r->msg_cap = 256;
        }
    }
    if (r->msg_cap >= HW_BRIDGE_RESPONSE_HEAD_LEN)
        r->msg_len = HW_BRIDGE_RESPONSE_HEAD_LEN;
    else
        r->failed = 1;
    atomic_store(&r->magic, HW__HOST_REQUEST_MAGIC);
    *out = r;
    return HW_OK;
}

/* ---- ending a request ---- */

void hw__finish(hw_host_request* r)
{
    hw_host* host = r->host;
    size_t i;
    int drained;
    pthread_mutex_lock(&host->mu);
    hw__index_remove(host, r);
    pthread_mutex_unlock(&host->mu);
    /* Give the engine its memory back before anyone may detach. */
    if (r->chunk.length > 0) hw__release(host, &r->chunk, 0);
    for (i = r->piece0; i < r->npieces; i++) hw__release(host, &r->pieces[i].d, 0);
    hw__release_flush(host);
    r->npieces = r->piece0 = 0;
    free(r->buf);
    r->buf = NULL;
    if (r->msg_cap > HW__HOST_KEEP_BUFFER) {
        free(r->msg);
        r->msg = NULL;
        r->msg_cap = 0;
    }
    if (r->reason_cap > HW__HOST_KEEP_BUFFER) {
        free(r->reason);
        r->reason = NULL;
        r->reason_cap = 0;
    }
    atomic_store(&r->magic, 0);
    pthread_mutex_lock(&host->mu);
    if (r->given) host->out--;
    r->given = 0;
    r->next = host->free_reqs;
    host->free_reqs = r;
    drained = host->draining && host->nlive == 0;
    if (drained) pthread_cond_broadcast(&host->cv);
    drained = drained && host->pump_sleeping;
    pthread_mutex_unlock(&host->mu);
    if (drained) hw_shm_bell_interrupt(hw_shm_data_bell(host->h, HW_SHM_DATA_RING(HW__PEER)));
}

/* ---- body reads ---- */

static int hw__body_ready(hw_host* host, void* arg)
{
    hw_host_request* r = arg;
    (void)host;
    return r->piece0 < r->npieces || r->body_ended || r->body_failed;
}

int hw_host_request_body_read(hw_host_request* req, void* buf, size_t cap, int timeout_ms, size_t* n)
{
    hw_host* host;
    hw_bridge_bytes inl;
    if (n) *n = 0;
    if (req == NULL || atomic_load(&req->magic) != HW__HOST_REQUEST_MAGIC || n == NULL || buf == NULL || cap == 0) {
        hw__set_error("hw_host_request_body_read: NULL or ended request, NULL buf or n, or cap 0");
        return HW_EINVAL;
    }
    host = req->host;
    if (req->expect_continue && req->body_stream && !req->continued) {
        int rc;
        req->continued = 1;
        if ((rc = hw__send_control(host, HW_SHM_KIND_CONTINUE, 0, req->id, req->conn)) != HW_OK) return rc;
    }
    inl = hw_bridge_view_body(req->view);
    if (req->inline_read < inl.len) {
        size_t k = inl.len - req->inline_read;
        if (k > cap) k = cap;
        memcpy(buf, inl.p + req->inline_read, k);
        req->inline_read += k;
        *n = k;
        return HW_OK;
    }
    if (!req->body_stream) return HW_OK;
    for (;;) {
        int rc;
        pthread_mutex_lock(&host->mu);
        if (req->piece0 < req->npieces) {
            hw__piece pc = req->pieces[req->piece0];
            size_t k;
            pthread_mutex_unlock(&host->mu);
            k = pc.len - req->piece_read;
            if (k > cap) k = cap;
            memcpy(buf, pc.data + req->piece_read, k);
            req->piece_read += k;
            if (req->piece_read == pc.len) {
                pthread_mutex_lock(&host->mu);
                req->piece0++;
                pthread_mutex_unlock(&host->mu);
                req->piece_read = 0;
                hw__release(host, &pc.d, 1);
            }
            *n = k;
            return HW_OK;
        }
        if (req->body_failed) {
            pthread_mutex_unlock(&host->mu);
            hw__set_error("hw_host_request_body_read: the client went away before the body was complete");
            return HW_ECANCELED;
        }
        if (req->body_ended) {
            pthread_mutex_unlock(&host->mu);
            return HW_OK;
        }
        pthread_mutex_unlock(&host->mu);
        rc = hw__await(host, hw__body_ready, req, timeout_ms);
        if (rc != HW_OK) {
            hw__set_error(rc == HW_ETIMEDOUT ? "hw_host_request_body_read: nothing came within the timeout"
                                             : "hw_host_request_body_read: the engine went away");
            return rc;
        }
    }
}

int hw_host_request_cancelled(const hw_host_request* req)
{
    if (req == NULL || atomic_load(&((hw_host_request*)req)->magic) != HW__HOST_REQUEST_MAGIC) return 0;
    return atomic_load(&((hw_host_request*)req)->cancelled) != 0;
}
