package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The command's words naming files under the watched root name their
// copies; other words, and a program looked up in $PATH, are kept.
func TestShadowCommand(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "App.dll"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "host"), []byte("x"), 0o755)
	outside := filepath.Join(t.TempDir(), "other.dll")
	os.WriteFile(outside, []byte("x"), 0o644)
	got := shadowCommand([]string{filepath.Join(root, "host"), "mono", "--app=" + filepath.Join(root, "bin", "App.dll"),
		filepath.Join(root, "bin"), outside, filepath.Join(root, "missing"), "--flag"}, root, "/shadow/gen-2")
	want := []string{"/shadow/gen-2/host", "mono", "--app=/shadow/gen-2/bin/App.dll", "/shadow/gen-2/bin", outside,
		filepath.Join(root, "missing"), "--flag"}
	if !slices.Equal(got, want) {
		t.Errorf("shadowCommand = %q\nwant %q", got, want)
	}
	if got := shadowCommand([]string{"mono", "Sample.exe"}, root, "/s"); !slices.Equal(got, []string{"mono", "Sample.exe"}) {
		t.Errorf("a program name was rewritten: %q", got)
	}
}

// copyTree copies files with their modes and symbolic links.
func TestCopyTree(t *testing.T) {
	root, dir := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "b", "f"), []byte("content"), 0o755)
	os.Symlink("b/f", filepath.Join(root, "a", "link"))
	if err := copyTree(root, dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "a", "link"))
	info, serr := os.Stat(filepath.Join(dir, "a", "b", "f"))
	if err != nil || string(b) != "content" || serr != nil || info.Mode().Perm()&0o100 == 0 {
		t.Fatalf("copy: %q %v, %v %v; want the content through the link, executable", b, err, info, serr)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "a", "link")); target != "b/f" {
		t.Errorf("link copied as %q; want b/f", target)
	}
}
