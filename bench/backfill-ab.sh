#!/usr/bin/env bash
# Interleaved A/B of occurrent binaries on one input, 2 workers (WORKERS=1 for one): per run
# and binary, the parse-only rate and CPU time, the backfill rate and the backfill's CPU time
# (user+sys): CPU times move far less than wall-clock rates when the machine is shared.
# Usage: bench/backfill-ab.sh FILE RUNS BINARY...
set -euo pipefail
file=$1; runs=$2; shift 2
workers=${WORKERS:-2}
# Rounds alternate the order (A B, then B A, ...): on this VM whichever binary runs in a fixed
# position can look several percent cheaper (BENCHMARKS.md, session 24).
bins=("$@")
reversed=()
for ((i = ${#bins[@]} - 1; i >= 0; i--)); do reversed+=("${bins[i]}"); done
for round in $(seq "$runs"); do
  if (( round % 2 == 0 )); then order=("${reversed[@]}"); else order=("${bins[@]}"); fi
  for bin in "${order[@]}"; do
    pout=$( { /usr/bin/time -f "cpu=%U+%S" $bin parse-only --input "$file" --workers "$workers"; } 2>&1 )
    parse=$(echo "$pout" | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')
    pcpu=$(echo "$pout" | sed -nE 's/cpu=(.*)/\1/p')
    out=$( { /usr/bin/time -f "cpu=%U+%S" $bin backfill --input "$file" --workers "$workers" --dead-letter /dev/null; } 2>&1 )
    rate=$(echo "$out" | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')
    cpu=$(echo "$out" | sed -nE 's/cpu=(.*)/\1/p')
    echo "$bin parse=$parse parse_cpu=$pcpu backfill=$rate cpu=$cpu load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
