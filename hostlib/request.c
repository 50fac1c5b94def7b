/*
** request.c -- the hw_host_request_* accessors: each reads the request
** view in place with the helpers of haywire_bridge.h (the view was
** checked with hw_bridge_view_check when it arrived, so every span lies
** inside it). Safe from several threads at once: they only read.
*/
#include <string.h>

#include "host_internal.h"

static const hw_string hw__nostring = {NULL, 0};

static hw_string hw__string(const uint8_t* p, size_t len)
{
    hw_string s;
    s.value = (char*)p;
    s.length = len;
    return s;
}

static const hw_host_request* hw__req(const hw_host_request* r)
{
    return r != NULL && atomic_load(&((hw_host_request*)r)->magic) == HW__HOST_REQUEST_MAGIC ? r : NULL;
}

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
        hw_bridge_view_field(req->view, (uint32_t)index, &n, &v) != HW_BRIDGE_OK) {
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
