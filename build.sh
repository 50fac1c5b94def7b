#!/usr/bin/env bash
# haywire build script (Linux, macOS). Windows: build.bat.
#
#   ./build.sh [build]   build the library, the launcher and the samples (hello_world,
#                        c_host) into build/, and the OWIN host into build/dotnet/ when
#                        Mono's mcs is installed
#   ./build.sh test      install what the tests need (Mono too), build, run every test
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

# Go's build cache does not see headers outside a package's directory: a
# change to include/*.h alone would leave the cgo objects (libhaywire's C
# half, the header checks) stale. Their hash in CGO_CFLAGS is part of the
# cache key, so any header change recompiles them.
CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DHW_INCLUDE_HASH=$(cat include/*.h | cksum | cut -d' ' -f1)"
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
  log "cc examples/c_host -> build/c_host"
  gcc -std=c99 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude \
    examples/c_host/c_host.c -L"$BUILD" -lhaywire "$RPATH" -o "$BUILD/c_host"
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

test_all() {
  need curl curl
  need_mono
  build
  log "gofmt / go vet"
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
  go vet ./...
  log "go test -race ./..."
  HAYWIRE_BUILD_DIR="$BUILD" go test -race -count=1 -timeout 20m ./...
  # The race detector cannot see mapped memory and slows the rings tenfold:
  # the full-size cross-process stress (10M descriptors each way) and the
  # kill -9 tests also run without it.
  log "cross-process stress and kill -9 without -race"
  go test -count=1 -run 'CrossProcess|Kill|HungPeer' ./region/
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
  *) echo "usage: $0 [build|test|run [hello_world]|bench|clean]" >&2; exit 2 ;;
esac
