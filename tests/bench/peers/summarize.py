#!/usr/bin/env python3
"""Medians and ratios of compare.sh's results (one JSON object a line: peer, scenario,
round and the figures), as a markdown table. Ratios above 1 favour Baton: for rates
Baton ÷ peer, for times (latency, end to end) peer ÷ Baton."""

import argparse
import json
import math
import statistics
from collections import defaultdict

PEERS = [("baton", "Baton"), ("bullmq", "BullMQ"), ("celery", "Celery")]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("results")
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--burst", type=int, default=0)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--machine", default="")
    p.add_argument("--settings", default="")
    a = p.parse_args()

    values = defaultdict(list)  # (peer, scenario, field) -> [per round]
    with open(a.results) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                for k, v in d.items():
                    if isinstance(v, (int, float)) and k != "round":
                        values[(d["peer"], d["scenario"], k)].append(v)

    def med(peer, scenario, field):
        v = values.get((peer, scenario, field))
        return statistics.median(v) if v else math.nan

    def fmt(x, digits):
        return "–" if math.isnan(x) else f"{x:,.{digits}f}"

    def ratio(x, y):
        return "–" if math.isnan(x) or math.isnan(y) or y == 0 else f"{x / y:.2f}×"

    rows = [
        (f"closed loop, {a.clients} in flight: jobs/s", "closed_loop", "jobs_per_sec", 0, True),
        ("closed loop: p50 latency (ms)", "closed_loop", "p50_ms", 2, False),
        ("closed loop: p99 latency (ms)", "closed_loop", "p99_ms", 2, False),
        (f"burst of {a.burst:,}: submit/s", "burst", "submit_per_sec", 0, True),
        ("burst: drain/s", "burst", "drain_per_sec", 0, True),
        ("burst: end to end (s)", "burst", "end_to_end_seconds", 2, False),
    ]
    rounds = max((len(v) for v in values.values()), default=0)
    print(f"Medians of {a.rounds or rounds} interleaved rounds. Ratios above 1 favour Baton "
          "(rates: Baton ÷ peer; latencies and times: peer ÷ Baton).")
    print()
    print("| figure | Baton | BullMQ | Celery | Baton vs BullMQ | Baton vs Celery |")
    print("|---|---|---|---|---|---|")
    for label, scenario, field, digits, higher_better in rows:
        m = {peer: med(peer, scenario, field) for peer, _ in PEERS}
        cells = [fmt(m[peer], digits) for peer, _ in PEERS]
        ratios = []
        for peer in ("bullmq", "celery"):
            ratios.append(ratio(m["baton"], m[peer]) if higher_better else ratio(m[peer], m["baton"]))
        print(f"| {label} | " + " | ".join(cells + ratios) + " |")
    print()
    spread = []
    for peer, name in PEERS:
        v = values.get((peer, "closed_loop", "jobs_per_sec"))
        if v:
            spread.append(f"{name} " + " / ".join(f"{x:,.0f}" for x in v))
    if spread:
        print("Closed-loop jobs/s per round: " + "; ".join(spread) + ".")
    if a.settings:
        print(f"Settings: {a.settings}.")
    if a.machine:
        print(f"Machine: {a.machine}.")


if __name__ == "__main__":
    main()
