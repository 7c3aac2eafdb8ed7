#!/usr/bin/env bash
# Kafka figures, against a local tansu broker (in memory) started here:
#  1. backfill throughput beside a bare rdkafka consume loop over the same topic (and the
#     same data from a file), medians of RUNS runs, with the CPU seconds of Occurrent and of
#     the broker in each phase; then the same with the broker pinned to core 0 and Occurrent
#     to core 1;
#  2. freshness (produce → visible in the API) at 10K/s and 100K/s offered load, and the
#     streaming process's peak memory before and after the 10x burst;
#  3. checkpoint size and write time at 1M groups, and recovery time (start → caught up)
#     from that checkpoint.
# Usage: bench/kafka.sh [DATA_DIR] [RUNS]   (release build)
#   The broker's CPU is reported, so give it an optimised tansu: `.ci/install-tansu --release`
#   (the tests' default install is an unoptimised build).
#   PHASES=1 runs only the throughput part; OCCURRENT=path benchmarks another binary;
#   BEFORE=path adds that binary's Kafka backfill, interleaved, as a row (before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/occurrent-bench}
runs=${2:-3}
phases=${PHASES:-123}
bin=${OCCURRENT:-${CARGO_TARGET_DIR:-target}/release/occurrent}
tansu=${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
[ -n "${OCCURRENT:-}" ] || cargo build --release --quiet
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

api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hwm() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$run_pid/status"; }

# measure CMD...: prints "rate occurrent_cpu_seconds broker_cpu_seconds" for one run.
tck=$(getconf CLK_TCK)
broker_cpu() { awk '{print $14 + $15}' "/proc/$tansu_pid/stat"; }
measure() {
  local before after out
  before=$(broker_cpu)
  out=$( { /usr/bin/time -f "cpu %U %S" "$@"; } 2>&1 )
  after=$(broker_cpu)
  echo "$(echo "$out" | sed -nE 's/.*\(([0-9]+) (lines|messages)\/s\).*/\1/p' | tail -1)" \
    "$(echo "$out" | awk '/^cpu / {printf "%.2f", $2 + $3}')" \
    "$(awk -v a="$before" -v b="$after" -v t="$tck" 'BEGIN {printf "%.2f", (b - a) / t}')"
}
# throughput LABEL PIN: RUNS interleaved runs of the three readers; PIN is a taskset prefix.
throughput() {
  local label=$1; shift
  local -a consume=() kafka=() file=() before=()
  for _ in $(seq "$runs"); do
    consume+=("$(measure "$@" $bin consume-only --kafka "$broker" --topic occ)")
    if [ -n "${BEFORE:-}" ] && [ "$#" -eq 0 ]; then
      before+=("$(measure "$BEFORE" backfill --kafka "$broker" --topic occ --workers 2)")
    fi
    kafka+=("$(measure "$@" $bin backfill --kafka "$broker" --topic occ --workers 2)")
    file+=("$(measure "$@" $bin backfill --input "$occ" --workers 2 --dead-letter /dev/null)")
  done
  col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median; }
  local c k
  c=$(col 1 "${consume[@]}"); k=$(col 1 "${kafka[@]}")
  echo "| $label | bare consume loop | $c | $(col 2 "${consume[@]}") | $(col 3 "${consume[@]}") | |"
  echo "| $label | Kafka backfill | $k | $(col 2 "${kafka[@]}") | $(col 3 "${kafka[@]}") | **$(awk -v a="$k" -v b="$c" 'BEGIN {printf "%.2f", a/b}')** |"
  if [ "${#before[@]}" -gt 0 ]; then
    local k0; k0=$(col 1 "${before[@]}")
    echo "| $label | Kafka backfill, before | $k0 | $(col 2 "${before[@]}") | $(col 3 "${before[@]}") | $(awk -v a="$k0" -v b="$c" 'BEGIN {printf "%.2f", a/b}') |"
  fi
  echo "| $label | file backfill | $(col 1 "${file[@]}") | $(col 2 "${file[@]}") | $(col 3 "${file[@]}") | |"
}

if [[ $phases == *1* ]]; then
echo "## 1. Throughput: 1M messages, 4 partitions, 2 workers (medians of $runs; CPU seconds per phase)"
echo "| cores | reader | msg/s | Occurrent CPU s | broker CPU s | backfill / bare loop |"
echo "|---|---|---|---|---|---|"
throughput "shared"
taskset -apc 0 "$tansu_pid" >/dev/null
throughput "broker on core 0, Occurrent on core 1" taskset -c 1
taskset -apc 0-1 "$tansu_pid" >/dev/null
fi

if [[ $phases == *2* ]]; then
echo "## 2. Freshness (20 s per rate, probes every 100 ms)"
topic live 4; topic live-dlq 1
$bin run --kafka "$broker" --topic live --workers 2 --listen "127.0.0.1:$api_port" >/dev/null 2>&1 &
run_pid=$!
until curl -sf "127.0.0.1:$api_port/readyz" >/dev/null; do sleep 0.1; done
echo "| offered load msg/s | probes | p50 ms | p99 ms | max ms | peak RSS after MiB |"
echo "|---|---|---|---|---|---|"
for rate in 10000 100000; do
  json=$($bin bench-freshness --kafka "$broker" --topic live --api "127.0.0.1:$api_port" --load "$occ" --rate "$rate" --seconds 20 2>/dev/null)
  echo "$json" | python3 -c "import json,sys; j=json.load(sys.stdin); print(f\"| {j['rate']} | {j['probes']} | {j['p50_ms']} | {j['p99_ms']} | {j['max_ms']} | $(hwm) |\")"
done
kill "$run_pid"; wait "$run_pid" 2>/dev/null || true; unset run_pid
fi

if [[ $phases == *3* ]]; then
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
fi
