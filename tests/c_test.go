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
	name string
	args func(t *testing.T) []string
}{
	{"test-lifecycle", func(t *testing.T) []string { return []string{strconv.Itoa(freePort(t)), t.TempDir()} }},
	{"test-routes", func(t *testing.T) []string { return []string{strconv.Itoa(freePort(t))} }},
	{"test-stop", func(t *testing.T) []string { return []string{strconv.Itoa(freePort(t))} }},
	{"test-host", func(t *testing.T) []string { return hostTestArgs(t) }},
	{"test-errors", func(t *testing.T) []string { return nil }},
}

func TestC(t *testing.T) {
	for _, ct := range cTests {
		t.Run(ct.name, func(t *testing.T) {
			bin, err := compileC(filepath.Join(repoRoot, "tests/c", ct.name+".c"), ct.name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := ct.args(t)
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ct.name+": ok") {
				t.Fatalf("%s %v: %v\n%s", ct.name, args, err, trimOutput(out))
			}
		})
	}
}
