//go:build cgo

package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A panic in an export must come back to C as HW_EINTERNAL with the panic
// in hw_last_error(), never unwind into C.
func TestGuardTurnsAPanicIntoEINTERNAL(t *testing.T) {
	runtime.LockOSThread() // hw_last_error is per thread
	defer runtime.UnlockOSThread()

	if rc := callGuarded(func() {}); rc != 0 {
		t.Fatalf("callGuarded(no panic) = %d; want HW_OK", rc)
	}
	if rc := int(callGuarded(func() { panic("boom in the engine") })); rc != hwEINTERNAL {
		t.Fatalf("callGuarded(panic) = %d; want HW_EINTERNAL (%d)", rc, hwEINTERNAL)
	}
	if msg := lastError(); !strings.Contains(msg, "panic") || !strings.Contains(msg, "boom in the engine") {
		t.Fatalf("hw_last_error() = %q; want it to name the panic and its value", msg)
	}
	var m map[string]int
	if rc := int(callGuarded(func() { m["x"] = 1 })); rc != hwEINTERNAL { // a runtime error
		t.Fatalf("callGuarded(nil map write) = %d; want HW_EINTERNAL", rc)
	}
	if msg := lastError(); !strings.Contains(msg, "nil map") {
		t.Fatalf("hw_last_error() = %q; want the runtime error", msg)
	}

	callGuardedVoid("hw_http_add_route", func() { panic("void boom") })
	if msg := lastError(); !strings.Contains(msg, "hw_http_add_route") || !strings.Contains(msg, "void boom") {
		t.Fatalf("hw_last_error() after a void export panicked = %q; want the export and the panic named", msg)
	}
}

// Every //export in the package recovers panics: a function returning a
// code starts with "defer guard(&rc)", rc being its named result; one
// returning nothing with "defer guardVoid(\"name\")". A new export
// without either fails here.
func TestEveryExportIsGuarded(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	exports := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !isExport(fn) {
				continue
			}
			exports++
			if msg := checkGuarded(fn); msg != "" {
				t.Errorf("%s: //export %s: %s", fset.Position(fn.Pos()), fn.Name.Name, msg)
			}
		}
	}
	// The C API's exports as of this test: the count only guards against
	// the parse finding nothing.
	if exports < 15 {
		t.Fatalf("found %d //export functions; want the package's (at least 15): did the parse miss them?", exports)
	}
}

func isExport(fn *ast.FuncDecl) bool {
	if fn.Doc == nil {
		return false
	}
	for _, c := range fn.Doc.List {
		if strings.HasPrefix(c.Text, "//export ") {
			return true
		}
	}
	return false
}

// checkGuarded returns what is wrong with fn's guard, or "".
func checkGuarded(fn *ast.FuncDecl) string {
	if fn.Body == nil || len(fn.Body.List) == 0 {
		return "empty body"
	}
	def, ok := fn.Body.List[0].(*ast.DeferStmt)
	if !ok {
		return "first statement is not a deferred guard"
	}
	callee, _ := def.Call.Fun.(*ast.Ident)
	results := fn.Type.Results
	switch {
	case results == nil || len(results.List) == 0:
		if callee == nil || callee.Name != "guardVoid" || len(def.Call.Args) != 1 {
			return `returns nothing but does not start with defer guardVoid("name")`
		}
		if lit, ok := def.Call.Args[0].(*ast.BasicLit); !ok || lit.Kind != token.STRING {
			return "guardVoid's argument is not a string literal naming the export"
		}
	default:
		if callee == nil || callee.Name != "guard" || len(def.Call.Args) != 1 {
			return "does not start with defer guard(&rc)"
		}
		if len(results.List) != 1 || len(results.List[0].Names) != 1 {
			return "guard needs a single named result"
		}
		u, ok := def.Call.Args[0].(*ast.UnaryExpr)
		if !ok || u.Op != token.AND {
			return "guard's argument is not &result"
		}
		if id, ok := u.X.(*ast.Ident); !ok || id.Name != results.List[0].Names[0].Name {
			return "guard is not given the function's named result"
		}
	}
	return ""
}
