#!/usr/bin/env bash
# Interleaved A/B of environment settings for one occurrent binary: per run and setting, the
# backfill rate, user and system CPU, minor page faults and peak RSS (KiB).
# Usage: bench/backfill-env-ab.sh FILE RUNS BINARY "VAR=VALUE ..." "VAR=VALUE ..."
#   (a setting with no variable to change: "X=1"; WORKERS=1 for one worker)
set -euo pipefail
file=$1; runs=$2; bin=$3; shift 3
workers=${WORKERS:-2}
for _ in $(seq "$runs"); do
  for setting in "$@"; do
    # shellcheck disable=SC2086 # the setting is a list of assignments
    out=$(env $setting /usr/bin/time -f "cpu_user=%U cpu_sys=%S faults=%R rss_kib=%M" \
      "$bin" backfill --input "$file" --workers "$workers" --dead-letter /dev/null 2>&1)
    rate=$(echo "$out" | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')
    echo "[$setting] backfill=$rate $(echo "$out" | grep '^cpu_user')"
  done
done
