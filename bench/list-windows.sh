#!/usr/bin/env bash
# Issues-list latency of windows that cut most groups' lifetimes (semantics §7: the hours a
# window cuts are read from the occurrence details): `run` on an input whose groups span days
# (default occ-1000000-100000: 100K fingerprints over 14 days), idle ingest, REQUESTS
# sequential requests per query; p50/p99 in ms and X-Hits.
# Usage: bench/list-windows.sh BINARY [REQUESTS] [INPUT]
set -euo pipefail
bin=$1; n=${2:-40}
input=${3:-${BENCH_DATA:-/tmp/occurrent-bench}/occ-1000000-100000.jsonl}
source "$(dirname "$0")/lib.sh"
serve_input "$bin" "$input"
base="http://127.0.0.1:$port/api/0/organizations/sentry/issues/"
for q in "?statsPeriod=7d&query=&limit=100" "?statsPeriod=7d&query=&sort=freq&limit=100" \
  "?statsPeriod=7d&query=&sort=user&limit=100" "?statsPeriod=7d&query=&environment=production&limit=100" \
  "?statsPeriod=7d&query=level:error&limit=100" "?statsPeriod=30h&query=timesSeen:%3E1&limit=100"; do
  times=$(for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "$base$q"; done | sort -n)
  p50=$(echo "$times" | awk -v n="$n" 'NR==int(n*0.5+0.5) {printf "%.1f", $1*1000}')
  p99=$(echo "$times" | awk -v n="$n" 'NR==int(n*0.99+0.5) {printf "%.1f", $1*1000}')
  hits=$(curl -s -D - -o /dev/null "$base$q" | awk -F': ' 'tolower($1)=="x-hits" {print $2}' | tr -d '\r')
  echo "$(basename "$bin") $q p50=$p50 p99=$p99 hits=$hits"
done
echo "$(basename "$bin") resident $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB"
