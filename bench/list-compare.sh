#!/usr/bin/env bash
# Byte-for-byte comparison of two builds' issues lists on the same state: both `run` the same
# inputs (default: 1M distinct groups and the 1M-line, 100K-fingerprint load, whose groups
# span 14 days in several environments), then each query below, and the second page of some
# (each build following its own `next` cursor: paging-snapshot tokens differ), goes to both; bodies and the `X-Hits` and `Link`
# headers (port removed) must be equal. Exits 1 on a difference.
# Usage: bench/list-compare.sh BIN_A BIN_B [INPUT...]
set -euo pipefail
a=$1; b=$2; shift 2
data=${BENCH_DATA:-/tmp/occurrent-bench}
inputs=("$@")
[ ${#inputs[@]} -gt 0 ] || inputs=("$data/groups-1000000.jsonl" "$data/occ-1000000-100000.jsonl")
source "$(dirname "$0")/lib.sh"
args=()
for i in "${inputs[@]}"; do args+=(--input "$i"); done
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
ports=()
for bin in "$a" "$b"; do
  port=$(free_port)
  dir="$work/state-$port"
  mkdir -p "$dir"
  (cd "$dir" && exec "$bin" run "${args[@]}" --workers 2 --listen "127.0.0.1:$port" --dead-letter /dev/null 2>/dev/null) &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do wait_ready "http://127.0.0.1:$port"; done
queries=(
  "?limit=100"
  "?query=is:unresolved%20level:error&sort=freq&limit=100"
  "?query=!issue.priority:low%20is:new&limit=25"
  "?query=is:unresolved&sort=new&limit=100"
  "?sort=user&limit=100"
  "?sort=trends&limit=100"
  "?environment=production&limit=100"
  "?query=issue.category:cron%20job-42&sort=new&limit=100"
  "?environment=production&sort=freq&limit=100"
  "?environment=staging&environment=dev&limit=50"
  "?environment=production&sort=new&limit=100"
  "?environment=production&sort=user&limit=100"
  "?environment=production&sort=trends&limit=100"
  "?statsPeriod=7d&query=&limit=100"
  "?statsPeriod=7d&query=&sort=freq&limit=100"
  "?statsPeriod=7d&query=&sort=user&limit=100"
  "?statsPeriod=7d&query=&environment=production&limit=100"
  "?statsPeriod=7d&query=level:error&limit=100"
  "?statsPeriod=30h&query=timesSeen:%3E1&limit=100"
  "?statsPeriod=7d&environment=production&sort=new&limit=100"
  "?statsPeriod=24h&environment=production&query=timesSeen:%3E2&sort=freq&limit=100"
  "?start=2024-01-05T00:00:00&end=2024-01-06T12:30:00&environment=production&sort=freq&limit=100"
  "?start=2024-01-05T00:00:00&end=2024-01-06T12:30:00&environment=dev&sort=date&limit=100"
  "?query=job-42&limit=100"
  "?query=failure&sort=freq&limit=100"
  "?query=%22n%2B1%20api%22&limit=100"
  "?query=checkout%20environment:production&limit=100"
  "?statsPeriod=7d&query=job-9*&sort=new&limit=100"
  "?query=is:unresolved%20is:for_review&sort=inbox&limit=100"
)
paged=(0 6 7 14 16 23 24)
fetch() { # PORT QUERY -> headers of interest and body, port-free
  curl -s -D "$work/head" -o "$work/body" "http://127.0.0.1:$1/api/0/organizations/sentry/issues/$2"
  # Paging-snapshot tokens (`s<hex>:`) are drawn per server: compared as TOKEN.
  { { grep -iE '^(x-hits|link|x-max-hits|x-sentry-direct-hit):' "$work/head" || true; } | sed -E "s/127.0.0.1:$1/HOST/g; s/cursor=(\"?)s[0-9a-f]+:/cursor=\1sTOKEN:/g" | tr -d "\r"; cat "$work/body"; } > "$work/out-$1"
}
next_cursor() { { grep -i "^link:" "$work/head" || true; } | sed -E 's/.*rel="next"; results="[a-z]+"; cursor="([^"]+)".*/\1/' | tr -d '\r'; }
failed=0
compare() { # QUERY [CURSOR_A CURSOR_B]: each build follows its own cursor (snapshot tokens differ)
  local sep=""; [ $# -gt 1 ] && sep="&cursor="
  fetch "${ports[0]}" "$1$sep${2:-}"; cursor_a=$(next_cursor)
  fetch "${ports[1]}" "$1$sep${3:-}"; cursor_b=$(next_cursor)
  if cmp -s "$work/out-${ports[0]}" "$work/out-${ports[1]}"; then
    echo "same  $(wc -c < "$work/out-${ports[0]}") bytes  $1${2:+ (next page)}"
  else
    echo "DIFF  $1${2:+ (next page)}"; failed=1
  fi
}
for i in "${!queries[@]}"; do
  compare "${queries[$i]}"
  if [[ " ${paged[*]} " == *" $i "* ]] && [ -n "$cursor_a" ] && [ -n "$cursor_b" ]; then
    compare "${queries[$i]}" "$cursor_a" "$cursor_b"
  fi
done
exit $failed
