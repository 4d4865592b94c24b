"""How fast the upstream fleet starts and stops, and how many requests per second it carries.

Later benchmarks run their load through a fleet on the same machine: these figures are their
ceiling. Prints a table; never passes or fails on time.

    .venv/bin/python benchmarks/fleet.py [--seconds 3] [--threads 16 48]

"in-process" is how tests use the fleet: the load generator shares the process and the GIL with
the fleet thread, and the CPU column counts both. "subprocess" runs the clients in a process of
their own, so the CPU column is the fleet's own cost per request (its ceiling is about 1/that).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from huddle_client.testing import UpstreamFleet


@dataclass
class LoadResult:
    ok: int
    errors: int
    elapsed_s: float

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


def _drive(urls: list[str], seconds: float, threads: int) -> LoadResult:
    """Bounded time: ``threads`` sync httpx clients, each looping round-robin over the urls.

    Sync clients in threads, not one AsyncClient: on this machine httpx's async stack costs
    about twice the CPU per request, so it would measure the client rather than the fleet.
    """
    oks = [0] * threads
    errors = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(k: int) -> None:
        with httpx.Client(timeout=10.0) as client:
            client.get(urls[k % len(urls)] + "/warm")
            barrier.wait()
            deadline = time.perf_counter() + seconds
            i = k
            while time.perf_counter() < deadline:
                i += 1
                try:
                    response = client.get(urls[i % len(urls)] + "/bench")
                except httpx.HTTPError:
                    errors[k] += 1
                else:
                    oks[k] += response.status_code == 200
                    errors[k] += response.status_code != 200

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join(seconds + 60)
    return LoadResult(sum(oks), sum(errors), time.perf_counter() - started)


def _drive_in_child(urls: list[str], seconds: float, threads: int, out: Any) -> None:
    out.put(_drive(urls, seconds, threads))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_start_stop(n: int, repeats: int) -> tuple[list[float], list[float]]:
    starts, stops = [], []
    for _ in range(repeats):
        fleet = UpstreamFleet(n=n, base_latency_ms=0.0, jitter_ms=0.0)
        t0 = time.perf_counter()
        fleet.start()
        t1 = time.perf_counter()
        fleet.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return starts, stops


def measure_load(
    latency_ms: float, seconds: float, threads: int, subprocess: bool
) -> tuple[LoadResult, float]:
    """Requests per second through a 6-server fleet; also CPU seconds of this process."""
    with UpstreamFleet(n=6, base_latency_ms=latency_ms, jitter_ms=0.0) as fleet:
        cpu0 = _cpu_s()
        if subprocess:
            context = multiprocessing.get_context("spawn")
            out = context.Queue()
            child = context.Process(
                target=_drive_in_child, args=(fleet.urls, seconds, threads, out)
            )
            child.start()
            result: LoadResult = out.get(timeout=seconds + 60)
            child.join(30)
        else:
            result = _drive(fleet.urls, seconds, threads)
        cpu = _cpu_s() - cpu0
        assert fleet.total_received("GET", "/bench") >= result.ok
    return result, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load duration per row")
    parser.add_argument("--threads", type=int, nargs="+", default=[16, 48], help="client threads")
    parser.add_argument("--repeats", type=int, default=10, help="start/stop repetitions")
    args = parser.parse_args()
    console = Console(width=110)
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, {sys.platform}"

    starts, stops = measure_start_stop(6, args.repeats)
    table = Table(title=f"UpstreamFleet(n=6) start/stop, {args.repeats} runs ({machine})")
    for column in ("", "median ms", "max ms"):
        table.add_column(column, justify="right")
    for label, values in (("start", starts), ("stop", stops)):
        table.add_row(label, f"{statistics.median(values) * 1e3:.1f}", f"{max(values) * 1e3:.1f}")
    console.print(table)

    table = Table(
        title=f"Sustained load: 6 servers, one sync httpx.Client per thread, "
        f"{args.seconds:g} s per row"
    )
    columns = ("base latency", "threads", "client", "req/s", "errors", "CPU ms/req (fleet process)")
    for column in columns:
        table.add_column(column, justify="right")
    for latency in (0.0, 20.0):
        for threads in args.threads:
            for subprocess in (False, True):
                result, cpu = measure_load(latency, args.seconds, threads, subprocess)
                table.add_row(
                    f"{latency:g} ms",
                    str(threads),
                    "subprocess" if subprocess else "in-process",
                    f"{result.rps:,.0f}",
                    str(result.errors),
                    f"{cpu / max(result.ok, 1) * 1e3:.3f}",
                )
    console.print(table)


if __name__ == "__main__":
    main()
