#!/usr/bin/env bash
# Error events: grouping throughput on one core beside plain JSON parsing (same file, same
# run), and end-to-end event backfill beside parse-only decoding of the same file.
# Usage: bench/events.sh [DATA_DIR] [RUNS] [REPEAT] [CASES]   (release build; medians of RUNS runs)
# Input: the 100 grouping conformance events repeated REPEAT times (default 1,000: 100K
# events of ~2.4 KB; grouping runs at ~4K events/s per core, so 10,000 repeats would take
# minutes per pass) with distinct event ids (bench/make_events.py). One file for everything.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/occurrent-bench-events}
runs=${2:-3}
repeat=${3:-1000}
cases=${4:-../shared/conformance/grouping/cases.jsonl}
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/occurrent
cargo build --release --quiet
cargo build --release --quiet -p dataflows --example grouping_bench
mkdir -p "$data"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
big="$data/events-x$repeat.jsonl"; small=$big
[ -f "$big" ] || bench/make_events.py "$cases" "$big" "$repeat"
cat "$big" > /dev/null # warm the page cache

echo "## grouping, one core, $(wc -l < "$big") events"
"$target/release/examples/grouping_bench" "$big" "$runs"
cli=()
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  $bin grouping < "$big" > /dev/null
  cli+=("$(awk -v s="$start" -v e="$(date +%s.%N)" -v n="$(wc -l < "$big")" 'BEGIN {printf "%d", n/(e-s)}')")
done
echo "occurrent grouping (CLI, stdin to stdout): median $(printf '%s\n' "${cli[@]}" | median) events/s (${cli[*]})"

echo "## backfill, $(wc -l < "$small") events"
for workers in 1 2; do
  parse=(); backfill=()
  for _ in $(seq "$runs"); do
    parse+=("$($bin parse-only --input-format events --input "$small" --workers "$workers" 2>&1 | sed -E 's/.*\(([0-9]+) lines\/s\).*/\1/')")
    rm -rf "$data/event-store"
    out=$($bin backfill --input-format events --input "$small" --workers "$workers" --event-store "$data/event-store" \
      --dead-letter /dev/null --summary-json "$data/summary.json" 2>&1)
    backfill+=("$(echo "$out" | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')")
  done
  p=$(printf '%s\n' "${parse[@]}" | median); b=$(printf '%s\n' "${backfill[@]}" | median)
  echo "workers $workers: parse-only $p events/s (${parse[*]}), backfill $b events/s (${backfill[*]}), ratio $(awk -v b="$b" -v p="$p" 'BEGIN {printf "%.2f", b/p}'), $(cat "$data/summary.json")"
done
echo "event store: $(du -sh "$data/event-store" | cut -f1) for $(wc -l < "$small") events"
