/*
** hello_world — Haywire's sample, against haywire's library.
**
**   GET  /      → "hello world"
**   POST /ping  → prints the request's header fields and body to stdout
**                 (hw_print_request_headers, hw_print_body), then echoes
**                 the body
**
** Flags as in Haywire's sample: --port --threads --balancer --parser
** --tcp_nodelay --max_request_size --listen_backlog, plus --config FILE
** (an INI file for hw_init_from_config) and --help.
**
** Once listening it prints the address and port the server actually uses
** (from the flags or the INI file; the free port picked for port 0), and
** serves until SIGINT or SIGTERM, then stops gracefully (a second signal
** ends it at once).
*/
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* getopt_long, sigaction, nanosleep */
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <getopt.h>
#ifdef _WIN32
#include <windows.h>
#endif
#include "haywire.h"

static void response_complete(void* user_data) { (void)user_data; }

static void respond(http_request* request, hw_http_response* response, hw_string* body)
{
    hw_string status_code, content_type_name, content_type_value, keep_alive_name, keep_alive_value;

    SETSTRING(status_code, HTTP_STATUS_200);
    hw_set_response_status_code(response, &status_code);

    SETSTRING(content_type_name, "Content-Type");
    SETSTRING(content_type_value, "text/html");
    hw_set_response_header(response, &content_type_name, &content_type_value);

    hw_set_body(response, body);

    if (request->keep_alive) {
        SETSTRING(keep_alive_name, "Connection");
        SETSTRING(keep_alive_value, "Keep-Alive");
        hw_set_response_header(response, &keep_alive_name, &keep_alive_value);
    } else {
        hw_set_http_version(response, 1, 0);
    }

    hw_http_response_send(response, "user_data", response_complete);
}

static void get_root(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)user_data;
    SETSTRING(body, "hello world");
    respond(request, response, &body);
}

static void get_ping(http_request* request, hw_http_response* response, void* user_data)
{
    hw_string body;
    (void)user_data;
    hw_print_request_headers(request);
    hw_print_body(request);
    fflush(stdout); /* a pipe is fully buffered: show each request as it comes */
    body.value = request->body->value;
    body.length = request->body->length;
    respond(request, response, &body);
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The library installs no signal handlers: stopping gracefully on SIGINT
** and SIGTERM is the program's choice. */
static void catch_stop_signals(void)
{
#ifdef _WIN32
    signal(SIGINT, on_stop_signal); /* reset to the default once delivered */
    signal(SIGTERM, on_stop_signal);
#else
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    /* The handler may run on a thread of the Go runtime inside libhaywire,
    ** which needs SA_ONSTACK; SA_RESETHAND lets a second signal end the
    ** process at once. */
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#endif
}

static void nap(void)
{
#ifdef _WIN32
    Sleep(100);
#else
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
#endif
}

static void usage(const char* argv0)
{
    printf(
        "usage: %s [options]\n"
        "  --port N              port to listen on (default 8000)\n"
        "  --threads N           listener count with --balancer reuseport (default 0)\n"
        "  --balancer NAME       ipc or reuseport (default ipc)\n"
        "  --parser NAME         accepted for compatibility; ignored\n"
        "  --tcp_nodelay         set TCP_NODELAY on accepted sockets (default: off, Nagle on)\n"
        "  --max_request_size N  largest request body in bytes (default 1048576)\n"
        "  --listen_backlog N    listen backlog (default SOMAXCONN)\n"
        "  --config FILE         read an INI configuration instead of the flags above\n"
        "                        (tcp_nodelay = 1 there for TCP_NODELAY)\n"
        "  --help                this text\n",
        argv0);
}

int main(int argc, char** argv)
{
    configuration config;
    const char* config_file = NULL;
    int rc;
    static struct option options[] = {{"port", required_argument, 0, 'p'},
                                      {"threads", required_argument, 0, 't'},
                                      {"balancer", required_argument, 0, 'b'},
                                      {"parser", required_argument, 0, 'x'},
                                      {"tcp_nodelay", no_argument, 0, 'n'},
                                      {"max_request_size", required_argument, 0, 'm'},
                                      {"listen_backlog", required_argument, 0, 'l'},
                                      {"config", required_argument, 0, 'c'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};

    memset(&config, 0, sizeof config);
    config.http_listen_address = "0.0.0.0";
    config.http_listen_port = 8000;
    config.balancer = "ipc";
    config.parser = "http_parser";
    config.max_request_size = 1048576;

    for (;;) {
        int c = getopt_long(argc, argv, "", options, NULL);
        if (c == -1) break;
        switch (c) {
        case 'p': config.http_listen_port = (unsigned int)strtoul(optarg, NULL, 10); break;
        case 't': config.thread_count = (unsigned int)strtoul(optarg, NULL, 10); break;
        case 'b': config.balancer = optarg; break;
        case 'x': config.parser = optarg; break;
        case 'n': config.tcp_nodelay = true; break;
        case 'm': config.max_request_size = (unsigned int)strtoul(optarg, NULL, 10); break;
        case 'l': config.listen_backlog = (unsigned int)strtoul(optarg, NULL, 10); break;
        case 'c': config_file = optarg; break;
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 2;
        }
    }

    rc = config_file ? hw_init_from_config((char*)config_file) : hw_init_with_config(&config);
    if (rc != HW_OK) {
        fprintf(stderr, "hello_world: %s (%s)\n", hw_last_error(), hw_strerror(rc));
        return 1;
    }
    hw_http_add_route("/ping", get_ping, NULL);
    hw_http_add_route("/", get_root, NULL);

    catch_stop_signals();
    rc = hw_start();
    if (rc != HW_OK) {
        fprintf(stderr, "hello_world: %s (%s)\n", hw_last_error(), hw_strerror(rc));
        return 1;
    }
    {
        char address[48];
        int port = 0;
        rc = hw_listen_address(address, sizeof address, &port);
        if (rc != HW_OK) {
            fprintf(stderr, "hello_world: %s (%s)\n", hw_last_error(), hw_strerror(rc));
            return 1;
        }
        printf("hello_world: haywire %s listening on %s port %d\n", hw_version(), address, port);
        fflush(stdout);
    }

    while (!stop_requested) nap(); /* the signal may land on any thread */
    rc = hw_stop(5000);
    if (rc != HW_OK && rc != HW_ETIMEDOUT) {
        fprintf(stderr, "hello_world: %s (%s)\n", hw_last_error(), hw_strerror(rc));
        return 1;
    }
    return 0;
}
