"""Engine overhead, side by side in one run: huddle_client, a bare round robin, the reference.

Prints one table:
- get_server(): against a lock-protected round robin (target: at most 1.5x);
- get_server() + record_latency(): against the reference package ``huddle-cluster==1.3.2``
  (targets: under 2 us, and at most 1/50 of the reference);
- traced memory of 20 servers after 10,000 reports (target: under 16 KB).

Each timing is the best of several repeats of a fixed count, with the contenders
interleaved so drift on a noisy machine hits them alike. Run:
``python benchmarks/overhead.py [--quick] [--instructions]``. The measurement functions
are shared with ``huddle bench`` (:mod:`huddle_client.bench._overhead`).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys

from huddle_client import create_cluster
from huddle_client.bench._overhead import (
    LockedRoundRobin,
    get_loop,
    get_record_loop,
    memory_kb,
    per_call_us,
)
from huddle_client.bench._reference import import_reference

URLS = [f"http://127.0.0.1:{9000 + i}" for i in range(6)]
TUPLES = [(f"s{i}", "127.0.0.1", 9000 + i) for i in range(20)]


# Instruction counts under valgrind's callgrind: repeatable whatever else the machine runs,
# so their ratio is the load-independent version of the timing ratio.
_SNIPPETS = {
    "round robin get_server()": (
        "from huddle_client.bench._overhead import LockedRoundRobin\n"
        "rr = LockedRoundRobin([str(i) for i in range(6)]); get = rr.get_server\n"
        "for _ in range({n}): get()"
    ),
    "huddle get_server()": (
        "from huddle_client import create_cluster\n"
        "c = create_cluster([('s%d' % i, 'h', 9000 + i) for i in range(6)]); get = c.get_server\n"
        "for _ in range({n}): get()"
    ),
    "huddle get_server() + record_latency()": (
        "from huddle_client import create_cluster\n"
        "c = create_cluster([('s%d' % i, 'h', 9000 + i) for i in range(6)]); c.start()\n"
        "get, rec = c.get_server, c.record_latency\n"
        "for i in range({n}): rec(get(), 20.0 + (i % 7))\n"
        "c.stop()"
    ),
    "reference get_server() + record_latency()": (
        "import logging, huddle_cluster; logging.getLogger().setLevel(logging.WARNING)\n"
        "c = huddle_cluster.create_cluster([('s%d' % i, 'h', 9000 + i) for i in range(6)])\n"
        "c.start(); get, rec = c.get_server, c.record_latency\n"
        "for i in range({n}): rec(get(), 20.0 + (i % 7))\n"
        "c.stop(timeout=0.1)"
    ),
}


def _instructions(code: str) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no total: {out.stderr[-500:]}")
    return int(match.group(1))


def instruction_table(quick: bool) -> list[tuple[str, float]]:
    """Instructions per call of each contender (a run of n calls minus a run of none)."""
    rows = []
    for name, template in _SNIPPETS.items():
        n = (
            (300 if quick else 2_000)
            if name.startswith("reference")
            else (5_000 if quick else 50_000)
        )
        full = _instructions(template.format(n=n))
        empty = _instructions(template.format(n=0))
        rows.append((name, (full - empty) / n))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (for smoke tests)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per call under valgrind callgrind (load-independent)",
    )
    args = parser.parse_args()
    count, repeats = (20_000, 3) if args.quick else (200_000, 7)
    ref_count = max(200, count // 100)

    huddle_cluster = import_reference()  # without its import-time logging.basicConfig
    plain = create_cluster(URLS, auto_rotate=False)
    running = create_cluster(URLS)
    reference = huddle_cluster.create_cluster([t[:3] for t in TUPLES[:6]])
    rr = LockedRoundRobin(URLS)
    contenders = {
        "rr": (get_loop(rr.get_server), count),
        "get": (get_loop(plain.get_server), count),
        "get+record": (get_record_loop(running), count),
        "reference": (get_record_loop(reference), ref_count),
    }
    running.start()  # as users run it (`with cluster:`); the rotation thread ticks meanwhile
    reference.start()  # as its README shows
    best = dict.fromkeys(contenders, float("inf"))
    try:
        for _ in range(repeats):  # interleave the contenders
            for name, (fn, n) in contenders.items():
                best[name] = min(best[name], per_call_us(fn, n, 1))
    finally:
        running.stop()
        reference.stop(timeout=0.1)
    rg, hg, hr, rf = best["rr"], best["get"], best["get+record"], best["reference"]
    mem = memory_kb(lambda: create_cluster(TUPLES))
    ref_mem = memory_kb(lambda: huddle_cluster.create_cluster(TUPLES))

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}; load average "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    rows = [
        ("get_server(), locked round robin", f"{rg:.3f} us", "baseline"),
        (
            "get_server(), huddle_client",
            f"{hg:.3f} us",
            f"{hg / rg:.2f}x round robin (target <= 1.5x)",
        ),
        ("get_server() + record_latency(), huddle_client", f"{hr:.3f} us", "target < 2 us"),
        (
            "get_server() + record_latency(), reference 1.3.2",
            f"{rf:.1f} us",
            f"huddle is 1/{rf / hr:.0f} of it (target <= 1/50)",
        ),
        (
            "memory, 20 servers after 10,000 reports, huddle_client",
            f"{mem:.1f} KB",
            "target < 16 KB",
        ),
        ("memory, 20 servers after 10,000 reports, reference", f"{ref_mem:.1f} KB", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measurement':<{width}} | value | note |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, value, note in rows:
        print(f"| {name:<{width}} | {value} | {note} |")
    if args.instructions:
        if shutil.which("valgrind") is None:
            print("instructions: skipped, valgrind is not installed")
            return
        counts = dict(instruction_table(args.quick))
        rr = counts["round robin get_server()"]
        hg = counts["huddle get_server()"]
        hr = counts["huddle get_server() + record_latency()"]
        ref = counts["reference get_server() + record_latency()"]
        print()
        print("| instructions per call (callgrind) | count | ratio |")
        print("|---|---|---|")
        print(f"| round robin get_server() | {rr:,.0f} | baseline |")
        print(f"| huddle get_server() | {hg:,.0f} | {hg / rr:.2f}x round robin |")
        print(f"| huddle get_server() + record_latency() | {hr:,.0f} | |")
        name = "reference get_server() + record_latency()"
        print(f"| {name} | {ref:,.0f} | huddle is 1/{ref / hr:.0f} |")


if __name__ == "__main__":
    main()
