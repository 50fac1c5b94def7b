/*
** c_host — an application host in C: it attaches to the shared region of
** an engine (build/haywire) and serves the requests the engine forwards.
**
**   GET  /                 → "hello world" (text/html)
**   POST /echo             → the request body, with the request's
**                            Content-Type, streamed back piece by piece
**   GET  /download?bytes=N → N bytes of a pattern (byte i is
**                            (i * 131 + 7) & 0xFF), streamed
**   POST /sum              → "bytes=N fnv1a64=HEX\n": the body's length
**                            and FNV-1a 64 checksum, read streaming
**   GET  /slow[?ms=N]      → "slow" after N milliseconds (default 2000)
**   anything else          → 404
**
** Usage: c_host --region NAME [--region-dir DIR]
**
** NAME is what the engine printed ("region: NAME"); without --region,
** $HAYWIRE_REGION and $HAYWIRE_REGION_DIR (the launcher's --host-command
** sets them). It serves until
** SIGTERM or SIGINT (exit 0), until a newer host takes over and everything
** it held was answered (a hot swap; exit 0), or until the engine goes away
** (exit 3).
**
** One thread does everything: it waits for requests with hw_host_next()
** and answers most at once; /slow requests wait in a list, ordered by due
** time, and are answered from the same loop, which bounds each wait by the
** next due time. Bodies of any size go through a 64 KiB buffer: /echo,
** /sum and /download hold no more whatever the size (the engine bounds
** what is in flight), and other requests wait while one streams. It uses
** only haywire_host.h: build.sh links it statically to libhaywire_host.a
** (no Go runtime in the process; on macOS and Windows to libhaywire).
*/
#define _XOPEN_SOURCE 700 /* sigaction, SA_ONSTACK, clock_gettime */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif
#include "haywire_host.h"

/* 0 serving; 1 a signal came: leave; 2 leaving; 3 a second signal: quit. */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = stopping ? 3 : 1;
}

static void usage(FILE* f)
{
    fprintf(f,
            "usage: c_host --region NAME [--region-dir DIR]\n"
            "\n"
            "Attaches to the region NAME of a running engine (build/haywire prints\n"
            "\"region: NAME\" first) and serves its requests:\n"
            "  /                  hello world\n"
            "  /echo              the request body, streamed back\n"
            "  /download?bytes=N  N bytes of the pattern (i * 131 + 7) & 0xFF, streamed\n"
            "  /sum               the body's length and FNV-1a 64 checksum\n"
            "  /slow?ms=N         answers after N ms (default 2000)\n"
            "  /holding           how many /slow requests wait for their answer\n"
            "On SIGTERM or SIGINT it leaves: the engine sends it no more requests,\n"
            "it answers those it has and exits (a second signal: at once). It also\n"
            "exits once drained by a newer host.\n"
            "\n"
            "  --region NAME      the region to attach to (default $HAYWIRE_REGION)\n"
            "  --region-dir DIR   the directory of the region files (default $HAYWIRE_REGION_DIR\n"
            "                     with $HAYWIRE_REGION, else /dev/shm)\n"
            "  --help             this text\n");
}

static long long now_ms(void)
{
#ifdef _WIN32
    return (long long)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

static void catch_signals(void)
{
#ifdef _WIN32
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
#else
    /* Linked to libhaywire (macOS), the Go runtime inside may run the
    ** handler on one of its threads: it needs SA_ONSTACK there. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
#endif
}

static int equals(hw_string s, const char* lit)
{
    size_t n = strlen(lit);
    return s.length == n && memcmp(s.value, lit, n) == 0;
}

static void header(hw_host_request* req, const char* name, const char* value)
{
    hw_string n, v;
    n.value = (char*)name;
    n.length = strlen(name);
    v.value = (char*)value;
    v.length = strlen(value);
    hw_host_response_header(req, &n, &v);
}

static void end(hw_host_request* req)
{
    int rc = hw_host_response_end(req);
    if (rc != HW_OK && rc != HW_ECLOSED)
        fprintf(stderr, "c_host: hw_host_response_end: %s: %s\n", hw_strerror(rc), hw_last_error());
}

static void answer(hw_host_request* req, int status, const char* type, const void* body, size_t len)
{
    if (status != 200) hw_host_response_status(req, status, NULL);
    header(req, "Content-Type", type);
    hw_host_response_write(req, body, len);
    end(req);
}

/* The /slow requests waiting for their time, ordered by due. */
typedef struct
{
    hw_host_request* req;
    long long due;
} pending;

static pending* slow;
static size_t nslow, capslow;

static int add_slow(hw_host_request* req, long long due)
{
    size_t i;
    if (nslow == capslow) {
        size_t n = capslow ? 2 * capslow : 64;
        pending* p = realloc(slow, n * sizeof *p);
        if (!p) return -1;
        slow = p;
        capslow = n;
    }
    for (i = nslow; i > 0 && slow[i - 1].due > due; i--) slow[i] = slow[i - 1];
    slow[i].req = req;
    slow[i].due = due;
    nslow++;
    return 0;
}

/* Answer the due ones, and the ones whose client went away (no need to
** wait for those: the engine discards the answer, or delivers it to a
** client that only half-closed); with all, answer every one now. */
static void run_slow(int all)
{
    long long t = now_ms();
    size_t i, kept = 0;
    for (i = 0; i < nslow; i++) {
        hw_host_request* req = slow[i].req;
        if (all || slow[i].due <= t || hw_host_request_cancelled(req))
            answer(req, 200, "text/plain", "slow", 4);
        else
            slow[kept++] = slow[i];
    }
    nslow = kept;
}

/* The streaming buffer: one, since one thread serves. */
static char piece[64 * 1024];

/* How long a body read waits for the client (the engine gives up on a
** stalled body sooner, with a cancel). */
#define BODY_WAIT_MS 60000

/* The digits of s as a number, -1 if s is empty, not all digits or over
** 2^50 (a petabyte: enough for a test, far from overflow). */
static long long number(hw_string s)
{
    long long v = 0;
    if (s.value == NULL || s.length == 0) return -1;
    for (size_t i = 0; i < s.length; i++) {
        if (s.value[i] < '0' || s.value[i] > '9' || v > (1LL << 50)) return -1;
        v = v * 10 + (s.value[i] - '0');
    }
    return v;
}

/* Read the next piece of req's body into piece: its length, 0 at the end,
** -1 when the body failed (client gone, engine gone, too slow). */
static long long read_piece(hw_host_request* req)
{
    size_t n;
    int rc = hw_host_request_body_read(req, piece, sizeof piece, BODY_WAIT_MS, &n);
    if (rc != HW_OK) {
        if (rc != HW_ECANCELED) fprintf(stderr, "c_host: reading a body: %s: %s\n", hw_strerror(rc), hw_last_error());
        return -1;
    }
    return (long long)n;
}

/* POST /echo: each piece read goes straight back; the response streams
** with the request's Content-Length when it has one. The first read comes
** before the response begins: for "Expect: 100-continue" it is what asks
** the client for the body. */
static void echo(hw_host_request* req)
{
    hw_string type = hw_host_request_header(req, "Content-Type");
    hw_string name = {"Content-Type", 12};
    long long len = number(hw_host_request_header(req, "Content-Length")), n;
    if (hw_host_request_header(req, "Transfer-Encoding").value != NULL) len = -1;
    if (type.value != NULL)
        hw_host_response_header(req, &name, &type);
    else
        header(req, "Content-Type", "application/octet-stream");
    if ((n = read_piece(req)) < 0) {
        hw_host_response_abort(req);
        return;
    }
    if (hw_host_response_begin(req, len) != HW_OK) {
        end(req); /* the engine went away: release the request */
        return;
    }
    for (; n > 0; n = read_piece(req)) {
        if (hw_host_response_write(req, piece, (size_t)n) != HW_OK) break;
    }
    if (n == 0)
        end(req);
    else
        hw_host_response_abort(req); /* the response cannot be completed */
}

/* GET /download?bytes=N: the pattern, 64 KiB a write. Its period, 256,
** divides the buffer, so one buffer serves every write. */
static void download(hw_host_request* req)
{
    hw_string q = hw_host_request_query(req);
    long long total = -1, sent = 0;
    if (q.length > 6 && memcmp(q.value, "bytes=", 6) == 0) {
        hw_string v = {q.value + 6, q.length - 6};
        total = number(v);
    }
    if (total < 0) {
        answer(req, 400, "text/plain", "c_host: want /download?bytes=N\n", 31);
        return;
    }
    for (size_t i = 0; i < sizeof piece; i++) piece[i] = (char)((i * 131 + 7) & 0xFF);
    header(req, "Content-Type", "application/octet-stream");
    if (hw_host_response_begin(req, total) != HW_OK) {
        end(req);
        return;
    }
    while (sent < total) {
        size_t n = total - sent < (long long)sizeof piece ? (size_t)(total - sent) : sizeof piece;
        if (hw_host_response_write(req, piece, n) != HW_OK) {
            hw_host_response_abort(req);
            return;
        }
        sent += (long long)n;
    }
    end(req);
}

/* POST /sum: the body's length and FNV-1a 64, read piece by piece. */
static void sum(hw_host_request* req)
{
    uint64_t h = 14695981039346656037ULL, total = 0;
    long long n;
    char text[64];
    while ((n = read_piece(req)) > 0) {
        for (long long i = 0; i < n; i++) {
            h ^= (unsigned char)piece[i];
            h *= 1099511628211ULL;
        }
        total += (uint64_t)n;
    }
    if (n < 0) {
        answer(req, 400, "text/plain", "c_host: the body broke off\n", 27);
        return;
    }
    snprintf(text, sizeof text, "bytes=%llu fnv1a64=%016llx\n", (unsigned long long)total, (unsigned long long)h);
    answer(req, 200, "text/plain", text, strlen(text));
}

static void serve(hw_host_request* req)
{
    hw_string path = hw_host_request_path(req);
    if (equals(path, "/")) {
        answer(req, 200, "text/html", "hello world", 11);
    } else if (equals(path, "/echo")) {
        echo(req);
    } else if (equals(path, "/download")) {
        download(req);
    } else if (equals(path, "/sum")) {
        sum(req);
    } else if (equals(path, "/slow")) {
        long long ms = 2000;
        hw_string q = hw_host_request_query(req);
        if (q.length > 3 && memcmp(q.value, "ms=", 3) == 0) {
            ms = 0;
            for (size_t i = 3; i < q.length && q.value[i] >= '0' && q.value[i] <= '9' && ms < 86400000; i++)
                ms = ms * 10 + (q.value[i] - '0');
        }
        if (add_slow(req, now_ms() + ms) != 0) answer(req, 503, "text/plain", "c_host: out of memory\n", 22);
    } else if (equals(path, "/holding")) {
        char n[24];
        int len = snprintf(n, sizeof n, "%zu", nslow);
        answer(req, 200, "text/plain", n, (size_t)len);
    } else {
        answer(req, 404, "text/plain", "not found\n", 10);
    }
}

int main(int argc, char** argv)
{
    const char *name = NULL, *dir = NULL;
    hw_host* host;
    int rc, i, status = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--region") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--region-dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "c_host: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (name == NULL && getenv("HAYWIRE_REGION") && *getenv("HAYWIRE_REGION")) {
        /* Started by the launcher (--host-command): the region is in the environment. */
        name = getenv("HAYWIRE_REGION");
        if (dir == NULL && getenv("HAYWIRE_REGION_DIR") && *getenv("HAYWIRE_REGION_DIR"))
            dir = getenv("HAYWIRE_REGION_DIR");
    }
    if (name == NULL) {
        fprintf(stderr, "c_host: --region NAME (or HAYWIRE_REGION) is required\n");
        usage(stderr);
        return 2;
    }

    catch_signals();

    rc = hw_host_attach(name, dir, &host);
    if (rc != HW_OK) {
        fprintf(stderr, "c_host: attach to %s: %s: %s\n", name, hw_strerror(rc), hw_last_error());
        return 1;
    }
    printf("c_host: attached to %s\n", name);
    fflush(stdout);

    for (;;) {
        hw_host_request* req;
        int timeout = 100; /* how often a signal is looked at */
        if (nslow > 0) {
            long long left = slow[0].due - now_ms();
            if (left < timeout) timeout = left < 0 ? 0 : (int)left;
        }
        if (stopping == 3) break;
        if (stopping == 1) {
            /* Leave rather than detach at once: requests already on their
            ** way get answered, and nothing is sent to us after this. */
            stopping = 2;
            if (hw_host_leave(host) != HW_OK) break;
        }
        rc = hw_host_next(host, timeout, &req);
        if (rc == HW_OK) {
            serve(req);
        } else if (rc == HW_EDRAINED) {
            if (stopping)
                fprintf(stderr, "c_host: left: every request answered\n");
            else
                fprintf(stderr, "c_host: drained: a newer host took over\n");
            break;
        } else if (rc == HW_ECLOSED) {
            fprintf(stderr, "c_host: %s: %s\n", hw_strerror(rc), hw_last_error());
            status = 3;
            break;
        } else if (rc != HW_ETIMEDOUT) {
            fprintf(stderr, "c_host: hw_host_next: %s: %s\n", hw_strerror(rc), hw_last_error());
            status = 1;
            break;
        }
        run_slow(0);
    }
    run_slow(1); /* stopping: answer what is left now */
    rc = hw_host_detach(host);
    if (rc != HW_OK) {
        fprintf(stderr, "c_host: detach: %s: %s\n", hw_strerror(rc), hw_last_error());
        return 1;
    }
    free(slow);
    return status;
}
