package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var (
	repoRoot string
	buildDir string // holds libhaywire, the launcher and the samples
)

func TestMain(m *testing.M) {
	if file := os.Getenv(testAppEnv); file != "" { // a supervised host of supervisor_test.go
		os.Exit(runTestApp(file))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, _ := os.Getwd()
	repoRoot = filepath.Dir(wd)
	if _, err := exec.LookPath("gcc"); err != nil {
		fmt.Println("tests: gcc not found; the C end-to-end tests need it (apt-get install gcc)")
		return 1
	}
	buildDir = os.Getenv("HAYWIRE_BUILD_DIR")
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "haywire-build-")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer os.RemoveAll(dir)
		buildDir = dir
		if err := buildAll(); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	return m.Run()
}

func libName() string {
	switch runtime.GOOS {
	case "darwin":
		return "libhaywire.dylib"
	case "windows":
		return "haywire.dll"
	}
	return "libhaywire.so"
}

// buildAll builds the library, the launcher and the samples (hello_world,
// c_host) as build.sh does.
func buildAll() error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(buildDir, libName()), "./cmd/libhaywire")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building libhaywire: %v\n%s", err, out)
	}
	cmd = exec.Command("go", "build", "-o", filepath.Join(buildDir, "haywire"), "./cmd/haywire")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the launcher: %v\n%s", err, out)
	}
	if _, err := compileC(filepath.Join(repoRoot, "examples/hello_world/hello_world.c"), "hello_world"); err != nil {
		return err
	}
	_, err := compileC(filepath.Join(repoRoot, "examples/c_host/c_host.c"), "c_host")
	return err
}

// compileC compiles a C program against include/haywire.h and links it to
// the library, returning the binary's path.
func compileC(src, name string) (string, error) {
	bin := filepath.Join(buildDir, name)
	args := []string{"-std=c99", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
		"-I" + filepath.Join(repoRoot, "include"), "-I" + filepath.Join(repoRoot, "tests/c"),
		src, "-L" + buildDir, "-lhaywire", "-Wl,-rpath," + buildDir, "-lpthread", "-o", bin}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", filepath.Base(src), err, out)
	}
	return bin, nil
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func trimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	return s
}
