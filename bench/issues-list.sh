#!/usr/bin/env bash
# Issues-list latency and resident memory at N groups (default 1M), through the real server.
# Usage: bench/issues-list.sh [GROUPS] [REQUESTS]   (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
groups=${1:-1000000}
requests=${2:-200}
bin=${CARGO_TARGET_DIR:-target}/release/occurrent
data=${BENCH_DATA:-/tmp/occurrent-bench}
cargo build --release --quiet
mkdir -p "$data"
input="$data/groups-$groups.jsonl"
[ -f "$input" ] || $bin generate --distinct-groups --count "$groups" --projects 1000 --output "$input"
source "$(dirname "$0")/lib.sh"
port=$(free_port)
start=$(date +%s.%N)
$bin run --input "$input" --workers 2 --listen "127.0.0.1:$port" --dead-letter /dev/null 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
ready=$(date +%s.%N)
rss_kib=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hwm_kib=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
echo "groups: $groups; ingested and ready in $(awk -v a="$start" -v b="$ready" 'BEGIN {printf "%.1f", b-a}') s"
echo "resident: $((rss_kib / 1024)) MiB now, $((hwm_kib / 1024)) MiB peak; $(( rss_kib * 1024 / groups )) bytes per group resident"
base="http://127.0.0.1:$port/api/0/organizations/sentry/issues/"
echo
echo "| query | p50 ms | p99 ms |"
echo "|---|---|---|"
for q in "?limit=100" "?query=is:unresolved%20level:error&sort=freq&limit=100" "?query=issue.category:cron%20job-42&sort=new&limit=100" "?query=!issue.priority:low%20is:new&limit=25&cursor=1706000000000:0:0"; do
  times=$(for _ in $(seq "$requests"); do curl -s -o /dev/null -w '%{time_total}\n' "$base$q"; done | sort -n)
  p50=$(echo "$times" | awk -v n="$requests" 'NR==int(n*0.5)+1 {printf "%.1f", $1*1000}')
  p99=$(echo "$times" | awk -v n="$requests" 'NR==int(n*0.99)+1 {printf "%.1f", $1*1000}')
  echo "| \`$q\` | $p50 | $p99 |"
done
