/*
** host_internal.h -- private to libhaywire_host: the structs behind
** hw_host and hw_host_request and the calls the files of hostlib/ share.
** Not installed; the public API is include/haywire_host.h.
**
** Files, by concept:
**   attach.c    open + validate + claim a lane, the liveness monitor
**               (heartbeat, judging the engine, fencing), detach
**   pump.c      ring 0: requests (in place or reassembled), body pieces,
**               cancels, the drain notice, routed through an index of
**               the live requests by id; hw_host_next, body reads,
**               releases of arena-0 chunks on ring 2 (staged, published
**               once per drained batch or ended request)
**   request.c   the hw_host_request_* accessors over the view
**   response.c  building the response message, sending it through
**               arena 1 and ring 1 (whole or streamed), taking chunks
**               back from ring 3, end / abort
**
** Locks (never taken in the other order): mu (host state: queue, live
** index, per-request body state) may be held while taking rmu; smu (the
** sender) is never held with mu. Linux only (futex doorbells).
**
** Built as libhaywire_host (build.sh), and into libhaywire by
** cmd/libhaywire/hostlib.c with HW_HOST_IN_LIBHAYWIRE (the error state
** and versions are then libhaywire's).
*/
#ifndef HW_HOST_INTERNAL_H
#define HW_HOST_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>

/* The API keeps default visibility when the library is compiled with
** -fvisibility=hidden (build.sh): only hw_host_*, hw_version*,
** hw_strerror, hw_err_name and hw_last_error are exported, the hw__ internals and the
** inline reference code of the region headers are not. */
#pragma GCC visibility push(default)
#include "haywire_host.h"
#pragma GCC visibility pop

/* The only place hostlib includes the region headers. */
#include "haywire_shm_impl.h"
#include "haywire_bridge_impl.h"

#define HW__SIDE               1 /* a host is side 1 of its lane */
#define HW__PEER               0
#define HW__HOST_MAGIC         0x68776873u /* "hwhs" */
#define HW__HOST_REQUEST_MAGIC 0x68777271u /* "hwrq" */
#define HW__HOST_KEEP_BUFFER   65536       /* larger buffers are not recycled */
#define HW__STREAM_CHUNKS      8           /* BODY chunks one streamed response may have lent */
#define HW__ATTACH_TIMEOUT_MS  5000
#define HW__MAX_VIEW_HINT      (64u << 20)
#define HW__SPIN               2000 /* polls of an empty ring before sleeping */

typedef struct hw__piece
{
    hw_shm_desc d;       /* the BODY descriptor, for its release */
    const uint8_t* data; /* in arena 0 */
    uint32_t len;
} hw__piece;

enum
{
    HW__OPEN = 0,
    HW__STREAMING = 1,
    HW__ENDED = 2
};

struct hw_host_request
{
    _Atomic uint32_t magic; /* HW__HOST_REQUEST_MAGIC while handed out */
    hw_host* host;
    hw_host_request* next;      /* queue / free list link */
    hw_host_request* live_next; /* chain in host->index: decoded, not ended (under mu) */

    /* The request, set by the pump. */
    uint64_t id;         /* the stream */
    uint32_t conn;       /* echoed in every descriptor of the stream */
    const uint8_t* view; /* the encoded view: in arena 0, or buf */
    size_t view_len;
    hw_shm_desc chunk; /* the chunk the view lies in; length 0 when copied */
    uint8_t* buf;      /* the copy of a view spread over chunks (malloc) */
    char remote_addr[48], local_addr[48];
    size_t remote_len, local_len;
    int remote_port, local_port;
    int given; /* handed out by hw_host_next (under mu) */
    _Atomic int cancelled;

    /* The streamed request body (under mu, but reading positions: the reader's). */
    int body_stream, expect_continue, continued;
    hw__piece* pieces;
    size_t npieces, cappieces, piece0; /* pieces[piece0..npieces) unread */
    int body_ended, body_failed;
    size_t inline_read, piece_read;

    /* The response: built by one thread at a time. */
    _Atomic int state; /* HW__OPEN, HW__STREAMING, HW__ENDED */
    int status;
    int head_ended, failed;
    char* reason;
    size_t reason_len, reason_cap;
    char* msg;
    size_t msg_len, msg_cap;
    size_t fields_end;
    int streaming;
    int64_t content_length, written;
    int body_out; /* BODY chunks lent to the engine (under smu) */
};

struct hw_host
{
    uint32_t magic;
    hw_shm_header* h;
    size_t map_size;
    uint32_t pid, epoch, peer_epoch, min_epoch;
    uint64_t beat_ns;

    /* Liveness: written by the monitor, read by all. */
    pthread_t monitor;
    int monitor_started;
    _Atomic int stop;   /* detach: the monitor exits */
    _Atomic int gone;   /* the engine died, left or closed: HW_ECLOSED */
    _Atomic int fenced; /* our claim was revoked: touch nothing */

    /* Pump state (mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* something was routed, or the pump is free */
    int pumping;                    /* a thread drives ring 0 */
    int pump_sleeping;              /* ... and sleeps on its bell: interrupt it */
    hw_shm_consumer in;             /* ring 0: the pump holder's */
    hw_host_request *qhead, *qtail; /* decoded, not yet returned by next */
    hw_host_request** index;        /* decoded, not ended requests by id: chains of live_next */
    size_t index_cap;               /* a power of 2, or 0 */
    size_t nlive;
    int out; /* handed out, not ended */
    int draining;
    uint8_t* parts; /* a view spread over chunks, so far (pump holder's) */
    size_t parts_len, parts_cap;
    int in_parts, parts_failed;
    hw_host_request* free_reqs; /* recycled requests (mu) */

    /* Releases of arena-0 chunks on ring 2 (rmu). */
    pthread_mutex_t rmu;
    hw_shm_producer rel_out;
    uint32_t rel_staged; /* written after rel_out.next, not yet published */

    /* The sender (smu): ring 1, arena 1, ring 3. */
    pthread_mutex_t smu;
    hw_shm_producer out_ring;
    hw_shm_consumer rel_in;
    uint32_t chunk_size, chunk_count;
    uint32_t *free_stack, nfree, *gen;
    hw_host_request** chunk_owner; /* streamed response a lent BODY chunk belongs to */
    uint8_t* lent;
    _Atomic int collector; /* a writer sleeps on ring 3's bell */
};

/* attach.c */
void hw__set_error(const char* msg);
uint64_t hw__now_ns(void);
int hw__usable(hw_host* host); /* 0 once the engine is gone or we are fenced */
void hw__sleep_ns(uint64_t ns);

/* pump.c */
int hw__await(hw_host* host, int (*ready)(hw_host*, void*), void* arg, int timeout_ms);
void hw__finish(hw_host_request* req);
void hw__release(hw_host* host, const hw_shm_desc* d, int flush);
void hw__release_flush(hw_host* host);
void hw__interrupt(hw_host* host);
void hw__free_request(hw_host_request* r);

/* response.c */
int hw__send(hw_host* host, uint64_t stream, uint32_t conn, const uint8_t* msg, size_t len);
int hw__send_control(hw_host* host, uint8_t kind, uint16_t aux, uint64_t stream, uint32_t conn);
void hw__refuse(hw_host* host, uint64_t stream, uint32_t conn, int status, const char* text);
int hw__collect_locked(hw_host* host);
int hw__collect_returns(hw_host* host);

#endif
