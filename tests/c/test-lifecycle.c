/*
** test-lifecycle: configuration (INI with every key, each checked for its
** effect where a client can see it, struct, key/value), errors and
** hw_last_error, hw_start/hw_stop twice in one process, hw_http_open
** unblocked by hw_stop, listen failures, hw_stats, versions.
**
** The library serves inside this process, so the server's end of a
** connection is one of this process's descriptors: the test finds it and
** reads its TCP_NODELAY, and finds the listening sockets and reads the
** address they are bound to. The listen backlog is read with ss(8) when
** it is installed.
** Usage: test-lifecycle PORT TMPDIR
*/

#include <netinet/tcp.h>
#include <pthread.h>
#include <time.h>
#include "haywire.h"
#include "harness.h"

static void hello(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)request;
    (void)user_data;
    SETSTRING(body, "hello world");
    hw_set_body(response, &body);
    hw_http_response_send(response, NULL, NULL);
}

static int write_file(const char* path, const char* text)
{
    FILE* f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

static void* open_thread(void* arg)
{
    *(int*)arg = hw_http_open();
    return NULL;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read from fd into buf until needle shows up or the peer closes;
** returns the bytes read (buf NUL-terminated). */
static int read_until(int fd, char* buf, size_t cap, const char* needle)
{
    size_t n = 0;
    buf[0] = 0;
    while (n < cap - 1 && (needle == NULL || strstr(buf, needle) == NULL)) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = 0;
    }
    return (int)n;
}

static int port_of(const struct sockaddr_storage* a)
{
    if (a->ss_family == AF_INET) return ntohs(((const struct sockaddr_in*)a)->sin_port);
    if (a->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6*)a)->sin6_port);
    return -1;
}

/* The server's end, in this process, of the client connection fd: the
** socket whose peer is fd's local port. -1 if there is none. */
static int server_end(int fd)
{
    struct sockaddr_storage mine, peer;
    socklen_t len = sizeof mine;
    if (getsockname(fd, (struct sockaddr*)&mine, &len) != 0) return -1;
    for (int s = 3; s < 4096; s++) {
        len = sizeof peer;
        if (s != fd && getpeername(s, (struct sockaddr*)&peer, &len) == 0 && port_of(&peer) == port_of(&mine)) return s;
    }
    return -1;
}

/* TCP_NODELAY on the server's end of a fresh keep-alive connection: 1, 0,
** or -1 when it could not be found. */
static int server_nodelay(int port)
{
    char buf[4096];
    const char* req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = hw_test_connect(port), s, v = -1;
    socklen_t len = sizeof v;
    if (fd < 0) return -1;
    /* The answer proves the engine accepted the connection. */
    if (write(fd, req, strlen(req)) == (ssize_t)strlen(req) && read_until(fd, buf, sizeof buf, "hello world") > 0 &&
        (s = server_end(fd)) >= 0 && getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0)
        v = v != 0;
    else
        v = -1;
    close(fd);
    return v;
}

/* Count this process's listening sockets on port, and how many of them
** are bound to the IPv4 address want. */
static void listeners_on(int port, const char* want, int* total, int* bound_to_want)
{
    *total = *bound_to_want = 0;
    for (int s = 3; s < 4096; s++) {
        int acc = 0;
        socklen_t len = sizeof acc;
        struct sockaddr_storage a;
        char text[64] = "";
        if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc) continue;
        len = sizeof a;
        if (getsockname(s, (struct sockaddr*)&a, &len) != 0 || port_of(&a) != port) continue;
        (*total)++;
        if (a.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in*)&a)->sin_addr, text, sizeof text);
        *bound_to_want += strcmp(text, want) == 0;
    }
}

/* The backlog of each listening socket on port as ss(8) reports it (its
** Send-Q column for a listener); returns how many were read into out, or
** -1 when ss is not available. */
static int ss_backlogs(int port, int* out, int max)
{
    char cmd[128], line[512];
    int n = 0;
    FILE* p;
    if (system("command -v ss >/dev/null 2>&1") != 0) return -1;
    snprintf(cmd, sizeof cmd, "ss -ltnH 'sport = :%d' 2>/dev/null", port);
    p = popen(cmd, "r");
    if (!p) return -1;
    while (n < max && fgets(line, sizeof line, p)) {
        char state[32];
        int recvq, sendq;
        if (sscanf(line, "%31s %d %d", state, &recvq, &sendq) == 3) out[n++] = sendq;
    }
    pclose(p);
    return n;
}

/* Send the bytes of a request head or body that never completes and
** wait for the engine's answer: returns how long it took, in ms, with the
** answer in resp. */
static long long stalled(int port, const char* partial, char* resp, size_t cap)
{
    int fd = hw_test_connect(port);
    long long t0 = now_ms();
    resp[0] = 0;
    if (fd < 0) return -1;
    if (write(fd, partial, strlen(partial)) != (ssize_t)strlen(partial)) {
        close(fd);
        return -1;
    }
    read_until(fd, resp, cap, NULL); /* until the engine closes */
    close(fd);
    return now_ms() - t0;
}

/* CHECK that ms is within [lo, hi]. */
#define CHECK_MS(ms, lo, hi, what)                                                                                  \
    do {                                                                                                            \
        long long m_ = (ms);                                                                                        \
        if (m_ < (lo) || m_ > (hi)) {                                                                               \
            fprintf(stderr, "%s:%d: %s took %lld ms; want %d to %d\n", __FILE__, __LINE__, (what), m_, (lo), (hi)); \
            hw_test_failures++;                                                                                     \
        }                                                                                                           \
    } while (0)

int main(int argc, char** argv)
{
    char ini[512], path[400], resp[65536], big[4096];
    int port, rc;
    if (argc != 3) {
        fprintf(stderr, "usage: test-lifecycle PORT TMPDIR\n");
        return 2;
    }
    port = atoi(argv[1]);

    /* Versions and error strings. */
    CHECK_INT(hw_version_number(), HW_VERSION_NUMBER);
    CHECK(strcmp(hw_version(), HW_VERSION_STRING) == 0);
    CHECK(strcmp(hw_strerror(HW_ECONFIG), "invalid configuration") == 0);
    CHECK(strcmp(hw_strerror(12345), "unknown error") == 0);
    CHECK(strcmp(hw_last_error(), "") == 0);

    /* Bad configuration is refused with a message naming the problem. */
    CHECK_INT(hw_init_from_config("/nonexistent/haywire.conf"), HW_ENOENT);
    CHECK(strstr(hw_last_error(), "/nonexistent/haywire.conf") != NULL);
    CHECK_INT(hw_init_from_config(NULL), HW_EINVAL);
    snprintf(path, sizeof path, "%s/bad.conf", argv[2]);
    write_file(path, "[http]\nlisten_port = 8000\nlisten_prot = 9000\n");
    CHECK_INT(hw_init_from_config(path), HW_ECONFIG);
    CHECK(strstr(hw_last_error(), "listen_prot") != NULL);
    write_file(path, "[http]\nmax_request_size = lots\n");
    CHECK_INT(hw_init_from_config(path), HW_ECONFIG);
    CHECK(strstr(hw_last_error(), "max_request_size") != NULL);
    write_file(path, "[http]\nbalancer = roundrobin\n");
    CHECK_INT(hw_init_from_config(path), HW_ECONFIG);
    CHECK_INT(hw_config_set("no_such_key", "1"), HW_ECONFIG);
    CHECK_INT(hw_config_set("idle_timeout_ms", "soon"), HW_ECONFIG);
    CHECK_INT(hw_config_set(NULL, "1"), HW_EINVAL);
    CHECK_INT(hw_stop(100), HW_ESTATE);

    /* Every key of the INI file takes effect. */
    snprintf(path, sizeof path, "%s/haywire.conf", argv[2]);
    snprintf(ini, sizeof ini,
             "; every key\n[http]\nlisten_address = 127.0.0.1\nlisten_port = %d\nthread_count = 2\n"
             "balancer = reuseport\nparser = http_parser\ntcp_nodelay = 1\nlisten_backlog = 64\n"
             "max_request_size = 1000\nmax_target_bytes = 100\nmax_header_bytes = 2048\n"
             "max_header_count = 10\nheader_timeout_ms = 400\nbody_timeout_ms = 500\n"
             "idle_timeout_ms = 700\nwrite_timeout_ms = 5000\nserver_name = lifecycle-test\n",
             port);
    CHECK_INT(write_file(path, ini), 0);
    CHECK_INT(hw_init_from_config(path), HW_OK);
    hw_http_add_route("/", hello, NULL);
    hw_http_add_route(NULL, hello, NULL); /* ignored, with a message */
    CHECK(strstr(hw_last_error(), "NULL") != NULL);

    for (int round = 1; round <= 2; round++) {
        CHECK_INT(hw_start(), HW_OK);
        CHECK_INT(hw_start(), HW_ESTATE);
        CHECK_INT(hw_init_from_config(path), HW_ESTATE); /* no reconfiguring while running */

        CHECK(hw_test_get(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp) > 0);
        CHECK_CONTAINS(resp, "HTTP/1.1 200 OK\r\n");
        CHECK_CONTAINS(resp, "Server: lifecycle-test\r\n");
        CHECK_CONTAINS(resp, "\r\n\r\nhello world");

        /* max_request_size = 1000 */
        snprintf(big, sizeof big, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
        CHECK(hw_test_get(port, big, resp, sizeof resp) > 0);
        CHECK_CONTAINS(resp, "HTTP/1.1 413 ");
        /* max_target_bytes = 100 */
        memset(big, 'a', sizeof big);
        memcpy(big, "GET /", 5);
        snprintf(big + 120, sizeof big - 120, " HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(hw_test_get(port, big, resp, sizeof resp) > 0);
        CHECK_CONTAINS(resp, "HTTP/1.1 414 ");
        /* max_header_count = 10 */
        strcpy(big, "GET / HTTP/1.1\r\nHost: t\r\n");
        for (int i = 0; i < 12; i++) strcat(big, "X-A: b\r\n");
        strcat(big, "\r\n");
        CHECK(hw_test_get(port, big, resp, sizeof resp) > 0);
        CHECK_CONTAINS(resp, "HTTP/1.1 431 ");
        /* max_header_bytes = 2048: one field of 2100 bytes (well under
        ** max_header_count) is too much. */
        strcpy(big, "GET / HTTP/1.1\r\nHost: t\r\nX-Long: ");
        memset(big + strlen(big), 'v', 2100);
        strcpy(big + strlen("GET / HTTP/1.1\r\nHost: t\r\nX-Long: ") + 2100, "\r\n\r\n");
        CHECK(hw_test_get(port, big, resp, sizeof resp) > 0);
        CHECK_CONTAINS(resp, "HTTP/1.1 431 ");
        /* header_timeout_ms = 400: a head that stops coming gets 408. */
        CHECK_MS(stalled(port, "GET / HTTP/1.1\r\nHost: t\r\n", resp, sizeof resp), 300, 2500, "a stalled head");
        CHECK_CONTAINS(resp, "HTTP/1.1 408 ");
        /* body_timeout_ms = 500: so does a body. */
        CHECK_MS(stalled(port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc", resp, sizeof resp), 350,
                 2500, "a stalled body");
        CHECK_CONTAINS(resp, "HTTP/1.1 408 ");
        /* idle_timeout_ms = 700: a kept-alive connection without a next
        ** request is closed, without an answer. */
        {
            int fd = hw_test_connect(port);
            const char* req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
            long long t0;
            CHECK(fd >= 0);
            if (fd >= 0) {
                CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
                CHECK(read_until(fd, resp, sizeof resp, "hello world") > 0);
                t0 = now_ms();
                CHECK_INT(read_until(fd, resp, sizeof resp, NULL), 0);
                CHECK_MS(now_ms() - t0, 450, 3000, "closing an idle connection");
                close(fd);
            }
        }
        /* listen_address = 127.0.0.1, thread_count = 2 with reuseport: two
        ** listeners, both bound to it; hw_listen_address says so. */
        {
            int total, on_loopback, listen_port = 0;
            char address[48];
            listeners_on(port, "127.0.0.1", &total, &on_loopback);
            CHECK_INT(total, 2);
            CHECK_INT(on_loopback, 2);
            CHECK_INT(hw_listen_address(address, sizeof address, &listen_port), HW_OK);
            CHECK(strcmp(address, "127.0.0.1") == 0);
            CHECK_INT(listen_port, port);
            CHECK_INT(hw_listen_address(address, 4, NULL), HW_EINVAL);
            CHECK_INT(hw_listen_address(NULL, 0, &listen_port), HW_OK);
        }
        /* listen_backlog = 64, seen by ss(8). */
        {
            int backlogs[8], n = ss_backlogs(port, backlogs, 8);
            if (n < 0) {
                if (round == 1) printf("test-lifecycle: ss not installed: listen_backlog not checked\n");
            } else {
                CHECK_INT(n, 2);
                for (int i = 0; i < n; i++) CHECK_INT(backlogs[i], 64);
            }
        }
        /* tcp_nodelay = 1 */
        CHECK_INT(server_nodelay(port), 1);

        CHECK_INT(hw_stop(2000), HW_OK);
        CHECK_INT(hw_listen_address(NULL, 0, NULL), HW_ESTATE);
        CHECK_INT(hw_stop(2000), HW_ESTATE);
        CHECK(hw_test_get(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", resp, sizeof resp) < 0);
    }

    /* The struct API, then hw_config_set on top of it. */
    {
        configuration config;
        memset(&config, 0, sizeof config);
        config.http_listen_address = "127.0.0.1";
        config.http_listen_port = (unsigned int)port;
        config.balancer = "nonsense";
        CHECK_INT(hw_init_with_config(&config), HW_ECONFIG);
        config.balancer = NULL; /* default: ipc */
        CHECK_INT(hw_init_with_config(&config), HW_OK);
        CHECK_INT(hw_config_set("server_name", "set-by-key"), HW_OK);
    }

    /* hw_http_open blocks until hw_stop. */
    {
        pthread_t t;
        int open_rc = -100;
        pthread_create(&t, NULL, open_thread, &open_rc);
        for (int i = 0; i < 200 && hw_test_get(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", resp, sizeof resp) < 0; i++)
            usleep(10000);
        CHECK_CONTAINS(resp, "Server: set-by-key\r\n");
        CHECK_CONTAINS(resp, "hello world");
        CHECK_INT(open_rc, -100); /* still blocked */
        /* tcp_nodelay false in the struct, as in Haywire: Nagle stays on. */
        CHECK_INT(server_nodelay(port), 0);
        CHECK_INT(hw_stop(2000), HW_OK);
        pthread_join(t, NULL);
        CHECK_INT(open_rc, HW_OK);
    }

    /* A port in use is reported as such. */
    {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        CHECK_INT(bind(fd, (struct sockaddr*)&a, sizeof a), 0);
        CHECK_INT(listen(fd, 1), 0);
        rc = hw_start();
        CHECK_INT(rc, HW_EADDRINUSE);
        CHECK(strstr(hw_last_error(), "address already in use") != NULL);
        close(fd);
    }

    /* An address this machine does not have (TEST-NET-1) cannot be bound. */
    {
        CHECK_INT(hw_config_set("listen_address", "192.0.2.1"), HW_OK);
        rc = hw_start();
        CHECK_INT(rc, HW_ELISTEN);
        CHECK(strstr(hw_last_error(), "192.0.2.1") != NULL);
        CHECK_INT(hw_stop(100), HW_ESTATE);
        CHECK_INT(hw_config_set("listen_address", "127.0.0.1"), HW_OK);
    }

    /* tcp_nodelay set by key: TCP_NODELAY on accepted sockets. */
    {
        CHECK_INT(hw_config_set("tcp_nodelay", "1"), HW_OK);
        CHECK_INT(hw_start(), HW_OK);
        CHECK_INT(server_nodelay(port), 1);
        CHECK_INT(hw_stop(2000), HW_OK);
    }

    /* With the bridge on, the region's name is known while running. */
    {
        char name[64], small[8], file[512];
        FILE* f;
        CHECK_INT(hw_region_name(name, sizeof name), HW_ESTATE);
        CHECK_INT(hw_config_set("bridge", "1"), HW_OK);
        CHECK_INT(hw_config_set("region_dir", argv[2]), HW_OK);
        CHECK_INT(hw_start(), HW_OK);
        CHECK_INT(hw_region_name(name, sizeof name), HW_OK);
        CHECK(strncmp(name, "haywire-", 8) == 0);
        CHECK_INT(hw_region_name(small, sizeof small), HW_EINVAL);
        CHECK_INT(hw_region_name(NULL, 64), HW_EINVAL);
        snprintf(file, sizeof file, "%s/%s", argv[2], name);
        f = fopen(file, "rb");
        CHECK(f != NULL);
        if (f) fclose(f);
        /* No host attached: bridged requests get 503. */
        CHECK(hw_test_get(port, "GET /nothing-native HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp,
                          sizeof resp) > 0);
        CHECK_CONTAINS(resp, "HTTP/1.1 503 ");
        {
            hw_stats_t st;
            CHECK_INT(hw_stats(&st, sizeof st), HW_OK);
            CHECK(st.bridge_no_host == 1);
            CHECK(st.bridge_forwarded == 0 && st.bridge_in_flight == 0 && st.bridge_host_pid == 0);
            CHECK(st.bridge_chunks == 2 * 1024); /* two lanes of the default arena */
            CHECK(st.bridge_chunks_lent == 0 && st.bridge_queued == 0);
        }
        CHECK_INT(hw_stop(2000), HW_OK);
        CHECK_INT(hw_region_name(name, sizeof name), HW_ESTATE);
        f = fopen(file, "rb"); /* removed on a clean stop */
        CHECK(f == NULL);
        if (f) fclose(f);
    }

    /* Stats: cumulative since the configuration was set. */
    {
        hw_stats_t st, small;
        CHECK_INT(hw_stats(NULL, sizeof st), HW_EINVAL);
        CHECK_INT(hw_stats(&st, sizeof st), HW_OK);
        CHECK(st.requests >= 1);
        CHECK(st.connections_accepted >= 1);
        CHECK(st.bytes_written > 0);
        memset(&small, 0xAB, sizeof small);
        CHECK_INT(hw_stats(&small, sizeof(uint64_t)), HW_OK); /* an older, smaller struct */
        CHECK(small.connections_open == 0xABABABABABABABABull);
    }
    return hw_test_done("test-lifecycle");
}
