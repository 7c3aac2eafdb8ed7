#!/usr/bin/env bash
# Issues-list and mutation latency at N groups (default 1M) while RATE occurrences/s (default
# 100K) are appended to the file the server follows. Release build (or OCCURRENT_BIN, for
# A/B runs of two builds; BENCH_CLIENT runs the load and requests from another binary;
# RUN_ARGS adds flags to the server's `run`, e.g. RUN_ARGS="--ingest-nice 5").
# Usage: bench/api-under-load.sh [GROUPS] [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
groups=${1:-1000000}
rate=${2:-100000}
seconds=${3:-20}
target=${CARGO_TARGET_DIR:-target}
bin=${OCCURRENT_BIN:-$target/release/occurrent}
data=${BENCH_DATA:-/tmp/occurrent-bench}
[ -n "${OCCURRENT_BIN:-}" ] || cargo build --release --quiet
mkdir -p "$data"
input="$data/groups-$groups.jsonl"
load="$data/occ-1000000-100000.jsonl"
[ -f "$input" ] || $bin generate --distinct-groups --count "$groups" --projects 1000 --output "$input"
[ -f "$load" ] || $bin generate --seed 1 --count 1000000 --fingerprints 100000 --projects 1000 --output "$load"
work=$(mktemp -d)
live="$work/live.jsonl"
: > "$live"
source "$(dirname "$0")/lib.sh"
port=$(free_port)
$bin run --input "$input" --input "$live" --follow --workers 2 --listen "127.0.0.1:$port" \
  --state-dir "$work/state" --checkpoint-interval 3600 --dead-letter /dev/null ${RUN_ARGS:-} 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
consumed() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^occurrent_messages_consumed_total/ {print $2}'; }
before=$(consumed)
started=$(date +%s.%N)
# The client may come from another build than the server (A/B runs of servers).
${BENCH_CLIENT:-$bin} bench-api --api "127.0.0.1:$port" --load "$load" --append "$live" --rate "$rate" \
  --seconds "$seconds" --max-id "$groups"
after=$(consumed)
ended=$(date +%s.%N)
sleep 1
caught_up=$(consumed)
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^occurrent_(list_lock_wait|views_write_hold)'
# Over the same interval as the load: what the server consumed while the requests ran.
echo "ingested during the run: $(awk -v a="$before" -v b="$after" -v s="$started" -v e="$ended" 'BEGIN {printf "%.0f lines/s", (b-a)/(e-s)}'); $((caught_up - after)) more in the next second"
