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
source "$(dirname "$0")/lib.sh"
serve_input "$bin" "$input"
field() { awk -v k="$1:" '$1 == k {print $2}' /proc/$pid/status; }
rss=$(field VmRSS)
echo "resident $((rss / 1024)) MiB (anonymous $(( $(field RssAnon) / 1024 )), file $(( $(field RssFile) / 1024 ))), peak $(( $(field VmHWM) / 1024 )) MiB; $(( rss * 1024 / groups )) bytes per group"
curl -s "http://127.0.0.1:$port/metrics" | grep '^occurrent_views_bytes'
