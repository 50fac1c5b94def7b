/*
** haywire_bridge_impl.h -- the reference implementation of the helpers of
** haywire_bridge.h (its section 6): static inline functions, stb style.
**
** haywire_bridge.h is the specification and documents every function at
** its declaration; this header only defines them. Include this header (it
** includes haywire_bridge.h) to call them:
**
**   #include "haywire_bridge_impl.h"
**
** Language: C11, ISO C only.
*/
#ifndef HAYWIRE_BRIDGE_IMPL_H
#define HAYWIRE_BRIDGE_IMPL_H

#include "haywire_bridge.h"

#include <string.h>

static inline const char* hw_bridge_strerror(int code)
{
    switch (code) {
#define HW_BRIDGE__MSG(name, c, msg) \
    case (c): return (msg);
        HW_BRIDGE_ERRNO_MAP(HW_BRIDGE__MSG)
#undef HW_BRIDGE__MSG
    }
    return "unknown error";
}

static inline uint16_t hw_bridge_get16(const uint8_t* p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static inline uint32_t hw_bridge_get32(const uint8_t* p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t hw_bridge_get64(const uint8_t* p)
{
    return (uint64_t)hw_bridge_get32(p) | (uint64_t)hw_bridge_get32(p + 4) << 32;
}
static inline int64_t hw_bridge_geti64(const uint8_t* p)
{
    uint64_t u = hw_bridge_get64(p);
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}
static inline void hw_bridge_put16(uint8_t* p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void hw_bridge_put32(uint8_t* p, uint32_t v)
{
    hw_bridge_put16(p, (uint16_t)v);
    hw_bridge_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void hw_bridge_put64(uint8_t* p, uint64_t v)
{
    hw_bridge_put32(p, (uint32_t)v);
    hw_bridge_put32(p + 4, (uint32_t)(v >> 32));
}

/* Error messages without <stdio.h>: append to a bounded, NUL-terminated
** buffer, truncating. */
typedef struct hw_bridge__msg
{
    char* p;
    size_t cap, len;
} hw_bridge__msg;
static inline void hw_bridge__puts(hw_bridge__msg* m, const char* s)
{
    if (m->p == NULL || m->cap == 0) return;
    while (*s != '\0' && m->len + 1 < m->cap) m->p[m->len++] = *s++;
    m->p[m->len] = '\0';
}
static inline void hw_bridge__putu(hw_bridge__msg* m, uint64_t v)
{
    char d[21];
    int i = 20;
    d[i] = '\0';
    do d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    hw_bridge__puts(m, d + i);
}

/* Span i (HW_BRIDGE_SPAN_*) of the fixed header. */
static inline uint32_t hw_bridge__span_off(const uint8_t* b, int i)
{
    return hw_bridge_get32(b + HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + i * HW_BRIDGE_SPAN_SIZE + HW_BRIDGE_SPAN_OFF_OFFSET);
}
static inline uint32_t hw_bridge__span_len(const uint8_t* b, int i)
{
    return hw_bridge_get32(b + HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + i * HW_BRIDGE_SPAN_SIZE + HW_BRIDGE_SPAN_LEN_OFFSET);
}

static inline int hw_bridge_view_check(const uint8_t* b, size_t n, char* err, size_t errlen)
{
    hw_bridge__msg m;
    uint64_t size = (uint64_t)n, tab_off, head_off, head_len, body_off, body_len, count, i;
    uint32_t version;
    int s;
    m.p = err;
    m.cap = errlen;
    m.len = 0;
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (b == NULL || n < HW_BRIDGE_VIEW_HEADER_LEN) { /* V1 */
        hw_bridge__puts(&m, "view is ");
        hw_bridge__putu(&m, b == NULL ? 0 : size);
        hw_bridge__puts(&m, " bytes, the fixed header alone is 136");
        return HW_BRIDGE_ESHORT;
    }
    version = hw_bridge_get16(b + HW_BRIDGE_VIEW_VERSION_OFFSET);
    if (version != HW_BRIDGE_VIEW_VERSION) { /* V2 */
        hw_bridge__puts(&m, "view version ");
        hw_bridge__putu(&m, version);
        hw_bridge__puts(&m, ", this header is version 2");
        return HW_BRIDGE_EVERSION;
    }
    count = hw_bridge_get16(b + HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET);
    tab_off = hw_bridge_get32(b + HW_BRIDGE_VIEW_TABLE_OFF_OFFSET);
    head_off = hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET);
    head_len = hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_LEN_OFFSET);
    body_off = hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_OFF_OFFSET);
    body_len = hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_LEN_OFFSET);
    if (tab_off != HW_BRIDGE_VIEW_HEADER_LEN || head_off != tab_off + count * HW_BRIDGE_FIELD_ENTRY_SIZE ||
        body_off != head_off + head_len || body_off + body_len != size) { /* V3 */
        hw_bridge__puts(&m, "table ");
        hw_bridge__putu(&m, tab_off);
        hw_bridge__puts(&m, "+");
        hw_bridge__putu(&m, count);
        hw_bridge__puts(&m, "x16, head ");
        hw_bridge__putu(&m, head_off);
        hw_bridge__puts(&m, "+");
        hw_bridge__putu(&m, head_len);
        hw_bridge__puts(&m, ", body ");
        hw_bridge__putu(&m, body_off);
        hw_bridge__puts(&m, "+");
        hw_bridge__putu(&m, body_len);
        hw_bridge__puts(&m, " outside ");
        hw_bridge__putu(&m, size);
        hw_bridge__puts(&m, " bytes");
        return HW_BRIDGE_EBOUNDS;
    }
    for (s = 0; s < HW_BRIDGE_SPAN_COUNT; s++) { /* V4 */
        uint64_t off = hw_bridge__span_off(b, s), len = hw_bridge__span_len(b, s);
        if (s == HW_BRIDGE_SPAN_QUERY && len == HW_BRIDGE_NO_QUERY) continue;
        if (off + len > head_len) {
            hw_bridge__puts(&m, "span ");
            hw_bridge__putu(&m, (uint64_t)s);
            hw_bridge__puts(&m, " (");
            hw_bridge__putu(&m, off);
            hw_bridge__puts(&m, "+");
            hw_bridge__putu(&m, len);
            hw_bridge__puts(&m, ") outside the ");
            hw_bridge__putu(&m, head_len);
            hw_bridge__puts(&m, "-byte head");
            return HW_BRIDGE_ESPAN;
        }
    }
    for (i = 0; i < count; i++) { /* V5 */
        const uint8_t* e = b + tab_off + i * HW_BRIDGE_FIELD_ENTRY_SIZE;
        uint64_t no = hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
        uint64_t nl = hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
        uint64_t vo = hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
        uint64_t vl = hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
        if (no + nl > head_len || vo + vl > head_len || nl == 0) {
            hw_bridge__puts(&m, "header field ");
            hw_bridge__putu(&m, i);
            hw_bridge__puts(&m, nl == 0 ? " has an empty name" : " outside the head");
            return HW_BRIDGE_EFIELD;
        }
    }
    return HW_BRIDGE_OK;
}

/* --- Accessors: b is a view hw_bridge_view_check() accepted. --- */

static inline uint16_t hw_bridge_view_flags(const uint8_t* b)
{
    return hw_bridge_get16(b + HW_BRIDGE_VIEW_FLAGS_OFFSET);
}
static inline uint8_t hw_bridge_view_method_id(const uint8_t* b) { return b[HW_BRIDGE_VIEW_METHOD_ID_OFFSET]; }
static inline uint8_t hw_bridge_view_minor(const uint8_t* b) { return b[HW_BRIDGE_VIEW_MINOR_OFFSET]; }
static inline uint16_t hw_bridge_view_num_fields(const uint8_t* b)
{
    return hw_bridge_get16(b + HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET);
}
static inline uint64_t hw_bridge_view_request_id(const uint8_t* b)
{
    return hw_bridge_get64(b + HW_BRIDGE_VIEW_REQUEST_ID_OFFSET);
}
static inline uint64_t hw_bridge_view_conn_id(const uint8_t* b)
{
    return hw_bridge_get64(b + HW_BRIDGE_VIEW_CONN_ID_OFFSET);
}
static inline int64_t hw_bridge_view_content_length(const uint8_t* b)
{
    return hw_bridge_geti64(b + HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET);
}

static inline hw_bridge_bytes hw_bridge_view_head(const uint8_t* b)
{
    hw_bridge_bytes r;
    r.p = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET);
    r.len = hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_LEN_OFFSET);
    return r;
}
static inline hw_bridge_bytes hw_bridge_view_body(const uint8_t* b)
{
    hw_bridge_bytes r;
    r.p = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_OFF_OFFSET);
    r.len = hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_LEN_OFFSET);
    return r;
}

static inline hw_bridge_bytes hw_bridge_view_span(const uint8_t* b, int i)
{
    hw_bridge_bytes r;
    r.p = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET) + hw_bridge__span_off(b, i);
    r.len = hw_bridge__span_len(b, i);
    return r;
}
static inline hw_bridge_bytes hw_bridge_view_method(const uint8_t* b)
{
    return hw_bridge_view_span(b, HW_BRIDGE_SPAN_METHOD);
}
static inline hw_bridge_bytes hw_bridge_view_target(const uint8_t* b)
{
    return hw_bridge_view_span(b, HW_BRIDGE_SPAN_TARGET);
}
static inline hw_bridge_bytes hw_bridge_view_path(const uint8_t* b)
{
    return hw_bridge_view_span(b, HW_BRIDGE_SPAN_PATH);
}
static inline hw_bridge_bytes hw_bridge_view_query(const uint8_t* b)
{
    hw_bridge_bytes r;
    if (hw_bridge__span_len(b, HW_BRIDGE_SPAN_QUERY) == HW_BRIDGE_NO_QUERY) {
        r.p = NULL;
        r.len = 0;
        return r;
    }
    return hw_bridge_view_span(b, HW_BRIDGE_SPAN_QUERY);
}
static inline hw_bridge_bytes hw_bridge_view_authority(const uint8_t* b)
{
    return hw_bridge_view_span(b, HW_BRIDGE_SPAN_AUTHORITY);
}
static inline hw_bridge_bytes hw_bridge_view_host(const uint8_t* b)
{
    return hw_bridge_view_span(b, HW_BRIDGE_SPAN_HOST);
}

static inline int hw_bridge_view_field(const uint8_t* b, uint32_t i, hw_bridge_bytes* name, hw_bridge_bytes* value)
{
    const uint8_t *head, *e;
    if (i >= hw_bridge_view_num_fields(b)) return -1;
    head = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET);
    e = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_TABLE_OFF_OFFSET) + (size_t)i * HW_BRIDGE_FIELD_ENTRY_SIZE;
    name->p = head + hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
    name->len = hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
    value->p = head + hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
    value->len = hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
    return 0;
}

static inline const uint8_t* hw_bridge_view_remote_ip(const uint8_t* b) { return b + HW_BRIDGE_VIEW_REMOTE_IP_OFFSET; }
static inline const uint8_t* hw_bridge_view_local_ip(const uint8_t* b) { return b + HW_BRIDGE_VIEW_LOCAL_IP_OFFSET; }
static inline uint16_t hw_bridge_view_remote_port(const uint8_t* b)
{
    return hw_bridge_get16(b + HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET);
}
static inline uint16_t hw_bridge_view_local_port(const uint8_t* b)
{
    return hw_bridge_get16(b + HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET);
}
static inline int hw_bridge_ip_is_v4(const uint8_t* ip)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return memcmp(ip, prefix, sizeof prefix) == 0;
}

/* --- Responses (section 4) --- */

static inline uint64_t hw_bridge_response_len(size_t reason_len, size_t fields_len, size_t body_len)
{
    return (uint64_t)HW_BRIDGE_RESPONSE_HEAD_LEN + reason_len + fields_len + body_len;
}

static inline size_t hw_bridge_response_encode(uint8_t* dst, size_t cap, int status, unsigned flags, const char* reason,
                                               const char* fields, size_t fields_len, int64_t content_length,
                                               const void* body, size_t body_len)
{
    size_t reason_len = reason == NULL ? 0 : strlen(reason), off;
    uint64_t total;
    if (status < HW_BRIDGE_RESPONSE_MIN_STATUS || status > HW_BRIDGE_RESPONSE_MAX_STATUS ||
        (flags & ~(unsigned)HW_BRIDGE_RESPONSE_F_STREAM) != 0 || reason_len > HW_BRIDGE_RESPONSE_MAX_REASON ||
        (uint64_t)fields_len > UINT32_MAX)
        return 0;
    if (content_length != -1 && (content_length < 0 || ((flags & HW_BRIDGE_RESPONSE_F_STREAM)
                                                            ? (uint64_t)content_length < (uint64_t)body_len
                                                            : (uint64_t)content_length != (uint64_t)body_len)))
        return 0;
    total = hw_bridge_response_len(reason_len, fields_len, body_len);
    if (total > (uint64_t)cap || total < (uint64_t)body_len) /* the second: the sum wrapped */
        return 0;
    hw_bridge_put16(dst + HW_BRIDGE_RESPONSE_STATUS_OFFSET, (uint16_t)status);
    dst[HW_BRIDGE_RESPONSE_FLAGS_OFFSET] = (uint8_t)flags;
    dst[HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET] = (uint8_t)reason_len;
    hw_bridge_put32(dst + HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET, (uint32_t)fields_len);
    hw_bridge_put64(dst + HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET, (uint64_t)content_length);
    off = HW_BRIDGE_RESPONSE_HEAD_LEN;
    if (reason_len > 0) memcpy(dst + off, reason, reason_len);
    off += reason_len;
    if (fields_len > 0) memcpy(dst + off, fields, fields_len);
    off += fields_len;
    if (body_len > 0) memcpy(dst + off, body, body_len);
    return off + body_len;
}

static inline int hw_bridge_next_field(const char* block, size_t len, hw_bridge_bytes* name, hw_bridge_bytes* value,
                                       const char** rest, size_t* rest_len)
{
    size_t end, colon, v;
    for (end = 0; end + 1 < len; end++)
        if (block[end] == '\r' && block[end + 1] == '\n') break;
    if (end + 1 >= len) return 0;
    for (colon = 0; colon < end && block[colon] != ':'; colon++)
        ;
    if (colon == 0 || colon == end) return 0;
    for (v = colon + 1; v < end && (block[v] == ' ' || block[v] == '\t'); v++)
        ;
    name->p = (const uint8_t*)block;
    name->len = colon;
    value->p = (const uint8_t*)block + v;
    value->len = end - v;
    *rest = block + end + 2;
    *rest_len = len - end - 2;
    return 1;
}

#endif /* HAYWIRE_BRIDGE_IMPL_H */
