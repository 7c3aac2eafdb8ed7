#!/usr/bin/env bash
# Backfill throughput beside the parse-only rate of the same file, in the same run.
# Usage: bench/backfill.sh [DATA_DIR] [RUNS]   (release build; medians of RUNS runs)
# Inputs: occurrent generate --seed 11 --projects 1000 with 1M/10M lines and 100K/1M fingerprints.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/occurrent-bench}
runs=${2:-3}
# WORKERS="2" limits the worker counts measured (default "1 2").
# OCCURRENT_BIN measures a given binary (e.g. an older build) instead of building this tree.
if [ -n "${OCCURRENT_BIN:-}" ]; then
  bin=$OCCURRENT_BIN
else
  bin=${CARGO_TARGET_DIR:-target}/release/occurrent
  cargo build --release --quiet
fi
mkdir -p "$data"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| lines | fingerprints | workers | parse-only lines/s | backfill lines/s | ratio | groups | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "1000000 100000" "1000000 1000000" "10000000 100000" "10000000 1000000"; do
  set -- $spec
  file="$data/occ-$1-$2.jsonl"
  [ -f "$file" ] || $bin generate --seed 11 --count "$1" --fingerprints "$2" --projects 1000 --output "$file" 2>/dev/null
  cat "$file" > /dev/null # warm the page cache
  for workers in ${WORKERS:-1 2}; do
    parse=(); backfill=(); rss=(); groups=0
    for _ in $(seq "$runs"); do
      parse+=("$($bin parse-only --input "$file" --workers "$workers" 2>&1 | sed -E 's/.*\(([0-9]+) lines\/s\).*/\1/')")
      out=$( { /usr/bin/time -f "rss=%M" $bin backfill --input "$file" --workers "$workers" --dead-letter /dev/null --summary-json "$data/summary.json"; } 2>&1 )
      backfill+=("$(echo "$out" | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')")
      rss+=("$(echo "$out" | sed -nE 's/rss=([0-9]+)/\1/p')")
      groups=$(sed -E 's/.*"groups_created":([0-9]+).*/\1/' "$data/summary.json")
    done
    p=$(printf '%s\n' "${parse[@]}" | median); b=$(printf '%s\n' "${backfill[@]}" | median); r=$(printf '%s\n' "${rss[@]}" | median)
    echo "| $1 | $2 | $workers | $p | $b | $(awk -v b="$b" -v p="$p" 'BEGIN {printf "%.2f", b/p}') | $groups | $((r / 1024)) |"
  done
done
