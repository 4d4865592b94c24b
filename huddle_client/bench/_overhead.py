"""The overhead table: what one balancing decision costs, and what 20 servers weigh.

The measurements are those of the engine's ``benchmarks/overhead.py``, made the same way:
each figure is the best of ``repeats`` timed loops of ``count`` calls (the loop inside the
timed function, bound methods, gc off while timing), with the contenders interleaved so
drift on a shared machine hits them alike; the baseline is the cheapest thread-safe round
robin (:class:`LockedRoundRobin`); ``get_server() + record_latency()`` runs with the rotation
thread started, as users run a cluster, on latencies drawn from 15-25 ms; the reference's
gets ``count // 100`` calls. Memory is what ``tracemalloc`` holds after building 20 servers (the
reference's tuple format) and making 10,000 reports. The bench adds rows for its own
pickers (pick + report) and for ``begin() + succeeded()``, measured the same way.
"""

from __future__ import annotations

import gc
import random
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from huddle_client import HuddleCluster, create_cluster

from ._balancers import LeastConnections, PeakEwmaP2C, Picker, RoundRobin, Target
from ._reference import import_reference

URLS = [f"http://127.0.0.1:{9000 + i}" for i in range(6)]
_TARGETS = [Target(f"s{i}", "127.0.0.1", 9000 + i) for i in range(6)]
_MASK = 1023  # the loops index their latencies with ``i & _MASK``

Loop = Callable[[int], None]


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


def per_call_us(fn: Loop, count: int, repeats: int) -> float:
    """Best-of-``repeats`` microseconds per call of ``fn(count)``, a loop of ``count`` calls."""
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter()
        fn(count)
        elapsed = time.perf_counter() - start
        gc.enable()
        best = min(best, elapsed)
    return best / count * 1e6


def get_loop(get: Callable[[], object]) -> Loop:
    """``count`` calls of ``get()``."""

    def run(count: int) -> None:
        call = get  # a local, as in benchmarks/overhead.py's loops
        for _ in range(count):
            call()

    return run


def _latencies() -> list[float]:
    return [random.uniform(15.0, 25.0) for _ in range(_MASK + 1)]


def get_record_loop(cluster: Any) -> Loop:
    """``count`` calls of ``record_latency(get_server(), ms)`` on 15-25 ms latencies."""
    lat = _latencies()

    def run(count: int) -> None:
        get, record, mask = cluster.get_server, cluster.record_latency, _MASK
        for i in range(count):
            record(get(), lat[i & mask])

    return run


def begin_succeeded_loop(cluster: HuddleCluster) -> Loop:
    """``count`` calls of ``begin().succeeded(...)``, the integrations' path."""
    lat = _latencies()

    def run(count: int) -> None:
        begin, mask = cluster.begin, _MASK
        for i in range(count):
            begin().succeeded(latency_ms=lat[i & mask], status=200)

    return run


def pick_done_loop(picker: Picker) -> Loop:
    """``count`` calls of ``done(pick(), ms, True)`` on one of the bench's pickers."""
    lat = _latencies()

    def run(count: int) -> None:
        pick, done, mask = picker.pick, picker.done, _MASK
        for i in range(count):
            done(pick(), lat[i & mask], True)

    return run


def overhead_rows(count: int = 200_000, repeats: int = 7) -> list[tuple[str, float]]:
    """(operation, microseconds per call) for every contender, one line each."""
    ref = import_reference()
    plain = create_cluster(URLS, auto_rotate=False)
    running, integrations = create_cluster(URLS), create_cluster(URLS)
    reference = ref.create_cluster([(t.name, t.host, t.port) for t in _TARGETS])
    rr = LockedRoundRobin(URLS)
    ref_count = max(200, count // 100)
    contenders: list[tuple[str, Loop, int]] = [
        ("round robin (locked): get_server()", get_loop(rr.get_server), count),
        ("huddle_client: get_server()", get_loop(plain.get_server), count),
        ("huddle-cluster 1.3.2: get_server()", get_loop(reference.get_server), count),
        ("round robin: pick + report", pick_done_loop(RoundRobin(_TARGETS)), count),
        ("least connections: pick + report", pick_done_loop(LeastConnections(_TARGETS)), count),
        ("P2C peak-EWMA: pick + report", pick_done_loop(PeakEwmaP2C(_TARGETS)), count),
        ("huddle_client: get_server() + record_latency()", get_record_loop(running), count),
        ("huddle_client: begin() + succeeded()", begin_succeeded_loop(integrations), count),
        (
            "huddle-cluster 1.3.2: get_server() + record_latency()",
            get_record_loop(reference),
            ref_count,
        ),
    ]
    for cluster in (running, integrations, reference):
        cluster.start()  # as users run them (`with cluster:`, the reference's README)
    try:
        best = {name: float("inf") for name, _, _ in contenders}
        for _ in range(repeats):  # interleave the contenders
            for name, fn, n in contenders:
                best[name] = min(best[name], per_call_us(fn, n, 1))
    finally:
        for cluster in (running, integrations, reference):
            cluster.stop(timeout=2.0)
    return [(name, best[name]) for name, _, _ in contenders]


def memory_kb(make: Callable[[], object], reports: int = 10_000) -> float:
    """Traced memory held after ``make()`` builds a cluster and it takes ``reports`` reports."""
    gc.collect()
    tracemalloc.start()
    cluster: Any = make()
    for i in range(reports):
        cluster.record_latency(cluster.get_server(), 20.0 + (i % 7))
    gc.collect()
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del cluster
    return current / 1024


def memory_rows(servers: int = 20, reports: int = 10_000) -> list[tuple[str, float]]:
    """(contender, KB) held by a ``servers``-server cluster after ``reports`` reports."""
    ref = import_reference()
    # The reference's own input format, so both sides build the same servers.
    tuples = [(f"s{i}", "127.0.0.1", 9000 + i) for i in range(servers)]
    return [
        ("huddle_client", memory_kb(lambda: create_cluster(tuples), reports)),
        ("huddle-cluster 1.3.2", memory_kb(lambda: ref.create_cluster(tuples), reports)),
    ]
