#!/usr/bin/env bash
# Mutation round trips (PUT request → response, which comes once the views show the change)
# on a 2-process cluster (`run --processes 2`, 1 worker each, process 0 takes the writes at
# mutation points) reading a 4-partition topic of a local tansu broker (in memory), idle and
# while `occurrent bench-freshness` offers RATE messages/s; then the same on one process
# (2 workers) for comparison. `occurrent bench-api` sends the requests (list queries, then a
# PUT of a random group's priority, timed, then a GET checking it shows), one at a time.
# Usage: bench/cluster-mutations.sh [DATA_DIR] [SECONDS]   (release build)
#   RATE=msg/s (default 10000); OCCURRENT=path benchmarks another binary; RUN_ARGS adds
#   flags to every `run` (e.g. "--max-in-flight-rounds 1").
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/occurrent-bench}
seconds=${2:-20}
rate=${RATE:-10000}
bin=${OCCURRENT:-${CARGO_TARGET_DIR:-target}/release/occurrent}
# An optimised broker (`.ci/install-tansu --release`) keeps the broker out of the figures.
tansu=${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
[ -n "${OCCURRENT:-}" ] || cargo build --release --quiet
mkdir -p "$data"
occ="$data/occ-1000000-100000.jsonl"
[ -f "$occ" ] || $bin generate --seed 11 --count 1000000 --fingerprints 100000 --projects 1000 --output "$occ" 2>/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
broker=127.0.0.1:$(free_port)
work=$(mktemp -d)
"$tansu" broker --listener-url "tcp://$broker" --advertised-listener-url "tcp://$broker" --storage-engine memory://tansu/ --silent >/dev/null 2>&1 &
tansu_pid=$!
pids=()
cleanup() { kill -9 "$tansu_pid" "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1
topic() { "$tansu" topic create --broker "tcp://$broker" --partitions "$2" "$1" >/dev/null; }
topic occ 4; topic occ-dlq 1
$bin produce --kafka "$broker" --topic occ --input "$occ" 2>/dev/null

# bench LABEL API: the PUT row of bench-api (idle), then with the load offered.
bench() {
  local label=$1 api=$2 out
  out=$($bin bench-api --api "$api" --load "$occ" --append "$work/unused.jsonl" --rate 0 --seconds "$seconds" --max-id 50000)
  echo "| $label | idle | $(echo "$out" | awk -F'|' '/PUT/ {print $3 "|" $4 "|" $5}') |"
  $bin bench-freshness --kafka "$broker" --topic occ --api "$api" --load "$occ" --rate "$rate" --seconds "$seconds" >"$work/fresh.json" 2>/dev/null &
  local load=$!
  out=$($bin bench-api --api "$api" --load "$occ" --append "$work/unused.jsonl" --rate 0 --seconds "$seconds" --max-id 50000)
  wait "$load"
  echo "| $label | $rate msg/s | $(echo "$out" | awk -F'|' '/PUT/ {print $3 "|" $4 "|" $5}') |"
}

echo "| setup | Kafka load | n | PUT p50 ms | PUT p99 ms |"
echo "|---|---|---|---|---|"
hosts="$work/hosts"
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$(free_port)" "$(free_port)" >"$hosts"
apis=()
for process in 0 1; do
  api=127.0.0.1:$(free_port)
  apis+=("$api")
  $bin run --kafka "$broker" --topic occ --workers 1 --processes 2 --process "$process" --hostfile "$hosts" \
    --state-dir "$work/state-$process" --checkpoint-interval 3600 --listen "$api" ${RUN_ARGS:-} 2>"$work/log-$process" >/dev/null &
  pids+=($!)
done
until curl -sf "${apis[0]}/readyz" >/dev/null; do sleep 0.1; done
bench "2 processes × 1 worker" "${apis[0]}"
kill -9 "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
pids=()

api=127.0.0.1:$(free_port)
$bin run --kafka "$broker" --topic occ --workers 2 --state-dir "$work/state-single" --checkpoint-interval 3600 ${RUN_ARGS:-} \
  --listen "$api" 2>/dev/null >/dev/null &
pids+=($!)
until curl -sf "$api/readyz" >/dev/null; do sleep 0.1; done
bench "1 process × 2 workers" "$api"
