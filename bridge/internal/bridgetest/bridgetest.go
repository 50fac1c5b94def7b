// Package bridgetest holds the test helpers that the tests of packages
// bridge, bridge/host and bridge/wire share: sample request views,
// encoders that never fail, and readers of the C headers' tables. It is
// imported by _test.go files only.
//
// Imports: bridge/wire and the standard library; never bridge or
// bridge/host, so that the tests of either may use it.
package bridgetest

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/wire"
)

// SampleView returns a small valid request: a POST with two header
// fields, a query and a four-byte body.
func SampleView() *wire.ViewRequest {
	head := []byte("POST /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Y: z\r\n\r\n")
	return &wire.ViewRequest{
		Flags: wire.ViewKeepAlive, MethodID: 3, Minor: 1, RequestID: 42, ConnID: 7, ContentLength: 4,
		Head: head, Body: []byte("body"),
		MethodSpan: wire.Span{Off: 0, Len: 4}, TargetSpan: wire.Span{Off: 5, Len: 8}, PathSpan: wire.Span{Off: 5, Len: 4},
		QuerySpan: wire.Span{Off: 10, Len: 3}, AuthoritySpan: wire.Span{}, HostSpan: wire.Span{Off: 30, Len: 11},
		Fields: []wire.FieldSpan{
			{Name: wire.Span{Off: 24, Len: 4}, Value: wire.Span{Off: 30, Len: 11}},
			{Name: wire.Span{Off: 43, Len: 3}, Value: wire.Span{Off: 48, Len: 1}},
		},
		Remote: netip.MustParseAddrPort("10.1.2.3:5555"), Local: netip.MustParseAddrPort("[::1]:80"),
	}
}

// EncView encodes a view the test knows to be encodable; it panics
// otherwise.
func EncView(v *wire.ViewRequest) []byte {
	b, err := wire.EncodeView(nil, v)
	if err != nil {
		panic(err)
	}
	return b
}

// EncResp encodes a response message with any status, even one
// wire.EncodeResponse refuses, so decoders can be shown it.
func EncResp(h *wire.ResponseHead, body []byte) []byte {
	hh := *h
	hh.Status = 200
	b, err := wire.EncodeResponse(nil, &hh, body)
	if err != nil {
		panic(err)
	}
	binary.LittleEndian.PutUint16(b[wire.ResponseStatusOffset:], uint16(h.Status))
	return b
}

// Root returns the repository's top directory, found from this file's
// path (tests run in their package's directory, which differs).
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("bridgetest: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Include returns the path of include/file.
func Include(t testing.TB, file string) string { return filepath.Join(Root(t), "include", file) }

// MethodTable reads an XX(num, NAME, STRING) table: the macro named def
// in include/file, STRING quoted or not.
func MethodTable(t testing.TB, file, def string) map[int][2]string {
	t.Helper()
	src, err := os.ReadFile(Include(t, file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "#define "+def+"(XX)")
	if start < 0 {
		t.Fatalf("%s has no %s", file, def)
	}
	var body []string
	for _, line := range strings.Split(text[start:], "\n")[1:] {
		body = append(body, line)
		if !strings.HasSuffix(strings.TrimSpace(line), "\\") {
			break
		}
	}
	xx := regexp.MustCompile(`XX\(\s*(\d+)\s*,\s*(\w+)\s*,\s*"?([\w-]+)"?\s*\)`)
	m := map[int][2]string{}
	for _, e := range xx.FindAllStringSubmatch(strings.Join(body, "\n"), -1) {
		n, _ := strconv.Atoi(e[1])
		if _, dup := m[n]; dup {
			t.Fatalf("%s numbers %d twice", def, n)
		}
		m[n] = [2]string{e[2], e[3]}
	}
	return m
}

// WaitFor polls cond until it holds, failing the test after 10 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
