/*
** harness.h — helpers for the C tests: checks that report file:line, and
** a raw-socket HTTP client. Tests link only against libhaywire and libc.
*/
#ifndef HW_TEST_HARNESS_H
#define HW_TEST_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int hw_test_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            hw_test_failures++;                                                      \
        }                                                                            \
    } while (0)
#define CHECK_INT(got, want)                                                                    \
    do {                                                                                        \
        long long g_ = (long long)(got), w_ = (long long)(want);                                \
        if (g_ != w_) {                                                                         \
            fprintf(stderr, "%s:%d: %s = %lld; want %lld\n", __FILE__, __LINE__, #got, g_, w_); \
            hw_test_failures++;                                                                 \
        }                                                                                       \
    } while (0)
#define CHECK_CONTAINS(hay, needle)                                                                      \
    do {                                                                                                 \
        if (strstr((hay), (needle)) == NULL) {                                                           \
            fprintf(stderr, "%s:%d: response lacks \"%s\":\n%s\n", __FILE__, __LINE__, (needle), (hay)); \
            hw_test_failures++;                                                                          \
        }                                                                                                \
    } while (0)

/* Connect to 127.0.0.1:port; -1 on failure. */
static inline int hw_test_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send raw bytes, half-close, and read everything the server sends until
** it closes. Returns bytes read into out (NUL-terminated), -1 if the
** connection failed. */
static inline int hw_test_exchange(int port, const char* raw, size_t rawlen, char* out, size_t cap)
{
    int fd = hw_test_connect(port);
    size_t n = 0, sent = 0;
    if (fd < 0) return -1;
    while (sent < rawlen) {
        ssize_t w = write(fd, raw + sent, rawlen - sent);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap - 1) break;
    }
    out[n] = 0;
    close(fd);
    return (int)n;
}

static inline int hw_test_get(int port, const char* raw, char* out, size_t cap)
{
    return hw_test_exchange(port, raw, strlen(raw), out, cap);
}

/* Count occurrences of needle in hay. */
static inline int hw_test_count(const char* hay, const char* needle)
{
    int n = 0;
    for (const char* p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static inline int hw_test_done(const char* name)
{
    if (hw_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, hw_test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
