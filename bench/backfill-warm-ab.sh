#!/usr/bin/env bash
# Backfill CPU (user+sys) and wall time of several binaries, 2 workers, each measured run
# right after a discarded run of the same binary: on this VM a run that follows another
# binary's reuses the pages that run freed (zeroed already) and comes out up to 25 % cheaper,
# which biases interleaved A/Bs toward whichever binary runs second. Prints one line per
# measured run and then the medians.
# Usage: bench/backfill-warm-ab.sh FILE ROUNDS BINARY...
set -euo pipefail
file=$1; rounds=$2; shift 2
out=$(mktemp); trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    "$bin" backfill --input "$file" --workers 2 --dead-letter /dev/null > /dev/null 2>&1
    /usr/bin/time -a -o "$out" -f "$bin %e %U %S" "$bin" backfill --input "$file" --workers 2 --dead-letter /dev/null > /dev/null 2>&1
    tail -1 "$out"
  done
done
python3 - "$out" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    bin, wall, user, sys_ = line.split()
    runs.setdefault(bin, []).append((float(wall), float(user) + float(sys_)))
for bin, v in runs.items():
    wall = statistics.median(w for w, _ in v)
    print(f"{bin}: n={len(v)} median wall {wall:.2f} s, cpu {statistics.median(c for _, c in v):.2f} s")
PY
