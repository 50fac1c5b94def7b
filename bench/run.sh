#!/usr/bin/env bash
# bench/run.sh — HTTP benchmark, run by `./build.sh bench` after a build.
#
# Each round starts every server pinned to CPU 1 and drives it with
# `wrk -t1` pinned to CPU 0, plain (-c32) and pipelined (16 requests per
# write); rounds interleave the servers (A B A B …) so ratios come from one
# run on one machine. For every wrk run it also reads, per process of the
# server (the engine, and the host when there is one), the CPU time and the
# context switches from /proc, and the bridge's doorbell wake-ups from the
# region: the table gives medians over the rounds, per request. A short idle
# section follows: CPU of an attached host with no traffic, and the latency
# of lone requests (see docs/benchmarks.md).
#
#   ROUNDS=3 DURATION=5s CONNS=32 DEPTH=16 ./build.sh bench
#   HAYWIRE_C_BIN=/path/to/haywire/hello_world ./build.sh bench   # add Haywire C
#   NOWIN_HELLO_CMD="mono --server /path/hello.exe" ./build.sh bench  # add Nowin
#   SERVERS="haywire nethttp" ./build.sh bench                     # only these
#   BENCH_FUTEX=1 ./build.sh bench    # also count every futex wake (perf; perturbs)
#   BENCH_IDLE=0 ./build.sh bench     # skip the idle section
#   IDLE_SERVERS="haywire owin" IDLE_SECS=3 LONE_N=200 LONE_GAP=10ms
#
# HAYWIRE_C_BIN is Haywire's own hello_world, built outside this repo; it
# gets --tcp_nodelay (its reuseport path never sets it). NOWIN_HELLO_CMD
# runs a Nowin hello world built outside this repo; the port is appended as
# its last argument.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${HAYWIRE_BUILD_DIR:-$PWD/build} # as build.sh: parallel builds point it elsewhere
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
DEPTH=${DEPTH:-16}
PORT=${BENCH_PORT:-18700}
BENCH_FUTEX=${BENCH_FUTEX:-0}
BENCH_IDLE=${BENCH_IDLE:-1}
IDLE_SECS=${IDLE_SECS:-3}
LONE_N=${LONE_N:-200}
LONE_GAP=${LONE_GAP:-10ms}
HZ=$(getconf CLK_TCK) # unit of utime and stime in /proc/PID/stat
LOGS=$(mktemp -d)     # the servers' stderr, shown when one exits mid-run

for c in wrk taskset curl; do
  if ! command -v $c >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk util-linux curl >/dev/null; fi
    command -v $c >/dev/null || { echo "bench: $c is required" >&2; exit 1; }
  fi
done
[ "$(nproc)" -ge 2 ] || echo "bench: fewer than 2 CPUs; client and server share one" >&2
if [ "$BENCH_FUTEX" = 1 ] && ! perf stat -e syscalls:sys_enter_futex -- true >/dev/null 2>&1; then
  echo "bench: BENCH_FUTEX=1 needs perf with syscall tracepoints (root or perf_event_paranoid <= -1)" >&2
  exit 1
fi

go build -o "$BUILD/bench-nethttp" ./bench/nethttp
go build -o "$BUILD/bench-lone" ./bench/lone

servers=(haywire nethttp)
[ -n "${HAYWIRE_C_BIN:-}" ] && servers+=(haywire_c)
# The bridge: build/haywire with build/c_host attached, both on CPU 1, so
# the server side has the one CPU the native run has ("bridged"); and with
# the host on CPU 0 beside wrk, the engine alone on CPU 1 ("bridged-x").
[ -x "$BUILD/c_host" ] && servers+=(bridged bridged-x)
# The OWIN sample (C# on Mono) attached the same way, both on CPU 1.
[ -f "$BUILD/dotnet/Sample.exe" ] && command -v mono >/dev/null && servers+=(owin)
# Nowin, the .NET server the OWIN host is measured against.
[ -n "${NOWIN_HELLO_CMD:-}" ] && servers+=(nowin)
if [ -n "${SERVERS:-}" ]; then
  read -ra servers <<<"$SERVERS"
  for s in "${servers[@]}"; do
    case $s in haywire|nethttp|haywire_c|bridged|bridged-x|owin|nowin) ;; *) echo "bench: unknown server '$s' in SERVERS" >&2; exit 2 ;; esac
  done
fi

# start_server NAME PORT: starts NAME listening on PORT and waits until it
# serves. Sets SERVER_PID (the engine, or the only process) and HOST_PID
# (the attached host, empty for single-process servers) to the processes
# themselves, not to wrappers: taskset and the subshells exec, so /proc
# of these pids is the server's. REGION is the bridge's region, or empty.
start_server() {
  HOST_PID= REGION=
  case $1 in
    haywire)   taskset -c 1 "$BUILD/hello_world" --port "$2" --tcp_nodelay >/dev/null 2>"$LOGS/engine" & ;;
    nethttp)   taskset -c 1 "$BUILD/bench-nethttp" -port "$2" >/dev/null 2>"$LOGS/engine" & ;;
    haywire_c) (cd "$(mktemp -d)" && exec taskset -c 1 "$HAYWIRE_C_BIN" --port "$2" --threads 1 --tcp_nodelay) >/dev/null 2>"$LOGS/engine" & ;;
    # Word splitting is wanted: the variable holds a command line.
    # shellcheck disable=SC2086
    nowin)     taskset -c 1 $NOWIN_HELLO_CMD "$2" >/dev/null 2>"$LOGS/engine" & ;;
    bridged|bridged-x|owin)
      local out hostcpu=1; out=$(mktemp)
      [ "$1" = bridged-x ] && hostcpu=0
      taskset -c 1 "$BUILD/haywire" --address 127.0.0.1 --port "$2" >"$out" 2>"$LOGS/engine" &
      SERVER_PID=$!
      for _ in $(seq 100); do grep -q '^region: ' "$out" && break; sleep 0.05; done
      REGION=$(sed -n 's/^region: //p' "$out")
      if [ "$1" = owin ]; then
        taskset -c 1 mono --server "$BUILD/dotnet/Sample.exe" --region "$REGION" >/dev/null 2>"$LOGS/host" &
      else
        taskset -c "$hostcpu" "$BUILD/c_host" --region "$REGION" >/dev/null 2>"$LOGS/host" &
      fi
      HOST_PID=$!
      rm -f "$out"
      wait_http "$1" "$2"
      return 0 ;;
  esac
  SERVER_PID=$!
  wait_http "$1" "$2"
}

# wait_http NAME PORT: waits until GET / answers 200 (a host attached, a
# JIT-compiled server past its start-up).
wait_http() {
  for _ in $(seq 400); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/")" = 200 ] && return 0
    sleep 0.05
  done
  echo "bench: $1 did not serve on port $2" >&2
  exit 1
}

stop_server() {
  local p
  for p in $SERVER_PID ${HOST_PID:-}; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  SERVER_PID= HOST_PID= REGION=
}

# proc_sample PID: "ticks voluntary involuntary" for the process now.
# utime+stime from /proc/PID/stat cover all its threads, exited ones too;
# the context switches are per thread only, summed over the live ones (a
# thread that exits mid-run takes its switches with it: Go keeps its
# threads, Mono's pool may retire some). "- - -" without a process, or
# once it has exited.
proc_sample() {
  if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then echo "- - -"; return; fi
  local ticks
  # Fields after "pid (comm) ": state is $1, so utime (field 14) is $12.
  ticks=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}')
  [ -n "$ticks" ] || { echo "- - -"; return; } # exited meanwhile
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk -v t="$ticks" '/^voluntary_ctxt_switches:/ {v += $2} /^nonvoluntary_ctxt_switches:/ {n += $2} END {print t, v + 0, n + 0}'
}

# schedstat_ns PID: CPU time of the process's live threads in ns (first
# field of /proc/PID/task/TID/schedstat), for the idle section, where
# clock ticks are too coarse to tell 0.1% from 1% in a few seconds.
schedstat_ns() {
  if [ -z "$1" ] || [ ! -d "/proc/$1" ]; then echo "-"; return; fi
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{n += $1} END {printf "%d\n", n}'
}

# bell_wakes: "engine host" futex wakes the two sides of the bridge issued
# on each other's doorbell so far (all lanes; the region's own counters,
# read with haywire --stats); "- -" without a bridge.
bell_wakes() {
  if [ -z "$REGION" ]; then echo "- -"; return; fi
  { "$BUILD/haywire" --stats --region "$REGION" 2>/dev/null || true; } |
    awk '{for (i = 1; i <= NF; i++) if ($i ~ /^wakeups=/) {split($i, a, "="); w[$3] += a[2]}} END {if (NR) print w["engine"] + 0, w["host"] + 0; else print "- -"}'
}

# check_alive SERVER MODE: warns, with its last words, about a process of
# the server that exited during the run (its figures then read "-").
check_alive() {
  local who p
  for who in engine host; do
    p=$SERVER_PID; [ $who = host ] && p=${HOST_PID:-}
    [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null || continue
    echo "bench: warning: $1 $2: the $who exited during the run: $(tail -n 3 "$LOGS/$who" 2>/dev/null | tr '\n' ' ')" >&2
  done
}

# BENCH_FUTEX=1: perf counts each process's FUTEX_WAKE calls (private and
# shared, plain and bitset and wake-op) over the wrk run: the Go runtime's
# and Mono's own wakes as well as the doorbells. Enabling syscall
# tracepoints slows every system call a little, so it is off by default.
FUTEX_FILTER='op == 1 || op == 129 || op == 5 || op == 133 || op == 10 || op == 138'
futex_start() { # PID OUTFILE: starts perf on PID in the background; sets PERF_PID
  PERF_PID=
  [ -n "$1" ] || return 0
  perf stat -x, -e syscalls:sys_enter_futex --filter "$FUTEX_FILTER" -p "$1" -o "$2" >/dev/null 2>&1 &
  PERF_PID=$!
}
futex_stop() { # PERF_PID: lets perf write its count and exit (in this shell: wait needs its child)
  [ -n "$1" ] || return 0
  kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
}
futex_count() { # PERF_PID OUTFILE: the count perf wrote, or "-"
  if [ -z "$1" ]; then echo "-"; return; fi
  awk -F, '/sys_enter_futex/ {n = $1} END {print (n == "") ? "-" : n}' "$2"
}

# per_req DELTA N [SCALE]: DELTA*SCALE/N with 2 decimals; "-" passes through.
per_req() { awk -v d="$1" -v n="$2" -v s="${3:-1}" 'BEGIN {if (d == "-" || n + 0 == 0) print "-"; else printf "%.2f\n", d * s / n}'; }

# measure ROUND SERVER MODE URL [wrk args...]: one wrk run; appends
#   round server mode rps e_us h_us e_vcs h_vcs e_ics h_ics e_bell h_bell e_futex h_futex
# (per request) to $results and echoes it.
measure() {
  local round=$1 s=$2 mode=$3; shift 3
  local e0 h0 b0 e1 h1 b1 out n rps ef="" hf="" fe fh tmpe tmph
  tmpe=$(mktemp) tmph=$(mktemp)
  if [ "$BENCH_FUTEX" = 1 ]; then
    futex_start "$SERVER_PID" "$tmpe"; ef=$PERF_PID
    futex_start "${HOST_PID:-}" "$tmph"; hf=$PERF_PID
    sleep 0.3 # perf attaches asynchronously: let it attach before the load starts
  fi
  read -ra e0 <<<"$(proc_sample "$SERVER_PID")"; read -ra h0 <<<"$(proc_sample "${HOST_PID:-}")"
  read -ra b0 <<<"$(bell_wakes)"
  out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"$DURATION" "$@")
  read -ra e1 <<<"$(proc_sample "$SERVER_PID")"; read -ra h1 <<<"$(proc_sample "${HOST_PID:-}")"
  read -ra b1 <<<"$(bell_wakes)"
  futex_stop "$ef"; futex_stop "$hf"
  fe=$(futex_count "$ef" "$tmpe"); fh=$(futex_count "$hf" "$tmph")
  rm -f "$tmpe" "$tmph"
  if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
    grep -E 'Socket errors|Non-2xx' <<<"$out" | sed "s/^/bench: warning: $s $mode: /" >&2
  fi
  check_alive "$s" "$mode"
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
  # pr BEFORE AFTER [SCALE]: the change per request; "-" if either is.
  pr() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else per_req $(($2 - $1)) "$n" "${3:-1}"; fi; }
  local us=$((1000000 / HZ)) line="$round $s $mode ${rps:-0}"
  line+=" $(pr "${e0[0]}" "${e1[0]}" $us) $(pr "${h0[0]}" "${h1[0]}" $us)" # CPU µs
  line+=" $(pr "${e0[1]}" "${e1[1]}") $(pr "${h0[1]}" "${h1[1]}")"         # voluntary switches
  line+=" $(pr "${e0[2]}" "${e1[2]}") $(pr "${h0[2]}" "${h1[2]}")"         # involuntary switches
  line+=" $(pr "${b0[0]}" "${b1[0]}") $(pr "${b0[1]}" "${b1[1]}")"         # doorbell wakes
  line+=" $(per_req "$fe" "$n") $(per_req "$fh" "$n")"                      # all futex wakes
  echo "$line" >>"$results"
  echo "$line"
}

# median: the median of the numbers on stdin; "-" if there are none.
median() { { grep -v '^-$' || true; } | sort -g | awk '{a[NR] = $1} END {if (!NR) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# col SERVER MODE COLUMN: the median of one column of $results.
col() { awk -v s="$1" -v m="$2" -v c="$3" '$2 == s && $3 == m {print $c}' "$results" | median; }
# paired A B MODE: the median of the per-round rps ratios A/B ("-" when
# either did not run). Rounds interleave, so each pair ran seconds apart:
# steadier than a ratio of medians when the machine's load drifts.
paired_ratios() {
  awk -v a="$1" -v b="$2" -v m="$3" '$3 == m && $2 == a {x[$1] = $4} $3 == m && $2 == b {y[$1] = $4}
    END {for (r in x) if (r in y && y[r] > 0) print x[r] / y[r]}' "$results" | sort -g
}
paired() { paired_ratios "$@" | median | awk '{if ($1 == "-") print "-"; else printf "%.2f\n", $1}'; }
paired_range() { paired_ratios "$@" | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR) printf "%.2f to %.2f", lo, hi}'; }

results=$(mktemp)
SERVER_PID= HOST_PID= REGION=
trap 'stop_server; rm -rf "$results" "$LOGS"' EXIT
# The machine may be shared: its load says how far to trust this run.
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "per round: round server mode rps, then per request: cpu_us engine host, vcs engine host, ics engine host, bell wakes engine host, futex wakes engine host"
for round in $(seq "$ROUNDS"); do
  for s in "${servers[@]}"; do
    PORT=$((PORT + 1))
    start_server "$s" "$PORT"
    url="http://127.0.0.1:$PORT/"
    taskset -c 0 wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null # warm-up
    measure "$round" "$s" plain "$url"
    measure "$round" "$s" "piped$DEPTH" "$url" -s bench/pipeline.lua -- "$DEPTH"
    stop_server
  done
done

echo
echo "load average after the rounds: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians of $ROUNDS rounds, wrk -t1 -c$CONNS -d$DURATION on CPU 0, server on CPU 1 (bridged-x: host on CPU 0)"
echo "per request, e = engine (or the only process), h = host: cpu = CPU µs (utime+stime);"
echo "  vcs / ics = voluntary / involuntary context switches;"
echo "  bel = futex wakes on the bridge's doorbells only (region counters; the runtimes' own futex wakes are not in it)"
[ "$BENCH_FUTEX" = 1 ] && echo "  ftx = every FUTEX_WAKE call of the process (perf; BENCH_FUTEX=1 perturbs the rps)"
echo "  xnative = median of the per-round rps ratios to haywire"
hdr() { printf '%-9s %-7s %8s %6s | %6s %6s | %5s %5s | %5s %5s | %5s %5s' "$@"; }
hdr server mode rps xnative "cpu e" "cpu h" "vcs e" "vcs h" "ics e" "ics h" "bel e" "bel h"
[ "$BENCH_FUTEX" = 1 ] && printf ' | %5s %5s' "ftx e" "ftx h"
echo
for mode in plain "piped$DEPTH"; do
  for s in "${servers[@]}"; do
    hdr "$s" "$mode" "$(col "$s" "$mode" 4 | awk '{printf "%d", $1}')" "$(paired "$s" haywire "$mode")" \
      "$(col "$s" "$mode" 5)" "$(col "$s" "$mode" 6)" "$(col "$s" "$mode" 7)" "$(col "$s" "$mode" 8)" \
      "$(col "$s" "$mode" 9)" "$(col "$s" "$mode" 10)" "$(col "$s" "$mode" 11)" "$(col "$s" "$mode" 12)"
    [ "$BENCH_FUTEX" = 1 ] && printf ' | %5s %5s' "$(col "$s" "$mode" 13)" "$(col "$s" "$mode" 14)"
    echo
  done
done

# line LABEL A B MODE [NOTE]: the paired ratio of two servers, when both ran.
line() {
  local r; r=$(paired "$2" "$3" "$4")
  [ "$r" != - ] || return 0
  printf '%-38s%sx (rounds %s)%s\n' "$1:" "$r" "$(paired_range "$2" "$3" "$4")" "${5:+   ($5)}"
}
P=plain Q=piped$DEPTH
echo
line "haywire / net/http, plain" haywire nethttp $P "target >= 2x"
line "haywire / net/http, pipelined" haywire nethttp $Q
line "bridged (C host) / native, plain" bridged haywire $P "target >= 0.85x; host shares the server CPU"
line "bridged (C host) / native, pipelined" bridged haywire $Q "target >= 0.6x"
line "bridged-x / native, plain" bridged-x haywire $P "host on wrk's CPU"
line "bridged-x / native, pipelined" bridged-x haywire $Q
line "OWIN (C# host) / native, plain" owin haywire $P "target >= 0.75x"
line "OWIN (C# host) / native, pipelined" owin haywire $Q "target >= 0.35x"
line "OWIN / Nowin, plain" owin nowin $P "target >= 2.5x"
line "OWIN / Nowin, pipelined" owin nowin $Q "target >= 5x"
line "haywire / Haywire C, plain" haywire haywire_c $P "target >= 1.3x"
line "haywire / Haywire C, pipelined" haywire haywire_c $Q
hp=$(col haywire "$P" 4) hq=$(col haywire "$Q" 4)
[ "$hp" = - ] || awk -v a="$hq" -v b="$hp" 'BEGIN {if (b > 0) printf "%-38s%.2fx   (target >= 6x)\n", "haywire pipelined / plain:", a / b}'

# The idle section: the issue's other half of the bridge's cost. An
# attached host with no traffic must not burn CPU (spinning, short
# sleeps), and a lone request must not wait for a batch to fill.

# idle_sample: "engine_ns host_ns engine_cs host_cs engine_bell host_bell"
# now, for the running server ("-" where there is no such process).
idle_sample() {
  local e h
  read -ra e <<<"$(proc_sample "$SERVER_PID")"; read -ra h <<<"$(proc_sample "${HOST_PID:-}")"
  cs() { [ "$1" = - ] && echo - || echo $(($1 + $2)); }
  echo "$(schedstat_ns "$SERVER_PID") $(schedstat_ns "${HOST_PID:-}") $(cs "${e[1]}" "${e[2]}") $(cs "${h[1]}" "${h[2]}") $(bell_wakes)"
}
# rate BEFORE AFTER [SCALE]: (AFTER - BEFORE) * SCALE per second of IDLE_SECS.
rate() { awk -v a="$1" -v b="$2" -v k="${3:-1}" -v t="$IDLE_SECS" 'BEGIN {if (a == "-") print "-"; else printf "%.2f", (b - a) * k / t}'; }

idle_section() {
  local s b a lat p50 p90 b2b native_p50= fmt='%-9s | %6s %6s | %6s %6s | %6s %6s | %8s %8s %8s %7s\n'
  echo
  echo "idle: over ${IDLE_SECS}s with no traffic after start (and attach): CPU % of one CPU, context switches/s, bell wakes/s;"
  echo "  lone = µs per request, one at a time ${LONE_GAP} apart, $LONE_N of them (bench/lone): p50, p90; b2b = back to back, p50"
  # shellcheck disable=SC2059
  printf "$fmt" server "cpu% e" "cpu% h" "cs/s e" "cs/s h" "bel/s e" "bel/s h" "lone p50" "lone p90" "b2b p50" "xnative"
  read -ra idle_servers <<<"${IDLE_SERVERS:-haywire bridged owin nowin}"
  for s in "${idle_servers[@]}"; do
    [[ " ${servers[*]} " == *" $s "* ]] || continue
    PORT=$((PORT + 1))
    start_server "$s" "$PORT"
    sleep 0.5 # let the first request's after-effects (JIT, GC) pass
    read -ra b <<<"$(idle_sample)"
    sleep "$IDLE_SECS"
    read -ra a <<<"$(idle_sample)"
    lat=$(taskset -c 0 "$BUILD/bench-lone" -addr "127.0.0.1:$PORT" -n "$LONE_N" -gap "$LONE_GAP")
    stop_server
    read -r p50 p90 b2b <<<"$lat"
    [ "$s" = haywire ] && native_p50=$p50
    # shellcheck disable=SC2059
    printf "$fmt" "$s" "$(rate "${b[0]}" "${a[0]}" 1e-7)" "$(rate "${b[1]}" "${a[1]}" 1e-7)" \
      "$(rate "${b[2]}" "${a[2]}")" "$(rate "${b[3]}" "${a[3]}")" "$(rate "${b[4]}" "${a[4]}")" "$(rate "${b[5]}" "${a[5]}")" \
      "$p50" "$p90" "$b2b" "$(awk -v a="$p50" -v n="$native_p50" 'BEGIN {if (n > 0) printf "%.2f", a / n; else print "-"}')"
  done
  echo "  targets: an attached host idle < 1% CPU; lone p50 through the bridge <= 2x native"
}
[ "$BENCH_IDLE" = 0 ] || idle_section

echo
echo "allocations per request (go test -bench -benchmem):"
go test -run '^$' -bench 'BenchmarkParse|BenchmarkServe' -benchmem ./http1 ./engine 2>/dev/null |
  awk '/^Benchmark/ {print "  " $0}'
