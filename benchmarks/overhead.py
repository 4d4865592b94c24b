"""Engine overhead, side by side in one run: huddle_client, a bare round robin, the reference.

Prints one table:
- get_server(): against a lock-protected round robin (target: at most 1.5x);
- get_server() + record_latency(): against the reference package ``huddle-cluster==1.3.2``
  (targets: under 2 us, and at most 1/50 of the reference);
- traced memory of 20 servers after 10,000 reports (target: under 16 KB).

Each timing is the best of several repeats of a fixed count, with the contenders
interleaved so drift on a noisy machine hits them alike. Run:
``python benchmarks/overhead.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable

from huddle_client import create_cluster

URLS = [f"http://127.0.0.1:{9000 + i}" for i in range(6)]


class LockedRoundRobin:
    """The baseline: the cheapest thread-safe round robin."""

    def __init__(self, servers: list[str]) -> None:
        self._servers = servers
        self._lock = threading.Lock()
        self._i = 0

    def get_server(self) -> str:
        lock = self._lock
        lock.acquire()  # cheaper than `with` on CPython 3.11; the engine does the same
        try:
            i = self._i
            self._i = i + 1
            return self._servers[i % len(self._servers)]
        finally:
            lock.release()


def per_call_us(fn: Callable[[int], None], count: int, repeats: int) -> float:
    """Best-of-``repeats`` microseconds per call of a loop of ``count`` calls."""
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter()
        fn(count)
        elapsed = time.perf_counter() - start
        gc.enable()
        best = min(best, elapsed)
    return best / count * 1e6


def huddle_get(count: int, cluster=create_cluster(URLS, auto_rotate=False)) -> None:  # noqa: B008
    get = cluster.get_server
    for _ in range(count):
        get()


def rr_get(count: int, rr: LockedRoundRobin = LockedRoundRobin(URLS)) -> None:  # noqa: B008
    get = rr.get_server
    for _ in range(count):
        get()


def make_huddle_get_record() -> Callable[[int], None]:
    cluster = create_cluster(URLS)
    cluster.start()  # as users run it (`with cluster:`); the rotation thread ticks meanwhile
    lat = [random.uniform(15.0, 25.0) for _ in range(1024)]

    def run(count: int) -> None:
        get, record = cluster.get_server, cluster.record_latency
        for i in range(count):
            record(get(), lat[i & 1023])

    run.stop = cluster.stop  # type: ignore[attr-defined]
    return run


def make_reference_get_record() -> Callable[[int], None] | None:
    try:
        import huddle_cluster
    except ImportError:
        return None
    logging.getLogger().setLevel(logging.WARNING)
    cluster = huddle_cluster.create_cluster([(f"s{i}", "127.0.0.1", 9000 + i) for i in range(6)])
    cluster.start()  # as its README shows
    lat = [random.uniform(15.0, 25.0) for _ in range(1024)]

    def run(count: int) -> None:
        get, record = cluster.get_server, cluster.record_latency
        for i in range(count):
            record(get(), lat[i & 1023])

    return run


def memory_kb(make: Callable[[], object], report: Callable[[object, int], None]) -> float:
    """Traced memory held after building 20 servers and making 10,000 reports."""
    gc.collect()
    tracemalloc.start()
    obj = make()
    report(obj, 10_000)
    gc.collect()
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del obj
    return current / 1024


def _huddle_make() -> object:
    # The reference's own input format, so both sides build the same 20 servers.
    return create_cluster([(f"s{i}", "127.0.0.1", 9000 + i) for i in range(20)])


def _huddle_report(cluster: object, n: int) -> None:
    assert hasattr(cluster, "get_server")
    c = cluster
    for i in range(n):
        c.record_latency(c.get_server(), 20.0 + (i % 7))  # type: ignore[attr-defined]


def _reference_make() -> object:
    import huddle_cluster

    return huddle_cluster.create_cluster([(f"s{i}", "127.0.0.1", 9000 + i) for i in range(20)])


# Instruction counts under valgrind's callgrind: repeatable whatever else the machine runs,
# so their ratio is the load-independent version of the timing ratio.
_SNIPPETS = {
    "round robin get_server()": (
        "import sys; sys.path.insert(0, {here!r}); from overhead import LockedRoundRobin\n"
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
    here = str(__import__("pathlib").Path(__file__).resolve().parent)
    rows = []
    for name, template in _SNIPPETS.items():
        n = (
            (300 if quick else 2_000)
            if name.startswith("reference")
            else (5_000 if quick else 50_000)
        )
        full = _instructions(template.format(here=here, n=n))
        empty = _instructions(template.format(here=here, n=0))
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

    hg = hr = rg = rf = float("inf")
    huddle_gr = make_huddle_get_record()
    reference_gr = make_reference_get_record()
    for _ in range(repeats):  # interleave the contenders
        rg = min(rg, per_call_us(rr_get, count, 1))
        hg = min(hg, per_call_us(huddle_get, count, 1))
        hr = min(hr, per_call_us(huddle_gr, count, 1))
        if reference_gr is not None:
            rf = min(rf, per_call_us(reference_gr, ref_count, 1))

    stop = getattr(huddle_gr, "stop", None)
    if stop is not None:
        stop()
    mem = memory_kb(_huddle_make, _huddle_report)
    ref_mem = memory_kb(_reference_make, _huddle_report) if reference_gr else float("nan")

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}"
    )
    rows = [
        ("get_server(), locked round robin", f"{rg:.3f} us", "baseline"),
        (
            "get_server(), huddle_client",
            f"{hg:.3f} us",
            f"{hg / rg:.2f}x round robin (target <= 1.5x)",
        ),
        ("get_server() + record_latency(), huddle_client", f"{hr:.3f} us", "target < 2 us"),
    ]
    if reference_gr is not None:
        rows.append(
            (
                "get_server() + record_latency(), reference 1.3.2",
                f"{rf:.1f} us",
                f"huddle is 1/{rf / hr:.0f} of it (target <= 1/50)",
            )
        )
    rows.append(
        (
            "memory, 20 servers after 10,000 reports, huddle_client",
            f"{mem:.1f} KB",
            "target < 16 KB",
        )
    )
    if reference_gr is not None:
        rows.append(("memory, 20 servers after 10,000 reports, reference", f"{ref_mem:.1f} KB", ""))
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
