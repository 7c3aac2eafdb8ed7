#!/usr/bin/env bash
# CPU an idle `run --follow` uses, by thread, as % of a core over 20 s (after 5 s to read its
# input and settle): what a server costs while nothing is written to its input.
# Usage: bench/idle-cpu.sh BINARY [INPUT] [PORT]   (INPUT: the first 1,000 lines are followed)
set -euo pipefail
bin=$(readlink -f "$1"); input=${2:-examples/occurrences.jsonl}; port=${3:-18111}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
head -1000 "$input" > "$dir/in.jsonl"
"$bin" run --input "$dir/in.jsonl" --follow --listen "127.0.0.1:$port" --dead-letter "$dir/dead.jsonl" > "$dir/log" 2>&1 &
pid=$!
sleep 5
python3 - "$pid" <<'PY'
import glob, os, sys, time
pid, tck = sys.argv[1], os.sysconf('SC_CLK_TCK')
def ticks():
    out = {}
    for f in glob.glob(f'/proc/{pid}/task/*/stat'):
        s = open(f).read()
        fields = s[s.rindex(')') + 2:].split()
        out[f] = (s[s.index('(') + 1:s.rindex(')')], int(fields[11]) + int(fields[12]))
    return out
before = ticks(); time.sleep(20); after = ticks()
by_name = {}
for task, (name, t) in after.items():
    by_name[name] = by_name.get(name, 0) + t - before.get(task, (name, t))[1]
print(' '.join(f'{n}={v / tck / 20 * 100:.2f}%' for n, v in sorted(by_name.items()) if v),
      f'total={sum(by_name.values()) / tck / 20 * 100:.2f}%')
PY
