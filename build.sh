#!/usr/bin/env bash
# haywire build script (Linux, macOS). Windows: build.bat.
#
#   ./build.sh [build]   build the library, the launcher and the samples (hello_world,
#                        c_host) into build/, and the OWIN host into build/dotnet/ when
#                        Mono's mcs is installed
#   ./build.sh test      install what the tests need (Mono too), build, run every test
#   ./build.sh sanitize  build, then run the C host tests over hostlib with ASan+UBSan
#   ./build.sh run       build, then serve the OWIN sample on port 8080: the launcher
#                        (build/haywire --host-command) runs it, restarts it if it dies
#                        and swaps in a new build when build/dotnet/ changes
#   ./build.sh run hello_world [flags]   build, then serve the C hello world on port 8000
#   ./build.sh bench     build, then print benchmark ratios (see bench/run.sh and README.md)
#   ./build.sh clean     remove build/
# HAYWIRE_BUILD_DIR=DIR builds into DIR instead of build/.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
BUILD=${HAYWIRE_BUILD_DIR:-$ROOT/build} # tests and parallel builds may point it elsewhere

case "$(uname -s)" in
  Darwin) LIB=libhaywire.dylib; RPATH='-Wl,-rpath,@loader_path' ;;
  *)      LIB=libhaywire.so;    RPATH='-Wl,-rpath,$ORIGIN' ;;
esac

log() { printf '==> %s\n' "$*"; }

# Go's build cache does not see files outside a package's directory: a
# change to include/*.h or hostlib/ (compiled into libhaywire through
# cmd/libhaywire/hostlib.c) alone would leave the cgo objects stale. Their
# hash in CGO_CFLAGS is part of the cache key, so any such change
# recompiles them.
CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DHW_INCLUDE_HASH=$(cat include/*.h hostlib/*.c hostlib/*.h | cksum | cut -d' ' -f1)"
export CGO_CFLAGS

# need CMD PKG: make sure a command exists, installing its Debian package
# when running as root; otherwise say what is missing.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing $2"
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
  command -v "$1" >/dev/null 2>&1 || { echo "build.sh: '$1' is required (Debian package $2)" >&2; exit 1; }
}

# libhaywire_host: the hw_host_* API in C alone (hostlib/), no Go runtime.
# Only the API is exported (hostlib/host_internal.h marks it visible).
# Linux only: its doorbells are futexes.
HOSTLIB_SRC=(hostlib/errors.c hostlib/attach.c hostlib/pump.c hostlib/request.c hostlib/response.c)
HOSTLIB_CFLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread -Iinclude)
SANITIZE=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

build_hostlib() {
  local obj="$BUILD/obj/hostlib" objs=() src o
  mkdir -p "$obj"
  log "cc hostlib/*.c -> build/libhaywire_host.so, build/libhaywire_host.a"
  for src in "${HOSTLIB_SRC[@]}"; do
    o="$obj/$(basename "${src%.c}").o"
    gcc "${HOSTLIB_CFLAGS[@]}" -fPIC -fvisibility=hidden -c "$src" -o "$o"
    objs+=("$o")
  done
  rm -f "$BUILD/libhaywire_host.a"
  ar rcs "$BUILD/libhaywire_host.a" "${objs[@]}"
  gcc -shared -pthread -Wl,-soname,libhaywire_host.so -o "$BUILD/libhaywire_host.so" "${objs[@]}"
  log "cc examples/c_host + libhaywire_host.a -> build/c_host (no Go runtime)"
  gcc -std=c99 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude \
    examples/c_host/c_host.c "$BUILD/libhaywire_host.a" -pthread -o "$BUILD/c_host"
}

# build_sanitized: c_host over hostlib's sources with ASan and UBSan
# (build/c_host-asan) and with TSan (build/c_host-tsan), for test_all's
# sanitizer runs.
build_sanitized() {
  log "cc examples/c_host + hostlib with ASan+UBSan -> build/c_host-asan, with TSan -> build/c_host-tsan"
  gcc "${HOSTLIB_CFLAGS[@]/-O2/-O1}" "${SANITIZE[@]}" \
    examples/c_host/c_host.c "${HOSTLIB_SRC[@]}" -o "$BUILD/c_host-asan"
  gcc "${HOSTLIB_CFLAGS[@]/-O2/-O1}" -fsanitize=thread \
    examples/c_host/c_host.c "${HOSTLIB_SRC[@]}" -o "$BUILD/c_host-tsan"
}

build() {
  need go golang
  need gcc gcc
  mkdir -p "$BUILD"
  log "go build -buildmode=c-shared -> build/$LIB"
  go build -trimpath -buildmode=c-shared -o "$BUILD/$LIB" ./cmd/libhaywire
  rm -f "$BUILD/${LIB%.*}.h" # cgo's generated header; include/haywire.h is the API
  log "go build ./cmd/haywire -> build/haywire"
  go build -trimpath -o "$BUILD/haywire" ./cmd/haywire
  log "cc examples/hello_world -> build/hello_world"
  gcc -std=c99 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude \
    examples/hello_world/hello_world.c -L"$BUILD" -lhaywire "$RPATH" -o "$BUILD/hello_world"
  if [ "$(uname -s)" = Linux ]; then
    build_hostlib
  else # no futex: c_host keeps using libhaywire's hw_host_*
    log "cc examples/c_host -> build/c_host (on libhaywire: libhaywire_host is Linux only)"
    gcc -std=c99 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude \
      examples/c_host/c_host.c -L"$BUILD" -lhaywire "$RPATH" -o "$BUILD/c_host"
  fi
  if command -v mcs >/dev/null 2>&1; then
    OUT="$BUILD/dotnet" hostsample-dotnet/build.sh
  else
    log "mcs not found: build/dotnet/ skipped (./build.sh run or test installs Mono)"
  fi
}

# need_mono: Mono and NUnit 2.6, installed from Debian when running as root.
need_mono() {
  need mcs mono-complete
  need nunit-console nunit-console
  [ -e /usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll ] || [ "$(id -u)" != 0 ] ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnunit-cil-dev >/dev/null
}

# check_c_format: the C sources follow .clang-format. Versions of
# clang-format differ in details, so the check runs with the one the style
# was written for (14, Debian 12's) and says so otherwise.
check_c_format() {
  need clang-format clang-format
  local version files
  version=$(clang-format --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
  if [ "$version" != 14 ]; then
    log "clang-format $version: the style check needs clang-format 14, skipped"
    return 0
  fi
  log "clang-format --dry-run -Werror (.clang-format)"
  files=$(git ls-files 'include/*.h' 'examples/*.c' 'examples/*.h' 'tests/c/*.c' 'tests/c/*.h' \
    'cmd/libhaywire/*.c' 'cmd/libhaywire/*.h' 'hostlib/*.c' 'hostlib/*.h' 2>/dev/null ||
    find include examples tests/c cmd/libhaywire hostlib -name '*.[ch]' 2>/dev/null)
  clang-format --dry-run -Werror $files
}

# sanitize_hosts: the tests that run C hosts (c_host, test-host), with
# both built over hostlib with ASan and UBSan, then with TSan. A report
# stops the process (halt_on_error); each run's output (-v: c_host's
# stderr too) is kept in build/sanitizer-KIND.log, and any report in it
# fails the run, also one from a process whose exit status a test does
# not look at.
sanitize_hosts() {
  build_sanitized
  local kind out rc bin
  for kind in address thread; do
    out="$BUILD/sanitizer-$kind.log" rc=0 bin="$BUILD/c_host-asan"
    [ $kind = thread ] && bin="$BUILD/c_host-tsan"
    log "C hosts over hostlib with -fsanitize=$kind (go test ./tests -run CHost|C/test-host-hostlib|Stream|...)"
    HAYWIRE_BUILD_DIR="$BUILD" HAYWIRE_SANITIZE=$kind \
      HAYWIRE_C_HOST="$bin" \
      ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      TSAN_OPTIONS=halt_on_error=1 \
      go test -v -count=1 -timeout 15m \
      -run 'TestCHost|TestC$/test-host-hostlib|TestStream|TestReclaimed|TestEnginePause' ./tests/ >"$out" 2>&1 || rc=$?
    if [ $rc != 0 ] || grep -Eq 'runtime error:|ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: [A-Za-z]*Sanitizer' "$out"; then
      grep -E -B2 -A30 'runtime error:|ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|^--- FAIL|^FAIL' "$out" | head -200 >&2
      echo "build.sh: the $kind sanitizer run failed (exit $rc; whole output: $out)" >&2
      exit 1
    fi
    grep -E '^(ok|FAIL)' "$out" || true
  done
}

test_all() {
  need curl curl
  need promtool prometheus # the admin tests check /metrics with promtool check metrics
  need chromium chromium   # and drive the console in a headless browser
  need_mono
  build
  log "gofmt / go vet"
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
  go vet ./...
  check_c_format
  log "go test -race ./..."
  HAYWIRE_BUILD_DIR="$BUILD" go test -race -count=1 -timeout 20m ./...
  # The race detector cannot see mapped memory and slows the rings tenfold:
  # the full-size cross-process stress (10M descriptors each way) and the
  # kill -9 tests also run without it.
  log "cross-process stress and kill -9 without -race"
  go test -count=1 -run 'CrossProcess|Kill|HungPeer' ./region/
  if [ "$(uname -s)" = Linux ]; then sanitize_hosts; fi
  log "fuzz decoders of untrusted bytes briefly (longer: go test -fuzz NAME PKG)"
  # An execution count, not a duration: a wall-clock -fuzztime races the
  # workers' shutdown on a busy machine and fails with "context deadline
  # exceeded" without any failing input (golang/go#75804).
  fuzz() { go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-200000x}" "$2"; }
  fuzz FuzzParse ./http1
  fuzz FuzzChunked ./http1
  fuzz FuzzParseHeader ./region
  fuzz FuzzDecodeDescriptor ./region
  fuzz FuzzAttach ./ringbuf
  fuzz FuzzAllocator ./region/arena
  fuzz FuzzDecodeView ./bridge/wire
  fuzz FuzzDecodeResponse ./bridge/wire
  log "C# OWIN host: NUnit on Mono (hostsample-dotnet/test.sh)"
  HAYWIRE_BUILD_DIR="$BUILD" OUT="$BUILD/dotnet" hostsample-dotnet/test.sh
}

cmd=${1:-build}
[ $# -gt 0 ] && shift
case "$cmd" in
  build) build ;;
  test)  test_all ;;
  sanitize) build; sanitize_hosts ;; # only test_all's ASan+UBSan run of the C hosts
  run)   if [ "${1:-}" = hello_world ]; then # the C sample on the library, no host process
           shift; build
           log "serving examples/hello_world on http://localhost:${PORT:-8000}/ (Ctrl-C stops)"
           exec "$BUILD/hello_world" --port "${PORT:-8000}" "$@"
         fi
         need_mono; build
         log "serving the OWIN sample on http://localhost:${PORT:-8080}/: build/haywire runs it, restarts it if it dies,"
         log "and swaps in a new version when build/dotnet/ changes (./build.sh in another terminal; Ctrl-C stops)"
         exec "$BUILD/haywire" --port "${PORT:-8080}" --host-command "mono '$BUILD/dotnet/Sample.exe'" \
           --host-watch "$BUILD/dotnet/" --host-watch-quiet-ms 2000 "$@" ;; # mcs writes one assembly a second
  bench) build; exec bench/run.sh "$@" ;;
  clean) rm -rf "$BUILD" ;;
  *) echo "usage: $0 [build|test|sanitize|run [hello_world]|bench|clean]" >&2; exit 2 ;;
esac
