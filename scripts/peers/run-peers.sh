#!/usr/bin/env bash
# run-peers.sh — loopback benchmark of static-file servers with wrk.
#
# Starts each server itself (or benchmarks already-running ones given with -x), runs wrk
# over HTTP/1.1 keep-alive against 127.0.0.1 only, samples server RSS/CPU, stops every
# server it started by PID, and prints a markdown table with req/s and ratios to nginx.
# setup.sh in this folder installs wrk, nginx and the Node peers; `npm run bench:peers`
# builds fleetserve and runs this script.
#
# Usage: run-peers.sh [-d 10s] [-w 2s] [-r ROUNDS] [-t "TESTS"] [-p PIN] [-o OUTDIR]
#                     [-x "name=port[:pid] ..."] [SERVER ...]
#   SERVER   any of: fleetserve nginx-w2 nginx-w1 serve http-server sirv fastify express
#            node-http node-http-c2 node-http-c2none raw-net raw-net-c2rr raw-net-c2none
#            (default: all). fleetserve runs this checkout's dist/main.js with its defaults
#            (one worker per core, access log on, into a file). Ratios are to nginx-w2.
#   -t TESTS small-c50 small-c256 16k-c50 1m 100m   (default: "small-c50 small-c256 1m 100m")
#   -p PIN   wrk1  : taskset -c 1 wrk -t1, servers unpinned on both cores  (default)
#            free  : wrk -t2 unpinned, servers unpinned
#            split : server pinned to core 0, wrk -t1 on core 1 (per-core efficiency; clusters
#                    then share ONE core — only meaningful for single-process comparisons)
#   -r N     rounds; every round runs every server for a test back to back, odd rounds in the
#            given order and even rounds reversed (A B .. B A), so ratios use the same round.
#   -x LIST  also benchmark already-running servers: "mine=18100:12345 other=18101"
#            (port on 127.0.0.1; optional PID for RSS/CPU sampling; they are NOT stopped).
#            Named SERVERs are started beside them in the same rounds, e.g.
#            run-peers.sh -x "fleetserve=6789:$PID" nginx-w2   (ratios vs nginx-w2)
# Env: SITE (/tmp/bench-site), PEERS (/tmp/bench-peers), BASE (baseline server, nginx-w2)
set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SITE="${SITE:-/tmp/bench-site}"
PEERS="${PEERS:-/tmp/bench-peers}"
DURATION=10s; WARMUP=2s; ROUNDS=2; PIN=wrk1; EXTERNAL=""
TESTS="small-c50 small-c256 1m 100m"
PROJECT="$(cd "$BENCH_DIR/../.." && pwd)"
OUT="$PROJECT/bench-results/peers-$(date +%Y%m%d-%H%M%S)"
ALL_SERVERS="fleetserve nginx-w2 nginx-w1 serve http-server sirv fastify express node-http node-http-c2 node-http-c2none raw-net raw-net-c2rr raw-net-c2none"

while getopts "d:w:r:t:p:o:x:h" opt; do
  case "$opt" in
    d) DURATION="$OPTARG" ;; w) WARMUP="$OPTARG" ;; r) ROUNDS="$OPTARG" ;;
    t) TESTS="$OPTARG" ;; p) PIN="$OPTARG" ;; o) OUT="$OPTARG" ;; x) EXTERNAL="$OPTARG" ;;
    h|*) sed -n '2,29p' "$0"; exit 0 ;;
  esac
done
shift $((OPTIND - 1))
SERVERS="${*:-}"
if [ -n "$EXTERNAL" ]; then  # external servers first, then any named servers to start beside them
  EXT_NAMES=""; for e in $EXTERNAL; do EXT_NAMES="$EXT_NAMES ${e%%=*}"; done
  SERVERS="$EXT_NAMES $SERVERS"
fi
SERVERS="${SERVERS:-$ALL_SERVERS}"
is_external() { local e; for e in $EXTERNAL; do [ "${e%%=*}" = "$1" ] && return 0; done; return 1; }
BASE="${BASE:-nginx-w2}"

case "$PIN" in
  wrk1)  WRK=(taskset -c 1 wrk -t1); SRV_PIN=() ;;
  free)  WRK=(wrk -t2);              SRV_PIN=() ;;
  split) WRK=(taskset -c 1 wrk -t1); SRV_PIN=(taskset -c 0) ;;
  *) echo "unknown pin mode $PIN" >&2; exit 2 ;;
esac

command -v wrk >/dev/null || { echo "wrk missing: run $BENCH_DIR/setup.sh" >&2; exit 1; }
case " $SERVERS " in *" fleetserve "*) [ -f "$PROJECT/dist/main.js" ] || { echo "dist/main.js missing: run npm run build" >&2; exit 1; } ;; esac
case " $SERVERS " in *" nginx"*) command -v nginx >/dev/null || { echo "nginx missing: run $BENCH_DIR/setup.sh" >&2; exit 1; } ;; esac
[ -s "$SITE/index.html" ] && [ -s "$SITE/100m.bin" ] || "$BENCH_DIR/make-site.sh" "$SITE" >/dev/null
mkdir -p "$OUT/logs" /tmp/bench-nginx
RES="$OUT/results.jsonl"; : > "$RES"

# ---------- versions ----------
{
  echo "date: $(date -Is)"; echo "kernel: $(uname -r)"; echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-))"
  echo "node: $(node -v)"; echo "wrk: $(wrk -v 2>&1 | head -1)"; echo "nginx: $(nginx -v 2>&1)"
  for p in serve http-server sirv-cli fastify @fastify/static express serve-static autocannon; do
    v=$(node -p "require('$PEERS/node_modules/$p/package.json').version" 2>/dev/null || echo missing); echo "$p: $v"
  done
  echo "pin: $PIN  duration: $DURATION  warmup: $WARMUP  rounds: $ROUNDS  tests: $TESTS"
  echo "servers: $SERVERS"
} > "$OUT/versions.txt"
cat "$OUT/versions.txt" >&2

# ---------- tests ----------
test_path()  { case "$1" in small-*) echo /index.html ;; 16k-*) echo /16k.bin ;; 1m) echo /1m.bin ;; 100m) echo /100m.bin ;; esac; }
test_conns() { case "$1" in *-c50) echo 50 ;; *-c256) echo 256 ;; 1m) echo 32 ;; 100m) echo 8 ;; esac; }
test_extra() { case "$1" in 100m) echo "--timeout 60s" ;; *) echo "--timeout 10s" ;; esac; }

# ---------- servers ----------
SPID=""; PORT=""
nginx_prefix() { # use the committed config directly unless SITE differs
  if [ "$SITE" = /tmp/bench-site ]; then echo "$BENCH_DIR/nginx/"; else
    mkdir -p /tmp/bench-nginx/p; sed "s#root /tmp/bench-site;#root $SITE;#" "$BENCH_DIR/nginx/nginx.conf" > /tmp/bench-nginx/p/nginx.conf
    echo /tmp/bench-nginx/p/; fi
}
start_server() { # $1 name, $2 file under test (for in-memory servers)
  local name="$1" body="$SITE$2" log="$OUT/logs/$1.log"
  local S="$BENCH_DIR/servers"
  case "$name" in
    fleetserve)
      PORT=18090; "${SRV_PIN[@]}" node "$PROJECT/dist/main.js" "$SITE" --host 127.0.0.1 --port "$PORT" --log-pretty false >>"$log" 2>&1 & ;;
    nginx-w2|nginx-w1)
      PORT=18080; local n="${name#nginx-w}"
      "${SRV_PIN[@]}" nginx -p "$(nginx_prefix)" -c nginx.conf -e /tmp/bench-nginx/error.log \
        -g "daemon off; worker_processes $n; pid /tmp/bench-nginx/nginx.pid;" >>"$log" 2>&1 & ;;
    serve)
      PORT=18081; "${SRV_PIN[@]}" node "$PEERS/node_modules/serve/build/main.js" -l "tcp://127.0.0.1:$PORT" -n -L -u --no-port-switching -c "$BENCH_DIR/serve.json" "$SITE" >>"$log" 2>&1 & ;;
    http-server)
      PORT=18082; "${SRV_PIN[@]}" node "$PEERS/node_modules/http-server/bin/http-server" "$SITE" -a 127.0.0.1 -p "$PORT" -s -c3600 >>"$log" 2>&1 & ;;
    sirv)
      PORT=18083; "${SRV_PIN[@]}" node "$PEERS/node_modules/sirv-cli/bin.js" "$SITE" --host 127.0.0.1 --port "$PORT" --quiet --etag --maxage 3600 >>"$log" 2>&1 & ;;
    fastify)
      PORT=18084; PORT=$PORT SITE="$SITE" PEERS="$PEERS" "${SRV_PIN[@]}" node "$S/fastify-static.js" >>"$log" 2>&1 & ;;
    express)
      PORT=18085; PORT=$PORT SITE="$SITE" PEERS="$PEERS" "${SRV_PIN[@]}" node "$S/express-static.js" >>"$log" 2>&1 & ;;
    node-http|node-http-c2|node-http-c2none)
      PORT=18086; local w=0 sc=rr; [ "$name" != node-http ] && w=2; [ "$name" = node-http-c2none ] && sc=none
      PORT=$PORT BODY="$body" WORKERS=$w SCHED=$sc "${SRV_PIN[@]}" node "$S/node-http-mem.js" >>"$log" 2>&1 & ;;
    raw-net|raw-net-c2rr|raw-net-c2none)
      PORT=18088; local w=0 sc=rr; [ "$name" != raw-net ] && w=2; [ "$name" = raw-net-c2none ] && sc=none
      PORT=$PORT BODY="$body" WORKERS=$w SCHED=$sc "${SRV_PIN[@]}" node "$S/raw-net.js" >>"$log" 2>&1 & ;;
    *) echo "unknown server $name" >&2; return 1 ;;
  esac
  SPID=$!
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/index.html" && return 0
    kill -0 "$SPID" 2>/dev/null || { echo "server $name died, see $log" >&2; SPID=""; return 1; }
    sleep 0.1
  done
  echo "server $name did not come up on $PORT" >&2; return 1
}
tree_pids() { [ -n "${1:-}" ] && { echo "$1"; ps -o pid= --ppid "$1" 2>/dev/null; } | tr -s ' \n' ' '; }
stop_server() { # stop only what we started: the PID we got from $! and its direct children
  [ -z "$SPID" ] && return 0
  local kids p i; kids=$(ps -o pid= --ppid "$SPID" 2>/dev/null | tr -s ' \n' ' ')
  kill "$SPID" 2>/dev/null
  for i in $(seq 1 30); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SPID" 2>/dev/null && kill -9 "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  for p in $kids; do kill -0 "$p" 2>/dev/null && { sleep 0.3; kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null; }; done
  SPID=""
}
trap 'stop_server; [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null; exit 130' INT TERM
trap 'stop_server' EXIT
port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

cpu_ticks() { local t=0 p; for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
rss_kb() { local s=0 p r; for p in $(tree_pids "$1"); do r=$(ps -o rss= -p "$p" 2>/dev/null); s=$((s + ${r:-0})); done; echo $s; }
sampler() { # $1 pid, $2 file: writes peak summed RSS (KiB) every 0.2 s
  local peak=0 r; while kill -0 "$1" 2>/dev/null; do r=$(rss_kb "$1"); [ "$r" -gt "$peak" ] && { peak=$r; echo $peak > "$2"; }; sleep 0.2; done
}
to_secs() { case "$1" in *ms) echo "0.${1%ms}" ;; *s) echo "${1%s}" ;; *m) echo $(( ${1%m} * 60 )) ;; *) echo "$1" ;; esac; }

run_one() { # round test server
  local round=$1 t=$2 name=$3 path conns extra url pid ext_port="" ext_pid=""
  path=$(test_path "$t"); conns=$(test_conns "$t"); extra=$(test_extra "$t")
  if is_external "$name"; then
    local e; for e in $EXTERNAL; do [ "${e%%=*}" = "$name" ] && { ext_port="${e#*=}"; ext_pid="${ext_port#*:}"; ext_port="${ext_port%%:*}"; [ "$ext_pid" = "$ext_port" ] && ext_pid=""; }; done
    PORT="$ext_port"; pid="$ext_pid"
  else
    case "$name" in node-http*|raw-net*) [ "$t" = 100m ] && return 0 ;; esac  # in-memory bodies: n/a
    port_free "$(case $name in fleetserve) echo 18090;; nginx*) echo 18080;; serve) echo 18081;; http-server) echo 18082;; sirv) echo 18083;; fastify) echo 18084;; express) echo 18085;; node-http*) echo 18086;; raw-net*) echo 18088;; esac)" \
      || { echo "port for $name busy, skipping" >&2; return 0; }
    start_server "$name" "$path" || { stop_server; return 0; }
    pid=$SPID
  fi
  url="http://127.0.0.1:$PORT$path"
  local chk; chk=$(curl -s -o /dev/null --max-time 20 -w '%{http_code} %{size_download}' "$url")
  echo "[$round/$t/$name] check: $chk (file $(stat -c %s "$SITE$path"))" >> "$OUT/logs/checks.log"
  "${WRK[@]}" -c "$conns" -d "$WARMUP" $extra "$url" > /dev/null 2>&1          # warm-up (JIT, caches)
  local rss0 c0 c1 rss1 peakf="$OUT/logs/.peak" wo secs
  rm -f "$peakf"; rss0=$( [ -n "$pid" ] && rss_kb "$pid" || echo 0 )
  [ -n "$pid" ] && { sampler "$pid" "$peakf" & SAMPLER=$!; }
  c0=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0 )
  wo=$("${WRK[@]}" -c "$conns" -d "$DURATION" $extra --latency -s "$BENCH_DIR/wrk-report.lua" "$url" 2>&1)
  c1=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0 )
  rss1=$( [ -n "$pid" ] && rss_kb "$pid" || echo 0 )
  [ -n "${SAMPLER:-}" ] && { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=""; }
  local peak; peak=$(cat "$peakf" 2>/dev/null || echo "$rss1")
  echo "$wo" > "$OUT/logs/wrk-$round-$t-$name.txt"
  local j; j=$(echo "$wo" | sed -n 's/^WRKJSON //p')
  [ -z "$j" ] && j='{"rps":0,"error":"wrk failed"}'
  secs=$(to_secs "$DURATION")
  printf '{"round":%d,"test":"%s","server":"%s","pin":"%s","conns":%d,"rss_before_kb":%d,"rss_end_kb":%d,"rss_peak_kb":%d,"cpu_pct":%s,"wrk":%s}\n' \
    "$round" "$t" "$name" "$PIN" "$conns" "$rss0" "$rss1" "$peak" \
    "$(awk -v a="$c0" -v b="$c1" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", (b-a)/hz/s*100}')" "$j" >> "$RES"
  printf '[%s/%s] %-16s %10s req/s  %8s MB/s  p99 %s ms  rss %s KiB  cpu %s%%\n' "$round" "$t" "$name" \
    "$(echo "$j" | sed -n 's/.*"rps":\([0-9.]*\).*/\1/p')" "$(echo "$j" | sed -n 's/.*"mbps":\([0-9.]*\).*/\1/p')" \
    "$(echo "$j" | sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p')" "$peak" \
    "$(tail -1 "$RES" | sed -n 's/.*"cpu_pct":\([0-9]*\).*/\1/p')" >&2
  is_external "$name" || stop_server
  sleep 1
}

for round in $(seq 1 "$ROUNDS"); do
  order="$SERVERS"; [ $((round % 2)) -eq 0 ] && order=$(echo $SERVERS | tr ' ' '\n' | tac | tr '\n' ' ')
  for t in $TESTS; do for s in $order; do run_one "$round" "$t" "$s"; done; done
done

node "$BENCH_DIR/summarize.mjs" "$RES" "$BASE" | tee "$OUT/summary.md"
echo "raw results: $RES" >&2
