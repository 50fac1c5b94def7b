/*
** test-host: the host-side API (hw_host_*) against a running engine
** (build/haywire), in a process that never starts an engine: attach
** errors (bad name, no such region, not a region, open permissions, all
** lanes taken), timeouts, every request accessor, header lookups, streamed
** bodies both ways (reads, timeouts, a client that leaves, Content-Length
** kept, abort), response building and its errors,
** responses ended out of order on another thread, detach with requests
** out, hot swap (HW_EDRAINED) and the engine going away (HW_ECLOSED).
**
** Usage: test-host PORT REGION DIR ENGINE_PID          everything above
**        test-host PORT REGION DIR ENGINE_PID cancel   a client that
**            disconnects makes hw_host_request_cancelled() say so
** The engine listens on 127.0.0.1:PORT with its region in DIR; the main
** test stops it with SIGTERM at the end.
*/

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include "haywire_host.h"
#include "harness.h"

#define CHECK_STR(s, lit) do { hw_string s_ = (s); const char* l_ = (lit); \
    if (s_.value == NULL || s_.length != strlen(l_) || memcmp(s_.value, l_, s_.length) != 0) { \
    fprintf(stderr, "%s:%d: %s = \"%.*s\" (%s); want \"%s\"\n", __FILE__, __LINE__, #s, \
            (int)s_.length, s_.value ? s_.value : "", s_.value ? "set" : "NULL", l_); \
    hw_test_failures++; } } while (0)
#define CHECK_NULL_STRING(s) do { hw_string s_ = (s); if (s_.value != NULL || s_.length != 0) { \
    fprintf(stderr, "%s:%d: %s is not {NULL, 0}\n", __FILE__, __LINE__, #s); hw_test_failures++; } } while (0)

static int port;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client on its own thread: sends raw and reads until the server closes
** (the last request asks it to). It does not half-close, unlike
** hw_test_exchange: the engine reports a half-close to the host as a
** cancel, which some checks here must not see. */
typedef struct
{
    pthread_t thread;
    const char* raw;
    size_t rawlen;
    char* out;
    size_t cap;
    int n;
} client;

static void* client_run(void* arg)
{
    client* c = arg;
    size_t sent = 0, n = 0;
    int fd = hw_test_connect(port);
    if (fd < 0) return NULL;
    while (sent < c->rawlen) {
        ssize_t w = write(fd, c->raw + sent, c->rawlen - sent);
        if (w <= 0) break;
        sent += (size_t)w;
    }
    for (;;) {
        ssize_t r = read(fd, c->out + n, c->cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        if (n == c->cap - 1) break;
    }
    c->out[n] = 0;
    c->n = (int)n;
    close(fd);
    return NULL;
}

static void client_start(client* c, const char* raw, size_t rawlen, size_t cap)
{
    c->raw = raw;
    c->rawlen = rawlen;
    c->out = calloc(1, cap);
    c->cap = cap;
    c->n = -1;
    pthread_create(&c->thread, NULL, client_run, c);
}

static void client_join(client* c)
{
    pthread_join(c->thread, NULL);
}

static hw_host_request* next(hw_host* h)
{
    hw_host_request* req = (hw_host_request*)1;
    int rc = hw_host_next(h, 10000, &req);
    CHECK_INT(rc, HW_OK);
    if (rc != HW_OK) {
        CHECK(req == NULL);
        fprintf(stderr, "hw_host_next: %s\n", hw_last_error());
        return NULL;
    }
    return req;
}

static hw_string str(const char* s)
{
    hw_string r;
    r.value = (char*)s;
    r.length = strlen(s);
    return r;
}

static void attach_errors(const char* name, const char* dir)
{
    hw_host* h = (hw_host*)1;
    char path[512];
    int fd;

    CHECK_INT(hw_host_attach(NULL, dir, &h), HW_EINVAL);
    CHECK(h == NULL);
    CHECK_INT(hw_host_attach(name, dir, NULL), HW_EINVAL);

    h = (hw_host*)1;
    CHECK_INT(hw_host_attach("not-a-region", dir, &h), HW_EINVAL);
    CHECK(h == NULL);
    CHECK(strstr(hw_last_error(), "invalid region name") != NULL);
    CHECK(strstr(hw_last_error(), "not-a-region") != NULL);

    CHECK_INT(hw_host_attach("haywire-00000000-0000-4000-8000-000000000002", dir, &h), HW_ENOENT);
    CHECK(strstr(hw_last_error(), "no such region") != NULL);
    CHECK_INT(hw_host_attach(name, "/nonexistent/haywire-test", &h), HW_ENOENT);

    /* A file with a region's name that is not one. */
    snprintf(path, sizeof path, "%s/haywire-00000000-0000-4000-8000-000000000001", dir);
    fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_INT(ftruncate(fd, 65536), 0);
    close(fd);
    CHECK_INT(hw_host_attach("haywire-00000000-0000-4000-8000-000000000001", dir, &h), HW_EVERSION);
    CHECK(h == NULL);
    /* ... and one other users could open. */
    chmod(path, 0644);
    CHECK_INT(hw_host_attach("haywire-00000000-0000-4000-8000-000000000001", dir, &h), HW_EPERM);
    CHECK(strstr(hw_last_error(), "0644") != NULL);
    unlink(path);

    /* Calls on no host or no request. */
    CHECK_INT(hw_host_next(NULL, 0, NULL), HW_EINVAL);
    CHECK_INT(hw_host_detach(NULL), HW_OK);
    CHECK_NULL_STRING(hw_host_request_method(NULL));
    CHECK_NULL_STRING(hw_host_request_path(NULL));
    CHECK_NULL_STRING(hw_host_request_header(NULL, "Host"));
    CHECK_NULL_STRING(hw_host_request_remote_address(NULL));
    CHECK_INT(hw_host_request_header_count(NULL), 0);
    CHECK_INT(hw_host_request_id(NULL), 0);
    CHECK_INT(hw_host_request_cancelled(NULL), 0);
    CHECK_INT(hw_host_response_status(NULL, 200, NULL), HW_EINVAL);
    CHECK_INT(hw_host_response_write(NULL, "x", 1), HW_EINVAL);
    CHECK_INT(hw_host_response_end(NULL), HW_EINVAL);

    CHECK(strcmp(hw_strerror(HW_EDRAINED), "drained: a newer host took over") == 0);
    CHECK(strcmp(hw_strerror(HW_ECLOSED), "the engine went away") == 0);
    CHECK(strcmp(hw_strerror(HW_EBUSY), "every lane of the region is taken by a host") == 0);
    CHECK(strcmp(hw_strerror(HW_EVERSION), "incompatible region layout or version") == 0);
    CHECK(strcmp(hw_strerror(HW_EPERM), "permission denied") == 0);
}

/* Every accessor on one request, and the response's errors. */
static void accessors(hw_host* h)
{
    static const char raw[] =
        "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.test\r\nX-Custom: Value1\r\n"
        "x-custom: value2\r\nEmpty:\r\nConnection: close\r\n\r\n";
    client c;
    hw_host_request* req;
    hw_string name, value, bad;
    char expect[64];

    client_start(&c, raw, sizeof raw - 1, 65536);
    if ((req = next(h)) == NULL) return;
    CHECK_STR(hw_host_request_method(req), "GET");
    CHECK_INT(hw_host_request_method_id(req), HW_HTTP_GET);
    CHECK_STR(hw_host_request_target(req), "/a/b?x=1&y=2");
    CHECK_STR(hw_host_request_path(req), "/a/b");
    CHECK_STR(hw_host_request_query(req), "x=1&y=2");
    CHECK_INT(hw_host_request_has_query(req), 1);
    CHECK_STR(hw_host_request_host(req), "example.test");
    CHECK_INT(hw_host_request_body(req).length, 0);
    CHECK_INT(hw_host_request_http_minor(req), 1);
    CHECK_INT(hw_host_request_keep_alive(req), 0); /* Connection: close */
    CHECK(hw_host_request_id(req) != 0);
    CHECK(hw_host_request_connection_id(req) != 0);
    CHECK_STR(hw_host_request_remote_address(req), "127.0.0.1");
    CHECK(hw_host_request_remote_port(req) > 0 && hw_host_request_remote_port(req) != port);
    CHECK_STR(hw_host_request_local_address(req), "127.0.0.1");
    CHECK_INT(hw_host_request_local_port(req), port);
    CHECK_INT(hw_host_request_cancelled(req), 0);

    /* Headers: in order, repeated names twice, lookup ignores case. */
    CHECK_INT(hw_host_request_header_count(req), 5);
    CHECK_INT(hw_host_request_header_at(req, 0, &name, &value), HW_OK);
    CHECK_STR(name, "Host");
    CHECK_STR(value, "example.test");
    CHECK_INT(hw_host_request_header_at(req, 2, &name, &value), HW_OK);
    CHECK_STR(name, "x-custom");
    CHECK_STR(value, "value2");
    CHECK_INT(hw_host_request_header_at(req, 5, &name, &value), HW_EINVAL);
    CHECK(strstr(hw_last_error(), "index") != NULL);
    CHECK_INT(hw_host_request_header_at(req, 0, NULL, &value), HW_EINVAL);
    CHECK_STR(hw_host_request_header(req, "X-CUSTOM"), "Value1"); /* the first */
    CHECK_STR(hw_host_request_header(req, "connection"), "close");
    CHECK(hw_host_request_header(req, "Empty").value != NULL);
    CHECK_INT(hw_host_request_header(req, "Empty").length, 0);
    CHECK_NULL_STRING(hw_host_request_header(req, "Missing"));
    CHECK_NULL_STRING(hw_host_request_header(req, "X-Custo"));
    CHECK_NULL_STRING(hw_host_request_header(req, NULL));

    /* Response errors, then a response. */
    CHECK_INT(hw_host_response_status(req, 199, NULL), HW_EINVAL);
    CHECK_INT(hw_host_response_status(req, 1000, NULL), HW_EINVAL);
    bad = str("Bad\r\nReason");
    CHECK_INT(hw_host_response_status(req, 200, &bad), HW_EINVAL);
    name = str("Bad Name");
    value = str("v");
    CHECK_INT(hw_host_response_header(req, &name, &value), HW_EINVAL);
    CHECK(strstr(hw_last_error(), "token") != NULL);
    name = str("");
    CHECK_INT(hw_host_response_header(req, &name, &value), HW_EINVAL);
    name = str("X-Ok");
    value = str("a\nb");
    CHECK_INT(hw_host_response_header(req, &name, &value), HW_EINVAL);
    CHECK_INT(hw_host_response_header(req, NULL, &value), HW_EINVAL);
    CHECK_INT(hw_host_response_write(req, NULL, 5), HW_EINVAL);

    value = str("Fine");
    CHECK_INT(hw_host_response_status(req, 404, NULL), HW_OK);
    name = str("X-Reply");
    value = str("yes");
    CHECK_INT(hw_host_response_header(req, &name, &value), HW_OK);
    value = str("Fine");
    CHECK_INT(hw_host_response_status(req, 299, &value), HW_OK); /* changed again: still allowed */
    {
        hw_string n = str("X-From-Request"), v = hw_host_request_header(req, "X-Custom");
        CHECK_INT(hw_host_response_header(req, &n, &v), HW_OK); /* request strings pass as they are */
    }
    CHECK_INT(hw_host_response_write(req, "part1 ", 6), HW_OK);
    CHECK_INT(hw_host_response_write(req, NULL, 0), HW_OK);
    CHECK_INT(hw_host_response_write(req, "part2", 5), HW_OK);
    CHECK_INT(hw_host_response_status(req, 200, NULL), HW_ESTATE);
    CHECK_INT(hw_host_response_header(req, &name, &value), HW_ESTATE);
    CHECK_INT(hw_host_response_end(req), HW_OK);
    CHECK_INT(hw_host_response_end(req), HW_EINVAL); /* ended: nothing done */
    CHECK_NULL_STRING(hw_host_request_path(req));

    client_join(&c);
    CHECK_CONTAINS(c.out, "HTTP/1.1 299 Fine\r\n");
    CHECK_CONTAINS(c.out, "\r\nX-Reply: yes\r\n");
    CHECK_CONTAINS(c.out, "\r\nX-From-Request: Value1\r\n");
    CHECK_CONTAINS(c.out, "\r\nContent-Length: 11\r\n");
    snprintf(expect, sizeof expect, "\r\n\r\npart1 part2");
    CHECK_CONTAINS(c.out, expect);
    free(c.out);
}

/* Targets without a query, with an empty one, and HTTP/1.0. */
static void queries(hw_host* h)
{
    static const char raw[] =
        "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /empty? HTTP/1.1\r\nHost: t\r\n\r\n"
        "HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /ten HTTP/1.0\r\nContent-Length: 10\r\n\r\n0123456789";
    client c;
    hw_host_request* req;
    client_start(&c, raw, sizeof raw - 1, 65536);

    if ((req = next(h)) == NULL) return;
    CHECK_STR(hw_host_request_path(req), "/plain");
    CHECK_INT(hw_host_request_has_query(req), 0);
    CHECK_NULL_STRING(hw_host_request_query(req));
    CHECK_INT(hw_host_request_keep_alive(req), 1);
    hw_host_response_end(req);

    if ((req = next(h)) == NULL) return;
    CHECK_STR(hw_host_request_path(req), "/empty");
    CHECK_INT(hw_host_request_has_query(req), 1);
    CHECK(hw_host_request_query(req).value != NULL);
    CHECK_INT(hw_host_request_query(req).length, 0);
    hw_host_response_end(req);

    if ((req = next(h)) == NULL) return;
    CHECK_STR(hw_host_request_method(req), "HEAD");
    CHECK_INT(hw_host_request_method_id(req), HW_HTTP_HEAD);
    hw_host_response_write(req, "not sent", 8);
    hw_host_response_end(req);

    if ((req = next(h)) == NULL) return;
    CHECK_STR(hw_host_request_method(req), "POST");
    CHECK_INT(hw_host_request_method_id(req), HW_HTTP_POST);
    CHECK_INT(hw_host_request_http_minor(req), 0);
    CHECK_INT(hw_host_request_keep_alive(req), 0);
    CHECK_INT(hw_host_request_host(req).length, 0);
    CHECK_STR(hw_host_request_body(req), "0123456789");
    hw_host_response_write(req, "done", 4);
    hw_host_response_end(req);

    client_join(&c);
    CHECK_INT(hw_test_count(c.out, "HTTP/1.1 200 OK\r\n"), 4);
    CHECK_CONTAINS(c.out, "Content-Length: 8\r\n"); /* HEAD: announced, not sent */
    CHECK(strstr(c.out, "not sent") == NULL);
    CHECK_CONTAINS(c.out, "\r\n\r\ndone");
    free(c.out);
}

/* A body over many chunks (copied out of the arena into malloc'd memory),
** echoed back. */
/* A body larger than the engine's inline limit streams: body() has its
** first bytes only, body_read() all of it, in small reads; the echo goes
** back streamed with a Content-Length. */
static void big_body(hw_host* h)
{
    enum { N = 300000 };
    char* raw = malloc(N + 200);
    char* got = malloc(N + 1);
    int head = snprintf(raw, 200, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", N);
    client c;
    hw_host_request* req;
    hw_string body;
    size_t total = 0, n = 1;
    int rc = HW_OK;
    for (int i = 0; i < N; i++) raw[head + i] = (char)('a' + i % 26);
    client_start(&c, raw, (size_t)head + N, N + 4096);
    if ((req = next(h)) != NULL) {
        body = hw_host_request_body(req);
        CHECK(body.length < N); /* streamed: the view carries its first bytes at most */
        CHECK(body.length == 0 || memcmp(body.value, raw + head, body.length) == 0);
        CHECK_INT(hw_host_request_body_read(req, got, 0, 0, &n), HW_EINVAL);
        CHECK_INT(hw_host_request_body_read(req, got, 10, 0, NULL), HW_EINVAL);
        while (total < N && (rc = hw_host_request_body_read(req, got + total, 7000, 5000, &n)) == HW_OK && n > 0)
            total += n;
        CHECK_INT(rc, HW_OK);
        CHECK_INT(total, N);
        CHECK(total == N && memcmp(got, raw + head, N) == 0);
        CHECK_INT(hw_host_request_body_read(req, got, 10, 1000, &n), HW_OK);
        CHECK_INT(n, 0); /* the end, again */
        CHECK_INT(hw_host_response_begin(req, N), HW_OK);
        CHECK_INT(hw_host_response_begin(req, N), HW_ESTATE);
        CHECK_INT(hw_host_response_status(req, 201, NULL), HW_ESTATE);
        for (size_t off = 0; off < N; off += 10000)
            CHECK_INT(hw_host_response_write(req, got + off, N - off < 10000 ? N - off : 10000), HW_OK);
        CHECK_INT(hw_host_response_end(req), HW_OK);
    }
    client_join(&c);
    CHECK(c.n > N);
    CHECK_CONTAINS(c.out, "Content-Length: 300000\r\n");
    CHECK(c.n > N && memcmp(c.out + c.n - N, raw + head, N) == 0);
    free(c.out);
    free(got);
    free(raw);
}

/* A client that sends the head and part of the body, pauses, sends the
** rest (or goes away), then reads the answer until the server closes. */
typedef struct
{
    pthread_t thread;
    const char* head;
    size_t first, total; /* body bytes before the pause, and in all */
    int pause_ms, leave;
    char out[8192];
    int n;
    long long read_ms; /* from the last byte sent to the end of the answer */
} uploader;

static void* uploader_run(void* arg)
{
    uploader* u = arg;
    char block[4096];
    size_t sent = 0;
    int fd = hw_test_connect(port);
    memset(block, 'x', sizeof block);
    u->n = -1;
    if (fd < 0) return NULL;
    if (write(fd, u->head, strlen(u->head)) < 0) goto done;
    while (sent < u->total) {
        size_t k = u->total - sent < sizeof block ? u->total - sent : sizeof block;
        if (sent < u->first && sent + k > u->first) k = u->first - sent;
        if (sent == u->first && u->pause_ms > 0) {
            usleep((useconds_t)u->pause_ms * 1000);
            if (u->leave) goto done;
        }
        ssize_t w = write(fd, block, k);
        if (w <= 0) goto done;
        sent += (size_t)w;
    }
    u->n = 0;
    u->read_ms = now_ms();
    for (;;) {
        ssize_t r = read(fd, u->out + u->n, sizeof u->out - 1 - (size_t)u->n);
        if (r <= 0) break;
        u->n += (int)r;
        if (u->n == (int)sizeof u->out - 1) break;
    }
    u->out[u->n < 0 ? 0 : u->n] = 0;
    u->read_ms = now_ms() - u->read_ms;
done:
    close(fd);
    return NULL;
}

/* Body reads time out while the client pauses and fail with HW_ECANCELED
** when it leaves; a streamed response keeps its Content-Length (a longer
** write is refused, a short end aborts); abort before any response is a
** 500; a response begun without a length is chunked. */
static void body_stream_errors(hw_host* h)
{
    static const char head[] = "POST /pause HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
    static char buf[16384];
    uploader u;
    hw_host_request* req;
    size_t n, total = 0;
    int rc, timeouts = 0;
    client c;

    memset(&u, 0, sizeof u);
    u.head = head;
    u.first = 1000;
    u.total = 100000;
    u.pause_ms = 300;
    pthread_create(&u.thread, NULL, uploader_run, &u);
    if ((req = next(h)) != NULL) {
        while (total < 100000) {
            rc = hw_host_request_body_read(req, buf, sizeof buf, 50, &n);
            if (rc == HW_ETIMEDOUT) {
                CHECK_INT(n, 0);
                CHECK_INT(total, 1000); /* only during the pause */
                if (++timeouts > 100) break;
                continue;
            }
            CHECK_INT(rc, HW_OK);
            if (rc != HW_OK || n == 0) break;
            total += n;
        }
        CHECK_INT(total, 100000);
        CHECK(timeouts >= 2);
        CHECK_INT(hw_host_response_begin(req, 10), HW_OK);
        CHECK_INT(hw_host_response_write(req, "0123456789a", 11), HW_EINVAL);
        CHECK_INT(hw_host_response_write(req, "01234", 5), HW_OK);
        CHECK_INT(hw_host_response_end(req), HW_ESTATE); /* 5 of 10 bytes: aborted */
        CHECK_INT(hw_host_response_end(req), HW_EINVAL); /* released all the same */
    }
    pthread_join(u.thread, NULL);
    /* The engine gives up at once rather than leave the client waiting for
    ** five bytes that never come: it resets the connection (the client may
    ** have the head and the five bytes, or, the reset discarding what it
    ** had not read, nothing) or, if none of the response was written yet,
    ** answers 500. */
    CHECK_INT(u.n >= 0, 1);
    CHECK(u.read_ms < 3000);

    /* The client leaves mid-body. */
    memset(&u, 0, sizeof u);
    u.head = head;
    u.first = 20000;
    u.total = 100000;
    u.pause_ms = 50;
    u.leave = 1;
    pthread_create(&u.thread, NULL, uploader_run, &u);
    if ((req = next(h)) != NULL) {
        total = 0;
        while ((rc = hw_host_request_body_read(req, buf, sizeof buf, 5000, &n)) == HW_OK && n > 0) total += n;
        CHECK_INT(rc, HW_ECANCELED);
        CHECK_INT(n, 0);
        CHECK_INT(total, 20000);
        CHECK_INT(hw_host_response_abort(req), HW_OK);
        CHECK_INT(hw_host_response_abort(req), HW_EINVAL);
    }
    pthread_join(u.thread, NULL);

    /* Abort before any response: 500. A response begun without a length:
    ** chunked. */
    client_start(&c, "GET /abort HTTP/1.1\r\nHost: t\r\n\r\nGET /chunked HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 strlen("GET /abort HTTP/1.1\r\nHost: t\r\n\r\nGET /chunked HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
                 8192);
    if ((req = next(h)) != NULL) CHECK_INT(hw_host_response_abort(req), HW_OK);
    if ((req = next(h)) != NULL) {
        CHECK_INT(hw_host_request_body_read(req, buf, sizeof buf, 0, &n), HW_OK);
        CHECK_INT(n, 0); /* no body */
        CHECK_INT(hw_host_response_write(req, "first ", 6), HW_OK);
        CHECK_INT(hw_host_response_begin(req, -1), HW_OK);
        CHECK_INT(hw_host_response_write(req, "second", 6), HW_OK);
        CHECK_INT(hw_host_response_end(req), HW_OK);
    }
    client_join(&c);
    CHECK(c.n > 0);
    if (c.n > 0) {
        CHECK_CONTAINS(c.out, "HTTP/1.1 500 ");
        CHECK_CONTAINS(c.out, "Transfer-Encoding: chunked\r\n");
        CHECK_CONTAINS(c.out, "first ");
        CHECK_CONTAINS(c.out, "second");
        CHECK(strstr(c.out, "HTTP/1.1 500 ") < strstr(c.out, "HTTP/1.1 200 "));
    }
    free(c.out);
}

/* Requests held at once, ended in reverse order, one from another thread;
** detach refuses while they are out. */
typedef struct
{
    hw_host_request* req;
    int rc;
} ender;

static void* end_on_thread(void* arg)
{
    ender* e = arg;
    hw_host_response_write(e->req, "second", 6);
    e->rc = hw_host_response_end(e->req);
    return NULL;
}

static void out_of_order(hw_host* h)
{
    static const char r1[] = "GET /first HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    static const char r2[] = "GET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    client c1, c2;
    hw_host_request *a, *b, *first, *second;
    ender e;
    pthread_t t;

    client_start(&c1, r1, sizeof r1 - 1, 4096);
    client_start(&c2, r2, sizeof r2 - 1, 4096);
    if ((a = next(h)) == NULL || (b = next(h)) == NULL) return;
    first = hw_host_request_path(a).length == 6 ? a : b;
    second = first == a ? b : a;
    CHECK_STR(hw_host_request_path(first), "/first");
    CHECK_STR(hw_host_request_path(second), "/second");

    CHECK_INT(hw_host_detach(h), HW_ESTATE);
    CHECK(strstr(hw_last_error(), "not ended") != NULL);

    e.req = second;
    e.rc = -100;
    pthread_create(&t, NULL, end_on_thread, &e);
    pthread_join(t, NULL);
    CHECK_INT(e.rc, HW_OK);
    client_join(&c2);
    CHECK_CONTAINS(c2.out, "\r\n\r\nsecond");

    hw_host_response_write(first, "first", 5);
    CHECK_INT(hw_host_response_end(first), HW_OK);
    client_join(&c1);
    CHECK_CONTAINS(c1.out, "\r\n\r\nfirst");
    free(c1.out);
    free(c2.out);
}

/* A second host takes over (hot swap): the first drains; a third finds
** every lane taken; then the engine stops. */
static void swap_and_close(hw_host* h, const char* name, const char* dir, int engine_pid)
{
    static const char raw[] = "GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    hw_host *h2 = NULL, *h3 = (hw_host*)1;
    hw_host_request* req = (hw_host_request*)1;
    long long t0;
    client c;
    int rc;

    CHECK_INT(hw_host_attach(name, dir, &h2), HW_OK);
    CHECK_INT(hw_host_next(h, 5000, &req), HW_EDRAINED);
    CHECK(req == NULL);
    CHECK_INT(hw_host_next(h, 0, &req), HW_EDRAINED); /* again */

    t0 = now_ms();
    CHECK_INT(hw_host_attach(name, dir, &h3), HW_EBUSY);
    CHECK(h3 == NULL);
    CHECK(strstr(hw_last_error(), "taken") != NULL);
    CHECK(now_ms() - t0 >= 4500); /* it waited for a lane */

    client_start(&c, raw, sizeof raw - 1, 4096);
    if ((req = next(h2)) != NULL) {
        CHECK_STR(hw_host_request_path(req), "/after");
        hw_host_response_write(req, "from h2", 7);
        CHECK_INT(hw_host_response_end(req), HW_OK);
    }
    client_join(&c);
    CHECK_CONTAINS(c.out, "from h2");
    free(c.out);
    CHECK_INT(hw_host_detach(h), HW_OK);

    /* The engine stops: hw_host_next says so. */
    kill(engine_pid, SIGTERM);
    t0 = now_ms();
    do rc = hw_host_next(h2, 200, &req);
    while (rc == HW_ETIMEDOUT && now_ms() - t0 < 10000);
    CHECK_INT(rc, HW_ECLOSED);
    CHECK_INT(hw_host_detach(h2), HW_OK);
}

/* Wait until the engine routes requests to h: a request that finds no
** host waits for one (host_wait_ms), so the first one comes to h. */
static void wait_routed(hw_host* h)
{
    static const char raw[] = "GET /warm-up HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    long long t0 = now_ms();
    hw_host_request* req = NULL;
    client c;
    client_start(&c, raw, sizeof raw - 1, 4096);
    while (req == NULL && now_ms() - t0 < 10000) hw_host_next(h, 100, &req);
    CHECK(req != NULL);
    if (req) hw_host_response_end(req);
    client_join(&c);
    free(c.out);
}

/* Wait, running hw_host_next, until req is cancelled or 3 s pass. */
static void wait_cancelled(hw_host* h, hw_host_request* req)
{
    long long t0 = now_ms();
    while (!hw_host_request_cancelled(req) && now_ms() - t0 < 3000) {
        hw_host_request* other = NULL;
        hw_host_next(h, 50, &other); /* the cancel is read here */
        CHECK(other == NULL);
    }
    CHECK_INT(hw_host_request_cancelled(req), 1);
}

/* A client that goes away: the host sees the cancel while it waits. A
** client that only half-closes is reported too, and still gets the
** response. */
static void cancel(hw_host* h)
{
    static const char raw[] = "GET /cancel-me HTTP/1.1\r\nHost: t\r\n\r\n";
    hw_host_request* req;
    char out[4096];
    int n = 0, r;
    int fd = hw_test_connect(port);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, raw, sizeof raw - 1), sizeof raw - 1);
    if ((req = next(h)) == NULL) return;
    CHECK_INT(hw_host_request_cancelled(req), 0);
    close(fd);
    wait_cancelled(h, req);
    CHECK_INT(hw_host_response_end(req), HW_OK); /* still required; the engine discards it */

    fd = hw_test_connect(port);
    CHECK_INT(write(fd, raw, sizeof raw - 1), sizeof raw - 1);
    if ((req = next(h)) == NULL) return;
    shutdown(fd, SHUT_WR);
    wait_cancelled(h, req);
    hw_host_response_write(req, "still here", 10);
    CHECK_INT(hw_host_response_end(req), HW_OK);
    while (n < (int)sizeof out - 1 && (r = (int)read(fd, out + n, sizeof out - 1 - (size_t)n)) > 0) n += r;
    out[n] = 0;
    close(fd);
    CHECK_CONTAINS(out, "\r\n\r\nstill here");
}

int main(int argc, char** argv)
{
    hw_host* h = NULL;
    const char *name, *dir;
    long long t0;
    hw_host_request* req = (hw_host_request*)1;
    if (argc != 5 && !(argc == 6 && strcmp(argv[5], "cancel") == 0)) {
        fprintf(stderr, "usage: test-host PORT REGION DIR ENGINE_PID [cancel]\n");
        return 2;
    }
    port = atoi(argv[1]);
    name = argv[2];
    dir = argv[3];

    if (argc == 5) attach_errors(name, dir);
    CHECK_INT(hw_host_attach(name, dir, &h), HW_OK);
    if (h == NULL) return hw_test_done("test-host");

    wait_routed(h);
    if (argc == 6) {
        cancel(h);
        CHECK_INT(hw_host_detach(h), HW_OK);
        return hw_test_done("test-host");
    }

    /* No request: a timeout, after the time asked for. */
    CHECK_INT(hw_host_next(h, 0, &req), HW_ETIMEDOUT);
    CHECK(req == NULL);
    CHECK_INT(hw_host_next(h, 0, NULL), HW_EINVAL);
    t0 = now_ms();
    CHECK_INT(hw_host_next(h, 100, &req), HW_ETIMEDOUT);
    CHECK(now_ms() - t0 >= 95);

    accessors(h);
    queries(h);
    big_body(h);
    body_stream_errors(h);
    out_of_order(h);
    swap_and_close(h, name, dir, atoi(argv[4]));
    return hw_test_done("test-host");
}
