package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cTests lists the C programs in tests/c that exercise libhaywire's API,
// with the arguments each takes (libuv keeps such a list in
// test/test-list.h). Each prints "NAME: ok" and exits 0, or reports its
// failed checks with file:line.
var cTests = []struct {
	name    string
	args    func(t *testing.T) []string
	hostlib bool // also run it compiled over hostlib (libhaywire_host), without libhaywire
}{
	{"test-lifecycle", func(t *testing.T) []string { return []string{strconv.Itoa(freePort(t)), t.TempDir()} }, false},
	{"test-routes", func(t *testing.T) []string { return []string{strconv.Itoa(freePort(t))} }, false},
	{"test-stop", func(t *testing.T) []string { return []string{strconv.Itoa(freePort(t))} }, false},
	{"test-host", func(t *testing.T) []string { return hostTestArgs(t) }, true},
	{"test-errors", func(t *testing.T) []string { return nil }, true},
}

func TestC(t *testing.T) {
	for _, ct := range cTests {
		run := func(t *testing.T, compile func(src, name string) (string, error), name string) {
			bin, err := compile(filepath.Join(repoRoot, "tests/c", ct.name+".c"), name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := ct.args(t)
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ct.name+": ok") {
				t.Fatalf("%s %v: %v\n%s", name, args, err, trimOutput(out))
			}
		}
		t.Run(ct.name, func(t *testing.T) { run(t, compileC, ct.name) })
		if ct.hostlib && hostlibSupported() {
			t.Run(ct.name+"-hostlib", func(t *testing.T) {
				run(t, func(src, name string) (string, error) { return compileHostC(src, name, true) }, ct.name+"-hostlib")
			})
		}
	}
}
