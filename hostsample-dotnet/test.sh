#!/usr/bin/env bash
# Build the C# projects (build.sh) and run the NUnit tests in Haywire.Owin.Tests.dll.
# The tests start $HAYWIRE_BUILD_DIR/haywire (default $(repo)/build): run ../build.sh first.
#   ./test.sh                  every test
#   ./test.sh -run=NAME        nunit-console options are passed through (e.g. -run=Haywire.Owin.Tests.TransportAttachTests)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export HAYWIRE_BUILD_DIR=${HAYWIRE_BUILD_DIR:-$ROOT/build}
# The constants test reads include/*.h; the build dir may be outside the tree.
export HAYWIRE_SOURCE_DIR=${HAYWIRE_SOURCE_DIR:-$ROOT}
OUT=${OUT:-$ROOT/build/dotnet}

if ! command -v mcs >/dev/null 2>&1 || ! command -v nunit-console >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing mono-complete libnunit-cil-dev nunit-console"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mono-complete libnunit-cil-dev nunit-console >/dev/null
  else
    echo "test.sh: mono-complete / nunit-console are not installed (as root: apt-get install -y mono-complete libnunit-cil-dev nunit-console)" >&2
    exit 1
  fi
fi
if [ ! -x "$HAYWIRE_BUILD_DIR/haywire" ]; then
  echo "test.sh: $HAYWIRE_BUILD_DIR/haywire not found: run $ROOT/build.sh first" >&2
  exit 1
fi

OUT=$OUT "$HERE/build.sh"

RESULT=$OUT/TestResult.xml
set +e
nunit-console -nologo -labels -nodots "-xml=$RESULT" "$@" "$OUT/Haywire.Owin.Tests.dll" >"$OUT/test-output.txt" 2>&1
rc=$?
set -e
cat "$OUT/test-output.txt"
echo "==> summary"
grep -E '^Tests run:' "$OUT/test-output.txt" || echo "(no summary line: nunit-console exited $rc)"
if [ $rc -ne 0 ]; then
  echo "test.sh: FAILED (nunit-console exit $rc)" >&2
  exit $rc
fi
echo "test.sh: ok"
