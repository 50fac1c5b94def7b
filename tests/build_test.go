package tests

import (
	"fmt"
	"hash/crc32"
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
// c_host), and libhaywire_host.so on Linux, as build.sh does.
func buildAll() error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(buildDir, libName()), "./cmd/libhaywire")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_CFLAGS="+cgoCFlags())
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
	if !hostlibSupported() {
		_, err := compileC(filepath.Join(repoRoot, "examples/c_host/c_host.c"), "c_host")
		return err
	}
	if _, err := compileHostC(filepath.Join(repoRoot, "examples/c_host/c_host.c"), "c_host", false); err != nil {
		return err
	}
	args := append([]string{"-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-fPIC",
		"-fvisibility=hidden", "-shared", "-I" + filepath.Join(repoRoot, "include")}, hostlibSources()...)
	args = append(args, "-o", filepath.Join(buildDir, "libhaywire_host.so"))
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc libhaywire_host.so: %v\n%s", err, out)
	}
	return nil
}

// cgoCFlags returns build.sh's CGO_CFLAGS: Go's build cache does not see
// the headers and hostlib/ sources libhaywire's C includes from outside
// its directory, so their hash goes into the flags, part of the cache key.
func cgoCFlags() string {
	h := crc32.NewIEEE()
	for _, pattern := range []string{"include/*.h", "hostlib/*.c", "hostlib/*.h"} {
		files, _ := filepath.Glob(filepath.Join(repoRoot, pattern))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			h.Write(b)
		}
	}
	flags := os.Getenv("CGO_CFLAGS")
	if flags == "" {
		flags = "-O2 -g"
	}
	return fmt.Sprintf("%s -DHW_INCLUDE_HASH=%d", flags, h.Sum32())
}

// hostlibSupported says whether libhaywire_host (hostlib/) builds here:
// its doorbells are Linux futexes.
func hostlibSupported() bool { return runtime.GOOS == "linux" }

// sanitizeFlags are the sanitizers the C host programs the tests compile
// over hostlib get, from HAYWIRE_SANITIZE (build.sh test's sanitizer
// runs): "address" (or "1") ASan and UBSan, "thread" TSan, else none.
func sanitizeFlags() []string {
	switch os.Getenv("HAYWIRE_SANITIZE") {
	case "1", "address":
		return []string{"-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"}
	case "thread":
		return []string{"-fsanitize=thread"}
	}
	return nil
}

// cHostPath is the c_host the tests run: $HAYWIRE_C_HOST (build.sh test
// points it at the sanitized build), else the build directory's.
func cHostPath() string {
	if p := os.Getenv("HAYWIRE_C_HOST"); p != "" {
		return p
	}
	return filepath.Join(buildDir, "c_host")
}

// hostlibSources are the C sources of libhaywire_host.
func hostlibSources() []string {
	srcs, _ := filepath.Glob(filepath.Join(repoRoot, "hostlib", "*.c"))
	return srcs
}

// compileHostC compiles a host program with hostlib's sources (what
// libhaywire_host.a holds: no libhaywire, no Go runtime), with the
// sanitizers of sanitizeFlags when sanitize holds, and returns the
// binary's path.
func compileHostC(src, name string, sanitize bool) (string, error) {
	bin := filepath.Join(buildDir, name)
	args := []string{"-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
		"-I" + filepath.Join(repoRoot, "include"), "-I" + filepath.Join(repoRoot, "tests/c")}
	if sanitize {
		args = append(args, sanitizeFlags()...)
	}
	args = append(append(append(args, src), hostlibSources()...), "-o", bin)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s over hostlib: %v\n%s", filepath.Base(src), err, out)
	}
	return bin, nil
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
