"""The simulated benchmark: many trials in virtual time, no network.

As in the reference's own simulation, each server's latency is drawn per request (log-normal
around ``base_ms``), and a fault strikes at halfway: one server turns 5x slow, or crashes
(its requests hang until the client's ``timeout_ms`` and fail). K closed-loop callers run on
a virtual clock driven by an event heap, so a 30-second trial takes well under a second of
real time and trials are exactly repeatable from their seed.

The Huddle row is the real engine (``create_cluster`` with ``clock=`` the virtual clock,
rotation ticks on the request path) driven through ``FailoverRun`` as the transports do;
the reference runs with its module clock swapped for the virtual one (:func:`_virtual_time`)
and its rotation loop's body called once per virtual second.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from huddle_client import FailoverPolicy, FailoverRun, FailureKind, RetryBudget, create_cluster

from ._balancers import (
    LeastConnections,
    Oracle,
    PeakEwmaP2C,
    Picker,
    ReferencePicker,
    RoundRobin,
    Target,
    Ticket,
)
from ._report import percentiles


@dataclass(frozen=True)
class SimScenario:
    """Server ``faulty`` turns ``mode`` ('slow' or 'crash', None: no fault) at halfway."""

    name: str
    mode: str | None = None
    factor: float = 5.0
    faulty: int = 2


SIM_SCENARIOS = (
    SimScenario("normal"),
    SimScenario("5x slow at halfway", "slow"),
    SimScenario("crash at halfway", "crash"),
)

SIM_ROWS = (
    "huddle_client",
    "round robin",
    "least connections",
    "P2C peak-EWMA",
    "huddle-cluster 1.3.2",
    "oracle (healthy only)",
)


class VirtualClock:
    """Seconds of virtual time; callable, so it can be injected as ``clock=``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class TrialResult:
    """One trial of one row: latencies after the fault, failures, ejection count."""

    p50: float
    p95: float
    p99: float
    failed: int
    requests: int
    to_faulty_before_ejection: int | None


@dataclass
class _Call:
    """A client request in flight in the simulation."""

    started: float
    server: int
    handle: Any
    run: FailoverRun | None = None
    sent_to_faulty: list[float] = field(default_factory=list)


class _SimRow:
    """A balancer as the simulation drives it: start a try, finish it, maybe retry."""

    ejections: list[tuple[float, str]]

    def begin(self, call: _Call | None, now: float) -> tuple[int, Any, FailoverRun | None]:
        raise NotImplementedError

    def finish(self, call: _Call, now: float, latency_ms: float, ok: bool) -> bool:
        """Report the try; True when the request goes on to another server."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        return None

    def close(self) -> None:
        return None


class _PickerRow(_SimRow):
    def __init__(self, picker: Picker) -> None:
        self.picker = picker
        self.ejections = []

    def begin(self, call: _Call | None, now: float) -> tuple[int, Any, FailoverRun | None]:
        ticket = self.picker.pick()
        return ticket.index, ticket, None

    def finish(self, call: _Call, now: float, latency_ms: float, ok: bool) -> bool:
        ticket: Ticket = call.handle
        self.picker.done(ticket, latency_ms, ok)
        return False


class _HuddleRow(_SimRow):
    def __init__(self, targets: list[Target], clock: VirtualClock, **options: Any) -> None:
        self.ejections = []
        self._index = {t.name: i for i, t in enumerate(targets)}

        def hook(event: Any) -> None:
            if event.direction == "inner->outer":
                self.ejections.append((clock.now, event.server_id))

        self.cluster = create_cluster(
            [(t.name, t.host, t.port) for t in targets], clock=clock, on_rotation=hook, **options
        )
        self.policy = FailoverPolicy(budget=RetryBudget(clock=clock))

    def begin(self, call: _Call | None, now: float) -> tuple[int, Any, FailoverRun | None]:
        run = call.run if call is not None and call.run is not None else None
        if run is None:
            run = FailoverRun(self.cluster, self.policy, "GET")
        attempt = run.next_attempt()
        return self._index[attempt.upstream.id], attempt, run

    def finish(self, call: _Call, now: float, latency_ms: float, ok: bool) -> bool:
        attempt = call.handle
        run = call.run
        assert run is not None
        if ok:
            attempt.responded(200, latency_ms=latency_ms)
            attempt.completed()
            return False
        # The attempt measures wall time; the simulation's latency is virtual: report it
        # first, then let the run record the failure (its second report is ignored).
        attempt.failed(FailureKind.READ_TIMEOUT, latency_ms=latency_ms)
        return run.failed(attempt, FailureKind.READ_TIMEOUT, None)


class _ReferenceRow(_PickerRow):
    def __init__(self, targets: list[Target], clock: VirtualClock) -> None:
        self.ejections = []
        self._clock = clock

        def hook(event: Any) -> None:
            if event.direction == "inner->outer":
                self.ejections.append((clock.now, event.server_id))

        self.reference = ReferencePicker(targets, on_rotation=hook, start=False)
        super().__init__(self.reference)
        self.ejections = []

    def tick(self, now: float) -> None:
        """One pass of the reference's rotation loop body (it has no clock to inject)."""
        cluster = self.reference.cluster
        for server in cluster.all_servers():
            server.update_temperature()
        cluster.rotate()


class _ModuleClock:
    """Stands in for the ``time`` module inside the reference during a simulation."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def monotonic(self) -> float:
        return self._clock.now

    def perf_counter(self) -> float:
        return self._clock.now

    def time(self) -> float:
        return self._clock.now

    def sleep(self, seconds: float) -> None:
        return None


@contextlib.contextmanager
def _virtual_time(clock: VirtualClock) -> Iterator[None]:
    from ._reference import import_reference

    module = import_reference()
    saved = module.__dict__["time"]
    module.__dict__["time"] = _ModuleClock(clock)
    try:
        yield
    finally:
        module.__dict__["time"] = saved


def _make_row(
    name: str,
    targets: list[Target],
    scenario: SimScenario,
    clock: VirtualClock,
    half: float,
    seed: int,
    huddle_options: dict[str, Any],
) -> _SimRow:
    if name == "huddle_client":
        return _HuddleRow(targets, clock, **huddle_options)
    if name == "huddle-cluster 1.3.2":
        return _ReferenceRow(targets, clock)
    if name == "round robin":
        return _PickerRow(RoundRobin(targets))
    if name == "least connections":
        return _PickerRow(LeastConnections(targets))
    if name == "P2C peak-EWMA":
        return _PickerRow(PeakEwmaP2C(targets, seed=seed, clock=clock))
    if name == "oracle (healthy only)":

        def healthy(i: int) -> bool:
            return scenario.mode is None or i != scenario.faulty or clock.now < half

        return _PickerRow(Oracle(targets, healthy))
    raise ValueError(f"unknown simulated row {name!r}; expected one of {', '.join(SIM_ROWS)}")


def run_trial(
    row_name: str,
    scenario: SimScenario,
    *,
    seed: int,
    duration_s: float = 30.0,
    servers: int = 6,
    callers: int = 12,
    base_ms: float = 20.0,
    sigma: float = 0.15,
    timeout_ms: float = 500.0,
    huddle_options: dict[str, Any] | None = None,
) -> TrialResult:
    """Simulate one trial of one row; the same seed gives every row the same draws."""
    targets = [Target(f"s{i}", "127.0.0.1", 20000 + i) for i in range(servers)]
    clock = VirtualClock()
    half = duration_s / 2.0
    rng = random.Random(seed)
    opts = dict(huddle_options or {})
    with _virtual_time(clock):
        row = _make_row(row_name, targets, scenario, clock, half, seed, opts)
        return _simulate(
            row,
            scenario,
            rng,
            clock,
            targets,
            half,
            duration_s,
            callers,
            base_ms,
            sigma,
            timeout_ms,
        )


def _simulate(
    row: _SimRow,
    scenario: SimScenario,
    rng: random.Random,
    clock: VirtualClock,
    targets: list[Target],
    half: float,
    duration_s: float,
    callers: int,
    base_ms: float,
    sigma: float,
    timeout_ms: float,
) -> TrialResult:
    mu = math.log(base_ms)
    heap: list[tuple[float, int, _Call, float, bool]] = []
    seq = 0
    latencies: list[float] = []
    failed = requests = 0
    faulty_hits: list[float] = []
    next_tick = 1.0

    def send(call: _Call, now: float) -> None:
        nonlocal seq
        faulty = scenario.mode is not None and call.server == scenario.faulty and now >= half
        if faulty and scenario.mode == "crash":
            lat, ok = timeout_ms, False
        else:
            lat = rng.lognormvariate(mu, sigma) * (scenario.factor if faulty else 1.0)
            ok = True
        if faulty:
            faulty_hits.append(now)
        seq += 1
        heapq.heappush(heap, (now + lat / 1000.0, seq, call, lat, ok))

    def start(now: float) -> None:
        server, handle, run = row.begin(None, now)
        call = _Call(now, server, handle, run)
        send(call, now)

    for k in range(callers):
        clock.now = k * 1e-4
        start(clock.now)
    while heap:
        done_at, _, call, lat, ok = heapq.heappop(heap)
        while next_tick <= done_at:
            clock.now = next_tick
            row.tick(next_tick)
            next_tick += 1.0
        clock.now = done_at
        if row.finish(call, done_at, lat, ok):
            call.server, call.handle, call.run = row.begin(call, done_at)
            send(call, done_at)
            continue
        requests += 1
        if call.started >= half:
            latencies.append((done_at - call.started) * 1000.0)
            failed += not ok
        if done_at < duration_s:
            start(done_at)
    row.close()
    faulty_name = targets[scenario.faulty].name
    ejected = [t for t, sid in row.ejections if sid == faulty_name and t >= half]
    before = None
    if scenario.mode is not None and ejected:
        before = sum(1 for t in faulty_hits if t <= ejected[0])
    p50, p95, p99 = percentiles(latencies, (50, 95, 99))
    return TrialResult(p50, p95, p99, failed, requests, before)


def run_trials(
    row_name: str,
    scenario: SimScenario,
    trials: int,
    *,
    progress: Callable[[], None] | None = None,
    **kwargs: Any,
) -> list[TrialResult]:
    """``trials`` seeded trials of one row (seeds 0..trials-1, shared by every row)."""
    out = []
    for seed in range(trials):
        out.append(run_trial(row_name, scenario, seed=seed, **kwargs))
        if progress is not None:
            progress()
    return out
