/*
** test-shm-check -- runs the header's validators on inputs prepared by the
** Go tests, which compare the verdicts with the Go decoders (two parsers
** of one contract must agree). Includes only haywire_shm_impl.h (and so haywire_shm.h) and ISO C, and
** is compiled with -std=c11 -pedantic -Werror to prove the header needs
** nothing else.
**
**   test-shm-check desc FILE ARENA_SIZE CHUNK_SIZE ROLE MIN_EPOCH WANT_EPOCH
**       FILE holds 32-byte descriptors; prints one HW_SHM_* code per line.
**   test-shm-check header FILE
**       FILE holds a region image; prints the code and the message.
*/
#include "haywire_shm_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long num(const char* s) { return strtoull(s, NULL, 0); }

int main(int argc, char** argv)
{
    FILE* f;
    if (argc >= 3 && strcmp(argv[1], "desc") == 0 && argc == 8) {
        hw_shm_arena_entry a;
        hw_shm_desc d;
        memset(&a, 0, sizeof a);
        a.size = num(argv[3]);
        a.chunk_size = (uint32_t)num(argv[4]);
        a.chunk_count = (uint32_t)(a.size / a.chunk_size);
        if ((f = fopen(argv[2], "rb")) == NULL) return 1;
        while (fread(&d, sizeof d, 1, f) == 1)
            printf("%d\n",
                   hw_shm_desc_check(&d, (int)num(argv[5]), &a, (uint32_t)num(argv[6]), (uint32_t)num(argv[7])));
        fclose(f);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "header") == 0) {
        char why[256] = "";
        long size;
        void* buf;
        int rc;
        if ((f = fopen(argv[2], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) return 1;
        rewind(f);
        /* Over-allocate so a header that lies about its tables cannot make the
        ** check read beyond the buffer before it rejects them. */
        buf = calloc(1, (size_t)size + 8);
        if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) return 1;
        fclose(f);
        rc = hw_shm_header_check(buf, (uint64_t)size, why, sizeof why);
        printf("%d %s\n", rc, why);
        free(buf);
        return 0;
    }
    fprintf(stderr, "usage: test-shm-check desc|header ...\n");
    return 2;
}
