/*
** haywire_common.h — what the engine API and the host API share.
**
** WHICH HEADER IS FOR WHOM
**   haywire.h          programs that embed the engine (libhaywire): the
**                      Haywire API, hw_start(), hw_stop(), hw_stats()
**   haywire_host.h     application hosts written in C: hw_host_attach(),
**                      hw_host_next(), hw_host_response_end()
**   haywire_shm.h, haywire_bridge.h
**                      hosts written in another language: the layout of
**                      the shared region and the bridge protocol, as a
**                      specification (no library is needed to follow it)
**   haywire_common.h   this file: included by haywire.h and
**                      haywire_host.h; a program need not include it
**                      itself
**
** It holds the export macros, the version, the error codes (HW_ERRNO_MAP),
** hw_string, the HTTP method numbers (HW_HTTP_METHOD_MAP), and the four
** calls every haywire library exports: hw_version(), hw_version_number(),
** hw_strerror() and hw_last_error().
**
** CONVENTIONS
**   - A sentence marked ^ is a promise the tests check.
**   - Functions return an int: HW_OK (0) on success, a negative HW_E* code
**     on failure; after a failure hw_last_error() describes it.
*/
#ifndef HAYWIRE_COMMON_H
#define HAYWIRE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef _WIN32
    /* Windows - set up dll import/export decorators. */
    #ifdef BUILDING_HAYWIRE_SHARED
        /* Building shared library. */
        #define HAYWIRE_EXTERN __declspec(dllexport)
    #else
        #ifdef USING_HAYWIRE_SHARED
            /* Using shared library. */
            #define HAYWIRE_EXTERN __declspec(dllimport)
        #else
            /* Building static library. */
            #define HAYWIRE_EXTERN /* nothing */
        #endif
    #endif

    #define HAYWIRE_CALLING_CONVENTION __cdecl
#else
    #define HAYWIRE_EXTERN /* nothing */
    #define HAYWIRE_CALLING_CONVENTION /* nothing */
#endif

/*
** VERSION
** HW_VERSION_NUMBER is MAJOR*1000000 + MINOR*1000 + PATCH. ^hw_version_number()
** returns the library's number, so a program can check that the header it
** was compiled with matches the library it runs with: same major = same ABI.
*/
#define HW_VERSION_MAJOR 0
#define HW_VERSION_MINOR 5
#define HW_VERSION_PATCH 0
#define HW_VERSION_STRING "0.5.0"
#define HW_VERSION_NUMBER (HW_VERSION_MAJOR * 1000000 + HW_VERSION_MINOR * 1000 + HW_VERSION_PATCH)

/*
** ERROR CODES
** One list gives each code its name, value and message; it generates the
** enum below and hw_strerror(). New codes may be added in later versions.
*/
/* beginning-of-error-codes */
#define HW_ERRNO_MAP(XX)                                                      \
    XX(OK,         0, "success")                                              \
    XX(EINVAL,    -1, "invalid argument")                                     \
    XX(ESTATE,    -2, "not allowed in the engine's current state")            \
    XX(ECONFIG,   -3, "invalid configuration")                                \
    XX(ENOENT,    -4, "no such file")                                         \
    XX(EADDRINUSE,-5, "address already in use")                               \
    XX(ELISTEN,   -6, "cannot listen on the configured address")              \
    XX(ETIMEDOUT, -7, "timed out")                                            \
    XX(ENOMEM,    -8, "out of memory")                                        \
    XX(EINTERNAL, -9, "internal error")                                       \
    XX(EDRAINED, -10, "drained: a newer host took over")                      \
    XX(ECLOSED,  -11, "the engine went away")                                 \
    XX(EBUSY,    -12, "every lane of the region is taken by a host")          \
    XX(EVERSION, -13, "incompatible region layout or version")                \
    XX(EPERM,    -14, "permission denied")                                 \
    XX(ECANCELED,-15, "the client went away")
/* end-of-error-codes */

typedef enum hw_status
{
#define XX(name, value, message) HW_##name = value,
    HW_ERRNO_MAP(XX)
#undef XX
} hw_status;

/*
** A string that is not NUL-terminated: length bytes at value.
*/
typedef struct
{
    char* value;
    size_t length;
} hw_string;

/* Request Methods. The same table, entry for entry, as HW_BRIDGE_METHOD_MAP
** in haywire_bridge.h, where the bridge's method_id numbering is defined
** (bridge TestContractMethodNumbering checks that they agree). */
#define HW_HTTP_METHOD_MAP(XX)       \
XX(0,  DELETE,      DELETE)       \
XX(1,  GET,         GET)          \
XX(2,  HEAD,        HEAD)         \
XX(3,  POST,        POST)         \
XX(4,  PUT,         PUT)          \
/* pathological */                \
XX(5,  CONNECT,     CONNECT)      \
XX(6,  OPTIONS,     OPTIONS)      \
XX(7,  TRACE,       TRACE)        \
/* webdav */                      \
XX(8,  COPY,        COPY)         \
XX(9,  LOCK,        LOCK)         \
XX(10, MKCOL,       MKCOL)        \
XX(11, MOVE,        MOVE)         \
XX(12, PROPFIND,    PROPFIND)     \
XX(13, PROPPATCH,   PROPPATCH)    \
XX(14, SEARCH,      SEARCH)       \
XX(15, UNLOCK,      UNLOCK)       \
/* subversion */                  \
XX(16, REPORT,      REPORT)       \
XX(17, MKACTIVITY,  MKACTIVITY)   \
XX(18, CHECKOUT,    CHECKOUT)     \
XX(19, MERGE,       MERGE)        \
/* upnp */                        \
XX(20, MSEARCH,     M-SEARCH)     \
XX(21, NOTIFY,      NOTIFY)       \
XX(22, SUBSCRIBE,   SUBSCRIBE)    \
XX(23, UNSUBSCRIBE, UNSUBSCRIBE)  \
/* RFC-5789 */                    \
XX(24, PATCH,       PATCH)        \
XX(25, PURGE,       PURGE)        \

enum hw_http_method
{
#define XX(num, name, string) HW_HTTP_##name = num,
    HW_HTTP_METHOD_MAP(XX)
#undef XX
};

/* http_request.method (haywire.h) and hw_host_request_method_id()
** (haywire_host.h) for a valid method not in HW_HTTP_METHOD_MAP. */
#define HW_HTTP_METHOD_OTHER 255

/*
** The library's version as "MAJOR.MINOR.PATCH", and as HW_VERSION_NUMBER.
** Every haywire library (libhaywire, and a library implementing
** haywire_host.h) exports these four calls.
** OWNERSHIP: a static string; do not free.
** SINCE: 0.1
*/
HAYWIRE_EXTERN const char* hw_version(void);
HAYWIRE_EXTERN int hw_version_number(void);

/*
** The message for an HW_E* code ("unknown error" for others).
** OWNERSHIP: a static string; do not free.
** SINCE: 0.1
*/
HAYWIRE_EXTERN const char* hw_strerror(int code);

/*
** A description of the last failure of a haywire call on this thread.
** Each library keeps its own: the string describes the last failing
** call into the library this symbol resolves to.
** OWNERSHIP: ^the string belongs to the library and stays valid until the
**   next failing haywire call on the same thread; do not free. "" when no
**   call has failed on this thread.
** THREADS: per thread.
** SINCE: 0.1
*/
HAYWIRE_EXTERN const char* hw_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* HAYWIRE_COMMON_H */
