#!/usr/bin/env bash
# bench/run.sh — HTTP benchmark, run by `./build.sh bench` after a build.
#
# Each round starts every server pinned to CPU 1 and drives it with
# `wrk -t1` pinned to CPU 0, plain (-c32) and pipelined (16 requests per
# write); rounds interleave the servers (A B A B …) so ratios come from one
# run on one machine. Prints the median rps per server and the ratios.
#
#   ROUNDS=3 DURATION=5s CONNS=32 DEPTH=16 ./build.sh bench
#   HAYWIRE_C_BIN=/path/to/haywire/hello_world ./build.sh bench   # add Haywire C
#   SERVERS="haywire nethttp" ./build.sh bench                     # only these
#
# HAYWIRE_C_BIN is Haywire's own hello_world, built outside this repo; it
# gets --tcp_nodelay (its reuseport path never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$PWD/build
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
DEPTH=${DEPTH:-16}
PORT=${BENCH_PORT:-18700}

for c in wrk taskset; do
  if ! command -v $c >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk util-linux >/dev/null; fi
    command -v $c >/dev/null || { echo "bench: $c is required" >&2; exit 1; }
  fi
done
[ "$(nproc)" -ge 2 ] || echo "bench: fewer than 2 CPUs; client and server share one" >&2

go build -o "$BUILD/bench-nethttp" ./bench/nethttp

servers=(haywire nethttp)
[ -n "${HAYWIRE_C_BIN:-}" ] && servers+=(haywire_c)
# The bridge: build/haywire with build/c_host attached, both on CPU 1, so
# the server side has the one CPU the native run has ("bridged"); and with
# the host on CPU 0 beside wrk, the engine alone on CPU 1 ("bridged-x").
[ -x "$BUILD/c_host" ] && servers+=(bridged bridged-x)
# The OWIN sample (C# on Mono) attached the same way, both on CPU 1.
[ -f "$BUILD/dotnet/Sample.exe" ] && command -v mono >/dev/null && servers+=(owin)
if [ -n "${SERVERS:-}" ]; then
  read -ra servers <<<"$SERVERS"
  for s in "${servers[@]}"; do
    case $s in haywire|nethttp|haywire_c|bridged|bridged-x|owin) ;; *) echo "bench: unknown server '$s' in SERVERS" >&2; exit 2 ;; esac
  done
fi

start_server() { # name port
  case $1 in
    haywire)   taskset -c 1 "$BUILD/hello_world" --port "$2" --tcp_nodelay >/dev/null 2>&1 & ;;
    nethttp)   taskset -c 1 "$BUILD/bench-nethttp" -port "$2" >/dev/null 2>&1 & ;;
    haywire_c) (cd "$(mktemp -d)" && exec taskset -c 1 "$HAYWIRE_C_BIN" --port "$2" --threads 1 --tcp_nodelay) >/dev/null 2>&1 & ;;
    bridged|bridged-x|owin)
      local out hostcpu=1; out=$(mktemp)
      [ "$1" = bridged-x ] && hostcpu=0
      taskset -c 1 "$BUILD/haywire" --address 127.0.0.1 --port "$2" >"$out" 2>/dev/null &
      SERVER_PID=$!
      for _ in $(seq 100); do grep -q '^region: ' "$out" && break; sleep 0.05; done
      REGION=$(sed -n 's/^region: //p' "$out")
      if [ "$1" = owin ]; then
        taskset -c 1 mono --server "$BUILD/dotnet/Sample.exe" --region "$REGION" >/dev/null 2>&1 &
      else
        taskset -c "$hostcpu" "$BUILD/c_host" --region "$REGION" >/dev/null 2>&1 &
      fi
      HOST_PID=$!
      for _ in $(seq 400); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/")" = 200 ] && break; sleep 0.05; done
      rm -f "$out"
      return 0 ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: $1 did not start on port $2" >&2
  exit 1
}

# wakeups: futex wakes both sides of the bridge issued so far (all lanes).
wakeups() {
  "$BUILD/haywire" --stats --region "$REGION" |
    awk '{for (i = 1; i <= NF; i++) if ($i ~ /^wakeups=/) {split($i, a, "="); n += a[2]}} END {print n + 0}'
}

rps() { # url [wrk args...]: prints requests/sec; warns on errors
  local out w0=0 w1=0
  [ -n "${REGION:-}" ] && w0=$(wakeups)
  out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"$DURATION" "$@")
  [ -n "${REGION:-}" ] && w1=$(wakeups)
  if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
    grep -E 'Socket errors|Non-2xx' <<<"$out" | sed 's/^/bench: warning: /' >&2
  fi
  # Requests/sec, then futex wake-ups per 1000 requests (bridge only).
  awk -v w=$((w1 - w0)) '/requests in/ {n = $1} /^Requests\/sec:/ {r = $2} END {printf "%d %.1f", r, n ? 1000 * w / n : 0}' <<<"$out"
}

results=$(mktemp)
trap 'kill $SERVER_PID ${HOST_PID:-} 2>/dev/null || true; rm -f "$results"' EXIT
for round in $(seq "$ROUNDS"); do
  for s in "${servers[@]}"; do
    PORT=$((PORT + 1))
    start_server "$s" "$PORT"
    url="http://127.0.0.1:$PORT/"
    taskset -c 0 wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null # warm-up
    read -r plain wplain <<<"$(rps "$url")"
    read -r piped wpiped <<<"$(rps "$url" -s bench/pipeline.lua -- "$DEPTH")"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    if [ -n "${HOST_PID:-}" ]; then kill "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null || true; HOST_PID=; fi
    echo "$s $plain $piped $wplain $wpiped" >>"$results"
    printf 'round %d  %-10s plain %8d rps   pipelined(%d) %9d rps' "$round" "$s" "$plain" "$DEPTH" "$piped"
    [ -n "${REGION:-}" ] && printf '   wake-ups/1000 req: %s plain, %s pipelined' "$wplain" "$wpiped"
    echo
    REGION=
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
declare -A P Q
for s in "${servers[@]}"; do
  P[$s]=$(awk -v s="$s" '$1==s {print $2}' "$results" | median)
  Q[$s]=$(awk -v s="$s" '$1==s {print $3}' "$results" | median)
done
echo
echo "median of $ROUNDS rounds, wrk -t1 -c$CONNS -d$DURATION, server on CPU 1, wrk on CPU 0"
printf '%-10s %12s %16s\n' server plain "pipelined($DEPTH)"
for s in "${servers[@]}"; do printf '%-10s %12d %16d\n' "$s" "${P[$s]}" "${Q[$s]}"; done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
# line LABEL A B [NOTE]: the ratio of two servers' medians (P plain, Q pipelined), when both ran.
line() {
  local label=$1 a=$2 b=$3 note=${4:-}
  [ -n "${!a:-}" ] && [ -n "${!b:-}" ] || return 0
  printf '%-38s%sx%s\n' "$label:" "$(ratio "${!a}" "${!b}")" "${note:+   ($note)}"
}
line "haywire / net/http, plain" 'P[haywire]' 'P[nethttp]' "target >= 2x"
# paired A B COLUMN: the median of the per-round ratios (rounds interleave, so
# each pair ran minutes apart at most: steadier than a ratio of medians).
paired() {
  awk -v a="$1" -v b="$2" -v c="$3" '$1==a {x[++i]=$c} $1==b {y[++j]=$c} END {for (k = 1; k <= i && k <= j; k++) if (y[k] > 0) print x[k] / y[k]}' "$results" |
    sort -g | awk '{r[NR]=$1} END {if (NR) printf "%.2f (rounds %.2f to %.2f)", (NR%2) ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2, r[1], r[NR]}'
}
if [ -n "${P[haywire]:-}" ] && [ -n "${P[nethttp]:-}" ]; then
  echo "haywire / net/http, plain, per round: $(paired haywire nethttp 2)x"
fi
line "haywire / net/http, pipelined" 'Q[haywire]' 'Q[nethttp]'
line "haywire pipelined / haywire plain" 'Q[haywire]' 'P[haywire]' "target >= 6x"
line "bridged (C host) / native, plain" 'P[bridged]' 'P[haywire]' "target >= 0.9x; host shares the server CPU"
line "bridged (C host) / native, pipelined" 'Q[bridged]' 'Q[haywire]' "target >= 0.9x"
line "bridged-x / native, plain" 'P[bridged-x]' 'P[haywire]' "host on wrk's CPU"
line "bridged-x / native, pipelined" 'Q[bridged-x]' 'Q[haywire]'
line "OWIN (C# host) / native, plain" 'P[owin]' 'P[haywire]' "target >= 0.8x"
line "OWIN (C# host) / native, pipelined" 'Q[owin]' 'Q[haywire]' "target >= 0.8x"
line "haywire / Haywire C, plain" 'P[haywire]' 'P[haywire_c]' "target >= 1.3x"
line "haywire / Haywire C, pipelined" 'Q[haywire]' 'Q[haywire_c]'
for s in "${servers[@]}"; do
  case $s in bridged|bridged-x|owin) ;; *) continue ;; esac
  echo "$s futex wake-ups per 1000 requests (median): $(awk -v s="$s" '$1==s {print $4}' "$results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') plain, $(awk -v s="$s" '$1==s {print $5}' "$results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') pipelined"
done
echo
echo "allocations per request (go test -bench -benchmem):"
go test -run '^$' -bench 'BenchmarkParse|BenchmarkServe' -benchmem ./http1 ./engine 2>/dev/null |
  awk '/^Benchmark/ {print "  " $0}'
