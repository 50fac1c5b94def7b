package tests

import (
	"bufio"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ownFieldsC is a C program with one route, /own, that sets its own
// Server and Date fields (names in odd case) with hw_set_response_header;
// /plain sets neither. It prints "port N" once it listens and serves
// until its stdin closes.
const ownFieldsC = `#include <stdio.h>
#include <string.h>
#include "haywire.h"

static void sent(void* user_data) { (void)user_data; }

static void respond(hw_http_response* response, int own)
{
    hw_string status, name, value, body;
    SETSTRING(status, HTTP_STATUS_200);
    hw_set_response_status_code(response, &status);
    if (own) {
        SETSTRING(name, "sErVeR");
        SETSTRING(value, "c-app/1.0");
        hw_set_response_header(response, &name, &value);
        SETSTRING(name, "DATE");
        SETSTRING(value, "Tue, 01 Jan 2030 00:00:00 GMT");
        hw_set_response_header(response, &name, &value);
    }
    SETSTRING(body, "body");
    hw_set_body(response, &body);
    hw_http_response_send(response, NULL, sent);
}

static void own(http_request* request, hw_http_response* response, void* user_data)
{
    (void)request; (void)user_data;
    respond(response, 1);
}

static void plain(http_request* request, hw_http_response* response, void* user_data)
{
    (void)request; (void)user_data;
    respond(response, 0);
}

int main(void)
{
    int port = 0;
    if (hw_config_set("listen_address", "127.0.0.1") != HW_OK || hw_config_set("listen_port", "0") != HW_OK) {
        fprintf(stderr, "config: %s\n", hw_last_error());
        return 1;
    }
    hw_http_add_route("/own", own, NULL);
    hw_http_add_route("/plain", plain, NULL);
    if (hw_start() != HW_OK || hw_listen_address(NULL, 0, &port) != HW_OK) {
        fprintf(stderr, "start: %s\n", hw_last_error());
        return 1;
    }
    printf("port %d\n", port);
    fflush(stdout);
    while (getchar() != EOF) {
    }
    hw_stop(5000);
    return 0;
}
`

// A C route's own Server and Date fields replace the engine's: one of
// each goes out (two make an invalid message, RFC 9110 §5.3), and a route
// that sets neither still gets the engine's.
func TestCRouteOwnServerAndDate(t *testing.T) {
	src := filepath.Join(t.TempDir(), "own_fields.c")
	if err := os.WriteFile(src, []byte(ownFieldsC), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := compileC(src, "test-own-fields")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "port ")
	if err != nil || !ok {
		t.Fatalf("first line %q, %v; want \"port N\"", line, err)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	imfFixdate := regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$`)
	for _, tt := range []struct{ path, server, date string }{
		{"/own", "c-app/1.0", "Tue, 01 Jan 2030 00:00:00 GMT"},
		{"/plain", "haywire", ""},
		{"/own", "c-app/1.0", "Tue, 01 Jan 2030 00:00:00 GMT"},
	} {
		if _, err := c.Write([]byte("GET " + tt.path + " HTTP/1.1\r\nHost: t\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		tp := textproto.NewReader(br)
		status, err := tp.ReadLine()
		if err != nil || status != "HTTP/1.1 200 OK" {
			t.Fatalf("%s: status line %q, %v", tt.path, status, err)
		}
		// Raw fields, as sent: a MIME header map would merge duplicates
		// and canonicalize names.
		var server, date []string
		n := 0
		for {
			f, err := tp.ReadLine()
			if err != nil {
				t.Fatalf("%s: %v", tt.path, err)
			}
			if f == "" {
				break
			}
			name, value, _ := strings.Cut(f, ": ")
			switch strings.ToLower(name) {
			case "server":
				server = append(server, value)
			case "date":
				date = append(date, value)
			case "content-length":
				n, _ = strconv.Atoi(value)
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil || string(body) != "body" {
			t.Fatalf("%s: body %q, %v; want \"body\"", tt.path, body, err)
		}
		if len(server) != 1 || server[0] != tt.server {
			t.Errorf("%s: Server fields %q; want just %q", tt.path, server, tt.server)
		}
		if len(date) != 1 || (tt.date != "" && date[0] != tt.date) || (tt.date == "" && !imfFixdate.MatchString(date[0])) {
			t.Errorf("%s: Date fields %q; want one, the %s", tt.path, date, map[bool]string{true: "engine's", false: "route's"}[tt.date == ""])
		}
	}
}
