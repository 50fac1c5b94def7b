/*
** test-stop: hw_stop() with requests in flight — one that completes within
** the timeout (the client gets its response), one that outlasts it
** (HW_ETIMEDOUT once the callback returns), and two threads calling
** hw_stop() at once (one HW_OK, the other waits and gets HW_ESTATE; the
** engine starts again: nothing left locked). Also the promises of
** hw_start() about signals: SIGINT and SIGTERM keep their dispositions
** (SIG_DFL here), and a client that resets its connection while a large
** response is written does not kill the process with SIGPIPE.
** Usage: test-stop PORT
*/

#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include "haywire.h"
#include "harness.h"

static int port;
static int entered; /* callbacks that have begun (atomic) */
static int left;    /* callbacks that have returned (atomic) */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* user_data: how long to sleep, in ms, before answering "slept". */
static void sleeper(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)request;
    __atomic_fetch_add(&entered, 1, __ATOMIC_SEQ_CST);
    usleep((useconds_t)(intptr_t)user_data * 1000);
    SETSTRING(body, "slept");
    hw_set_body(response, &body);
    hw_http_response_send(response, NULL, NULL);
    __atomic_fetch_add(&left, 1, __ATOMIC_SEQ_CST);
}

/* Sleeps 200 ms, then answers 8 MiB: more than the socket buffers take,
** so the engine keeps writing after the client has gone. */
static char big_body[8 << 20];

static void big(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)request;
    (void)user_data;
    __atomic_fetch_add(&entered, 1, __ATOMIC_SEQ_CST);
    usleep(200000);
    body.value = big_body;
    body.length = sizeof big_body;
    hw_set_body(response, &body);
    hw_http_response_send(response, NULL, NULL);
    __atomic_fetch_add(&left, 1, __ATOMIC_SEQ_CST);
}

static void hello(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)request;
    (void)user_data;
    SETSTRING(body, "hello world");
    hw_set_body(response, &body);
    hw_http_response_send(response, NULL, NULL);
}

/* A client on its own thread: one request, the whole answer. */
struct client
{
    const char* request;
    char resp[4096];
    int n;
    pthread_t t;
};

static void* client_run(void* arg)
{
    struct client* c = arg;
    c->n = hw_test_get(port, c->request, c->resp, sizeof c->resp);
    return NULL;
}

static void client_start(struct client* c, const char* request)
{
    c->request = request;
    c->resp[0] = 0;
    c->n = -2;
    pthread_create(&c->t, NULL, client_run, c);
}

/* Wait until `entered` reaches n (a callback is running). */
static void wait_entered(int n)
{
    for (int i = 0; i < 1000 && __atomic_load_n(&entered, __ATOMIC_SEQ_CST) < n; i++) usleep(5000);
    CHECK(__atomic_load_n(&entered, __ATOMIC_SEQ_CST) >= n);
}

struct stopper
{
    int timeout_ms;
    int rc;
    long long took_ms;
    pthread_barrier_t* go;
    pthread_t t;
};

static void* stopper_run(void* arg)
{
    struct stopper* s = arg;
    long long t0;
    pthread_barrier_wait(s->go);
    t0 = now_ms();
    s->rc = hw_stop(s->timeout_ms);
    s->took_ms = now_ms() - t0;
    return NULL;
}

/* The disposition of sig, as a handler value: SIG_DFL, SIG_IGN or a
** function (SA_SIGINFO handlers are reported as non-default). */
static int is_default(int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return 0;
    return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

static int is_handler(int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return 1;
    return (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
}

int main(int argc, char** argv)
{
    configuration config;
    char resp[8192];
    if (argc != 2) {
        fprintf(stderr, "usage: test-stop PORT\n");
        return 2;
    }
    port = atoi(argv[1]);
    alarm(100); /* a deadlock fails the test instead of hanging it */

    /* Loading the library installed no handler for SIGINT or SIGTERM (the
    ** runner may have left them ignored: that is the inherited state). */
    CHECK(!is_handler(SIGINT));
    CHECK(!is_handler(SIGTERM));
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);

    memset(&config, 0, sizeof config);
    config.http_listen_address = "127.0.0.1";
    config.http_listen_port = (unsigned int)port;
    CHECK_INT(hw_init_with_config(&config), HW_OK);
    hw_http_add_route("/", hello, NULL);
    hw_http_add_route("/slow", sleeper, (void*)(intptr_t)400);
    hw_http_add_route("/stuck", sleeper, (void*)(intptr_t)1500);
    hw_http_add_route("/big", big, NULL);
    memset(big_body, 'x', sizeof big_body);

    /* hw_start() leaves SIGINT and SIGTERM at SIG_DFL. */
    CHECK_INT(hw_start(), HW_OK);
    CHECK(is_default(SIGINT));
    CHECK(is_default(SIGTERM));

    /* A client that resets (and one that just closes) while an 8 MiB
    ** response is being written: the engine's writes fail with EPIPE or
    ** ECONNRESET, and the process lives on. */
    {
        int base = __atomic_load_n(&entered, __ATOMIC_SEQ_CST);
        for (int i = 0; i < 4; i++) {
            int fd = hw_test_connect(port);
            const char* req = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
            CHECK(fd >= 0);
            if (fd < 0) continue;
            CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
            wait_entered(base + i + 1);
            if (i % 2 == 0) {
                struct linger lg = {1, 0}; /* close with RST */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            } else {
                char some[1024]; /* read the start of the answer, then go */
                usleep(250000);
                CHECK(read(fd, some, sizeof some) > 0);
            }
            close(fd);
        }
        for (int i = 0; i < 1000 && __atomic_load_n(&left, __ATOMIC_SEQ_CST) < base + 4; i++) usleep(5000);
        CHECK_INT(__atomic_load_n(&left, __ATOMIC_SEQ_CST), base + 4);
        usleep(100000); /* let the failing writes happen */
        CHECK(hw_test_get(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp) > 0);
        CHECK_CONTAINS(resp, "\r\n\r\nhello world");
    }

    /* A request in flight that completes within the timeout gets its
    ** response (with Connection: close), and hw_stop returns HW_OK. */
    {
        struct client c;
        int base = __atomic_load_n(&entered, __ATOMIC_SEQ_CST);
        client_start(&c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        wait_entered(base + 1);
        CHECK_INT(hw_stop(5000), HW_OK);
        pthread_join(c.t, NULL);
        CHECK_CONTAINS(c.resp, "HTTP/1.1 200 OK\r\n");
        CHECK_CONTAINS(c.resp, "Connection: close\r\n");
        CHECK_CONTAINS(c.resp, "\r\n\r\nslept");
    }

    /* A callback that outlasts the timeout: its connection is cut, and
    ** hw_stop returns HW_ETIMEDOUT once the callback has returned. */
    {
        struct client c;
        long long t0, took;
        int base = __atomic_load_n(&entered, __ATOMIC_SEQ_CST);
        CHECK_INT(hw_start(), HW_OK);
        client_start(&c, "GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n");
        wait_entered(base + 1);
        t0 = now_ms();
        CHECK_INT(hw_stop(100), HW_ETIMEDOUT);
        took = now_ms() - t0;
        CHECK_INT(__atomic_load_n(&left, __ATOMIC_SEQ_CST), __atomic_load_n(&entered, __ATOMIC_SEQ_CST));
        if (took < 900 || took > 10000) {
            fprintf(stderr,
                    "%s:%d: hw_stop(100) with a 1500 ms callback took %lld ms; want it to wait for the callback\n",
                    __FILE__, __LINE__, took);
            hw_test_failures++;
        }
        pthread_join(c.t, NULL);
        CHECK(strstr(c.resp, "slept") == NULL); /* cut, not answered */
        CHECK_INT(hw_stop(100), HW_ESTATE);
    }

    /* Two threads call hw_stop at once while a request is in flight: one
    ** stops the engine (HW_OK), the other waits for it and gets HW_ESTATE.
    ** Before, the second panicked and left the engine locked for good. */
    for (int round = 0; round < 2; round++) {
        struct client c;
        struct stopper s[2];
        pthread_barrier_t go;
        int base = __atomic_load_n(&entered, __ATOMIC_SEQ_CST), ok = 0, state = 0;
        CHECK_INT(hw_start(), HW_OK);
        client_start(&c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        wait_entered(base + 1);
        pthread_barrier_init(&go, NULL, 2);
        for (int i = 0; i < 2; i++) {
            s[i].timeout_ms = 5000;
            s[i].go = &go;
            pthread_create(&s[i].t, NULL, stopper_run, &s[i]);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(s[i].t, NULL);
            ok += s[i].rc == HW_OK;
            state += s[i].rc == HW_ESTATE;
        }
        pthread_barrier_destroy(&go);
        if (ok != 1 || state != 1) {
            fprintf(stderr,
                    "%s:%d: concurrent hw_stop = %d (%lld ms), %d (%lld ms); want one HW_OK and one HW_ESTATE\n",
                    __FILE__, __LINE__, s[0].rc, s[0].took_ms, s[1].rc, s[1].took_ms);
            hw_test_failures++;
        }
        /* The one that got HW_ESTATE returned only once the engine had stopped. */
        for (int i = 0; i < 2; i++)
            if (s[i].rc == HW_ESTATE) CHECK(s[i].took_ms >= 200);
        pthread_join(c.t, NULL);
        CHECK_CONTAINS(c.resp, "\r\n\r\nslept");
    }

    /* Nothing was left locked: the engine serves again. */
    CHECK_INT(hw_start(), HW_OK);
    CHECK(hw_test_get(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp) > 0);
    CHECK_CONTAINS(resp, "\r\n\r\nhello world");
    CHECK(is_default(SIGINT));
    CHECK(is_default(SIGTERM));
    CHECK_INT(hw_stop(2000), HW_OK);
    return hw_test_done("test-stop");
}
