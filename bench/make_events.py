#!/usr/bin/env python3
"""Write the grouping conformance events repeated: make_events.py CASES OUT REPEAT.

Every line gets its own event_id, a project (1-10) and an increasing timestamp, so that a
backfill sees distinct events; everything else is the conformance event as it is."""
import json
import sys

cases, out, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = [json.loads(line)["event"] for line in open(cases) if line.strip()]
t0 = 1704067200.0
with open(out, "w") as f:
    n = 0
    for _ in range(repeat):
        for event in events:
            n += 1
            event = dict(event)
            event["event_id"] = "%032x" % n
            event["project_id"] = 1 + n % 10
            event["timestamp"] = t0 + n * 0.01
            f.write(json.dumps(event, separators=(",", ":")))
            f.write("\n")
