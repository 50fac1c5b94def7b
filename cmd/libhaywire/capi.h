/*
** capi.h — internal to libhaywire: the C side of a request/response
** exchange. Not installed; the public API is include/haywire.h.
**
** A request callback receives pointers into an hw__exchange that lives in
** C memory, so the program may keep them after the callback returns and
** send the response from any thread. Who completes the exchange is decided
** by two bits set with atomic fetch-or: the Go side sets RETURNED after
** the callback returns, hw_http_response_send sets RESPONDED after copying
** the response. Whoever sets its bit second finishes the exchange: Go
** inline (the common, synchronous case) or the sending thread by calling
** hw__go_response_ready.
*/
#ifndef HW_CAPI_H
#define HW_CAPI_H

#include <stdint.h>
#include "haywire.h"
#ifndef __linux__
#include "haywire_host.h"
#endif

#define HW__RETURNED       1u
#define HW__RESPONDED      2u
#define HW__RESPONSE_MAGIC 0x68777273u /* "hwrs": rejects stray pointers */

typedef struct hw__field
{
    hw_string name;
    hw_string value;
} hw__field;

typedef struct hw__response
{
    uint32_t magic;
    unsigned int flags; /* HW__RETURNED | HW__RESPONDED, atomic */
    unsigned short major, minor;
    int abandoned; /* hw_free_http_response before send */
    hw_string status;
    hw__field* fields;
    size_t nfields, capfields;
    hw_string body;
    char* buf; /* owned copy made at send */
    size_t bufcap;
    http_response_complete_callback done;
    void* done_data;
} hw__response;

typedef struct hw__exchange
{
    http_request request; /* first: an http_request* is an hw__exchange* */
    hw_string url;
    hw_string body;
    hw__field* fields; /* request header fields, views into data */
    size_t nfields, capfields;
    char* data; /* copy of the request head and body */
    size_t datacap;
    hw__response response;
    int32_t slot; /* index in the Go side's slot table */
} hw__exchange;

hw__exchange* hw__exchange_new(int32_t slot);
int hw__exchange_reserve(hw__exchange* ex, size_t datalen, size_t nfields);
/* The trampolines take their C pointers as integers: cgo would otherwise
** check at every call whether they point into Go memory, a measurable
** share of a pipelined request, and they never do. */
unsigned int hw__invoke(uintptr_t cb, uintptr_t ex, uintptr_t user_data);
void hw__call_done(uintptr_t cb, uintptr_t user_data);
void hw__set_error(const char* msg);
int hw__config_set_go(char* key, char* value); /* Go export behind hw_config_set */

#ifndef __linux__
/*
** The host side where hostlib/ does not build (host_other.c,
** host_other.go; on Linux hostlib.c compiles hostlib/ instead). An hw_host names its Go host.Host by
** a runtime/cgo handle; an hw_host_request holds the encoded request view
** (in the engine's arena, or malloc'd by the Go side's allocator: never Go
** memory) and builds the response message of haywire_bridge.h section 4
** in msg: a 16-byte head, then the header block, then the body; the
** reason, kept apart until the head is ended, is moved in between then.
** After hw_host_response_begin, msg keeps only the head: the body goes to
** the engine as it is written.
*/
#define HW__HOST_MAGIC         0x68776873u /* "hwhs" */
#define HW__HOST_REQUEST_MAGIC 0x68777271u /* "hwrq" */
#define HW__HOST_KEEP_BUFFER   65536       /* larger buffers are not recycled */

struct hw_host_request
{
    uint32_t magic; /* HW__HOST_REQUEST_MAGIC while handed out */
    hw_host* host;
    hw_host_request* next; /* free list link */
    /* Filled by hw__host_next_go. */
    uint64_t id;         /* the stream */
    const uint8_t* view; /* the encoded view */
    size_t view_len;
    char remote_addr[48], local_addr[48];
    size_t remote_len, local_len;
    int remote_port, local_port;
    /* The response. */
    int status;
    int head_ended; /* a write happened: no more status or fields */
    int failed;     /* an allocation failed: answer 500 */
    char* reason;
    size_t reason_len, reason_cap;
    char* msg;
    size_t msg_len, msg_cap;
    size_t fields_end; /* msg offset where the header block ends */
    int streaming;     /* hw_host_response_begin sent the head: writes go to the engine */
};

struct hw_host
{
    uint32_t magic;            /* HW__HOST_MAGIC while attached */
    uintptr_t handle;          /* runtime/cgo.Handle of the host.Host */
    int outstanding;           /* requests handed out, not ended (atomic) */
    hw_host_request* spare;    /* for the next hw_host_next; its thread only */
    hw_host_request* mine;     /* free requests; hw_host_next's thread only */
    hw_host_request* returned; /* free requests pushed by any thread (atomic) */
};

hw_host* hw__host_new(uintptr_t handle);
int hw__host_attach_go(char* name, char* dir, hw_host** out);
int hw__host_next_go(uintptr_t handle, int timeout_ms, hw_host_request* req);
int hw__host_end_go(uintptr_t handle, uint64_t id, char* msg, size_t len);
int hw__host_cancelled_go(uintptr_t handle, uint64_t id);
int hw__host_leave_go(uintptr_t handle);
int hw__host_detach_go(uintptr_t handle);
int hw__host_read_go(uintptr_t handle, uint64_t id, char* buf, size_t cap, int timeout_ms, size_t* n);
int hw__host_begin_go(uintptr_t handle, uint64_t id, char* msg, size_t len);
int hw__host_write_go(uintptr_t handle, uint64_t id, char* data, size_t len);
int hw__host_finish_go(uintptr_t handle, uint64_t id);
int hw__host_abort_go(uintptr_t handle, uint64_t id);

#endif /* !__linux__ */

#endif
