"""Issue 4's scenario table: HuddleTransport against round robin, the reference and an oracle.

6 fleet servers on loopback, 12 closed-loop callers, 20 s per run, a fault at 5 s on one
server: 5x slow, a crash, or instant HTTP 500s. Prints one Markdown table with p50/p95/p99
from the fault on and the failed requests of every row; speed is reported, never judged.
Run: ``python benchmarks/scenarios.py [--duration 20] [--fault-at 5] [--callers 12]``.
"""

from __future__ import annotations

import argparse
import sys

from huddle_client.bench._balancers import Target
from huddle_client.bench._contenders import builders
from huddle_client.bench._report import fmt_ms, markdown_table
from huddle_client.bench._scenarios import CRASH, FAST_500, SLOW, ratio, run_scenario
from huddle_client.bench._suite import BenchResults, load_average, machine_header, machine_info
from huddle_client.testing import UpstreamFleet

ROWS = ("huddle_client", "round robin", "huddle-cluster 1.3.2", "oracle (healthy only)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--fault-at", type=float, default=5.0, help="seconds into each run")
    parser.add_argument("--callers", type=int, default=12, help="concurrent callers")
    args = parser.parse_args(argv)
    if not 0.0 < args.fault_at < args.duration <= 600.0:
        parser.error(
            f"need 0 < --fault-at < --duration <= 600, got {args.fault_at}, {args.duration}"
        )
    if not 1 <= args.callers <= 256:
        parser.error(f"--callers must be in [1, 256], got {args.callers}")
    machine = machine_info()
    table = []
    with UpstreamFleet(n=6, base_latency_ms=20.0, jitter_ms=2.0, seed=7) as fleet:
        targets = [Target(s.name, "127.0.0.1", s.port) for s in fleet]
        make = builders(targets)
        for base in (SLOW, CRASH, FAST_500):
            scenario = base.scaled(args.duration, args.fault_at)
            runs = []
            for row in ROWS:
                print(f"{scenario.name}: {row} ...", file=sys.stderr, flush=True)
                runs.append(
                    run_scenario(fleet, scenario, make[row](scenario), callers=args.callers)
                )
            oracle_p99 = runs[-1].latency(99)
            for run in runs:
                name = "HuddleTransport" if run.contender == "huddle_client" else run.contender
                before = run.to_faulty_before_ejection(f"s{scenario.faulty}")
                table.append(
                    [
                        scenario.name,
                        name,
                        fmt_ms(run.latency(50)),
                        fmt_ms(run.latency(95)),
                        fmt_ms(run.latency(99)),
                        f"{ratio(run.latency(99), oracle_p99):.2f}x",
                        f"{run.failed} / {run.requests}",
                        "-" if before is None else str(before),
                    ]
                )
    headers = [
        "scenario",
        "balancer",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99 / oracle",
        "failed / requests",
        "to faulty before ejection",
    ]
    machine["load_after"] = load_average()
    print(machine_header(BenchResults(machine)))
    print(markdown_table(headers, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
