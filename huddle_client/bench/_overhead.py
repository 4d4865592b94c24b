"""The overhead table: what one balancing decision costs, and what 20 servers weigh.

Each figure is the best of ``repeats`` timed loops of ``count`` calls, with the contenders
interleaved so drift on a shared machine hits them alike. Memory is what ``tracemalloc``
sees allocated while building a 20-server cluster and feeding it 1,000 reports.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable

from huddle_client import create_cluster

from ._balancers import LeastConnections, PeakEwmaP2C, RoundRobin, Target
from ._reference import import_reference

_URLS = [f"http://127.0.0.1:{9000 + i}" for i in range(6)]
_TARGETS = [Target(f"s{i}", "127.0.0.1", 9000 + i) for i in range(6)]


def _best_us(fn: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter()
        for _ in range(count):
            fn()
        elapsed = time.perf_counter() - start
        gc.enable()
        best = min(best, elapsed)
    return best / count * 1e6


def overhead_rows(count: int = 20_000, repeats: int = 5) -> list[tuple[str, float]]:
    """(operation, microseconds per call) for every contender, one line each."""
    ref = import_reference()
    cluster = create_cluster(_URLS, auto_rotate=False)
    reference = ref.create_cluster([(t.name, t.host, t.port) for t in _TARGETS])
    rr, lc, p2c = RoundRobin(_TARGETS), LeastConnections(_TARGETS), PeakEwmaP2C(_TARGETS)

    def rr_call() -> None:
        rr.done(rr.pick(), 20.0, True)

    def lc_call() -> None:
        lc.done(lc.pick(), 20.0, True)

    def p2c_call() -> None:
        p2c.done(p2c.pick(), 20.0, True)

    def huddle_call() -> None:
        cluster.begin().succeeded(latency_ms=20.0, status=200)

    def huddle_record() -> None:
        cluster.record_latency(cluster.get_server(), 20.0)

    def ref_call() -> None:
        reference.record_latency(reference.get_server(), 20.0)

    contenders: list[tuple[str, Callable[[], object]]] = [
        ("round robin: pick", rr.pick),
        ("huddle_client: get_server()", cluster.get_server),
        ("huddle-cluster 1.3.2: get_server()", reference.get_server),
        ("round robin: pick + report", rr_call),
        ("least connections: pick + report", lc_call),
        ("P2C peak-EWMA: pick + report", p2c_call),
        ("huddle_client: get_server() + record_latency()", huddle_record),
        ("huddle_client: begin() + succeeded()", huddle_call),
        ("huddle-cluster 1.3.2: get_server() + record_latency()", ref_call),
    ]
    best = {name: float("inf") for name, _ in contenders}
    for _ in range(repeats):
        for name, fn in contenders:
            best[name] = min(best[name], _best_us(fn, count, 1))
    return [(name, best[name]) for name, _ in contenders]


def memory_rows(servers: int = 20, reports: int = 1000) -> list[tuple[str, float]]:
    """(contender, KB) allocated by a ``servers``-server cluster after ``reports`` reports."""
    ref = import_reference()
    urls = [f"http://127.0.0.1:{10000 + i}" for i in range(servers)]
    tuples = [(f"s{i}", "127.0.0.1", 10000 + i) for i in range(servers)]

    def ours() -> object:
        cluster = create_cluster(urls, auto_rotate=False, max_inner_size=servers)
        for _ in range(reports):
            cluster.record_latency(cluster.get_server(), 20.0)
        return cluster

    def theirs() -> object:
        cluster = ref.create_cluster(tuples, max_inner_size=servers)
        for _ in range(reports):
            cluster.record_latency(cluster.get_server(), 20.0)
        return cluster

    out = []
    for name, build in (("huddle_client", ours), ("huddle-cluster 1.3.2", theirs)):
        gc.collect()
        tracemalloc.start()
        keep = build()
        size, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del keep
        out.append((name, size / 1024.0))
    return out
