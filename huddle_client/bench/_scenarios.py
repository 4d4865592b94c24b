"""Scenarios: a fleet, a fault at a set time, and what a run of one contender measured.

A :class:`Scenario` is data (which server turns faulty, how, and when); :func:`run_scenario`
resets the fleet, starts the load, plays the fault through ``fleet.run_schedule`` at the
same instant the callers start, and returns a :class:`ScenarioRun` with the samples and the
rotation events, from which every column of the tables is computed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from huddle_client.testing import UpstreamFleet

from ._contenders import Contender
from ._load import LoadResult, Sample, run_load
from ._report import percentile

INNER_TO_OUTER = "inner->outer"


@dataclass(frozen=True)
class Scenario:
    """Server ``faulty`` switches to ``mode`` (with ``arg``) ``fault_at`` seconds in."""

    name: str
    mode: str | None = None
    arg: float | None = None
    faulty: int = 2
    duration_s: float = 20.0
    fault_at: float = 5.0

    def scaled(self, duration_s: float, fault_at: float) -> Scenario:
        """The same fault with another timing."""
        return Scenario(self.name, self.mode, self.arg, self.faulty, duration_s, fault_at)

    def schedule(self) -> list[tuple[float, int, str, float | None]]:
        """The events for ``fleet.run_schedule`` (none for the normal scenario)."""
        if self.mode is None:
            return []
        return [(self.fault_at, self.faulty, self.mode, self.arg)]

    def healthy(self, index: int, elapsed_s: float) -> bool:
        """What the oracle knows: is server ``index`` healthy ``elapsed_s`` into the run?"""
        return self.mode is None or index != self.faulty or elapsed_s < self.fault_at


#: The real-HTTP scenarios of issue 4 and ``huddle bench``.
NORMAL = Scenario("normal")
SLOW = Scenario("5x slow", "slow", 5.0)
CRASH = Scenario("crash", "crash")
FAST_500 = Scenario("fast 500", "error", 500)
REAL_SCENARIOS = (NORMAL, SLOW, CRASH, FAST_500)


@dataclass(frozen=True)
class Event:
    """A rotation event on the run's clock (seconds since the load started)."""

    t: float
    server: str
    direction: str


@dataclass
class ScenarioRun:
    """What one contender did in one scenario."""

    scenario: Scenario
    contender: str
    samples: list[Sample]
    events: list[Event] = field(default_factory=list)
    skipped: str | None = None

    def after_fault(self) -> list[Sample]:
        return [s for s in self.samples if s.t >= self.scenario.fault_at]

    def latency(self, q: int) -> float:
        """The q-th percentile of latency from the fault on (failed requests included)."""
        return percentile([s.latency_ms for s in self.after_fault()], q)

    @property
    def failed(self) -> int:
        """Client requests that failed (an exception or a 5xx reached the caller)."""
        return sum(1 for s in self.samples if not s.ok)

    @property
    def requests(self) -> int:
        return len(self.samples)

    def faulty_name(self, names: list[str]) -> str:
        return names[self.scenario.faulty]

    def ejected_at(self, server: str) -> float | None:
        """When ``server`` first left the rotation after the fault (None: never, or no log)."""
        for event in self.events:
            if (
                event.server == server
                and event.direction == INNER_TO_OUTER
                and event.t >= self.scenario.fault_at
            ):
                return event.t
        return None

    def to_faulty_before_ejection(self, server: str) -> int | None:
        """Requests that reached ``server`` from the fault until its ejection."""
        until = self.ejected_at(server)
        if until is None:
            return None
        return sum(
            1 for s in self.samples if s.server == server and self.scenario.fault_at <= s.t <= until
        )

    def to_faulty_after_fault(self, server: str) -> int:
        """Answered requests from ``server`` after the fault (the oracle sends none)."""
        return sum(1 for s in self.after_fault() if s.server == server)


def run_scenario(
    fleet: UpstreamFleet,
    scenario: Scenario,
    contender: Contender,
    *,
    callers: int = 12,
    timeout_s: float = 2.0,
    max_requests: int = 200_000,
) -> ScenarioRun:
    """Run one contender through one scenario on ``fleet`` (reset first) and close it."""
    fleet.reset()
    origin: list[float] = []

    def on_start(t0: float) -> None:
        origin.append(t0)
        contender.started(t0)
        events = scenario.schedule()
        if events:
            fleet.run_schedule(events)

    try:
        result: LoadResult = run_load(
            contender.new_transport,
            contender.base_url,
            callers=callers,
            duration_s=scenario.duration_s,
            max_requests=max_requests,
            timeout_s=timeout_s,
            on_start=on_start,
        )
    finally:
        contender.close()
    t0 = origin[0] if origin else time.perf_counter()
    events = [Event(t - t0, server, direction) for t, server, direction in contender.events]
    return ScenarioRun(scenario, contender.name, result.samples, events)


def skipped_run(scenario: Scenario, name: str, reason: str) -> ScenarioRun:
    """A row that could not run here, with the reason."""
    return ScenarioRun(scenario, name, [], skipped=reason)


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is NaN or b is zero."""
    if math.isnan(a) or math.isnan(b) or b == 0.0:
        return math.nan
    return a / b
