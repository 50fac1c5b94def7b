/*
** test-errors: the error codes of haywire_common.h (HW_E*), haywire_shm.h
** (HW_SHM_E*) and haywire_bridge.h (HW_BRIDGE_E*) are one error space:
** every failure code is in its header's range, no two are equal, and
** hw_strerror() and hw_err_name() of the library know each one.
** Usage: test-errors
*/
#include "harness.h"
#include "haywire_common.h"
#include "haywire_bridge.h"
#include "haywire_shm.h"

struct code
{
    int value;
    const char* name;
    const char* message;
};

static const struct code codes[] = {
#define XX(name, value, message) {value, "HW_" #name, message},
    HW_ERRNO_MAP(XX)
#undef XX
#define XX(name, value, message) {value, "HW_SHM_" #name, message},
        HW_SHM_ERRNO_MAP(XX)
#undef XX
#define XX(name, value, message) {value, "HW_BRIDGE_" #name, message},
            HW_BRIDGE_ERRNO_MAP(XX)
#undef XX
};

/* The range of the header that defines name: [lo, hi]. */
static void range(const char* name, int* lo, int* hi)
{
    if (strncmp(name, "HW_SHM_", 7) == 0) {
        *lo = -199;
        *hi = -101;
    } else if (strncmp(name, "HW_BRIDGE_", 10) == 0) {
        *lo = -299;
        *hi = -201;
    } else {
        *lo = -99;
        *hi = -1;
    }
}

int main(void)
{
    size_t n = sizeof codes / sizeof codes[0], i, j;
    for (i = 0; i < n; i++) {
        int lo, hi;
        if (codes[i].value == 0) continue; /* each header's OK: success is 0 in all three */
        range(codes[i].name, &lo, &hi);
        if (codes[i].value < lo || codes[i].value > hi) {
            fprintf(stderr, "%s = %d: outside its header's range %d .. %d\n", codes[i].name, codes[i].value, lo, hi);
            hw_test_failures++;
        }
        for (j = i + 1; j < n; j++)
            if (codes[j].value == codes[i].value) {
                fprintf(stderr, "%s and %s are both %d\n", codes[i].name, codes[j].name, codes[i].value);
                hw_test_failures++;
            }
        if (strcmp(hw_strerror(codes[i].value), codes[i].message) != 0) {
            fprintf(stderr, "hw_strerror(%s) = \"%s\"; want \"%s\"\n", codes[i].name, hw_strerror(codes[i].value),
                    codes[i].message);
            hw_test_failures++;
        }
        if (strcmp(hw_err_name(codes[i].value), codes[i].name) != 0) {
            fprintf(stderr, "hw_err_name(%d) = \"%s\"; want \"%s\"\n", codes[i].value, hw_err_name(codes[i].value),
                    codes[i].name);
            hw_test_failures++;
        }
    }
    CHECK(strcmp(hw_strerror(HW_OK), "success") == 0);
    CHECK(strcmp(hw_err_name(HW_OK), "HW_OK") == 0);
    CHECK(strcmp(hw_strerror(1), "unknown error") == 0);
    CHECK(strcmp(hw_err_name(-100), "unknown error") == 0);
    CHECK(strcmp(hw_strerror(-300), "unknown error") == 0);
    return hw_test_done("test-errors");
}
