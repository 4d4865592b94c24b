"""What HuddleAdapter adds to a requests call, side by side with a bare Session in one run.

One fleet server on loopback answers at once (base latency 0, no jitter), so the time per
request is almost all client-side work. Two sessions call it: a bare ``requests.Session`` on
the server's URL, and one with :class:`HuddleAdapter` mounted on a logical name over a
one-upstream cluster. They take turns in blocks of ``--block`` requests (the order flips every
round, ABBA) so that drift on a shared machine hits both alike. Each request is timed from
``session.get`` to the body read; the table shows medians, p99s and their ratios, plus the
median over rounds of each round's ratio of block medians (the pairing cancels slow drift
that the pooled medians still feel).
Target: at most 5% added median time. Run: ``python benchmarks/overhead_requests.py``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable

import requests
from huddle_client.integrations.requests import HuddleAdapter

from huddle_client import create_cluster
from huddle_client.testing import UpstreamFleet


def timed_block(get: Callable[[], requests.Response], n: int, into: list[float]) -> None:
    """Run ``n`` requests, appending each one's seconds to ``into``."""
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        response = get()
        into.append(clock() - start)
        if response.status_code != 200:
            raise RuntimeError(f"unexpected status {response.status_code}")


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="requests per contender")
    parser.add_argument("--block", type=int, default=100, help="requests per turn")
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests each first")
    args = parser.parse_args()
    if not (1 <= args.block <= args.count <= 100_000):
        parser.error("need 1 <= --block <= --count <= 100000")

    load_before = os.getloadavg()[0]
    with UpstreamFleet(n=1, base_latency_ms=0.0, jitter_ms=0.0) as fleet:
        cluster = create_cluster(fleet.urls)
        bare = requests.Session()
        bare.trust_env = False
        balanced = requests.Session()
        balanced.trust_env = False
        balanced.mount("http://backend/", HuddleAdapter(cluster))
        direct_url = fleet.urls[0] + "/item"
        contenders: dict[str, Callable[[], requests.Response]] = {
            "requests.Session (bare)": lambda: bare.get(direct_url),
            "requests.Session + HuddleAdapter": lambda: balanced.get("http://backend/item"),
        }
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        with cluster:
            for get in contenders.values():
                timed_block(get, args.warmup, [])
            names = list(contenders)
            rounds = args.count // args.block
            gc.collect()
            paired: list[float] = []
            for r in range(rounds):
                block: dict[str, list[float]] = {name: [] for name in names}
                for name in names if r % 2 == 0 else reversed(names):
                    timed_block(contenders[name], args.block, block[name])
                    samples[name].extend(block[name])
                bare_block, ours_block = (statistics.median(block[name]) for name in names)
                paired.append(ours_block / bare_block)
        served = fleet[0].received()

    base, ours = (samples[name] for name in names)
    base_med, ours_med = statistics.median(base), statistics.median(ours)
    base_p99, ours_p99 = p99(base), p99(ours)
    print(
        f"# requests overhead: {len(base)} requests each, blocks of {args.block}, ABBA order; "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; "
        f"server saw {served} requests; 1-min load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print()
    print("| client | median (us) | p99 (us) |")
    print("|---|---:|---:|")
    for name, med, tail in ((names[0], base_med, base_p99), (names[1], ours_med, ours_p99)):
        print(f"| {name} | {med * 1e6:.0f} | {tail * 1e6:.0f} |")
    print(f"| ratio (adapter / bare) | {ours_med / base_med:.3f} | {ours_p99 / base_p99:.3f} |")
    quart = statistics.quantiles(paired, n=4, method="inclusive")
    print(
        f"| per-round ratio of medians: median [IQR] | {statistics.median(paired):.3f} "
        f"[{quart[0]:.3f}-{quart[2]:.3f}] | |"
    )
    print()
    for label, ratio in (("pooled", ours_med / base_med), ("paired", statistics.median(paired))):
        added = (ratio - 1.0) * 100.0
        verdict = "met" if added <= 5.0 else "missed"
        print(f"added median time, {label}: {added:+.1f}% (target at most +5%: {verdict})")


if __name__ == "__main__":
    main()
