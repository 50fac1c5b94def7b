/*
** errors.c — hw_strerror() and hw_err_name() over the one error space of
** haywire_common.h: the engine's, the region's (haywire_shm.h) and the
** bridge's (haywire_bridge.h) codes. Portable C, no futex: libhaywire
** compiles it too (cmd/libhaywire/errcodes.c), so both libraries name
** every code the same way.
*/
/* Exported from libhaywire_host, built with -fvisibility=hidden. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif
#include "haywire_common.h"
#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#include "haywire_shm.h"
#include "haywire_bridge.h"

#include <stddef.h>

/*
** One error space (haywire_common.h): each list keeps to its range, which
** the asserts below check, so a code says which list to look it up in;
** within a list, a code given twice is a duplicate case label, which the
** compiler refuses. Success is 0 in every list.
*/
#define HW__IN_RANGE(value, lo, hi) ((value) == 0 || ((value) >= (lo) && (value) <= (hi)))
#define XX(name, value, message)    _Static_assert(HW__IN_RANGE(value, -99, -1), "HW_" #name " outside -99 .. -1");
HW_ERRNO_MAP(XX)
#undef XX
#define XX(name, value, message) \
    _Static_assert(HW__IN_RANGE(value, -199, -101), "HW_SHM_" #name " outside -199 .. -101");
HW_SHM_ERRNO_MAP(XX)
#undef XX
#define XX(name, value, message) \
    _Static_assert(HW__IN_RANGE(value, -299, -201), "HW_BRIDGE_" #name " outside -299 .. -201");
HW_BRIDGE_ERRNO_MAP(XX)
#undef XX

/* The message (what == 0) or the name (what == 1) of a code, NULL for an
** unknown one. */
static const char* hw__error(int code, int what)
{
    if (code <= -200) {
        switch (code) {
#define XX(name, value, message) \
    case value: return what ? "HW_BRIDGE_" #name : message;
            HW_BRIDGE_ERRNO_MAP(XX)
#undef XX
        }
    } else if (code <= -100) {
        switch (code) {
#define XX(name, value, message) \
    case value: return what ? "HW_SHM_" #name : message;
            HW_SHM_ERRNO_MAP(XX)
#undef XX
        }
    } else {
        switch (code) {
#define XX(name, value, message) \
    case value: return what ? "HW_" #name : message;
            HW_ERRNO_MAP(XX)
#undef XX
        }
    }
    return NULL;
}

const char* hw_strerror(int code)
{
    const char* s = hw__error(code, 0);
    return s ? s : "unknown error";
}

const char* hw_err_name(int code)
{
    const char* s = hw__error(code, 1);
    return s ? s : "unknown error";
}
