/*
** haywire_host.h — the C API of an application host.
**
** This header is the specification of the host API: what is not declared
** here (or in haywire_common.h, which it includes) is not published API.
** ^A host includes this header and not haywire.h: it needs none of the
** engine's API (configuration, routes, hw_start()). A program that is both
** an engine and a host includes both headers.
**
** Which header is for whom: see haywire_common.h. Hosts in another
** language follow haywire_shm.h and haywire_bridge.h instead, or bind to
** the library below through their C FFI.
**
** LIBRARIES
**   libhaywire_host (hostlib/; build/libhaywire_host.a and .so) implements
**   this header in C alone, no Go runtime; it also exports hw_version(),
**   hw_version_number(), hw_strerror(), hw_err_name() and hw_last_error(). Link flags:
**     static   cc -Iinclude host.c build/libhaywire_host.a -pthread
**     shared   cc -Iinclude host.c -Lbuild -lhaywire_host -pthread
**   libhaywire (the engine's library) exports the same calls for
**   compatibility, from the same C sources on Linux. A process links one
**   of the two: each keeps its own hw_last_error(). libhaywire_host is
**   Linux only for now (futex doorbells); elsewhere use libhaywire.
**
** CONVENTIONS
**   - Functions return an int: HW_OK (0) on success, a negative HW_E* code
**     on failure (see HW_ERRNO_MAP in haywire_common.h); after a failure,
**     hw_last_error() describes it.
**   - A sentence marked ^ is a promise the tests check.
*/
#ifndef HAYWIRE_HOST_H
#define HAYWIRE_HOST_H
#pragma once

#include "haywire_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
** OBJECTS AND LIFECYCLE
**
** An application host is a process that serves the requests an engine
** forwards through its shared region (the engine is build/haywire, or any
** program running hw_start() with "bridge = 1"). The calls below make a
** C program such a host. ^They work in a process that never starts the
** engine: no configuration, route or hw_start() is needed.
**
** Objects:
**   hw_host          an attachment to one lane of an engine's region
**                    (a handle: long-lived, one per host process, usually)
**   hw_host_request  one request the engine forwarded, and the response
**                    being built for it (short-lived)
**
** LIFECYCLE
**   1. hw_host_attach() with the name the engine printed ("region: NAME").
**   2. Loop on hw_host_next(): each HW_OK gives a request.
**   3. For each request, on any thread, now or later: read it with the
**      hw_host_request_* calls (its body with hw_host_request_body_read()),
**      then hw_host_response_status() and hw_host_response_header() (both
**      optional), optionally hw_host_response_begin() to stream,
**      hw_host_response_write() (any number of times), and
**      hw_host_response_end(), which completes the response and releases
**      the request -- or hw_host_response_abort() to give up on it.
**   4. Stop when hw_host_next() returns HW_EDRAINED (a newer host took
**      over and everything was answered: a hot swap), HW_ECLOSED (the
**      engine went away) or when the program wants to; end every request
**      still held, then hw_host_detach().
**
** MEMORY
**   ^The strings a request returns point into the engine's shared memory
**   (a request that fits one chunk of the engine's arena is never copied),
**   into memory the library allocated with malloc, or into static
**   strings; never into memory of the Go runtime. ^They stay valid until
**   hw_host_response_end() on that request, and are read-only. Do not
**   free them.
**
** THREADS
**   ^hw_host_next() may be called from one thread at a time. ^A request may
**   be read and answered from any thread: reading it (the
**   hw_host_request_* calls) is safe from several threads at once, also
**   while one thread builds its response; the hw_host_response_* calls on
**   one request must come from one thread at a time, and no call on a
**   request may overlap or follow its hw_host_response_end(). Different
**   requests may be answered on different threads at once.
**   hw_host_detach() must not overlap any other call on the host.
**   ^hw_host_next() is where the library learns of cancellations: keep
**   calling it (with a timeout) while requests are out. The pieces of a
**   streamed request body arrive through hw_host_next() when a thread
**   waits in it, and otherwise through hw_host_request_body_read() itself:
**   a program that reads the body inside its hw_host_next() loop works.
**
** BODIES
**   ^A request body of at most 64 KiB (the engine's body_inline) comes
**   whole with the request: hw_host_request_body() returns it. A larger
**   one, a chunked one, or one behind "Expect: 100-continue" STREAMS:
**   hw_host_request_body() returns only its first bytes (often none) and
**   hw_host_request_body_read() reads all of it, piece by piece, in
**   bounded memory. ^The engine reads from the client only as fast as the
**   host reads (it holds at most body_window bytes unread per request),
**   so a host that never reads a large body stalls that client's upload.
**   Reading with hw_host_request_body_read() always works, whatever the
**   size: it starts with the bytes hw_host_request_body() returns.
**
**   A response is buffered and sent whole, with Content-Length, at
**   hw_host_response_end() -- unless hw_host_response_begin() was called:
**   then the status and fields go at once and each later
**   hw_host_response_write() goes to the engine as it is made, blocking
**   while the engine still holds 8 chunks (32 KiB by default) of this
**   response unsent to a slow client. Set the status and the header
**   fields before the first write either way.
*/
typedef struct hw_host hw_host;
typedef struct hw_host_request hw_host_request;

/*
** CONSTRUCTOR: hw_host
** Attach to an engine's region as its application host.
**
** region_name is the name the engine printed ("haywire-<uuid>"), region_dir
** the directory holding the region files, NULL for the default (/dev/shm,
** else the temporary directory; the engine's region_dir setting must
** match). ^The host takes the first free lane of the region; an engine
** has two by default, so a second host can attach while the first serves
** and take over from it (hot swap: the first then gets HW_EDRAINED).
** ^When every lane is taken, it waits up to 5 seconds for one to be freed
** (an engine frees the lane of a dead host within its liveness bound,
** 1 s by default) before failing with HW_EBUSY.
** OWNERSHIP: the strings are read during the call only. ^On HW_OK *out is a
**   host the caller owns: release it with hw_host_detach(). ^On failure
**   *out is set to NULL (when out is not NULL).
** THREADS: any thread.
** RETURNS: HW_OK; HW_EINVAL (region_name or out NULL, or region_name is
**   not a region name: hw_last_error() says which part is wrong); HW_ENOENT (no such
**   region in that directory); HW_EBUSY (every lane taken); HW_EVERSION
**   (the region has another layout version, or is not a region);
**   HW_EPERM (the file cannot be opened, or its mode lets other users in);
**   HW_ENOMEM.
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_attach(const char* region_name, const char* region_dir, hw_host** out /* OUT */);

/*
** METHOD: hw_host
** Wait for the next request.
**
** Waits up to timeout_ms milliseconds (0: do not wait; negative: without
** limit) for a request from the engine. ^Requests come in the order the
** engine forwarded them, those whose client went away meanwhile included
** (see hw_host_request_cancelled()).
** OWNERSHIP: ^on HW_OK *out is a request the caller must end with
**   hw_host_response_end(), exactly once; until then it holds memory the
**   engine lent (a host that never ends its requests starves the engine).
**   ^On any other return *out is NULL (when out is not NULL).
** THREADS: ^one thread at a time per host (requests it returned may be in
**   use on other threads meanwhile).
** RETURNS: HW_OK; HW_ETIMEDOUT (no request within timeout_ms);
**   ^HW_EDRAINED (the engine handed this host's work to a newer host and
**   every request was ended: detach and exit; later calls return it
**   again); ^HW_ECLOSED (the engine died, stopped, or fenced this host off
**   after it stalled: end what it holds and detach); HW_EINVAL (NULL or
**   detached host, NULL out); HW_ENOMEM.
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_next(hw_host* host, int timeout_ms, hw_host_request** out /* OUT */);

/*
** METHOD: hw_host
** Ask the engine for no more requests, to exit without failing any.
**
** ^The engine stops routing new requests to this host at once (they wait
** for another host, up to its host_wait_ms, then get 503) and answers
** with its drain notice, which follows every request it had sent.
** ^hw_host_next() keeps returning those requests, then HW_EDRAINED once
** every one is ended: then hw_host_detach() costs no request a 502. This
** is how a host stops on SIGTERM. Calling it again does no harm.
** THREADS: any thread.
** RETURNS: HW_OK; HW_ECLOSED (the engine is gone: detach at once);
**   HW_EINVAL (not a live host).
** SINCE: 0.5
*/
HAYWIRE_EXTERN int hw_host_leave(hw_host* host);

/*
** DESTRUCTOR: hw_host
** Detach from the region and free the host.
**
** ^Requests the engine forwarded that hw_host_next() had not returned yet
** are answered 502 by the engine. A host that wants none to fail leaves
** first: hw_host_leave(), then hw_host_next() until HW_EDRAINED.
** OWNERSHIP: ^on HW_OK host is freed and must not be used again.
**   ^Detaching NULL is a harmless no-op returning HW_OK.
** RESTRICTIONS: ^every request hw_host_next() returned must have been
**   ended: otherwise nothing is done and HW_ESTATE is returned (their
**   strings may point into the region). No other call on this host may
**   run meanwhile, hw_host_next() included.
** RETURNS: HW_OK; HW_ESTATE (requests out); HW_EINVAL (not a live host).
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_detach(hw_host* host);

/*
** METHOD: hw_host_request
** Read the request line, the Host field and the body.
**
**   method      the method token as received ("GET")
**   method_id   the method as an hw_http_method (HW_HTTP_GET, ...), or
**               HW_HTTP_METHOD_OTHER for one not in HW_HTTP_METHOD_MAP
**   target      the request-target as received, query included
**   path        the target's path, still percent-encoded; ^"/" for an
**               absolute-form target without a path
**   query       the query without '?'; ^value is NULL when the target has
**               no '?' (has_query 0), non-NULL and of length 0 for "/?"
**               (has_query 1)
**   host        the Host field's value; length 0 without one
**   body        ^the body carried with the request, de-chunked: all of it,
**               unless it streams (see BODIES above), then its first bytes;
**               length 0 without one
**   http_minor  the request's HTTP minor version: 1 for HTTP/1.1
**   keep_alive  1 if the client keeps the connection open afterwards
**
** OWNERSHIP: see MEMORY above: valid until hw_host_response_end(), never
**   NUL-terminated, read-only.
** THREADS: see THREADS above.
** RETURNS: ^for a NULL or ended request: an hw_string {NULL, 0}, or 0.
** SINCE: 0.2
*/
HAYWIRE_EXTERN hw_string hw_host_request_method(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_method_id(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_target(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_path(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_query(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_has_query(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_host(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_body(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_http_minor(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_keep_alive(const hw_host_request* req);

/*
** METHOD: hw_host_request
** Read the request's header fields.
**
** ^header_count is the number of fields, in the order received; a name
** sent twice counts twice. ^header_at reads field index (0-based).
** ^header finds the first field named name (NUL-terminated), comparing
** without regard to ASCII case; its value is NULL when there is none and
** non-NULL, possibly of length 0, when there is.
** OWNERSHIP: name is read during the call only; the strings returned are
**   the request's (see MEMORY above).
** RETURNS: header_at: HW_OK, or HW_EINVAL when index is past the last
**   field or an argument is NULL (*name and *value are then left alone).
** SINCE: 0.2
*/
HAYWIRE_EXTERN size_t hw_host_request_header_count(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_header_at(const hw_host_request* req, size_t index, hw_string* name /* OUT */,
                                             hw_string* value /* OUT */);
HAYWIRE_EXTERN hw_string hw_host_request_header(const hw_host_request* req, const char* name);

/*
** METHOD: hw_host_request
** Identify the request and its connection.
**
** ^id is the engine's number for the request, unique among the requests
** of one engine run, never 0. ^connection_id is the engine's number for
** the client connection: requests on one connection share it. ^The
** addresses are text ("127.0.0.1", "::1"; IPv4 clients never appear as
** IPv4-mapped IPv6), of length 0 when the engine does not know them; the
** ports are 0 then. remote is the client, local the address the request
** arrived on.
** RETURNS: 0 or {NULL, 0} for a NULL or ended request.
** SINCE: 0.2
*/
HAYWIRE_EXTERN uint64_t hw_host_request_id(const hw_host_request* req);
HAYWIRE_EXTERN uint64_t hw_host_request_connection_id(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_remote_address(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_remote_port(const hw_host_request* req);
HAYWIRE_EXTERN hw_string hw_host_request_local_address(const hw_host_request* req);
HAYWIRE_EXTERN int hw_host_request_local_port(const hw_host_request* req);

/*
** METHOD: hw_host_request
** Read the request body.
**
** Copies up to cap bytes of the body into buf and sets *n to how many.
** ^It reads the whole body from its start: the bytes
** hw_host_request_body() returns, then, for a streamed body (see BODIES
** above), the pieces that follow, waiting up to timeout_ms milliseconds
** (0: do not wait; negative: without limit) for the next one. ^HW_OK with
** *n > 0: bytes were read; ^HW_OK with *n == 0: the body is complete (a
** request without body gives that at once). ^Each piece the engine sent
** is given back to it once read, which lets the engine read more from the
** client. ^For a request with "Expect: 100-continue", the first call asks
** the engine to send "100 Continue" and the body; ^a request answered
** without reading its body gets none (the engine closes that client's
** connection after the response).
** OWNERSHIP: buf is the caller's, written during the call only.
** THREADS: ^one thread at a time per request; it may overlap the
**   response calls on the same request on another thread (an echo).
** RETURNS: HW_OK; HW_ETIMEDOUT (nothing came within timeout_ms);
**   ^HW_ECANCELED (the client went away, or its body failed, before the
**   body was complete: the bytes received before were read first);
**   HW_ECLOSED (the engine went away); HW_EINVAL (NULL or ended request,
**   NULL buf or n, cap 0). *n is 0 on every return but HW_OK.
** SINCE: 0.3
*/
HAYWIRE_EXTERN int hw_host_request_body_read(hw_host_request* req, void* buf /* OUT */, size_t cap, int timeout_ms,
                                             size_t* n /* OUT */);

/*
** METHOD: hw_host_request
** Has the client gone away?
**
** ^Returns 1 once the engine said the request's client closed its
** connection, or its sending side only (a half-close: such a client still
** reads the response, as net/http treats it), and 0 before. The host may
** then stop working on the request and end it at once; ^it must still end
** it with hw_host_response_end(): the engine holds every request until
** its response comes, and discards one it can no longer deliver. The
** library learns of it while hw_host_next() runs, on whatever thread that
** is: a program that handles each request inside its hw_host_next() loop
** sees it only between two calls.
** RETURNS: 1 or 0; 0 for a NULL or ended request.
** THREADS: any thread, also while another builds the response (see
**   THREADS above).
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_request_cancelled(const hw_host_request* req);

/*
** METHOD: hw_host_request
** Set the response's status (default 200 with its standard phrase).
**
** status is 200 to 999 (a 1xx interim response is the engine's business).
** reason is the phrase to send, NULL or of length 0 for the standard one.
** ^May be called again to change it, until the first
** hw_host_response_write().
** OWNERSHIP: ^reason is copied; the caller keeps it.
** RETURNS: HW_OK; HW_EINVAL (NULL or ended request, status out of range,
**   a reason longer than 65535 bytes or holding CR, LF or NUL);
**   HW_ESTATE (after the first write or hw_host_response_begin()); HW_ENOMEM.
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_response_status(hw_host_request* req, int status,
                                           const hw_string* reason /* NULL: standard */);

/*
** METHOD: hw_host_request
** Add a response header field.
**
** ^Fields are sent in the order added; a name may repeat. ^The engine
** writes Date, Server and Content-Length itself: Content-Length and
** Transfer-Encoding given here are dropped; a Server or Date given here is
** sent instead of the engine's. ^"Connection: close" closes the client
** connection after the response.
** OWNERSHIP: ^name and value are copied; the caller keeps them (a name or
**   value read from the request may be passed as it is).
** RETURNS: HW_OK; HW_EINVAL (NULL argument, ended request, a name that is
**   empty or not an HTTP token, a value holding CR, LF or NUL);
**   HW_ESTATE (after the first write or hw_host_response_begin()); HW_ENOMEM.
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_response_header(hw_host_request* req, const hw_string* name, const hw_string* value);

/*
** METHOD: hw_host_request
** Stream the response.
**
** ^Sends the status and header fields now, with the bytes written so far
** as the body's first bytes; ^later hw_host_response_write() calls send
** their bytes to the engine as they come, and hw_host_response_end() ends
** the body. content_length is the whole body's length (the bytes written
** before included), or -1 not to announce it: ^the engine then sends the
** body chunked to HTTP/1.1 clients and closes the connection after it for
** HTTP/1.0 ones. ^A body that turns out longer than content_length is
** refused by hw_host_response_write(); one shorter at
** hw_host_response_end() aborts the response. Without this call a
** response is buffered and sent whole.
** RETURNS: HW_OK; HW_EINVAL (NULL or ended request, content_length below
**   -1 or below the bytes already written); HW_ESTATE (called twice);
**   HW_ENOMEM; ^HW_ECLOSED (the engine went away: the response counts as
**   begun; end it, which releases the request).
** SINCE: 0.3
*/
HAYWIRE_EXTERN int hw_host_response_begin(hw_host_request* req, int64_t content_length /* -1: not announced */);

/*
** METHOD: hw_host_request
** Append len bytes at data to the response body.
**
** ^Ends the head: hw_host_response_status() and hw_host_response_header()
** return HW_ESTATE afterwards. ^A HEAD request's body is not sent (its
** length is announced). Writing 0 bytes is allowed (data may be NULL then).
** ^After hw_host_response_begin() the bytes go to the engine before the
** call returns, in pieces of its shared memory: ^the call blocks while the
** engine still holds 8 pieces of this response (it gives each back once
** the client's socket took it, so a slow client slows the writer down, and
** memory stays bounded whatever the body's size) or the host's arena is
** full. ^A client that went away does not fail it (one that only
** half-closed still reads): check hw_host_request_cancelled() to stop.
** OWNERSHIP: ^the bytes are copied; the caller keeps data.
** THREADS: a blocked write holds up no other request.
** RETURNS: HW_OK; HW_EINVAL (NULL or ended request, NULL data with len >
**   0, or, streaming, more bytes than content_length: nothing sent);
**   HW_ENOMEM (nothing appended); HW_ECLOSED (streaming: the engine went
**   away; part of the bytes may have been sent).
** SINCE: 0.2; streaming SINCE 0.3
*/
HAYWIRE_EXTERN int hw_host_response_write(hw_host_request* req, const void* data, size_t len);

/*
** DESTRUCTOR: hw_host_request
** Send the response and release the request.
**
** ^Sends the status, fields and body given so far, with Content-Length
** (after hw_host_response_begin(): ends the streamed body), and gives the
** request's memory back to the engine, unread body pieces included.
** ^Responses on one client connection reach it in request order whatever
** the order they are ended in (the engine holds later ones).
** OWNERSHIP: ^req and every string read from it are invalid once this
**   returns, whatever it returns (except HW_EINVAL).
** THREADS: ^any thread, one call per request.
** RETURNS: HW_OK; HW_ECLOSED (the engine went away: the request is
**   released, nothing was sent); HW_ENOMEM (building the response failed:
**   the request is released and answered 500); ^HW_ESTATE (streaming,
**   fewer bytes than content_length were written: the response was
**   aborted as by hw_host_response_abort(), the request released);
**   HW_EINVAL (NULL or already ended request: nothing is done).
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_host_response_end(hw_host_request* req);

/*
** DESTRUCTOR: hw_host_request
** Give up on the response and release the request.
**
** For an application that fails after it began a response, or cannot
** keep the content_length it announced. ^The engine answers 500 if none
** of the response reached the client yet, and otherwise ends the client
** connection before the body's end (the client reads what was sent,
** then sees a truncated response, never a complete-looking one). Whatever was buffered is dropped.
** OWNERSHIP: ^as hw_host_response_end(): req and its strings are invalid
**   once this returns (except HW_EINVAL).
** THREADS: any thread, one call per request.
** RETURNS: HW_OK; HW_ECLOSED (the engine went away: the request is
**   released); HW_EINVAL (NULL or already ended request: nothing is done).
** SINCE: 0.3
*/
HAYWIRE_EXTERN int hw_host_response_abort(hw_host_request* req);

#ifdef __cplusplus
}
#endif

#endif /* HAYWIRE_HOST_H */
