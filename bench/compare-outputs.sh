#!/usr/bin/env bash
# Byte-for-byte comparison of two builds' backfill outputs: `--dump-issues`, the dead letters
# and `--summary-json` of each input, with the given worker count. Every optimisation is
# checked with this against the build it changes (BENCHMARKS.md).
# Usage: bench/compare-outputs.sh BINARY_A BINARY_B WORKERS INPUT...
set -uo pipefail
# Absolute paths: each run starts in its own scratch directory.
a=$(readlink -f "$1"); b=$(readlink -f "$2"); workers=$3; shift 3
status=0
for input in "$@"; do
  dir=$(mktemp -d)
  for side in a b; do
    bin=${!side}
    if ! (cd "$dir" && "$bin" backfill --input "$input" --workers "$workers" --dead-letter "$dir/$side.dead" \
        --dump-issues "$dir/$side.dump" --summary-json "$dir/$side.summary" >/dev/null 2>&1); then
      echo "FAILED: $bin on $input"; status=1
    fi
  done
  for kind in dump dead summary; do
    if [ ! -e "$dir/a.$kind" ] && [ ! -e "$dir/b.$kind" ]; then
      echo "same $kind: $(basename "$input"), $workers workers (neither wrote one)"
    elif cmp -s "$dir/a.$kind" "$dir/b.$kind"; then
      echo "same $kind: $(basename "$input"), $workers workers ($(wc -c < "$dir/a.$kind") bytes)"
    else
      echo "DIFFERENT $kind: $(basename "$input"), $workers workers"; status=1
    fi
  done
  rm -rf "$dir"
done
exit $status
