#!/usr/bin/env bash
# Build every C# project of the OWIN host with Mono's mcs into $(repo)/build/dotnet:
#   Haywire.Owin.dll        every .cs under Haywire.Owin/ (recursive)
#   Haywire.Host.exe        Haywire.Host/*.cs, if any
#   Sample.exe              Sample/*.cs, if any
#   Haywire.Owin.Tests.dll  Haywire.Owin.Tests/*.cs, if any, with nunit.framework.dll beside it
# Callable from any directory. OUT=dir overrides the output directory.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${OUT:-$ROOT/build/dotnet}

if ! command -v mcs >/dev/null 2>&1; then
  echo "build.sh: mono-complete is not installed: mcs not found (apt-get install -y mono-complete libnunit-cil-dev nunit-console)" >&2
  exit 1
fi
mkdir -p "$OUT"

# mcs_build OUTPUT ARGS...: run mcs; on failure print the full command.
mcs_build() {
  local out=$1; shift
  local cmd=(mcs -nologo -debug -unsafe -optimize+ -langversion:7.2 -warnaserror- -nowarn:1591 "-out:$out" "$@")
  echo "==> mcs -> ${out#$ROOT/}"
  if ! "${cmd[@]}"; then
    echo "build.sh: mcs failed; the command was:" >&2
    printf '  %q' "${cmd[@]}" >&2; echo >&2
    exit 1
  fi
}

# sources DIR [recursive]: the .cs files of DIR, sorted, NUL-free (paths have no spaces here).
sources() {
  if [ "${2:-}" = recursive ]; then
    find "$1" -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' | LC_ALL=C sort
  else
    find "$1" -maxdepth 1 -name '*.cs' | LC_ALL=C sort
  fi
}

BASE_REFS=(-r:System.dll -r:System.Core.dll)

mapfile -t owin < <(sources "$HERE/Haywire.Owin" recursive)
if [ ${#owin[@]} -eq 0 ]; then echo "build.sh: no sources under $HERE/Haywire.Owin" >&2; exit 1; fi
mcs_build "$OUT/Haywire.Owin.dll" -target:library "${BASE_REFS[@]}" "${owin[@]}"

if [ -d "$HERE/Haywire.Host" ]; then
  mapfile -t hostsrc < <(sources "$HERE/Haywire.Host")
  if [ ${#hostsrc[@]} -gt 0 ]; then
    mcs_build "$OUT/Haywire.Host.exe" -target:exe "${BASE_REFS[@]}" "-r:$OUT/Haywire.Owin.dll" "${hostsrc[@]}"
  fi
fi

if [ -d "$HERE/Sample" ]; then
  mapfile -t samplesrc < <(sources "$HERE/Sample")
  if [ ${#samplesrc[@]} -gt 0 ]; then
    mcs_build "$OUT/Sample.exe" -target:exe "${BASE_REFS[@]}" "-r:$OUT/Haywire.Owin.dll" "${samplesrc[@]}"
  fi
fi

if [ -d "$HERE/Haywire.Owin.Tests" ]; then
  mapfile -t testsrc < <(sources "$HERE/Haywire.Owin.Tests")
  if [ ${#testsrc[@]} -gt 0 ]; then
    nunit=""
    for cand in /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll /usr/lib/mono/nunit*/nunit.framework.dll; do
      if [ -f "$cand" ]; then nunit=$cand; break; fi
    done
    if [ -z "$nunit" ] && command -v pkg-config >/dev/null 2>&1; then
      nunit=$(pkg-config --libs nunit 2>/dev/null | tr ' ' '\n' | sed -n 's/^-r://p' | grep 'nunit.framework.dll$' | head -1 || true)
    fi
    if [ -z "$nunit" ] || [ ! -f "$nunit" ]; then
      echo "build.sh: nunit.framework.dll not found (apt-get install -y libnunit-cil-dev)" >&2
      exit 1
    fi
    cp -f "$nunit" "$OUT/"
    # Haywire.Owin.dll and nunit.framework.dll must sit beside the test assembly for nunit-console.
    mcs_build "$OUT/Haywire.Owin.Tests.dll" -target:library "${BASE_REFS[@]}" -r:System.Net.Http.dll \
      "-r:$OUT/Haywire.Owin.dll" "-r:$OUT/nunit.framework.dll" "${testsrc[@]}"
  fi
fi
