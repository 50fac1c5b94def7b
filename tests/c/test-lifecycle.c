/*
** test-lifecycle: configuration (INI with every key, struct, key/value),
** errors and hw_last_error, hw_start/hw_stop twice in one process,
** hw_http_open unblocked by hw_stop, hw_stats, versions.
** Usage: test-lifecycle PORT TMPDIR
*/

#include <pthread.h>
#include "haywire.h"
#include "harness.h"

static void hello(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)request; (void)user_data;
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

int main(int argc, char** argv)
{
    char ini[512], path[400], resp[65536], big[4096];
    int port, rc;
    if (argc != 3) { fprintf(stderr, "usage: test-lifecycle PORT TMPDIR\n"); return 2; }
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
        "max_header_count = 10\nheader_timeout_ms = 3000\nbody_timeout_ms = 3000\n"
        "idle_timeout_ms = 5000\nwrite_timeout_ms = 5000\nserver_name = lifecycle-test\n", port);
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

        CHECK_INT(hw_stop(2000), HW_OK);
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
        CHECK(hw_test_get(port, "GET /nothing-native HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp) > 0);
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
