/*
** response.c -- building a response message (haywire_bridge.h section
** 4) and sending it through the host's arena (arena 1) and data ring
** (ring 1), whole or streamed; taking chunks back from ring 3.
**
** The sender is serialised by host->smu. A message goes as one chunk per
** descriptor, MORE on all but the last, published in batches (one index
** store per batch). A streamed response has at most HW__STREAM_CHUNKS
** BODY chunks lent at once: a writer that must wait for returns drops
** smu and sleeps on ring 3's bell (one sleeper; others nap briefly).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"

/* ---- arena 1 and ring 3 (smu held) ---- */

static int hw__alloc_chunk(hw_host* host, uint32_t* off, uint32_t* gen)
{
    uint32_t i;
    if (host->nfree == 0) return 0;
    i = host->free_stack[--host->nfree];
    if (++host->gen[i] == 0) host->gen[i] = 1;
    host->lent[i] = 1;
    *off = i * host->chunk_size;
    *gen = host->gen[i];
    return 1;
}

int hw__collect_locked(hw_host* host)
{
    if (!hw__usable(host)) return HW_ECLOSED;
    return hw__collect_returns(host);
}

/* Take back the chunks the engine released on ring 3, also after it went
** away (detach reclaims it: only what it still held counts). smu held. */
int hw__collect_returns(hw_host* host)
{
    hw_shm_header* h = host->h;
    uint32_t n, i;
    int err;
    while ((n = hw_shm_consumer_available(&host->rel_in, 64, &err)) > 0) {
        for (i = 0; i < n; i++) {
            hw_shm_desc d = *hw_shm_consumer_slot(&host->rel_in, i);
            int rc = hw_shm_desc_check(&d, HW_SHM_ROLE_RELEASE, &h->arenas[HW__SIDE], host->epoch, host->epoch);
            uint32_t k = d.offset / host->chunk_size;
            if (rc == HW_SHM_OK && (k >= host->chunk_count || !host->lent[k] || host->gen[k] != d.gen))
                rc = HW_SHM_EDESC;
            if (rc != HW_SHM_OK) {
                hw_shm_count(h, HW__SIDE, rc == HW_SHM_ESTALE ? HW_SHM_COUNTER_STALE : HW_SHM_COUNTER_INVALID, 1);
                continue;
            }
            host->lent[k] = 0;
            host->free_stack[host->nfree++] = k;
            if (host->chunk_owner[k] != NULL) {
                host->chunk_owner[k]->body_out--;
                host->chunk_owner[k] = NULL;
            }
        }
        hw_shm_consumer_consume(&host->rel_in, n);
        if (hw_shm_bell_wake(hw_shm_space_bell(h, HW_SHM_RELEASE_RING(HW__SIDE))))
            hw_shm_count(h, HW__SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
    }
    if (err != HW_SHM_OK) {
        atomic_store(&host->gone, 1);
        return HW_ECLOSED;
    }
    return HW_OK;
}

static int hw__returns_ready(void* arg)
{
    hw_host* host = arg;
    return atomic_load(&host->rel_in.ctrl->tail) != host->rel_in.next || !hw__usable(host);
}

static int hw__space_ready(void* arg)
{
    hw_host* host = arg;
    hw_shm_producer* p = &host->out_ring;
    return p->capacity - (p->next - atomic_load(&p->ctrl->head)) > 0 || !hw__usable(host);
}

/* Wait a while for chunks to come back, smu not held. */
static void hw__await_returns(hw_host* host)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&host->collector, &expect, 1)) {
        hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_SLEEPS, 1);
        hw_shm_bell_wait(hw_shm_data_bell(host->h, HW_SHM_RELEASE_RING(HW__SIDE)), hw__returns_ready, host,
                         host->beat_ns < 20000000u ? host->beat_ns : 20000000u);
        atomic_store(&host->collector, 0);
    } else {
        hw__sleep_ns(200000);
    }
}

/* Reserve at least one slot of ring 1, waiting for room. */
static uint32_t hw__reserve(hw_host* host, uint32_t want, int* rc)
{
    int err;
    uint32_t k;
    *rc = HW_OK;
    for (;;) {
        if (!hw__usable(host)) {
            *rc = HW_ECLOSED;
            return 0;
        }
        k = hw_shm_producer_reserve(&host->out_ring, want, &err);
        if (err != HW_SHM_OK) {
            atomic_store(&host->gone, 1);
            *rc = HW_ECLOSED;
            return 0;
        }
        if (k > 0) return k;
        hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_RING_FULL, 1);
        hw_shm_bell_wait(hw_shm_space_bell(host->h, HW_SHM_DATA_RING(HW__SIDE)), hw__space_ready, host, host->beat_ns);
    }
}

static void hw__commit(hw_host* host, uint32_t n)
{
    if (n == 0) return;
    hw_shm_producer_commit(&host->out_ring, n);
    if (hw_shm_bell_wake(hw_shm_data_bell(host->h, HW_SHM_DATA_RING(HW__SIDE))))
        hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_WAKEUPS, 1);
}

int hw__send(hw_host* host, uint64_t stream, uint32_t conn, const uint8_t* msg, size_t len)
{
    size_t sent = 0;
    int rc = HW_OK;
    pthread_mutex_lock(&host->smu);
    hw__collect_locked(host);
    while (sent < len && rc == HW_OK) {
        size_t left = len - sent, pieces = (left + host->chunk_size - 1) / host->chunk_size;
        uint32_t k = hw__reserve(host, pieces > 64 ? 64 : (uint32_t)pieces, &rc), i;
        for (i = 0; i < k; i++) {
            hw_shm_desc* d;
            uint32_t off, gen, m;
            if (!hw__alloc_chunk(host, &off, &gen)) {
                hw__commit(host, i);
                i = k = 0;
                hw_shm_count(host->h, HW__SIDE, HW_SHM_COUNTER_ARENA_FULL, 1);
                pthread_mutex_unlock(&host->smu);
                hw__await_returns(host);
                pthread_mutex_lock(&host->smu);
                rc = hw__collect_locked(host);
                break;
            }
            m = len - sent > host->chunk_size ? host->chunk_size : (uint32_t)(len - sent);
            memcpy(hw_shm_arena(host->h, HW__SIDE) + off, msg + sent, m);
            sent += m;
            d = hw_shm_producer_slot(&host->out_ring, i);
            memset(d, 0, sizeof *d);
            d->kind = HW_SHM_KIND_RESPONSE;
            d->flags = sent == len ? HW_SHM_DF_END : HW_SHM_DF_MORE;
            d->epoch = host->epoch;
            d->stream = stream;
            d->conn = conn;
            d->offset = off;
            d->length = m;
            d->gen = gen;
        }
        if (!hw__usable(host)) rc = HW_ECLOSED;
        if (rc == HW_OK) hw__commit(host, k);
    }
    pthread_mutex_unlock(&host->smu);
    if (rc != HW_OK) hw__set_error("the engine went away");
    return rc;
}

int hw__send_control(hw_host* host, uint8_t kind, uint16_t aux, uint64_t stream, uint32_t conn)
{
    int rc;
    hw_shm_desc* d;
    pthread_mutex_lock(&host->smu);
    if (hw__reserve(host, 1, &rc) == 1 && hw__usable(host)) {
        d = hw_shm_producer_slot(&host->out_ring, 0);
        memset(d, 0, sizeof *d);
        d->kind = kind;
        d->aux = aux;
        d->epoch = host->epoch;
        d->stream = stream;
        d->conn = conn;
        hw__commit(host, 1);
    } else {
        rc = HW_ECLOSED;
    }
    pthread_mutex_unlock(&host->smu);
    if (rc != HW_OK) hw__set_error("the engine went away");
    return rc;
}

void hw__refuse(hw_host* host, uint64_t stream, uint32_t conn, int status, const char* text)
{
    uint8_t buf[512];
    size_t n = strlen(text), len;
    if (n > sizeof buf - HW_BRIDGE_RESPONSE_HEAD_LEN) n = sizeof buf - HW_BRIDGE_RESPONSE_HEAD_LEN;
    len = hw_bridge_response_encode(buf, sizeof buf, status, 0, NULL, NULL, 0, -1, text, n);
    if (len > 0) hw__send(host, stream, conn, buf, len);
}

/* Streamed body bytes, as BODY pieces; returns bytes sent. */
static size_t hw__put_body(hw_host_request* req, const uint8_t* p, size_t len, int* rc)
{
    hw_host* host = req->host;
    size_t sent = 0;
    *rc = HW_OK;
    while (sent < len) {
        size_t want;
        uint32_t k = 0, i;
        pthread_mutex_lock(&host->smu);
        if ((*rc = hw__collect_locked(host)) != HW_OK) {
            pthread_mutex_unlock(&host->smu);
            return sent;
        }
        want = (len - sent + host->chunk_size - 1) / host->chunk_size;
        if (want > (size_t)(HW__STREAM_CHUNKS - req->body_out)) want = (size_t)(HW__STREAM_CHUNKS - req->body_out);
        if (want > host->nfree) want = host->nfree;
        if (want > 0) k = hw__reserve(host, (uint32_t)want, rc);
        for (i = 0; i < k; i++) {
            uint32_t off, gen, m;
            hw_shm_desc* d;
            hw__alloc_chunk(host, &off, &gen); /* counted free above */
            m = len - sent > host->chunk_size ? host->chunk_size : (uint32_t)(len - sent);
            memcpy(hw_shm_arena(host->h, HW__SIDE) + off, p + sent, m);
            sent += m;
            d = hw_shm_producer_slot(&host->out_ring, i);
            memset(d, 0, sizeof *d);
            d->kind = HW_SHM_KIND_BODY;
            d->epoch = host->epoch;
            d->stream = req->id;
            d->conn = req->conn;
            d->offset = off;
            d->length = m;
            d->gen = gen;
            host->chunk_owner[off / host->chunk_size] = req;
            req->body_out++;
        }
        if (k > 0 && hw__usable(host)) hw__commit(host, k);
        pthread_mutex_unlock(&host->smu);
        if (*rc != HW_OK || !hw__usable(host)) {
            *rc = HW_ECLOSED;
            return sent;
        }
        if (k == 0) hw__await_returns(host);
    }
    return sent;
}

static void hw__unstream(hw_host_request* req)
{
    hw_host* host = req->host;
    uint32_t i;
    pthread_mutex_lock(&host->smu);
    hw__collect_locked(host);
    /* The chunks the engine still holds stay lent but no longer count
    ** against req (its struct is recycled): forget their owner. body_out
    ** counts them, so most ends scan nothing. */
    for (i = 0; i < host->chunk_count && req->body_out > 0; i++)
        if (host->chunk_owner[i] == req) {
            host->chunk_owner[i] = NULL;
            req->body_out--;
        }
    pthread_mutex_unlock(&host->smu);
}

static int hw__grow(char** p, size_t* cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) {
        if (n > (size_t)-1 / 2) return -1;
        n *= 2;
    }
    char* q = realloc(*p, n);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* ---- building the response ---- */

/* req if it is a live request, else NULL with msg recorded. */
static hw_host_request* hw__open(hw_host_request* req, const char* msg)
{
    if (req == NULL || atomic_load(&req->magic) != HW__HOST_REQUEST_MAGIC) {
        hw__set_error(msg);
        return NULL;
    }
    return req;
}

/* Claim the right to end req (one ender wins). */
static int hw__claim_end(hw_host_request* req)
{
    uint32_t expect = HW__HOST_REQUEST_MAGIC;
    return atomic_compare_exchange_strong(&req->magic, &expect, HW__HOST_REQUEST_MAGIC + 1);
}

static int hw__tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hw__safe_value(const char* p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') return 0;
    return 1;
}

int hw_host_response_status(hw_host_request* req, int status, const hw_string* reason)
{
    size_t n = reason && reason->value ? reason->length : 0;
    if (!hw__open(req, "hw_host_response_status: NULL or ended request")) return HW_EINVAL;
    if (req->head_ended) {
        hw__set_error("hw_host_response_status: the body was started; set the status before the first write");
        return HW_ESTATE;
    }
    if (status < 200 || status > HW_BRIDGE_RESPONSE_MAX_STATUS) {
        hw__set_error("hw_host_response_status: status outside 200..999");
        return HW_EINVAL;
    }
    if (n > HW_BRIDGE_RESPONSE_MAX_REASON || !hw__safe_value(n ? reason->value : "", n)) {
        hw__set_error("hw_host_response_status: reason longer than 65535 bytes or holding CR, LF or NUL");
        return HW_EINVAL;
    }
    if (hw__grow(&req->reason, &req->reason_cap, n) != 0) {
        hw__set_error("hw_host_response_status: out of memory");
        return HW_ENOMEM;
    }
    if (n) memcpy(req->reason, reason->value, n);
    req->reason_len = n;
    req->status = status;
    return HW_OK;
}

int hw_host_response_header(hw_host_request* req, const hw_string* name, const hw_string* value)
{
    size_t nl, vl, at;
    if (!hw__open(req, "hw_host_response_header: NULL or ended request")) return HW_EINVAL;
    if (name == NULL || value == NULL || name->value == NULL || (value->value == NULL && value->length > 0)) {
        hw__set_error("hw_host_response_header: NULL name or value");
        return HW_EINVAL;
    }
    if (req->head_ended) {
        hw__set_error("hw_host_response_header: the body was started; add fields before the first write");
        return HW_ESTATE;
    }
    nl = name->length;
    vl = value->length;
    if (nl == 0) {
        hw__set_error("hw_host_response_header: empty field name");
        return HW_EINVAL;
    }
    for (size_t i = 0; i < nl; i++)
        if (!hw__tchar((unsigned char)name->value[i])) {
            hw__set_error("hw_host_response_header: the field name is not an HTTP token");
            return HW_EINVAL;
        }
    if (!hw__safe_value(vl ? value->value : "", vl)) {
        hw__set_error("hw_host_response_header: the field value holds CR, LF or NUL");
        return HW_EINVAL;
    }
    if (req->failed || hw__grow(&req->msg, &req->msg_cap, req->msg_len + nl + vl + 4) != 0) {
        hw__set_error("hw_host_response_header: out of memory");
        return HW_ENOMEM;
    }
    at = req->msg_len;
    memcpy(req->msg + at, name->value, nl);
    at += nl;
    memcpy(req->msg + at, ": ", 2);
    at += 2;
    if (vl) memcpy(req->msg + at, value->value, vl);
    at += vl;
    memcpy(req->msg + at, "\r\n", 2);
    req->msg_len = at + 2;
    req->fields_end = req->msg_len;
    return HW_OK;
}

/* End the head: move the reason in front of the header block and fill in
** the fixed head but the content length. */
static int hw__end_head(hw_host_request* req)
{
    size_t fields = req->fields_end - HW_BRIDGE_RESPONSE_HEAD_LEN;
    uint8_t* m;
    if (req->head_ended) return HW_OK;
    if (req->failed || hw__grow(&req->msg, &req->msg_cap, req->msg_len + req->reason_len) != 0) {
        req->failed = 1;
        return HW_ENOMEM;
    }
    m = (uint8_t*)req->msg;
    if (req->reason_len) {
        memmove(m + HW_BRIDGE_RESPONSE_HEAD_LEN + req->reason_len, m + HW_BRIDGE_RESPONSE_HEAD_LEN, fields);
        memcpy(m + HW_BRIDGE_RESPONSE_HEAD_LEN, req->reason, req->reason_len);
        req->msg_len += req->reason_len;
        req->fields_end += req->reason_len;
    }
    hw_bridge_put16(m + HW_BRIDGE_RESPONSE_STATUS_OFFSET, (uint16_t)req->status);
    m[HW_BRIDGE_RESPONSE_FLAGS_OFFSET] = 0;
    m[HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET] = (uint8_t)req->reason_len;
    hw_bridge_put32(m + HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET, (uint32_t)fields);
    req->head_ended = 1;
    return HW_OK;
}

int hw_host_response_begin(hw_host_request* req, int64_t content_length)
{
    uint8_t* m;
    size_t written;
    int rc;
    if (!hw__open(req, "hw_host_response_begin: NULL or ended request")) return HW_EINVAL;
    if (req->streaming) {
        hw__set_error("hw_host_response_begin: the response streams already");
        return HW_ESTATE;
    }
    if (content_length < -1) {
        hw__set_error("hw_host_response_begin: content_length below -1");
        return HW_EINVAL;
    }
    if (hw__end_head(req) != HW_OK) {
        hw__set_error("hw_host_response_begin: out of memory");
        return HW_ENOMEM;
    }
    written = req->msg_len - req->fields_end;
    if (content_length >= 0 && (uint64_t)content_length < (uint64_t)written) {
        hw__set_error("hw_host_response_begin: content_length is below the bytes already written");
        return HW_EINVAL;
    }
    m = (uint8_t*)req->msg;
    m[HW_BRIDGE_RESPONSE_FLAGS_OFFSET] = HW_BRIDGE_RESPONSE_F_STREAM;
    hw_bridge_put64(m + HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET, (uint64_t)content_length);
    /* Streaming from here, even with the engine gone: end or abort it. */
    req->streaming = 1;
    req->content_length = content_length;
    req->written = (int64_t)written;
    atomic_store(&req->state, HW__STREAMING);
    rc = hw__send(req->host, req->id, req->conn, (const uint8_t*)req->msg, req->msg_len);
    req->msg_len = req->fields_end;
    return rc;
}

int hw_host_response_write(hw_host_request* req, const void* data, size_t len)
{
    if (!hw__open(req, "hw_host_response_write: NULL or ended request")) return HW_EINVAL;
    if (data == NULL && len > 0) {
        hw__set_error("hw_host_response_write: data is NULL");
        return HW_EINVAL;
    }
    if (req->streaming) {
        int rc;
        size_t n;
        if (len == 0) return HW_OK;
        if (req->content_length >= 0 && (uint64_t)req->written + len > (uint64_t)req->content_length) {
            hw__set_error("hw_host_response_write: the body would be longer than its content_length");
            return HW_EINVAL;
        }
        n = hw__put_body(req, data, len, &rc);
        req->written += (int64_t)n;
        if (rc != HW_OK) hw__set_error("hw_host_response_write: the engine went away");
        return rc;
    }
    if (hw__end_head(req) != HW_OK || req->msg_len + len < len ||
        hw__grow(&req->msg, &req->msg_cap, req->msg_len + len) != 0) {
        hw__set_error("hw_host_response_write: out of memory");
        return HW_ENOMEM;
    }
    if (len) memcpy(req->msg + req->msg_len, data, len);
    req->msg_len += len;
    return HW_OK;
}

static int hw__abort(hw_host_request* req)
{
    int rc = hw__send_control(req->host, HW_SHM_KIND_CANCEL, HW_BRIDGE_CANCEL_HOST_ABORT, req->id, req->conn);
    if (req->streaming) hw__unstream(req);
    atomic_store(&req->state, HW__ENDED);
    hw__finish(req);
    return rc;
}

int hw_host_response_end(hw_host_request* req)
{
    static const char oom[] = "host: out of memory building the response\n";
    uint8_t fallback[HW_BRIDGE_RESPONSE_HEAD_LEN + sizeof oom];
    const uint8_t* msg;
    size_t len;
    int rc, built;
    if (!hw__open(req, "hw_host_response_end: NULL or already ended request")) return HW_EINVAL;
    if (!hw__claim_end(req)) {
        hw__set_error("hw_host_response_end: request already ended");
        return HW_EINVAL;
    }
    if (req->streaming) {
        if (req->content_length >= 0 && req->written < req->content_length) {
            rc = hw__abort(req);
            if (rc != HW_OK) return rc;
            hw__set_error("hw_host_response_end: fewer bytes than content_length were written: aborted");
            return HW_ESTATE;
        }
        rc = hw__send_control(req->host, HW_SHM_KIND_END, 0, req->id, req->conn);
        hw__unstream(req);
        atomic_store(&req->state, HW__ENDED);
        hw__finish(req);
        return rc;
    }
    built = hw__end_head(req);
    if (built == HW_OK) {
        msg = (const uint8_t*)req->msg;
        len = req->msg_len;
        hw_bridge_put64((uint8_t*)req->msg + HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET,
                        (uint64_t)(len - req->fields_end));
    } else {
        len = hw_bridge_response_encode(fallback, sizeof fallback, 500, 0, NULL, NULL, 0, sizeof oom - 1, oom,
                                        sizeof oom - 1);
        msg = fallback;
    }
    rc = hw__send(req->host, req->id, req->conn, msg, len);
    atomic_store(&req->state, HW__ENDED);
    hw__finish(req);
    if (rc == HW_OK && built != HW_OK) {
        hw__set_error("hw_host_response_end: out of memory: answered 500");
        return HW_ENOMEM;
    }
    return rc;
}

int hw_host_response_abort(hw_host_request* req)
{
    if (!hw__open(req, "hw_host_response_abort: NULL or already ended request")) return HW_EINVAL;
    if (!hw__claim_end(req)) {
        hw__set_error("hw_host_response_abort: request already ended");
        return HW_EINVAL;
    }
    return hw__abort(req);
}
