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

#define HW__RETURNED  1u
#define HW__RESPONDED 2u
#define HW__RESPONSE_MAGIC 0x68777273u /* "hwrs": rejects stray pointers */

typedef struct hw__field
{
    hw_string name;
    hw_string value;
} hw__field;

typedef struct hw__response
{
    uint32_t magic;
    unsigned int flags;            /* HW__RETURNED | HW__RESPONDED, atomic */
    unsigned short major, minor;
    int abandoned;                 /* hw_free_http_response before send */
    hw_string status;
    hw__field* fields;
    size_t nfields, capfields;
    hw_string body;
    char* buf;                     /* owned copy made at send */
    size_t bufcap;
    http_response_complete_callback done;
    void* done_data;
} hw__response;

typedef struct hw__exchange
{
    http_request request;          /* first: an http_request* is an hw__exchange* */
    hw_string url;
    hw_string body;
    hw__field* fields;             /* request header fields, views into data */
    size_t nfields, capfields;
    char* data;                    /* copy of the request head and body */
    size_t datacap;
    hw__response response;
    int32_t slot;                  /* index in the Go side's slot table */
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

#endif
