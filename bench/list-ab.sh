#!/usr/bin/env bash
# Issues-list latency of two binaries serving the same input side by side (idle ingest),
# interleaved: two rounds of N sequential requests per query and binary; client p50/p99 in
# ms. The queries' windows start inside the default 24 hourly stats buckets (the buckets then
# read the cut hour's details), plus two that do not. Also checks that the default page's
# body is the same for both.
# Usage: bench/list-ab.sh BINARY_A BINARY_B [N] [INPUT]
set -euo pipefail
a=$1; b=$2; n=${3:-30}
input=${4:-${BENCH_DATA:-/tmp/occurrent-bench}/occ-1000000-100000.jsonl}
source "$(dirname "$0")/lib.sh"
serve_input "$a" "$input"; port_a=$port; pid_a=$pid; state_a=$state
serve_input "$b" "$input"; port_b=$port
trap 'kill -9 $pid_a $pid 2>/dev/null; rm -rf "$state_a" "$state"' EXIT
for q in "?statsPeriod=12h&query=&limit=100" "?statsPeriod=12h&query=&sort=freq&limit=100" "?statsPeriod=7d&query=&limit=100" \
  "?query=&limit=100" "?statsPeriod=20h&query=&environment=production&limit=100&groupStatsPeriod=auto"; do
  for round in 1 2; do
    for side in "$a $port_a" "$b $port_b"; do
      set -- $side
      times=$(for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$2/api/0/organizations/sentry/issues/$q"; done | sort -n)
      p50=$(echo "$times" | awk -v n="$n" 'NR==int(n*0.5+0.5) {printf "%.1f", $1*1000}')
      p99=$(echo "$times" | awk -v n="$n" 'NR==int(n*0.99+0.5) {printf "%.1f", $1*1000}')
      echo "round $round $(basename "$1") $q p50=$p50 p99=$p99"
    done
  done
done
page() { curl -s "http://127.0.0.1:$1/api/0/organizations/sentry/issues/?query=&limit=100" | md5sum; }
echo "default page: $(page "$port_a") / $(page "$port_b")"
