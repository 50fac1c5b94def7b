/*
** test-routes: the Haywire request/response API end to end over real
** sockets — routing (exact, wildcard, 404), headers in and out, bodies,
** HEAD, responses sent later from another thread, pipelining order,
** completion callbacks (exactly one per send that asked for one),
** abandoned responses (500, counted in handler_errors until the
** configuration is set again), and the promise that with thread_count 0
** no two callbacks run at once.
** Usage: test-routes PORT
*/

#include <pthread.h>
#include "haywire.h"
#include "harness.h"

static int in_callback, overlaps;

/* Each send that asks for a completion callback takes the next of these
** counters as its user_data; the callback increments it. At the end each
** taken counter must be exactly 1. */
#define MAX_SENDS 1024
static int completions[MAX_SENDS];
static int sends; /* counters taken (atomic) */

static void enter(void)
{
    if (__atomic_fetch_add(&in_callback, 1, __ATOMIC_SEQ_CST) != 0) __atomic_fetch_add(&overlaps, 1, __ATOMIC_SEQ_CST);
    usleep(200); /* widen the window in which an overlap would show */
}

static void leave(void) { __atomic_fetch_sub(&in_callback, 1, __ATOMIC_SEQ_CST); }

static void complete(void* user_data)
{
    int* c = user_data;
    if (c >= completions && c < completions + MAX_SENDS)
        __atomic_fetch_add(c, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_add(&overlaps, 1000, __ATOMIC_SEQ_CST); /* a stranger's user_data: fails below */
}

static void send_text(hw_http_response* response, const char* status, const char* text)
{
    hw_string s, body;
    s.value = (char*)status;
    s.length = strlen(status);
    hw_set_response_status_code(response, &s);
    char local[256]; /* the API copies at send: a stack buffer is fine */
    snprintf(local, sizeof local, "%s", text);
    body.value = local;
    body.length = strlen(local);
    hw_set_body(response, &body);
    int i = __atomic_fetch_add(&sends, 1, __ATOMIC_SEQ_CST);
    hw_http_response_send(response, i < MAX_SENDS ? &completions[i] : NULL, complete);
}

static void root(http_request* request, hw_http_response* response, void* user_data)
{
    (void)request;
    enter();
    send_text(response, HTTP_STATUS_200, (const char*)user_data);
    leave();
}

static void echo(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string status, body, ct, ctv;
    (void)user_data;
    enter();
    SETSTRING(status, HTTP_STATUS_200);
    hw_set_response_status_code(response, &status);
    SETSTRING(ct, "Content-Type");
    SETSTRING(ctv, "application/octet-stream");
    hw_set_response_header(response, &ct, &ctv);
    body.value = request->body->value;
    body.length = request->body->length;
    CHECK_INT(request->body_length, request->body->length);
    hw_set_body(response, &body);
    hw_http_response_send(response, NULL, NULL);
    leave();
}

/* Reflects request metadata: method, version, url, a header found with a
** differently-cased name, and the count of header fields. */
static void info(http_request* request, hw_http_response* response, void* user_data)
{
    char text[512];
    hw_string key, name, value, *agent;
    size_t n = 0;
    (void)user_data;
    enter();
    SETSTRING(key, "x-TEST-header");
    agent = hw_get_header(request, &key);
    while (hw_request_header_at(request, n, &name, &value) == HW_OK) n++;
    snprintf(text, sizeof text, "method=%d version=%d.%d url=%.*s header=%.*s fields=%zu keep_alive=%d",
             request->method, request->http_major, request->http_minor, (int)request->url->length, request->url->value,
             agent ? (int)agent->length : 4, agent ? agent->value : "NULL", n, request->keep_alive);
    send_text(response, HTTP_STATUS_200, text);
    leave();
}

/* Responses sent later, from another thread. */
struct later
{
    hw_http_response* response;
    http_request* request;
};

static void* send_later(void* arg)
{
    struct later* l = arg;
    char text[128];
    usleep(30000);
    /* The request stays valid until the response is sent. */
    snprintf(text, sizeof text, "late %.*s", (int)l->request->url->length, l->request->url->value);
    send_text(l->response, HTTP_STATUS_202, text);
    free(l);
    return NULL;
}

static void async(http_request* request, hw_http_response* response, void* user_data)
{
    pthread_t t;
    struct later* l = malloc(sizeof *l);
    (void)user_data;
    enter();
    l->response = response;
    l->request = request;
    pthread_create(&t, NULL, send_later, l);
    pthread_detach(t);
    leave();
}

static void abandon(http_request* request, hw_http_response* response, void* user_data)
{
    (void)request;
    (void)user_data;
    enter();
    hw_free_http_response(response);
    leave();
}

static void headers_out(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string n1, v1, n2, v2, n3, v3, n4, v4;
    (void)request;
    (void)user_data;
    enter();
    SETSTRING(n1, "X-Good");
    SETSTRING(v1, "yes");
    SETSTRING(n2, "X-Evil");
    SETSTRING(v2, "a\r\nSet-Cookie: injected=1");
    SETSTRING(n3, "Content-Length");
    SETSTRING(v3, "999");
    SETSTRING(n4, "Connection");
    SETSTRING(v4, "close");
    hw_set_response_header(response, &n1, &v1);
    hw_set_response_header(response, &n2, &v2);
    hw_set_response_header(response, &n3, &v3);
    hw_set_response_header(response, &n4, &v4);
    send_text(response, "418 I'm a teapot", "short and stout");
    leave();
}

struct client_arg
{
    int port;
    int ok;
};

static void* client(void* arg)
{
    struct client_arg* c = arg;
    char resp[8192];
    for (int i = 0; i < 20; i++)
        if (hw_test_get(c->port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp) > 0 &&
            strstr(resp, "hello world"))
            c->ok++;
    return NULL;
}

int main(int argc, char** argv)
{
    static char resp[1 << 20];
    configuration config;
    int port;
    if (argc != 2) {
        fprintf(stderr, "usage: test-routes PORT\n");
        return 2;
    }
    port = atoi(argv[1]);
    memset(&config, 0, sizeof config);
    config.http_listen_address = "127.0.0.1";
    config.http_listen_port = (unsigned int)port;
    config.thread_count = 0;
    config.max_request_size = 1 << 20;
    CHECK_INT(hw_init_with_config(&config), HW_OK);
    hw_http_add_route("/", root, "hello world");
    hw_http_add_route("/echo", echo, NULL);
    hw_http_add_route("/info", info, NULL);
    hw_http_add_route("/async/*", async, NULL);
    hw_http_add_route("/users/*/profile", root, "profile");
    hw_http_add_route("/abandon", abandon, NULL);
    hw_http_add_route("/headers", headers_out, NULL);
    hw_http_add_route("wild/*id/end", root, "wild"); /* Haywire's forms: no '/', a '*' segment */
    CHECK_INT(hw_start(), HW_OK);

    /* Routing. */
    hw_test_get(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(resp, "Content-Length: 11\r\n");
    CHECK_CONTAINS(resp, "Date: ");
    CHECK_CONTAINS(resp, "\r\n\r\nhello world");
    hw_test_get(port, "GET /users/42/profile?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "\r\n\r\nprofile");
    hw_test_get(port, "GET /users/42/other HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "HTTP/1.1 404 Not Found\r\n");
    hw_test_get(port, "GET /wild/42/end HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "\r\n\r\nwild");

    /* Request metadata and case-insensitive header lookup. */
    hw_test_get(port, "PATCH /info?q=%20 HTTP/1.0\r\nX-Test-Header: found\r\nA: 1\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "method=24 version=1.0 url=/info?q=%20 header=found fields=2 keep_alive=0");
    hw_test_get(port, "GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "header=NULL fields=2 keep_alive=0");

    /* Bodies: Content-Length and chunked; HEAD has none. */
    hw_test_get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde", resp,
                sizeof resp);
    CHECK_CONTAINS(resp, "Content-Length: 5\r\n\r\nabcde");
    hw_test_get(port,
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n",
                resp, sizeof resp);
    CHECK_CONTAINS(resp, "Content-Length: 7\r\n\r\nabcdefg");
    hw_test_get(port, "HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "Content-Length: 11\r\n\r\n");
    CHECK(strstr(resp, "hello world") == NULL);

    /* Response headers: CRLF injection and engine-owned fields dropped,
    ** custom status kept, Connection: close honoured. */
    hw_test_get(port, "GET /headers HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "HTTP/1.1 418 I'm a teapot\r\n");
    CHECK_CONTAINS(resp, "X-Good: yes\r\n");
    CHECK_CONTAINS(resp, "Connection: close\r\n");
    CHECK_CONTAINS(resp, "Content-Length: 15\r\n");
    CHECK(strstr(resp, "injected") == NULL);
    CHECK(strstr(resp, "999") == NULL);
    CHECK_INT(hw_test_count(resp, "HTTP/1.1 "), 1); /* closed after the first */

    /* Abandoned response → 500. */
    hw_test_get(port, "GET /abandon HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
    CHECK_CONTAINS(resp, "HTTP/1.1 500 Internal Server Error\r\n");

    /* Pipelining: 16 requests in one write, async ones among them, come
    ** back in order; the async ones carry their own request's url. */
    {
        char pipe[4096] = "";
        for (int i = 0; i < 16; i++) {
            char one[128];
            if (i % 4 == 1)
                snprintf(one, sizeof one, "GET /async/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
            else
                snprintf(one, sizeof one, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            strcat(pipe, one);
        }
        strcat(pipe, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        hw_test_get(port, pipe, resp, sizeof resp);
        CHECK_INT(hw_test_count(resp, "HTTP/1.1 200 OK"), 13);
        CHECK_INT(hw_test_count(resp, "HTTP/1.1 202 Accepted"), 4);
        const char* p = resp;
        for (int i = 0; i < 16; i++) {
            const char* want = (i % 4 == 1) ? "202 Accepted" : "200 OK";
            const char* status = strstr(p, "HTTP/1.1 ");
            CHECK(status != NULL);
            if (!status) break;
            CHECK(strncmp(status + 9, want, strlen(want)) == 0);
            if (i % 4 == 1) {
                char late[32];
                snprintf(late, sizeof late, "late /async/%d", i);
                CHECK(strstr(status, late) != NULL);
            }
            p = status + 1;
        }
    }

    /* Concurrent clients; thread_count 0 serializes callbacks. */
    {
        pthread_t t[4];
        struct client_arg a[4];
        int total = 0;
        for (int i = 0; i < 4; i++) {
            a[i].port = port;
            a[i].ok = 0;
            pthread_create(&t[i], NULL, client, &a[i]);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            total += a[i].ok;
        }
        CHECK_INT(total, 80);
        CHECK_INT(__atomic_load_n(&overlaps, __ATOMIC_SEQ_CST), 0);
    }

    CHECK_INT(hw_stop(5000), HW_OK);
    /* Every send that asked for a completion callback got exactly one. */
    {
        int n = __atomic_load_n(&sends, __ATOMIC_SEQ_CST), wrong = 0;
        CHECK(n >= 80 + 16);
        CHECK(n <= MAX_SENDS);
        for (int i = 0; i < n && i < MAX_SENDS; i++) {
            int c = __atomic_load_n(&completions[i], __ATOMIC_SEQ_CST);
            if (c != 1 && wrong++ < 5)
                fprintf(stderr, "%s:%d: send %d got %d completion callbacks; want 1\n", __FILE__, __LINE__, i, c);
        }
        CHECK_INT(wrong, 0);
        CHECK_INT(__atomic_load_n(&overlaps, __ATOMIC_SEQ_CST), 0);
    }

    /* hw_stats: the abandoned response is the one handler error; setting
    ** the configuration again starts every counter from 0. */
    {
        hw_stats_t st;
        CHECK_INT(hw_stats(&st, sizeof st), HW_OK);
        CHECK_INT(st.handler_errors, 1);
        CHECK(st.requests >= 80 + 16);
        CHECK_INT(hw_init_with_config(&config), HW_OK);
        CHECK_INT(hw_stats(&st, sizeof st), HW_OK);
        CHECK_INT(st.handler_errors, 0);
        CHECK_INT(st.requests, 0);
        CHECK_INT(st.connections_accepted, 0);
        /* And they count again from there. */
        CHECK_INT(hw_start(), HW_OK);
        hw_test_get(port, "GET /abandon HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof resp);
        CHECK_CONTAINS(resp, "HTTP/1.1 500 ");
        CHECK_INT(hw_stop(5000), HW_OK);
        CHECK_INT(hw_stats(&st, sizeof st), HW_OK);
        CHECK_INT(st.handler_errors, 1);
        CHECK_INT(st.requests, 1);
    }
    return hw_test_done("test-routes");
}
