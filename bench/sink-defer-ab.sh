#!/usr/bin/env bash
# Interleaved backfill A/B, 2 workers: BASEBIN, NEWBIN with OCCURRENT_SINK_DEFER=0
# (sinks wait for the views lock, the default), NEWBIN with OCCURRENT_SINK_DEFER=1 (sinks defer). Rate and CPU (user+sys).
# Usage: bench/sink-defer-ab.sh FILE ROUNDS NEWBIN BASEBIN
set -uo pipefail
file=$1; rounds=$2; new=$3; base=$4
for r in $(seq $rounds); do
  for v in base off on; do
    case $v in base) bin=$base; env=();; off) bin=$new; env=(OCCURRENT_SINK_DEFER=0);; on) bin=$new; env=(OCCURRENT_SINK_DEFER=1);; esac
    out=$( { env "${env[@]}" /usr/bin/time -f "cpu=%U+%S" $bin backfill --input "$file" --workers 2 --dead-letter /dev/null; } 2>&1 )
    rate=$(echo "$out" | sed -nE 's/.*\(([0-9]+) lines\/s\).*/\1/p')
    cpu=$(echo "$out" | sed -nE 's/cpu=(.*)/\1/p')
    echo "r=$r $v backfill=$rate cpu=$cpu load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
