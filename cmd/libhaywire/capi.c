/*
** capi.c — the parts of the Haywire C API that need no Go: building a
** response, reading request headers, the error state and versions
** (hw_strerror and hw_err_name: errcodes.c). Keeping them in
** C avoids a C-to-Go transition per call on the request path.
*/
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stddef.h>
#include "capi.h"
#include "_cgo_export.h"

#if defined(_MSC_VER)
#define HW__THREAD __declspec(thread)
#else
#define HW__THREAD __thread
#endif

static HW__THREAD char hw__errbuf[1024];

void hw__set_error(const char* msg)
{
    size_t n = strlen(msg);
    if (n >= sizeof hw__errbuf) n = sizeof hw__errbuf - 1;
    memcpy(hw__errbuf, msg, n);
    hw__errbuf[n] = 0;
}

const char* hw_last_error(void) { return hw__errbuf; }

const char* hw_version(void) { return HW_VERSION_STRING; }
int hw_version_number(void) { return HW_VERSION_NUMBER; }

int hw_config_set(const char* key, const char* value)
{
    if (key == NULL || value == NULL) {
        hw__set_error("hw_config_set: key and value must not be NULL");
        return HW_EINVAL;
    }
    return hw__config_set_go((char*)key, (char*)value);
}

hw__exchange* hw__exchange_new(int32_t slot)
{
    hw__exchange* ex = calloc(1, sizeof *ex);
    if (ex) {
        ex->slot = slot;
        ex->response.magic = HW__RESPONSE_MAGIC;
    }
    return ex;
}

static int hw__grow(void** p, size_t* cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) n *= 2;
    void* q = realloc(*p, n * elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

int hw__exchange_reserve(hw__exchange* ex, size_t datalen, size_t nfields)
{
    if (hw__grow((void**)&ex->data, &ex->datacap, datalen ? datalen : 1, 1) != 0) return HW_ENOMEM;
    if (hw__grow((void**)&ex->fields, &ex->capfields, nfields, sizeof(hw__field)) != 0) return HW_ENOMEM;
    return HW_OK;
}

unsigned int hw__invoke(uintptr_t cbp, uintptr_t exp, uintptr_t user_data)
{
    http_request_callback cb = (http_request_callback)cbp;
    hw__exchange* ex = (hw__exchange*)exp;
    hw__response* r = &ex->response;
    r->major = 1;
    r->minor = 1;
    r->abandoned = 0;
    r->status.value = NULL;
    r->status.length = 0;
    r->nfields = 0;
    r->body.value = NULL;
    r->body.length = 0;
    r->done = NULL;
    r->done_data = NULL;
    __atomic_store_n(&r->flags, 0u, __ATOMIC_RELEASE);
    cb(&ex->request, (hw_http_response*)r, (void*)user_data);
    return __atomic_fetch_or(&r->flags, HW__RETURNED, __ATOMIC_ACQ_REL);
}

void hw__call_done(uintptr_t cb, uintptr_t user_data) { ((http_response_complete_callback)cb)((void*)user_data); }

static hw__response* hw__response_of(hw_http_response* response)
{
    hw__response* r = (hw__response*)response;
    if (r == NULL || r->magic != HW__RESPONSE_MAGIC) return NULL;
    return r;
}

static hw__exchange* hw__exchange_of(hw__response* r)
{
    return (hw__exchange*)((char*)r - offsetof(hw__exchange, response));
}

hw_string* hw_get_header(http_request* request, hw_string* key)
{
    if (request == NULL || key == NULL) return NULL;
    hw__exchange* ex = (hw__exchange*)request;
    for (size_t i = 0; i < ex->nfields; i++) {
        hw_string* name = &ex->fields[i].name;
        if (name->length != key->length) continue;
        size_t j = 0;
        for (; j < key->length; j++) {
            unsigned char a = (unsigned char)name->value[j], b = (unsigned char)key->value[j];
            if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
            if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
            if (a != b) break;
        }
        if (j == key->length) return &ex->fields[i].value;
    }
    return NULL;
}

int hw_request_header_at(http_request* request, size_t index, hw_string* name, hw_string* value)
{
    if (request == NULL || name == NULL || value == NULL) {
        hw__set_error("hw_request_header_at: NULL argument");
        return HW_EINVAL;
    }
    hw__exchange* ex = (hw__exchange*)request;
    if (index >= ex->nfields) {
        hw__set_error("hw_request_header_at: index past the last header field");
        return HW_EINVAL;
    }
    *name = ex->fields[index].name;
    *value = ex->fields[index].value;
    return HW_OK;
}

void hw_print_request_headers(http_request* request)
{
    if (request == NULL) return;
    hw__exchange* ex = (hw__exchange*)request;
    for (size_t i = 0; i < ex->nfields; i++) {
        hw__field* f = &ex->fields[i];
        printf("KEY: %.*s VALUE: %.*s\n", (int)f->name.length, f->name.value, (int)f->value.length, f->value.value);
    }
}

void hw_print_body(http_request* request)
{
    if (request == NULL) return;
    if (request->body != NULL && request->body->length > 0)
        printf("BODY: %.*s\n", (int)request->body->length, request->body->value);
    else
        printf("BODY is empty!\n");
}

void hw_set_http_version(hw_http_response* response, unsigned short major, unsigned short minor)
{
    hw__response* r = hw__response_of(response);
    if (!r) return;
    r->major = major;
    r->minor = minor;
}

void hw_set_response_status_code(hw_http_response* response, hw_string* status_code)
{
    hw__response* r = hw__response_of(response);
    if (!r || !status_code) return;
    r->status = *status_code;
}

void hw_set_response_header(hw_http_response* response, hw_string* name, hw_string* value)
{
    hw__response* r = hw__response_of(response);
    if (!r || !name || !value) return;
    if (hw__grow((void**)&r->fields, &r->capfields, r->nfields + 1, sizeof(hw__field)) != 0) return;
    r->fields[r->nfields].name = *name;
    r->fields[r->nfields].value = *value;
    r->nfields++;
}

void hw_set_body(hw_http_response* response, hw_string* body)
{
    hw__response* r = hw__response_of(response);
    if (!r || !body) return;
    r->body = *body;
}

/* Copy s into the response's own buffer at *at and point s there. */
static void hw__own(hw__response* r, hw_string* s, size_t* at)
{
    if (s->length && s->value)
        memcpy(r->buf + *at, s->value, s->length);
    else
        s->length = 0;
    s->value = r->buf + *at;
    *at += s->length;
}

/* Hand the response over: to Go inline if the callback is still running,
** else to Go from this thread. */
static void hw__respond(hw__response* r)
{
    unsigned int prev = __atomic_fetch_or(&r->flags, HW__RESPONDED, __ATOMIC_ACQ_REL);
    if (prev & HW__RETURNED) hw__go_response_ready(hw__exchange_of(r));
}

void hw_http_response_send(hw_http_response* response, void* user_data, http_response_complete_callback callback)
{
    hw__response* r = hw__response_of(response);
    if (!r || (__atomic_load_n(&r->flags, __ATOMIC_ACQUIRE) & HW__RESPONDED)) return;
    size_t need = (r->status.value ? r->status.length : 0) + (r->body.value ? r->body.length : 0);
    for (size_t i = 0; i < r->nfields; i++) need += r->fields[i].name.length + r->fields[i].value.length;
    size_t at = 0;
    if (hw__grow((void**)&r->buf, &r->bufcap, need ? need : 1, 1) != 0) {
        r->abandoned = 1; /* out of memory: the engine answers 500 */
    } else {
        hw__own(r, &r->status, &at);
        for (size_t i = 0; i < r->nfields; i++) {
            hw__own(r, &r->fields[i].name, &at);
            hw__own(r, &r->fields[i].value, &at);
        }
        hw__own(r, &r->body, &at);
    }
    r->done = callback;
    r->done_data = user_data;
    hw__respond(r);
}

void hw_free_http_response(hw_http_response* response)
{
    hw__response* r = hw__response_of(response);
    if (!r || (__atomic_load_n(&r->flags, __ATOMIC_ACQUIRE) & HW__RESPONDED)) return;
    r->abandoned = 1;
    r->done = NULL;
    hw__respond(r);
}
