#!/usr/bin/env bash
# Kafka figures, against a local tansu broker (in memory) started here:
#  1. backfill throughput beside a bare rdkafka consume loop over the same topic (and the
#     same data from a file), medians of RUNS runs;
#  2. freshness (produce → visible in the API) at 10K/s and 100K/s offered load, and the
#     streaming process's peak memory before and after the 10x burst;
#  3. checkpoint size and write time at 1M groups, and recovery time (start → caught up)
#     from that checkpoint.
# Usage: bench/kafka.sh [DATA_DIR] [RUNS]   (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/occurrent-bench}
runs=${2:-3}
bin=target/release/occurrent
tansu=${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
cargo build --release --quiet
mkdir -p "$data"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
broker=127.0.0.1:$port
"$tansu" broker --listener-url "tcp://$broker" --advertised-listener-url "tcp://$broker" --storage-engine memory://tansu/ --silent >/dev/null 2>&1 &
tansu_pid=$!
cleanup() { kill "$tansu_pid" ${run_pid:-} 2>/dev/null || true; }
trap cleanup EXIT
sleep 1
topic() { "$tansu" topic create --broker "tcp://$broker" --partitions "$2" "$1" >/dev/null; }

occ="$data/occ-1000000-100000.jsonl"
[ -f "$occ" ] || $bin generate --seed 11 --count 1000000 --fingerprints 100000 --projects 1000 --output "$occ" 2>/dev/null
topic occ 4; topic occ-dlq 1
$bin produce --kafka "$broker" --topic occ --input "$occ" 2>/dev/null

echo "## 1. Throughput: 1M messages, 4 partitions, 2 workers"
consume=(); kafka=(); file=()
for _ in $(seq "$runs"); do
  consume+=("$($bin consume-only --kafka "$broker" --topic occ 2>&1 | sed -nE 's/.*\(([0-9]+) messages\/s\).*/\1/p')")
  kafka+=("$($bin backfill --kafka "$broker" --topic occ --workers 2 2>&1 | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')")
  file+=("$($bin backfill --input "$occ" --workers 2 --dead-letter /dev/null 2>&1 | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')")
done
c=$(printf '%s\n' "${consume[@]}" | median); k=$(printf '%s\n' "${kafka[@]}" | median); f=$(printf '%s\n' "${file[@]}" | median)
echo "| bare consume loop msg/s | Kafka backfill msg/s | ratio | same data from a file lines/s | Kafka / file |"
echo "|---|---|---|---|---|"
echo "| $c | $k | $(awk -v a="$k" -v b="$c" 'BEGIN {printf "%.2f", a/b}') | $f | $(awk -v a="$k" -v b="$f" 'BEGIN {printf "%.2f", a/b}') |"

echo "## 2. Freshness (20 s per rate, probes every 100 ms)"
topic live 4; topic live-dlq 1
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$bin run --kafka "$broker" --topic live --workers 2 --listen "127.0.0.1:$api_port" >/dev/null 2>&1 &
run_pid=$!
until curl -sf "127.0.0.1:$api_port/readyz" >/dev/null; do sleep 0.1; done
hwm() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$run_pid/status"; }
echo "| offered load msg/s | probes | p50 ms | p99 ms | max ms | peak RSS after MiB |"
echo "|---|---|---|---|---|---|"
for rate in 10000 100000; do
  json=$($bin bench-freshness --kafka "$broker" --topic live --api "127.0.0.1:$api_port" --load "$occ" --rate "$rate" --seconds 20 2>/dev/null)
  echo "$json" | python3 -c "import json,sys; j=json.load(sys.stdin); print(f\"| {j['rate']} | {j['probes']} | {j['p50_ms']} | {j['p99_ms']} | {j['max_ms']} | $(hwm) |\")"
done
kill "$run_pid"; wait "$run_pid" 2>/dev/null || true; unset run_pid

echo "## 3. Checkpoint and recovery at 1M groups"
groups="$data/groups-1000000.jsonl"
[ -f "$groups" ] || $bin generate --distinct-groups --count 1000000 --projects 1000 --output "$groups" 2>/dev/null
topic groups 4; topic groups-dlq 1
$bin produce --kafka "$broker" --topic groups --input "$groups" 2>/dev/null
state="$data/state-groups"; rm -rf "$state"
log=$($bin backfill --kafka "$broker" --topic groups --workers 2 --state-dir "$state" --checkpoint-interval 1000000 2>&1)
echo "$log" | grep -E "checkpoint written" | tail -1 | sed -E 's/\x1b\[[0-9;]*m//g' | sed -nE 's/.*bytes=([0-9]+) seconds=([0-9.]+).*/| final checkpoint bytes | \1 |\n| drain + write seconds | \2 |/p'
start=$(date +%s.%N)
$bin run --kafka "$broker" --topic groups --workers 2 --state-dir "$state" --listen "127.0.0.1:$api_port" >/dev/null 2>&1 &
run_pid=$!
until curl -sf "127.0.0.1:$api_port/readyz" >/dev/null; do sleep 0.05; done
end=$(date +%s.%N)
echo "| recovery: start → caught up, seconds | $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b-a}') |"
echo "| peak RSS during recovery MiB | $(hwm) |"
