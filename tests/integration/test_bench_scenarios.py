"""The real-HTTP scenario machinery against the fleet: faults land, rows differ as they must."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from huddle_client.bench._balancers import Target
from huddle_client.bench._contenders import builders
from huddle_client.bench._scenarios import CRASH, FAST_500, run_scenario
from huddle_client.testing import UpstreamFleet

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def fleet() -> Iterator[UpstreamFleet]:
    with UpstreamFleet(n=6, base_latency_ms=10.0, jitter_ms=1.0, seed=3) as f:
        yield f


def _targets(fleet: UpstreamFleet) -> list[Target]:
    return [Target(s.name, "127.0.0.1", s.port) for s in fleet]


def test_a_crash_fails_round_robin_requests_but_not_huddle_ones(fleet: UpstreamFleet) -> None:
    scenario = CRASH.scaled(2.0, 0.5)
    make = builders(_targets(fleet))
    rr = run_scenario(fleet, scenario, make["round robin"](scenario), callers=4)
    huddle = run_scenario(fleet, scenario, make["huddle_client"](scenario), callers=4)
    assert rr.failed > 0
    assert rr.to_faulty_after_fault("s2") == 0
    assert huddle.requests > 0 and huddle.failed == 0
    assert huddle.ejected_at("s2") is not None


def test_the_oracle_never_reaches_the_fast_500_server(fleet: UpstreamFleet) -> None:
    scenario = FAST_500.scaled(1.5, 0.3)
    make = builders(_targets(fleet))
    oracle = run_scenario(fleet, scenario, make["oracle (healthy only)"](scenario), callers=4)
    assert oracle.failed == 0
    assert oracle.to_faulty_after_fault("s2") == 0
    assert fleet[2].received() > 0  # it did take requests before the fault
