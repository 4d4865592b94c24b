"""The time HuddleTransport adds to an httpx call, measured against a bare httpx.Client.

Both clients call the same fleet server on loopback, which answers at once (base latency 0,
no jitter), so what is measured is client-side work: the bare client on the server's own
URL, the balanced one on ``http://backend`` through ``HuddleTransport`` over a one-upstream
cluster (the rotation thread running, as in production). They alternate in blocks of
``--block`` calls, the order of the pair swapping every round, so a machine that speeds up
or slows down during the run affects both alike. Each call is timed from ``client.get`` to
the body read. Prints a markdown table: medians, p99s, their ratios, and the median of the
per-round ratios (each round compares two blocks run back to back).
Target: at most 5% added median time. Run: ``python benchmarks/overhead_httpx.py``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time

import httpx
from huddle_client.integrations.httpx import HuddleTransport

from huddle_client import create_cluster
from huddle_client.testing import UpstreamFleet

BARE = "httpx.Client (bare)"
OURS = "httpx.Client + HuddleTransport"


def run_block(client: httpx.Client, url: str, count: int, times: list[float]) -> None:
    """``count`` GETs of ``url``; the seconds of each are appended to ``times``."""
    clock = time.perf_counter
    for _ in range(count):
        started = clock()
        response = client.get(url)
        times.append(clock() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: status {response.status_code}")


def percentile_99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98]


def measure(count: int, block: int, warmup: int) -> tuple[dict[str, list[float]], list[float], int]:
    """Per-call times of both clients, the per-round ratios, and what the server received."""
    with UpstreamFleet(n=1, base_latency_ms=0.0, jitter_ms=0.0) as fleet:
        cluster = create_cluster(fleet.urls)
        bare = httpx.Client(trust_env=False)
        balanced = httpx.Client(transport=HuddleTransport(cluster), trust_env=False)
        plan = {BARE: (bare, fleet.urls[0] + "/item"), OURS: (balanced, "http://backend/item")}
        times: dict[str, list[float]] = {BARE: [], OURS: []}
        ratios: list[float] = []
        with cluster, bare, balanced:
            for client, url in plan.values():
                run_block(client, url, warmup, [])
            gc.collect()
            for round_no in range(count // block):
                order = [BARE, OURS] if round_no % 2 == 0 else [OURS, BARE]
                this_round: dict[str, list[float]] = {BARE: [], OURS: []}
                for name in order:
                    client, url = plan[name]
                    run_block(client, url, block, this_round[name])
                    times[name].extend(this_round[name])
                ratios.append(
                    statistics.median(this_round[OURS]) / statistics.median(this_round[BARE])
                )
        received = fleet[0].received()
    return times, ratios, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="timed calls per client")
    parser.add_argument("--block", type=int, default=100, help="calls per client per round")
    parser.add_argument("--warmup", type=int, default=300, help="untimed calls per client first")
    args = parser.parse_args()
    if not 1 <= args.block <= args.count <= 100_000:
        parser.error(f"need 1 <= --block <= --count <= 100000, got {args.block}, {args.count}")
    if not 0 <= args.warmup <= 100_000:
        parser.error(f"--warmup must be in [0, 100000], got {args.warmup}")

    load_before = os.getloadavg()[0]
    times, ratios, received = measure(args.count, args.block, args.warmup)
    bare, ours = times[BARE], times[OURS]
    print(
        f"# httpx overhead: {len(bare)} calls each in blocks of {args.block}, alternating; "
        f"Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"{os.cpu_count()} cores ({platform.machine()}); the server received {received}; "
        f"1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print()
    print("| client | median (us) | p99 (us) |")
    print("|---|---:|---:|")
    for name in (BARE, OURS):
        print(
            f"| {name} | {statistics.median(times[name]) * 1e6:.0f} "
            f"| {percentile_99(times[name]) * 1e6:.0f} |"
        )
    median_ratio = statistics.median(ours) / statistics.median(bare)
    p99_ratio = percentile_99(ours) / percentile_99(bare)
    print(f"| ratio (ours / bare) | {median_ratio:.3f} | {p99_ratio:.3f} |")
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    print(
        f"| per-round ratio of medians, median [IQR] | {statistics.median(ratios):.3f} "
        f"[{q1:.3f}-{q3:.3f}] | |"
    )
    print()
    for label, ratio in (("pooled", median_ratio), ("per round", statistics.median(ratios))):
        added = (ratio - 1.0) * 100.0
        verdict = "hit" if added <= 5.0 else "missed"
        print(f"added median time, {label}: {added:+.1f}% (target at most +5%: {verdict})")


if __name__ == "__main__":
    main()
