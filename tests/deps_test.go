package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageLayering: the tree's layers, as `go list -deps` sees them. A
// Go host links no HTTP server, the wire codecs and the rings need only
// the standard library (and x/sys, mmap for the region), so a change that
// quietly couples them fails here rather than in a binary's size.
func TestPackageLayering(t *testing.T) {
	const mod = "github.com/haywireowin/haywire/"
	rules := []struct {
		pkg       string
		forbidden []string // packages of this module it must not depend on
		stdOnly   bool     // no package outside the standard library at all
	}{
		{pkg: "bridge/host", forbidden: []string{"engine", "http1", "bridge", "lifecycle", "config"}},
		{pkg: "bridge/wire", stdOnly: true},
		{pkg: "ringbuf", stdOnly: true},
		{pkg: "region", forbidden: []string{"engine", "http1", "bridge", "bridge/wire", "bridge/host"}},
		{pkg: "http1", stdOnly: true},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+r.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			if d == mod+r.pkg {
				continue
			}
			if r.stdOnly {
				t.Errorf("%s depends on %s; want the standard library only", r.pkg, d)
			}
			for _, f := range r.forbidden {
				if d == mod+f {
					t.Errorf("%s depends on %s", r.pkg, f)
				}
			}
		}
	}
}
