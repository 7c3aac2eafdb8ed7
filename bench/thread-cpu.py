"""CPU time (user+system seconds) of each thread of a command, summed by thread name, read
from /proc/PID/task/*/stat every 10 ms until the command exits (the last reading before the
exit). perf's cpu-clock samples on a VM charge stolen time to whatever ran; this does not.

Usage: python3 bench/thread-cpu.py BINARY ARGS...   (prints name=user+sys for each name)
"""
import subprocess, sys, os, time, glob
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
last = {}
tck = os.sysconf('SC_CLK_TCK')
while p.poll() is None:
    for f in glob.glob(f'/proc/{p.pid}/task/*/stat'):
        try:
            s = open(f).read()
        except OSError:
            continue
        comm = s[s.index('(')+1:s.rindex(')')]
        fields = s[s.rindex(')')+2:].split()
        tid = f.split('/')[4]
        last[tid] = (comm, int(fields[11]) / tck, int(fields[12]) / tck)
    time.sleep(0.01)
agg = {}
for tid, (c, u, s) in last.items():
    a = agg.setdefault(c, [0, 0]); a[0] += u; a[1] += s
print(' '.join(f'{c}={u:.2f}+{s:.2f}' for c, (u, s) in sorted(agg.items())))
