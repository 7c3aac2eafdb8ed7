#!/usr/bin/env bash
# CPU an idle `run --follow` uses, by thread, as % of a core over 20 s (after 5 s to read its
# input and settle): what a server costs while nothing is written to its input.
# Usage: bench/idle-cpu.sh BINARY [INPUT] [PORT]   (INPUT: the first 1,000 lines are followed)
#   KAFKA=1: the same of `run --kafka` on a 4-partition topic of a local tansu broker (in
#   memory) holding those lines, instead of a followed file; the broker's CPU is not counted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(readlink -f "$1"); input=${2:-examples/occurrences.jsonl}; port=${3:-18111}
dir=$(mktemp -d)
tansu_pid=
trap 'kill "$pid" $tansu_pid 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
head -1000 "$input" > "$dir/in.jsonl"
if [ -n "${KAFKA:-}" ]; then
  tansu=${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
  broker=127.0.0.1:$(free_port)
  "$tansu" broker --listener-url "tcp://$broker" --advertised-listener-url "tcp://$broker" \
    --storage-engine memory://tansu/ --silent >/dev/null 2>&1 &
  tansu_pid=$!
  sleep 1
  "$tansu" topic create --broker "tcp://$broker" --partitions 4 occ >/dev/null
  "$tansu" topic create --broker "tcp://$broker" --partitions 1 occ-dlq >/dev/null
  "$bin" produce --kafka "$broker" --topic occ --input "$dir/in.jsonl" 2>/dev/null
  "$bin" run --kafka "$broker" --topic occ --listen "127.0.0.1:$port" > "$dir/log" 2>&1 &
else
  "$bin" run --input "$dir/in.jsonl" --follow --listen "127.0.0.1:$port" --dead-letter "$dir/dead.jsonl" > "$dir/log" 2>&1 &
fi
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
