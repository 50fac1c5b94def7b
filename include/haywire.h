/*
** haywire.h — the C API of libhaywire (haywire.dll on Windows).
**
** This header is the specification of the C API: what is not declared here
** is not published API. It keeps the API of the original Haywire
** (github.com/kellabyte/Haywire) name for name, type for type, so that a
** Haywire program compiles against it unchanged, and adds calls in the
** same style (hw_ prefix, object then verb).
**
** CONVENTIONS
**   - Functions added by haywire return an int: HW_OK (0) on success, a
**     negative HW_E* code on failure (see HW_ERRNO_MAP). After a failure,
**     hw_last_error() describes it.
**   - A sentence marked ^ is a promise the tests check.
**   - The original Haywire calls keep their original return conventions
**     (0 for success, non-zero for failure).
**
** LIFECYCLE
**   1. Configure: hw_init_with_config() or hw_init_from_config(), optionally
**      hw_config_set() for settings the configuration struct lacks.
**   2. Route: hw_http_add_route() for each path (also allowed later).
**   3. Serve: hw_http_open() (blocks, like Haywire) or hw_start() (returns
**      once listening).
**   4. Stop: hw_stop() from any thread; then back to 1 or 3 if wanted.
**
** WHICH HEADER IS FOR WHOM
**   This header is for programs that embed the engine. It includes
**   haywire_common.h (error codes, hw_string, method numbers, versions).
**   The host side of the bridge -- a program that serves the requests an
**   engine forwards through its shared region (hw_host_attach(),
**   hw_host_next(), hw_host_response_end()) -- has its own header,
**   haywire_host.h, which this one does not include: a host needs none of
**   the engine's API, and an engine embedder none of the host's. A
**   program that is both includes both.
**
** THREADS
**   Request callbacks run on threads the library owns. ^With thread_count
**   0 or 1 no two callbacks run at the same time, as with Haywire's single
**   event loop; with thread_count > 1 they run concurrently. A callback
**   must not block for long: it holds up its connection (and, when
**   callbacks are serialized, every connection). Configuration and
**   lifecycle calls may be made from any thread.
*/
#ifndef HAYWIRE_H
#define HAYWIRE_H
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "haywire_common.h"

/* Informational 1xx */
#define HTTP_STATUS_100 "100 Continue"
#define HTTP_STATUS_101 "101 Switching Protocols"
#define HTTP_STATUS_102 "102 Processing"
/* Successful 2xx */
#define HTTP_STATUS_200 "200 OK"
#define HTTP_STATUS_201 "201 Created"
#define HTTP_STATUS_202 "202 Accepted"
#define HTTP_STATUS_203 "203 Non-Authoritative Information"
#define HTTP_STATUS_204 "204 No Content"
#define HTTP_STATUS_205 "205 Reset Content"
#define HTTP_STATUS_206 "206 Partial Content"
#define HTTP_STATUS_207 "207 Multi-Status"
/* Redirection 3xx */
#define HTTP_STATUS_300 "300 Multiple Choices"
#define HTTP_STATUS_301 "301 Moved Permanently"
#define HTTP_STATUS_302 "302 Moved Temporarily"
#define HTTP_STATUS_303 "303 See Other"
#define HTTP_STATUS_304 "304 Not Modified"
#define HTTP_STATUS_305 "305 Use Proxy"
#define HTTP_STATUS_307 "307 Temporary Redirect"
/* Client Error 4xx */
#define HTTP_STATUS_400 "400 Bad Request"
#define HTTP_STATUS_401 "401 Unauthorized"
#define HTTP_STATUS_402 "402 Payment Required"
#define HTTP_STATUS_403 "403 Forbidden"
#define HTTP_STATUS_404 "404 Not Found"
#define HTTP_STATUS_405 "405 Method Not Allowed"
#define HTTP_STATUS_406 "406 Not Acceptable"
#define HTTP_STATUS_407 "407 Proxy Authentication Required"
#define HTTP_STATUS_408 "408 Request Time-out"
#define HTTP_STATUS_409 "409 Conflict"
#define HTTP_STATUS_410 "410 Gone"
#define HTTP_STATUS_411 "411 Length Required"
#define HTTP_STATUS_412 "412 Precondition Failed"
#define HTTP_STATUS_413 "413 Request Entity Too Large"
#define HTTP_STATUS_414 "414 Request-URI Too Large"
#define HTTP_STATUS_415 "415 Unsupported Media Type"
#define HTTP_STATUS_416 "416 Requested Range Not Satisfiable"
#define HTTP_STATUS_417 "417 Expectation Failed"
#define HTTP_STATUS_418 "418 I'm a teapot"
#define HTTP_STATUS_422 "422 Unprocessable Entity"
#define HTTP_STATUS_423 "423 Locked"
#define HTTP_STATUS_424 "424 Failed Dependency"
#define HTTP_STATUS_425 "425 Unordered Collection"
#define HTTP_STATUS_426 "426 Upgrade Required"
#define HTTP_STATUS_428 "428 Precondition Required"
#define HTTP_STATUS_429 "429 Too Many Requests"
#define HTTP_STATUS_431 "431 Request Header Fields Too Large"
/* Server Error 5xx */
#define HTTP_STATUS_500 "500 Internal Server Error"
#define HTTP_STATUS_501 "501 Not Implemented"
#define HTTP_STATUS_502 "502 Bad Gateway"
#define HTTP_STATUS_503 "503 Service Unavailable"
#define HTTP_STATUS_504 "504 Gateway Time-out"
#define HTTP_STATUS_505 "505 HTTP Version Not Supported"
#define HTTP_STATUS_506 "506 Variant Also Negotiates"
#define HTTP_STATUS_507 "507 Insufficient Storage"
#define HTTP_STATUS_509 "509 Bandwidth Limit Exceeded"
#define HTTP_STATUS_510 "510 Not Extended"
#define HTTP_STATUS_511 "511 Network Authentication Required"

#define STRLENOF(s) sizeof(s)-1
#define SETSTRING(s,val) s.value=val; s.length=STRLENOF(val)
#define APPENDSTRING(s,val) memcpy((char*)s->value + s->length, val, STRLENOF(val)); s->length+=STRLENOF(val)

/*
** A response being built. Opaque: pass it to the hw_set_* functions and
** hw_http_response_send().
*/
typedef void* hw_http_response;

/*
** Haywire's configuration, for hw_init_with_config().
**
**   http_listen_address  IPv4/IPv6 literal or "localhost"; NULL = "0.0.0.0"
**   http_listen_port     0 picks a free port (hw_listen_address() tells which)
**   thread_count         listeners under the "reuseport" balancer; 0 or 1
**                        also serializes request callbacks
**   balancer             "ipc" (default; NULL allowed) or "reuseport"
**   parser               ignored (Haywire chose between parsers); may be NULL
**   tcp_nodelay          ^true sets TCP_NODELAY on every accepted socket;
**                        ^false (as in a zeroed struct) leaves Nagle's
**                        algorithm on, as in Haywire. The engine writes each
**                        batch of responses at once, so true mostly saves
**                        the delay of a response that follows an
**                        unacknowledged one (pipelining, a slow reader)
**   listen_backlog       0 = the system's SOMAXCONN
**   max_request_size     largest request body in bytes; 0 = 1 MiB; larger → 413
**
** Settings this struct lacks (timeouts, header limits, the lingering close,
** the Server header) are set with hw_config_set() or in the INI file.
*/
typedef struct
{
    char* http_listen_address;
    unsigned int http_listen_port;
    unsigned int thread_count;
    char* balancer;
    char* parser;
    bool tcp_nodelay;
    unsigned int listen_backlog;
    unsigned int max_request_size;
} configuration;

/*
** A request, as given to a request callback.
**
**   http_major, http_minor  the request's HTTP version (1.0 or 1.1)
**   method                  an hw_http_method, or HW_HTTP_METHOD_OTHER
**   keep_alive              non-zero if the connection stays open after the
**                           response (HTTP/1.1 without "Connection: close",
**                           or HTTP/1.0 with "Connection: keep-alive")
**   url                     the request-target as received, query included
**   headers                 opaque; read with hw_get_header() or
**                           hw_request_header_at()
**   body                    the whole body, de-chunked (length 0 if none)
**   body_length             body->length
**   state                   always OK: the engine answers bad requests itself
**                           (400, 408, 413, 414, 417, 431, 501, 505) without
**                           calling back
**
** OWNERSHIP: ^the request and every string it points to stay valid until
** the response is sent with hw_http_response_send() (or abandoned with
** hw_free_http_response()), even if that happens after the callback has
** returned. The strings are not NUL-terminated.
*/
typedef struct
{
    unsigned short http_major;
    unsigned short http_minor;
    unsigned char method;
    int keep_alive;
    hw_string* url;
    void* headers;
    hw_string* body;
    size_t body_length;
    enum {OK, SIZE_EXCEEDED, BAD_REQUEST, INTERNAL_ERROR} state;
} http_request;

/*
** A request callback: serve request by building and sending response.
** user_data is the pointer given to hw_http_add_route().
**
** ^The callback may send the response before it returns, or keep the
** response and send it later from any thread; responses on one connection
** still leave in request order. A response never sent keeps its connection
** waiting (and, after the request, later pipelined requests) until the
** client gives up or hw_stop() cuts it.
*/
typedef void (HAYWIRE_CALLING_CONVENTION *http_request_callback)(http_request* request, hw_http_response* response, void* user_data);

/*
** Called once a response's bytes have been handed to the socket (or the
** connection failed), with the user_data given to hw_http_response_send().
** ^Called exactly once per hw_http_response_send() that gave it, on a
** library thread; never for a response abandoned with
** hw_free_http_response().
*/
typedef void (HAYWIRE_CALLING_CONVENTION *http_response_complete_callback)(void* user_data);

/*
** Load the configuration from an INI file.
**
** Section [http]; keys: listen_address, listen_port, thread_count, balancer,
** parser, tcp_nodelay, listen_backlog, max_request_size (Haywire's), and
** max_target_bytes, max_header_bytes, max_header_count, header_timeout_ms,
** body_timeout_ms, idle_timeout_ms, write_timeout_ms, lingering_time_ms,
** lingering_bytes, server_name. ^Keys not
** in the file keep Haywire's defaults: listen_port 8000, tcp_nodelay 0
** (Nagle's algorithm on; "tcp_nodelay = 1" sets TCP_NODELAY), the rest as
** in the configuration struct above. ^The whole configuration is replaced,
** and the hw_stats() counters start again from 0. ^The file is only read:
** a port in use or an address that cannot be bound is reported by
** hw_start() or hw_http_open(), not here.
** OWNERSHIP: the name is read during the call only.
** THREADS: any thread; not while another configuration call runs.
** RETURNS: HW_OK; HW_ENOENT (no such file), HW_ECONFIG (unknown section or
**   key, bad value: hw_last_error() names the file, key and value),
**   HW_ESTATE (the server is running), HW_EINVAL (NULL name). The original
**   returned non-zero for any failure; these are all non-zero.
** SINCE: Haywire; ^every key, unlike the original, which read two.
*/
HAYWIRE_EXTERN int hw_init_from_config(char* configuration_filename);

/*
** Set the configuration from a Haywire configuration struct.
**
** ^Replaces the whole configuration (keys set with hw_config_set() before
** are forgotten), and the hw_stats() counters start again from 0. Fields
** are read as the struct's comment above says.
** OWNERSHIP: the struct and its strings are copied; the caller keeps them.
** THREADS: any thread; not while another configuration call runs.
** RETURNS: HW_OK, HW_ECONFIG (bad address, balancer or value), HW_ESTATE
**   (the server is running), HW_EINVAL (NULL config).
** SINCE: Haywire
*/
HAYWIRE_EXTERN int hw_init_with_config(configuration* config);

/*
** Start serving and block until hw_stop() is called from another thread.
**
** Serves with the configuration set last (Haywire's defaults if none) and
** the routes added so far. hw_start() is the same without blocking.
** THREADS: any thread; it blocks that thread, which serves no callbacks.
** RETURNS: 0 (HW_OK) after a stop; when it could not start:
**   HW_EADDRINUSE (the port is taken), HW_ELISTEN (the address cannot be
**   bound: not one of this machine's, say), HW_ECONFIG, HW_ESTATE
**   (already running).
** SINCE: Haywire
*/
HAYWIRE_EXTERN int hw_http_open(void);

/*
** Route requests whose path matches route to callback.
**
** Patterns are paths whose '/'-separated segments must match one for one;
** ^a segment that is "*" or starts with '*' ("*id") matches any one
** segment, as in Haywire; empty segments are ignored ("/ping/" matches
** "/ping"); the query string never takes part. ^A pattern without a
** leading '/' gets one, as in Haywire ("ping" is "/ping"), except "*"
** alone, which takes "OPTIONS *". ^A path equal to a pattern wins;
** otherwise patterns are tried in the order added. Adding a pattern again
** replaces its callback. Requests no route matches get 404.
** OWNERSHIP: route is copied; user_data is passed back untouched to every
**   call of callback.
** THREADS: any thread, also while serving: ^a route added while serving
**   takes the next request.
** ERRORS: an invalid route (NULL or empty) or a NULL callback is ignored;
**   hw_last_error() says why (this call returns nothing, as in Haywire).
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_http_add_route(char* route, http_request_callback callback, void* user_data);

/*
** Find a request header field by name.
**
** ^Names compare without regard to ASCII case (Haywire compared bytes
** against lower-cased names). ^Returns the first field's value (length 0
** for an empty value), or NULL when the request has no such field or an
** argument is NULL.
** OWNERSHIP: key is read during the call only. ^The returned string is
**   the request's: valid as long as the request (see http_request), not
**   NUL-terminated; do not free or change it.
** THREADS: any thread holding the request.
** ERRORS: none; NULL as above. hw_request_header_at() walks all fields.
** SINCE: Haywire
*/
HAYWIRE_EXTERN hw_string* hw_get_header(http_request* request, hw_string* key);

/*
** Abandon a response that will not be sent.
**
** ^The engine answers 500 in its place and counts it in
** hw_stats().handler_errors; no completion callback runs. ^After
** hw_http_response_send() it is a harmless no-op (Haywire freed the
** response in send already), as it is for NULL.
** OWNERSHIP: the response and the request it answers are the library's
**   again: ^neither may be used after this call.
** THREADS: the request callback's thread or, later, any thread; once per
**   response, instead of hw_http_response_send().
** ERRORS: none (returns nothing, as in Haywire).
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_free_http_response(hw_http_response* response);

/*
** Set the response's HTTP version (1.0 or 1.1; default 1.1).
**
** ^"1.0" makes the status line read "HTTP/1.0"; the engine still closes
** or keeps the connection as the request asked (http_request.keep_alive).
** OWNERSHIP: nothing is kept.
** THREADS: the thread building the response, before
**   hw_http_response_send().
** ERRORS: none; a NULL or already sent response is ignored.
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_set_http_version(hw_http_response* response, unsigned short major, unsigned short minor);

/*
** Set the status line, "200 OK" style (use the HTTP_STATUS_* macros).
**
** ^A status that does not start with a three-digit code, or a 1xx code,
** is answered as 500. Default: 200 OK. Calling it again replaces the
** status.
** OWNERSHIP: ^the hw_string and its bytes are read at
**   hw_http_response_send(), not before: keep them valid until then (a
**   string literal, or SETSTRING on one, always is).
** THREADS: the thread building the response, before
**   hw_http_response_send().
** ERRORS: none; a NULL argument or an already sent response is ignored.
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_set_response_status_code(hw_http_response* response, hw_string* status_code);

/*
** Add a response header field.
**
** ^Fields are sent in the order added; a name may repeat. ^The engine
** writes Server, Date and Content-Length itself: Content-Length and
** Transfer-Encoding given here are dropped, as is a field whose name is not
** a token or whose value holds CR, LF or NUL (no response splitting); a
** Server or Date given here is sent instead of the engine's.
** ^"Connection: close" closes the connection after the response. There is
** no fixed limit on the number of fields (Haywire overflowed a fixed
** array).
** OWNERSHIP: ^the bytes of name and value are read at
**   hw_http_response_send(), not before: keep them valid until then. The
**   hw_string structs themselves are copied now.
** THREADS: the thread building the response, before
**   hw_http_response_send().
** ERRORS: none; a NULL argument or an already sent response is ignored,
**   and so is the field when memory runs out.
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_set_response_header(hw_http_response* response, hw_string* name, hw_string* value);

/*
** Set the response body.
**
** ^The response carries Content-Length; ^a HEAD request gets the headers
** without the body. Calling it again replaces the body. Default: none.
** OWNERSHIP: ^the bytes are read (copied) at hw_http_response_send(), not
**   before: keep them valid until then. A request's own body (an echo)
**   may be passed as it is.
** THREADS: the thread building the response, before
**   hw_http_response_send().
** ERRORS: none; a NULL argument or an already sent response is ignored.
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_set_body(hw_http_response* response, hw_string* body);

/*
** Send the response.
**
** ^Everything set on the response is copied here, so stack buffers the
** callback used may go away afterwards. ^callback (may be NULL) is called
** exactly once, with user_data, once the bytes were written or the
** connection failed, on a library thread. Call once per response; ^later
** calls are ignored. If memory runs out copying, the client gets 500.
** OWNERSHIP: ^the response and the request it answers are the library's
**   again once this returns: neither may be used afterwards (the request's
**   strings included). user_data is passed back untouched.
** THREADS: ^from the request callback or, later, from any thread.
** ERRORS: none (returns nothing, as in Haywire); NULL is ignored.
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_http_response_send(hw_http_response* response, void* user_data, http_response_complete_callback callback);

/*
** Print the request's header fields to stdout, one line per field in the
** order received: "KEY: name VALUE: value".
**
** For debugging, as in Haywire's sample. ^Writes through stdio's stdout:
** when stdout is a pipe or a file the lines sit in its buffer until the
** program calls fflush(stdout) (or the buffer fills).
** OWNERSHIP: nothing is kept.
** THREADS: any thread holding the request; lines of concurrent calls may
**   interleave.
** ERRORS: none; NULL prints nothing.
** SINCE: Haywire
*/
HAYWIRE_EXTERN void hw_print_request_headers(http_request* request);

/*
** Print the request body to stdout: "BODY: <body>" or "BODY is empty!",
** then a newline.
**
** For debugging, as in Haywire's sample. Writes through stdio's stdout
** (see hw_print_request_headers()); the body is printed as it is, binary
** bytes included.
** OWNERSHIP: nothing is kept.
** THREADS: any thread holding the request.
** ERRORS: none; NULL prints nothing.
** SINCE: Haywire (exported there without a declaration)
*/
HAYWIRE_EXTERN void hw_print_body(http_request* request);

/* ------------------------------------------------------------------------
** Additions. Everything below returns HW_OK or a negative HW_E* code.
*/

/*
** Read the index-th request header field (0-based, in the order received).
** OUT: *name and *value point into the request (see http_request OWNERSHIP).
** RETURNS: HW_OK, or HW_EINVAL when index is past the last field or an
**   argument is NULL.
** SINCE: 0.1
*/
HAYWIRE_EXTERN int hw_request_header_at(http_request* request, size_t index, hw_string* name /* OUT */, hw_string* value /* OUT */);

/*
** Set one configuration key, with the names and value syntax of the INI
** file (see hw_init_from_config), e.g. hw_config_set("idle_timeout_ms", "5000").
** Keys not yet set keep their defaults (those of hw_init_from_config());
** calling hw_init_with_config() or hw_init_from_config() afterwards
** replaces the whole configuration. ^Like them, it starts the hw_stats()
** counters again from 0.
** RETURNS: HW_OK, HW_ECONFIG (unknown key or bad value), HW_ESTATE (the
**   server is running), HW_EINVAL (NULL argument).
** SINCE: 0.1
*/
HAYWIRE_EXTERN int hw_config_set(const char* key, const char* value);

/*
** Start serving without blocking. ^Returns once the listeners accept
** connections.
**
** ^The library installs no signal handlers: SIGINT and SIGTERM keep the
** program's dispositions (the default ends the process; a program that
** wants a graceful stop catches them and calls hw_stop()). ^A client that
** resets its connection while a response is written does not kill the
** process with SIGPIPE.
** THREADS: any thread.
** RETURNS: HW_OK; HW_EADDRINUSE (the port is taken); HW_ELISTEN (the
**   address cannot be bound: not one of this machine's, say);
**   HW_ECONFIG; HW_ESTATE (running, or a stop is under way).
** SINCE: 0.1
*/
HAYWIRE_EXTERN int hw_start(void);

/*
** Stop serving gracefully: stop accepting, close idle connections, let
** requests in progress finish (their responses carry "Connection: close"),
** and wait for them up to timeout_ms (negative: without limit). ^Connections
** still open after that are closed. ^An hw_http_open() blocked in another
** thread returns. ^The engine can be started again with the same routes.
** ^A callback still running when timeout_ms passes is not interrupted:
** its connection is closed, and hw_stop() returns HW_ETIMEDOUT once the
** callback has returned.
** RETURNS: HW_OK; HW_ETIMEDOUT (connections had to be cut; the engine is
**   stopped all the same); HW_ESTATE (not running; ^also from an
**   hw_stop() called while another hw_stop() is under way: it waits until
**   that one has finished, then returns HW_ESTATE, the engine stopped).
** THREADS: any thread, several at once (see HW_ESTATE), but not from a
**   request callback (it would wait for itself).
** SINCE: 0.1
*/
HAYWIRE_EXTERN int hw_stop(int timeout_ms);

/*
** The address and port the running engine listens on.
**
** ^Copies the address as text ("127.0.0.1", "::1"; a wildcard address may
** read "::", a socket that takes IPv4 and IPv6) into buf, NUL-terminated,
** and sets *port to the port: ^the one the system picked when
** listen_port was 0.
** OWNERSHIP: buf is the caller's; nothing is allocated. buf may be NULL
**   (size is then ignored) and port may be NULL, to ask for one of them.
** THREADS: any thread.
** RETURNS: HW_OK; HW_ESTATE (not running); HW_EINVAL (size too small:
**   48 bytes always suffice).
** SINCE: 0.4
*/
HAYWIRE_EXTERN int hw_listen_address(char* buf /* OUT */, size_t size, int* port /* OUT */);

/*
** Engine counters, cumulative since the configuration was last set
** (hw_init_with_config(), hw_init_from_config() or hw_config_set()),
** across hw_stop() and hw_start(), except connections_open and the bridge's
** occupancy fields. ^Each setting of the configuration starts them all
** from 0.
*/
typedef struct hw_stats_t
{
    uint64_t connections_accepted;
    uint64_t connections_open;
    uint64_t requests;          /* requests parsed and routed */
    uint64_t refused;           /* answered by the engine with 4xx/5xx: 400, 408, 413, 414, 417, 431, 501, 505 */
    uint64_t timeouts;          /* clients that stalled mid-request (408) */
    uint64_t handler_errors;    /* answered 500 for a callback: response abandoned, or internal failure */
    uint64_t bytes_read;
    uint64_t bytes_written;
    /* The bridge (since 0.3; all 0 while it is off). */
    uint64_t bridge_forwarded;  /* requests published to a host */
    uint64_t bridge_completed;  /* responses received and handed to the engine */
    uint64_t bridge_no_host;    /* answered 503: no host, no room, or not taken in time */
    uint64_t bridge_failed;     /* answered 502 (or cut): host died, detached or sent garbage */
    uint64_t bridge_invalid;    /* descriptors or messages from hosts that failed validation */
    uint64_t bridge_cancelled;  /* requests whose client went away, told to the host */
    uint64_t bridge_aborted;    /* responses a host abandoned (500 or cut) */
    uint64_t bridge_in_flight;  /* requests waiting for their response now */
    uint64_t bridge_queued;     /* descriptors on the rings that hosts have not taken yet */
    uint64_t bridge_chunks_lent; /* request-arena chunks hosts hold now (occupancy) */
    uint64_t bridge_chunks;     /* request-arena chunks in all (all lanes) */
    uint64_t bridge_body_in;    /* streamed request-body bytes sent to hosts */
    uint64_t bridge_body_out;   /* streamed response-body bytes written to clients */
    uint64_t bridge_host_pid;   /* pid of the host that gets new requests, 0 when none */
} hw_stats_t;

/*
** Copy the counters into *out. size is sizeof(hw_stats_t) as the caller
** knows it; ^the library writes at most size bytes, so a program compiled
** against an older header, with a smaller struct, keeps working.
** ^Before the first hw_start() after the configuration was set, all are 0.
** OWNERSHIP: *out is the caller's; nothing is allocated.
** THREADS: any thread, also while serving; each counter is read
**   atomically, the set is not one instant.
** RETURNS: HW_OK, HW_EINVAL (NULL out).
** SINCE: 0.1
*/
HAYWIRE_EXTERN int hw_stats(hw_stats_t* out /* OUT */, size_t size);

/*
** The name of the shared region hosts attach to, while the engine runs
** with the bridge on (hw_config_set("bridge", "1") or [bridge] bridge = 1
** in the INI file). Copies the NUL-terminated name into buf.
** OWNERSHIP: buf is the caller's; nothing is allocated.
** RETURNS: HW_OK; HW_ESTATE (not running, or the bridge is off); HW_EINVAL
**   (buf NULL, or size too small: names are at most 47 bytes, so 48 always
**   suffice).
** THREADS: any thread.
** SINCE: 0.2
*/
HAYWIRE_EXTERN int hw_region_name(char* buf /* OUT */, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* HAYWIRE_H */
