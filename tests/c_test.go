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

// TestC compiles and runs every tests/c/test-*.c program. Each prints
// "NAME: ok" and exits 0, or reports its failed checks with file:line.
func TestC(t *testing.T) {
	srcs, _ := filepath.Glob(filepath.Join(repoRoot, "tests/c/test-*.c"))
	if len(srcs) == 0 {
		t.Fatal("no tests/c/test-*.c found")
	}
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		t.Run(name, func(t *testing.T) {
			bin, err := compileC(src, name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := []string{strconv.Itoa(freePort(t))}
			if name == "test-lifecycle" {
				args = append(args, t.TempDir())
			}
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), name+": ok") {
				t.Fatalf("%s %v: %v\n%s", name, args, err, trimOutput(out))
			}
		})
	}
}
