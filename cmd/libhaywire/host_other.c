/*
** host_other.c — where hostlib/ does not build (it needs Linux futexes;
** on Linux hostlib.c compiles it into the library instead), the host side
** of the C API in C: reading a request view in
** place (with the helpers of haywire_bridge.h) and building the response
** message, so that neither crosses into Go. Go is called to take the next
** request, to read a streamed body, to send a response (or its head, its
** pieces and its end when it streams), to ask about a cancellation and to
** detach (host_other.go).
**
** Request structs are recycled per host: hw_host_response_end, on any
** thread, pushes one on host->returned (a lock-free stack: pushes only);
** hw_host_next, on one thread at a time, takes the whole stack at once
** with an exchange, so no pop ever races a push (no ABA).
*/
#ifndef __linux__
#include <stdlib.h>
#include <string.h>
#include "capi.h"
#include "haywire_bridge_impl.h"
#include "_cgo_export.h"

static const hw_string hw__nostring = {NULL, 0};

static hw_string hw__string(const uint8_t* p, size_t len)
{
    hw_string s;
    s.value = (char*)p;
    s.length = len;
    return s;
}

/* ---- handles ---- */

hw_host* hw__host_new(uintptr_t handle)
{
    hw_host* h = calloc(1, sizeof *h);
    if (h) {
        h->magic = HW__HOST_MAGIC;
        h->handle = handle;
    }
    return h;
}

static int hw__host_ok(const hw_host* h) { return h != NULL && h->magic == HW__HOST_MAGIC; }

static const hw_host_request* hw__req(const hw_host_request* r)
{
    return r != NULL && r->magic == HW__HOST_REQUEST_MAGIC ? r : NULL;
}

static void hw__request_free(hw_host_request* r)
{
    free(r->reason);
    free(r->msg);
    free(r);
}

/* A free request struct: from this thread's list, else the returned stack,
** else malloc. */
static hw_host_request* hw__request_get(hw_host* h)
{
    hw_host_request* r = h->mine;
    if (r == NULL) {
        r = __atomic_exchange_n(&h->returned, NULL, __ATOMIC_ACQUIRE);
    }
    if (r != NULL) {
        h->mine = r->next;
        return r;
    }
    r = calloc(1, sizeof *r);
    if (r) r->host = h;
    return r;
}

/* Give r back to its host's stack, dropping large buffers. */
static void hw__request_put(hw_host_request* r)
{
    hw_host* h = r->host;
    r->magic = 0;
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
    r->next = __atomic_load_n(&h->returned, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&h->returned, &r->next, r, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
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

/* ---- the host ---- */

int hw_host_attach(const char* region_name, const char* region_dir, hw_host** out)
{
    if (out == NULL) {
        hw__set_error("hw_host_attach: out is NULL");
        return HW_EINVAL;
    }
    *out = NULL;
    return hw__host_attach_go((char*)region_name, (char*)region_dir, out);
}

int hw_host_next(hw_host* host, int timeout_ms, hw_host_request** out)
{
    hw_host_request* r;
    int rc;
    if (out) *out = NULL;
    if (!hw__host_ok(host) || out == NULL) {
        hw__set_error(out == NULL ? "hw_host_next: out is NULL" : "hw_host_next: not an attached host");
        return HW_EINVAL;
    }
    r = host->spare;
    if (r == NULL && (r = hw__request_get(host)) == NULL) {
        hw__set_error("hw_host_next: out of memory");
        return HW_ENOMEM;
    }
    host->spare = r;
    rc = hw__host_next_go(host->handle, timeout_ms, r);
    if (rc != HW_OK) return rc;
    host->spare = NULL;
    r->status = 200;
    r->head_ended = 0;
    r->failed = 0;
    r->reason_len = 0;
    r->msg_len = 0;
    r->fields_end = HW_BRIDGE_RESPONSE_HEAD_LEN;
    r->streaming = 0;
    if (hw__grow(&r->msg, &r->msg_cap, HW_BRIDGE_RESPONSE_HEAD_LEN) == 0)
        r->msg_len = HW_BRIDGE_RESPONSE_HEAD_LEN;
    else
        r->failed = 1;
    __atomic_add_fetch(&host->outstanding, 1, __ATOMIC_RELAXED);
    r->magic = HW__HOST_REQUEST_MAGIC;
    *out = r;
    return HW_OK;
}

int hw_host_leave(hw_host* host)
{
    if (!hw__host_ok(host)) {
        hw__set_error("hw_host_leave: not an attached host");
        return HW_EINVAL;
    }
    return hw__host_leave_go(host->handle);
}

int hw_host_detach(hw_host* host)
{
    int rc, n;
    if (host == NULL) return HW_OK;
    if (!hw__host_ok(host)) {
        hw__set_error("hw_host_detach: not an attached host");
        return HW_EINVAL;
    }
    /* Acquire: pairs with the release in hw_host_response_end, which
    ** touches the host last. */
    n = __atomic_load_n(&host->outstanding, __ATOMIC_ACQUIRE);
    if (n > 0) {
        hw__set_error("hw_host_detach: requests handed out by hw_host_next are not ended; end them first");
        return HW_ESTATE;
    }
    rc = hw__host_detach_go(host->handle);
    if (rc == HW_ESTATE) return rc;
    host->magic = 0;
    if (host->spare) hw__request_free(host->spare);
    for (hw_host_request* l = host->mine; l;) {
        hw_host_request* next = l->next;
        hw__request_free(l);
        l = next;
    }
    for (hw_host_request* l = __atomic_exchange_n(&host->returned, NULL, __ATOMIC_ACQUIRE); l;) {
        hw_host_request* next = l->next;
        hw__request_free(l);
        l = next;
    }
    free(host);
    return HW_OK;
}

/* ---- reading the request ---- */

/* The accessors that return one span of the view as it is. */
#define HW__VIEW_STRING(name, getter)           \
    hw_string name(const hw_host_request* req)  \
    {                                           \
        hw_bridge_bytes b;                      \
        if (!hw__req(req)) return hw__nostring; \
        b = getter(req->view);                  \
        return hw__string(b.p, b.len);          \
    }
HW__VIEW_STRING(hw_host_request_method, hw_bridge_view_method)
HW__VIEW_STRING(hw_host_request_target, hw_bridge_view_target)
HW__VIEW_STRING(hw_host_request_query, hw_bridge_view_query)
HW__VIEW_STRING(hw_host_request_host, hw_bridge_view_host)
HW__VIEW_STRING(hw_host_request_body, hw_bridge_view_body)
#undef HW__VIEW_STRING

int hw_host_request_method_id(const hw_host_request* req)
{
    return hw__req(req) ? hw_bridge_view_method_id(req->view) : 0;
}

hw_string hw_host_request_path(const hw_host_request* req)
{
    hw_bridge_bytes b;
    if (!hw__req(req)) return hw__nostring;
    b = hw_bridge_view_path(req->view);
    if (b.len == 0) return hw__string((const uint8_t*)"/", 1); /* absolute-form without a path */
    return hw__string(b.p, b.len);
}

int hw_host_request_has_query(const hw_host_request* req)
{
    return hw__req(req) && hw_bridge_view_query(req->view).p != NULL;
}

int hw_host_request_http_minor(const hw_host_request* req)
{
    return hw__req(req) ? hw_bridge_view_minor(req->view) : 0;
}

int hw_host_request_keep_alive(const hw_host_request* req)
{
    return hw__req(req) && (hw_bridge_view_flags(req->view) & HW_BRIDGE_VIEW_F_KEEP_ALIVE) != 0;
}

size_t hw_host_request_header_count(const hw_host_request* req)
{
    return hw__req(req) ? hw_bridge_view_num_fields(req->view) : 0;
}

int hw_host_request_header_at(const hw_host_request* req, size_t index, hw_string* name, hw_string* value)
{
    hw_bridge_bytes n, v;
    if (!hw__req(req) || name == NULL || value == NULL) {
        hw__set_error("hw_host_request_header_at: NULL argument or ended request");
        return HW_EINVAL;
    }
    if (index >= hw_bridge_view_num_fields(req->view) ||
        hw_bridge_view_field(req->view, (uint32_t)index, &n, &v) != 0) {
        hw__set_error("hw_host_request_header_at: index past the last header field");
        return HW_EINVAL;
    }
    *name = hw__string(n.p, n.len);
    *value = hw__string(v.p, v.len);
    return HW_OK;
}

static int hw__lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

hw_string hw_host_request_header(const hw_host_request* req, const char* name)
{
    hw_bridge_bytes n, v;
    size_t len;
    uint32_t i, count;
    if (!hw__req(req) || name == NULL) return hw__nostring;
    len = strlen(name);
    count = hw_bridge_view_num_fields(req->view);
    for (i = 0; i < count; i++) {
        size_t j;
        hw_bridge_view_field(req->view, i, &n, &v);
        if (n.len != len) continue;
        for (j = 0; j < len && hw__lower(n.p[j]) == hw__lower((unsigned char)name[j]); j++)
            ;
        if (j == len) return hw__string(v.p, v.len); /* v.p points into the head: non-NULL even if empty */
    }
    return hw__nostring;
}

uint64_t hw_host_request_id(const hw_host_request* req) { return hw__req(req) ? req->id : 0; }

uint64_t hw_host_request_connection_id(const hw_host_request* req)
{
    return hw__req(req) ? hw_bridge_view_conn_id(req->view) : 0;
}

hw_string hw_host_request_remote_address(const hw_host_request* req)
{
    if (!hw__req(req)) return hw__nostring;
    return hw__string((const uint8_t*)req->remote_addr, req->remote_len);
}

int hw_host_request_remote_port(const hw_host_request* req) { return hw__req(req) ? req->remote_port : 0; }

hw_string hw_host_request_local_address(const hw_host_request* req)
{
    if (!hw__req(req)) return hw__nostring;
    return hw__string((const uint8_t*)req->local_addr, req->local_len);
}

int hw_host_request_local_port(const hw_host_request* req) { return hw__req(req) ? req->local_port : 0; }

int hw_host_request_body_read(hw_host_request* req, void* buf, size_t cap, int timeout_ms, size_t* n)
{
    if (n) *n = 0;
    if (!hw__req(req) || n == NULL || buf == NULL || cap == 0) {
        hw__set_error("hw_host_request_body_read: NULL or ended request, NULL buf or n, or cap 0");
        return HW_EINVAL;
    }
    return hw__host_read_go(req->host->handle, req->id, (char*)buf, cap, timeout_ms, n);
}

int hw_host_request_cancelled(const hw_host_request* req)
{
    if (!hw__req(req)) return 0;
    return hw__host_cancelled_go(req->host->handle, req->id) == 1;
}

/* ---- building the response ---- */

/* req if it is a live request, else NULL with fn's message recorded. */
static hw_host_request* hw__open(hw_host_request* req, const char* msg)
{
    if (!hw__req(req)) {
        hw__set_error(msg);
        return NULL;
    }
    return req;
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
    rc = hw__host_begin_go(req->host->handle, req->id, req->msg, req->msg_len);
    if (rc == HW_OK || rc == HW_ECLOSED) {
        /* Streaming from here, even with the engine gone: end or abort it. */
        req->streaming = 1;
        req->msg_len = req->fields_end;
    } else {
        m[HW_BRIDGE_RESPONSE_FLAGS_OFFSET] = 0;
    }
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
        if (len == 0) return HW_OK;
        return hw__host_write_go(req->host->handle, req->id, (char*)data, len);
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

int hw_host_response_end(hw_host_request* req)
{
    static const char oom[] = "host: out of memory building the response\n";
    uint8_t fallback[HW_BRIDGE_RESPONSE_HEAD_LEN + sizeof oom];
    hw_host* host;
    char* msg;
    size_t len;
    int rc, built = HW_OK;
    if (!hw__open(req, "hw_host_response_end: NULL or already ended request")) return HW_EINVAL;
    /* A second end of the same request (racing) finds the magic gone. */
    if (!__atomic_compare_exchange_n(&req->magic, &(uint32_t){HW__HOST_REQUEST_MAGIC}, HW__HOST_REQUEST_MAGIC + 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        hw__set_error("hw_host_response_end: request already ended");
        return HW_EINVAL;
    }
    host = req->host;
    if (req->streaming) {
        rc = hw__host_finish_go(host->handle, req->id);
        hw__request_put(req);
        __atomic_sub_fetch(&host->outstanding, 1, __ATOMIC_RELEASE);
        return rc;
    }
    built = hw__end_head(req);
    if (built == HW_OK) {
        msg = req->msg;
        len = req->msg_len;
        hw_bridge_put64((uint8_t*)msg + HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET, (uint64_t)(len - req->fields_end));
    } else {
        len = hw_bridge_response_encode(fallback, sizeof fallback, 500, 0, NULL, NULL, 0, sizeof oom - 1, oom,
                                        sizeof oom - 1);
        msg = (char*)fallback;
    }
    rc = hw__host_end_go(host->handle, req->id, msg, len);
    hw__request_put(req);
    /* Release: the last touch of host; hw_host_detach acquires. */
    __atomic_sub_fetch(&host->outstanding, 1, __ATOMIC_RELEASE);
    if (rc == HW_OK && built != HW_OK) {
        hw__set_error("hw_host_response_end: out of memory: answered 500");
        return HW_ENOMEM;
    }
    return rc;
}

int hw_host_response_abort(hw_host_request* req)
{
    hw_host* host;
    int rc;
    if (!hw__open(req, "hw_host_response_abort: NULL or already ended request")) return HW_EINVAL;
    if (!__atomic_compare_exchange_n(&req->magic, &(uint32_t){HW__HOST_REQUEST_MAGIC}, HW__HOST_REQUEST_MAGIC + 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        hw__set_error("hw_host_response_abort: request already ended");
        return HW_EINVAL;
    }
    host = req->host;
    rc = hw__host_abort_go(host->handle, req->id);
    hw__request_put(req);
    /* Release: the last touch of host; hw_host_detach acquires. */
    __atomic_sub_fetch(&host->outstanding, 1, __ATOMIC_RELEASE);
    return rc;
}

#endif /* !__linux__ */
