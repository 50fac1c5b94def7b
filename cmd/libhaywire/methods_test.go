package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/haywireowin/haywire/http1"
)

// headerMethod is one XX(num, NAME, STRING) line of HW_HTTP_METHOD_MAP.
type headerMethod struct {
	num          int
	name, string string
}

// headerMethods reads HW_HTTP_METHOD_MAP and HW_HTTP_METHOD_OTHER from
// include/haywire_common.h.
func headerMethods(t *testing.T) (methods []headerMethod, other int) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "include", "haywire_common.h"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "#define HW_HTTP_METHOD_MAP(XX)")
	if start < 0 {
		t.Fatal("include/haywire_common.h has no HW_HTTP_METHOD_MAP")
	}
	// The macro runs over continuation lines up to the first line without
	// a trailing backslash.
	var body []string
	for _, line := range strings.Split(text[start:], "\n")[1:] {
		body = append(body, line)
		if !strings.HasSuffix(strings.TrimSpace(line), "\\") {
			break
		}
	}
	xx := regexp.MustCompile(`XX\(\s*(\d+)\s*,\s*(\w+)\s*,\s*([\w-]+)\s*\)`)
	for _, m := range xx.FindAllStringSubmatch(strings.Join(body, "\n"), -1) {
		n, _ := strconv.Atoi(m[1])
		methods = append(methods, headerMethod{n, m[2], m[3]})
	}
	om := regexp.MustCompile(`#define HW_HTTP_METHOD_OTHER (\d+)`).FindStringSubmatch(text)
	if om == nil {
		t.Fatal("include/haywire_common.h has no HW_HTTP_METHOD_OTHER")
	}
	other, _ = strconv.Atoi(om[1])
	return methods, other
}

// The method numbers http1 gives a request (http_request.method, passed
// through unchanged by the C ABI) are those of the header's
// HW_HTTP_METHOD_MAP, for every method in it.
func TestMethodNumbersMatchHeader(t *testing.T) {
	methods, other := headerMethods(t)
	if len(methods) < 26 {
		t.Fatalf("read %d methods from HW_HTTP_METHOD_MAP; want Haywire's 26 at least", len(methods))
	}
	parse := func(method string) http1.Method {
		target := "/"
		if method == "CONNECT" {
			target = "example.com:443" // refused (501), but numbered first
		}
		var p http1.Parser
		var req http1.Request
		p.Parse([]byte(method+" "+target+" HTTP/1.1\r\nHost: h\r\n\r\n"), &req, &http1.Limits{})
		return req.MethodID
	}
	for _, m := range methods {
		if got := parse(m.string); int(got) != m.num {
			t.Errorf("parse(%q).MethodID = %d; want HW_HTTP_%s = %d", m.string, got, m.name, m.num)
		}
	}
	if int(http1.MethodOther) != other {
		t.Errorf("http1.MethodOther = %d; want HW_HTTP_METHOD_OTHER = %d", http1.MethodOther, other)
	}
	if got := parse("BREW"); int(got) != other {
		t.Errorf("parse(\"BREW\").MethodID = %d; want HW_HTTP_METHOD_OTHER = %d", got, other)
	}

	// And the other way: every numbered constant of http1 (MethodGet...) is
	// in the header under its name, so neither side has one the other lacks.
	byName := map[string]int{}
	for _, m := range methods {
		byName[m.name] = m.num
	}
	goConsts := http1MethodConsts(t)
	for name, num := range goConsts {
		if name == "OTHER" {
			continue
		}
		if want, ok := byName[name]; !ok || want != num {
			t.Errorf("http1.Method%s = %d; HW_HTTP_METHOD_MAP has %s = %d (present %v)", titleCase(name), num, name, want, ok)
		}
	}
	if len(goConsts)-1 != len(methods) {
		t.Errorf("http1 numbers %d methods, HW_HTTP_METHOD_MAP %d", len(goConsts)-1, len(methods))
	}
}

// http1MethodConsts reads http1/method.go's "MethodX Method = N"
// constants, keyed by X upper-cased.
func http1MethodConsts(t *testing.T) map[string]int {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "http1", "method.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]int{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if typ, ok := v.Type.(*ast.Ident); !ok || typ.Name != "Method" || len(v.Values) != len(v.Names) {
				continue
			}
			for i, n := range v.Names {
				lit, ok := v.Values[i].(*ast.BasicLit)
				if !ok || !strings.HasPrefix(n.Name, "Method") {
					t.Fatalf("http1 constant %s is not \"MethodX Method = <number>\"", n.Name)
				}
				num, _ := strconv.Atoi(lit.Value)
				consts[strings.ToUpper(strings.TrimPrefix(n.Name, "Method"))] = num
			}
		}
	}
	if len(consts) == 0 {
		t.Fatal("found no Method constants in http1/method.go")
	}
	return consts
}

func titleCase(s string) string { return s[:1] + strings.ToLower(s[1:]) }
