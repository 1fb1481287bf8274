#!/usr/bin/env bash
# Writes an HAProxy configuration for several fleetserve hosts to stdout (from
# haproxy.cfg.template beside this script).
#
#   scripts/haproxy/haproxy-config.sh [--bind ADDR:PORT] [--health-path PATH]
#       [--inter MS] [--fall N] [--rise N] HOST:PORT [HOST:PORT...] > haproxy.cfg
#   haproxy -c -f haproxy.cfg && haproxy -f haproxy.cfg
#
# Defaults: --bind 0.0.0.0:80 --health-path /healthz --inter 500 --fall 2 --rise 2.
# The hosts' preDrainDelayMs must exceed INTER × (FALL + 1): the script prints the value on stderr.
# HAProxy sends the PROXY protocol (v2): run the hosts with --proxy-protocol true and
# --trusted-proxies set to this HAProxy's address.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bind='0.0.0.0:80' health='/healthz' inter=500 fall=2 rise=2
servers=()
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bind) bind="${2:?--bind needs ADDR:PORT}"; shift 2 ;;
    --health-path) health="${2:?--health-path needs a path}"; shift 2 ;;
    --inter) inter="${2:?--inter needs milliseconds}"; shift 2 ;;
    --fall) fall="${2:?--fall needs a count}"; shift 2 ;;
    --rise) rise="${2:?--rise needs a count}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "haproxy-config.sh: unknown option $1" >&2; usage ;;
    *) servers+=("$1"); shift ;;
  esac
done
[ ${#servers[@]} -gt 0 ] || { echo "haproxy-config.sh: name at least one fleetserve HOST:PORT" >&2; usage; }
for n in "$inter" "$fall" "$rise"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "haproxy-config.sh: --inter, --fall and --rise take whole numbers ≥ 1 (got '$n')" >&2; exit 2; }
done
[[ "$health" == /* && "$health" != *[[:space:]]* ]] || { echo "haproxy-config.sh: --health-path must start with / and have no spaces (got '$health')" >&2; exit 2; }
lines=''
i=0
for s in "${servers[@]}"; do
  [[ "$s" =~ ^[^[:space:]]+:[0-9]+$ ]] || { echo "haproxy-config.sh: a host is HOST:PORT (got '$s')" >&2; exit 2; }
  i=$((i + 1))
  lines+="    server fleetserve$i $s"$'\n'
done
sed -e "s|@BIND@|$bind|" -e "s|@HEALTH_PATH@|$health|" -e "s|@INTER@|${inter}ms|" -e "s|@FALL@|$fall|" -e "s|@RISE@|$rise|" \
  -e '/@SERVERS@/d' "$here/haproxy.cfg.template"
printf '%s' "$lines"
echo "haproxy-config.sh: set preDrainDelayMs above $((inter * (fall + 1))) on every fleetserve host (--pre-drain-delay-ms)" >&2
echo "haproxy-config.sh: HAProxy sends PROXY protocol v2: run every fleetserve host with --proxy-protocol true --trusted-proxies <this HAProxy's address>" >&2
