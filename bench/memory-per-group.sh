#!/usr/bin/env bash
# Resident memory per group at 1M groups: `run` on the distinct-groups input, VmRSS (split into
# anonymous memory and file pages) once /readyz is 200, and the views' parts from /metrics.
# Usage: bench/memory-per-group.sh [BINARY] [INPUT]   (release build; INPUT from
#        `occurrent generate --distinct-groups --count 1000000 --projects 1000`)
# For a breakdown by allocation size, use a binary built with `--features alloc-census` and
# set OCCURRENT_ALLOC_CENSUS=FILE (see src/alloc_census.rs).
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/release/occurrent}
input=${2:-${BENCH_DATA:-/tmp/occurrent-bench}/groups-1000000.jsonl}
groups=$(wc -l < "$input")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
state=$(mktemp -d)
(cd "$state" && exec "$bin" run --input "$input" --workers 2 --listen "127.0.0.1:$port" --dead-letter /dev/null 2>/dev/null) &
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -rf "$state"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
field() { awk -v k="$1:" '$1 == k {print $2}' /proc/$pid/status; }
rss=$(field VmRSS)
echo "resident $((rss / 1024)) MiB (anonymous $(( $(field RssAnon) / 1024 )), file $(( $(field RssFile) / 1024 ))), peak $(( $(field VmHWM) / 1024 )) MiB; $(( rss * 1024 / groups )) bytes per group"
curl -s "http://127.0.0.1:$port/metrics" | grep '^occurrent_views_bytes'
