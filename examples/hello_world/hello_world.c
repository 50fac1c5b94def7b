/*
** hello_world — Haywire's sample, against haywire's library.
**
**   GET  /      → "hello world"
**   POST /ping  → echoes the request body
**
** Flags as in Haywire's sample: --port --threads --balancer --parser
** --tcp_nodelay --max_request_size --listen_backlog, plus --config FILE
** (an INI file for hw_init_from_config) and --help.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include "haywire.h"

static void response_complete(void* user_data)
{
    (void)user_data;
}

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
    body.value = request->body->value;
    body.length = request->body->length;
    respond(request, response, &body);
}

static void usage(const char* argv0)
{
    printf("usage: %s [options]\n"
           "  --port N              port to listen on (default 8000)\n"
           "  --threads N           listener count with --balancer reuseport (default 0)\n"
           "  --balancer NAME       ipc or reuseport (default ipc)\n"
           "  --parser NAME         accepted for compatibility; ignored\n"
           "  --tcp_nodelay         accepted for compatibility; TCP_NODELAY is always on\n"
           "  --max_request_size N  largest request body in bytes (default 1048576)\n"
           "  --listen_backlog N    listen backlog (default SOMAXCONN)\n"
           "  --config FILE         read an INI configuration instead of the flags above\n"
           "  --help                this text\n", argv0);
}

int main(int argc, char** argv)
{
    configuration config;
    const char* config_file = NULL;
    int rc;
    static struct option options[] = {
        {"port", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'},
        {"balancer", required_argument, 0, 'b'},
        {"parser", required_argument, 0, 'x'},
        {"tcp_nodelay", no_argument, 0, 'n'},
        {"max_request_size", required_argument, 0, 'm'},
        {"listen_backlog", required_argument, 0, 'l'},
        {"config", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}
    };

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

    printf("hello_world: haywire %s listening on port %u\n", hw_version(), config.http_listen_port);
    fflush(stdout);
    rc = hw_http_open();
    if (rc != HW_OK) {
        fprintf(stderr, "hello_world: %s (%s)\n", hw_last_error(), hw_strerror(rc));
        return 1;
    }
    return 0;
}
