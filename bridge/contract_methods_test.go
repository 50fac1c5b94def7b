package bridge

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/http1"
)

// The method numbering of include/haywire_bridge.h (method_id).

// method_id: HW_BRIDGE_METHOD_MAP is the parser's numbering, through the
// engine's view, and haywire_common.h's table is the same one.
func TestContractMethodNumbering(t *testing.T) {
	bridgeMap := bridgetest.MethodTable(t, "haywire_bridge.h", "HW_BRIDGE_METHOD_MAP")
	cMap := bridgetest.MethodTable(t, "haywire_common.h", "HW_HTTP_METHOD_MAP")
	if len(bridgeMap) < 26 {
		t.Fatalf("read %d methods from HW_BRIDGE_METHOD_MAP; want 26 at least", len(bridgeMap))
	}
	if fmt.Sprint(bridgeMap) != fmt.Sprint(cMap) {
		t.Errorf("HW_BRIDGE_METHOD_MAP and haywire_common.h's HW_HTTP_METHOD_MAP differ:\n%v\n%v", bridgeMap, cMap)
	}
	parse := func(method string) http1.Method {
		target := "/"
		if method == "CONNECT" {
			target = "example.com:443"
		}
		var p http1.Parser
		var req http1.Request
		p.Parse([]byte(method+" "+target+" HTTP/1.1\r\nHost: h\r\n\r\n"), &req, &http1.Limits{})
		return req.MethodID
	}
	for n, e := range bridgeMap {
		if got := parse(e[1]); int(got) != n {
			t.Errorf("the parser numbers %s %d; HW_BRIDGE_METHOD_MAP says %d", e[1], got, n)
		}
	}
	if got := parse("BREW"); int(got) != hwBridgeMethodOther(t) {
		t.Errorf("the parser numbers BREW %d; want HW_BRIDGE_METHOD_OTHER", got)
	}
	// Through the engine: the view carries the parser's number.
	srv, b := setupWith(t, Options{})
	h := attachRaw(t, b, b.opts.Region.Dir)
	for _, m := range []string{"GET", "PURGE", "M-SEARCH", "BREW"} {
		_, br := ctDial(t, srv, m+" / HTTP/1.1\r\nHost: h\r\n\r\n")
		req, v := h.request()
		if int(v.MethodID()) != int(parse(m)) || string(v.Method()) != m {
			t.Errorf("%s: view method_id %d, method %q; want %d", m, v.MethodID(), v.Method(), parse(m))
		}
		h.respond(req, &wire.ResponseHead{Status: 204, ContentLength: 0}, nil)
		ctResponse(t, br, m)
	}
}

// hwBridgeMethodOther reads HW_BRIDGE_METHOD_OTHER from the header.
func hwBridgeMethodOther(t *testing.T) int {
	t.Helper()
	src, err := os.ReadFile(bridgetest.Include(t, "haywire_bridge.h"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`#define HW_BRIDGE_METHOD_OTHER (\d+)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no HW_BRIDGE_METHOD_OTHER")
	}
	n, _ := strconv.Atoi(string(m[1]))
	if n != int(http1.MethodOther) {
		t.Errorf("HW_BRIDGE_METHOD_OTHER = %d; http1.MethodOther = %d", n, http1.MethodOther)
	}
	return n
}
