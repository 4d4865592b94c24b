"""Unit tests of the bench's baselines, statistics and table helpers (no network)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import httpx
import pytest

from huddle_client.bench import _report as rp
from huddle_client.bench._balancers import (
    LeastConnections,
    Oracle,
    PeakEwmaP2C,
    PickerTransport,
    RoundRobin,
    Target,
)
from huddle_client.bench._external import haproxy_config, nginx_config
from huddle_client.bench._load import Sample
from huddle_client.bench._scenarios import SLOW, Event, Scenario, ScenarioRun
from huddle_client.bench._simulated import SIM_SCENARIOS, run_trial

TARGETS = [Target(f"s{i}", "127.0.0.1", 9000 + i) for i in range(4)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("cls", [RoundRobin, LeastConnections, PeakEwmaP2C])
def test_pickers_reject_an_empty_target_list(cls: type) -> None:
    with pytest.raises(ValueError, match="targets"):
        cls([])


def test_round_robin_visits_every_target_in_turn() -> None:
    rr = RoundRobin(TARGETS)
    names = [rr.pick().target.name for _ in range(8)]
    assert names == ["s0", "s1", "s2", "s3"] * 2


def test_least_connections_prefers_the_target_with_fewest_calls_in_flight() -> None:
    lc = LeastConnections(TARGETS)
    held = [lc.pick() for _ in range(4)]  # one in flight on each
    assert sorted(t.index for t in held) == [0, 1, 2, 3]
    lc.done(held[2], 10.0, True)  # s2 is now the only one with none
    assert lc.pick().target.name == held[2].target.name
    assert lc.in_flight == [1, 1, 1, 1]


def test_least_connections_rotates_ties() -> None:
    lc = LeastConnections(TARGETS)
    first = [lc.pick() for _ in range(4)]
    for ticket in first:
        lc.done(ticket, 1.0, True)
    assert len({t.index for t in first}) == 4


def test_p2c_never_picks_the_dearer_of_two() -> None:
    clock = FakeClock()
    p2c = PeakEwmaP2C(TARGETS[:2], seed=1, clock=clock)
    slow = p2c.pick()
    p2c.done(slow, 500.0, True)  # that target now costs 500
    other = 1 - slow.index
    picks = []
    for _ in range(20):
        ticket = p2c.pick()
        picks.append(ticket.index)
        p2c.done(ticket, 20.0, True)
    assert picks == [other] * 20


def test_p2c_ewma_jumps_to_a_peak_and_decays_with_time() -> None:
    clock = FakeClock()
    p2c = PeakEwmaP2C(TARGETS[:1], decay_sec=10.0, clock=clock)
    p2c.done(p2c.pick(), 100.0, True)
    assert p2c.ewma[0] == 100.0
    clock.now += 10.0  # one time constant: weight e^-1 on the old value
    p2c.done(p2c.pick(), 20.0, True)
    assert p2c.ewma[0] == pytest.approx(100.0 * math.exp(-1) + 20.0 * (1 - math.exp(-1)))


def test_p2c_counts_a_failure_as_the_penalty() -> None:
    p2c = PeakEwmaP2C(TARGETS[:1], failure_penalty_ms=2000.0, clock=FakeClock())
    p2c.done(p2c.pick(), 0.5, False)  # a refused connection is instant
    assert p2c.ewma[0] == 2000.0


def test_p2c_rejects_a_bad_decay() -> None:
    with pytest.raises(ValueError, match="decay_sec"):
        PeakEwmaP2C(TARGETS, decay_sec=0.0)


def test_oracle_skips_unhealthy_targets_and_falls_back_when_none_is_healthy() -> None:
    sick = {1}
    oracle = Oracle(TARGETS, lambda i: i not in sick)
    assert 1 not in {oracle.pick().index for _ in range(12)}
    sick.update({0, 2, 3})
    assert oracle.pick().index in range(4)


def test_scenario_tells_the_oracle_when_the_faulty_server_turns_bad() -> None:
    scenario = Scenario("x", "slow", 5.0, faulty=2, fault_at=5.0)
    assert scenario.healthy(2, 4.9)
    assert not scenario.healthy(2, 5.0)
    assert scenario.healthy(1, 10.0)
    assert Scenario("normal").healthy(2, 100.0)
    assert scenario.schedule() == [(5.0, 2, "slow", 5.0)]


def test_requests_to_the_faulty_server_are_counted_from_fault_to_ejection() -> None:
    scenario = SLOW.scaled(10.0, 2.0)
    samples = [
        Sample(1.0, 20.0, True, "s2"),  # before the fault: not counted
        Sample(2.1, 100.0, True, "s2"),
        Sample(2.2, 20.0, True, "s1"),
        Sample(2.3, 100.0, True, "s2"),
        Sample(2.6, 100.0, True, "s2"),  # after the ejection: not counted
    ]
    events = [Event(0.5, "s2", "inner->outer"), Event(2.5, "s2", "inner->outer")]
    run = ScenarioRun(scenario, "x", samples, events)
    assert run.ejected_at("s2") == 2.5
    assert run.to_faulty_before_ejection("s2") == 2
    assert run.to_faulty_after_fault("s2") == 3
    assert run.to_faulty_before_ejection("s1") is None
    assert run.failed == 0
    assert run.latency(50) == pytest.approx(100.0)


def test_percentile_matches_numpy_linear_and_validates_q() -> None:
    assert rp.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert rp.percentile(list(range(101)), 99) == pytest.approx(99.0)
    assert math.isnan(rp.percentile([], 50))
    values = [float(v) for v in range(1, 101)]
    assert rp.percentiles(values, (50, 95, 99)) == pytest.approx([50.5, 95.05, 99.01])
    assert rp.percentiles(values, (0, 100)) == [1.0, 100.0]
    assert rp.percentiles([7.0], (50, 99)) == [7.0, 7.0]
    with pytest.raises(ValueError, match=r"an integer in \[0, 100\], got 101"):
        rp.percentile([1.0], 101)
    with pytest.raises(ValueError, match=r"an integer in \[0, 100\], got 99.5"):
        rp.percentile([1.0], 99.5)  # type: ignore[arg-type]


def test_mean_std_uses_the_sample_deviation() -> None:
    mean, std = rp.mean_std([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert mean == 5.0
    assert std == pytest.approx(2.138, abs=1e-3)
    assert rp.mean_std([3.0]) == (3.0, 0.0)


def test_welch_p_separates_different_samples_and_not_equal_ones() -> None:
    a = [10.0, 11.0, 9.5, 10.2, 10.8]
    b = [20.0, 21.0, 19.0, 20.5, 22.0]
    assert rp.welch_p(a, b) < 0.001
    assert rp.welch_p(a, list(a)) == pytest.approx(1.0)
    assert math.isnan(rp.welch_p([1.0], b))
    assert rp.welch_p([1.0, 1.0], [2.0, 2.0]) == 0.0


def test_markdown_table_round_trips_and_rejects_ragged_rows() -> None:
    text = rp.markdown_table(["a", "b"], [[1, "x"], [2.5, "y"]])
    assert rp.parse_markdown_table(text) == [{"a": "1", "b": "x"}, {"a": "2.5", "b": "y"}]
    with pytest.raises(ValueError, match="cells"):
        rp.markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="no Markdown table"):
        rp.parse_markdown_table("nothing here")
    two = "title\n\n" + text + "\nmore\n\n" + rp.markdown_table(["c"], [["z"]])
    assert rp.parse_markdown_tables(two) == [
        [{"a": "1", "b": "x"}, {"a": "2.5", "b": "y"}],
        [{"c": "z"}],
    ]


def test_proxy_configs_listen_on_loopback_and_name_every_server(tmp_path: Path) -> None:
    nginx = nginx_config(tmp_path, 18080, TARGETS, "least_conn")
    assert "listen 127.0.0.1:18080;" in nginx
    assert "least_conn;" in nginx and "daemon off;" in nginx
    assert str(tmp_path) in nginx
    assert all(f"server 127.0.0.1:{t.port}" in nginx for t in TARGETS)
    assert "least_conn" not in nginx_config(tmp_path, 1, TARGETS, "round_robin")
    haproxy = haproxy_config(tmp_path, 18081, TARGETS, "leastconn")
    assert "bind 127.0.0.1:18081" in haproxy and "balance leastconn" in haproxy
    assert all(f"127.0.0.1:{t.port} check" in haproxy for t in TARGETS)


def test_picker_transport_rewrites_the_host_and_reports_outcomes() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host}:{request.url.port}{request.url.path}")
        if request.url.port == 9001:
            raise httpx.ConnectError("refused", request=request)
        status = 500 if request.url.port == 9002 else 200
        return httpx.Response(status, json={"server": "x"})

    lc = LeastConnections(TARGETS[:3])
    transport = PickerTransport(lc, inner=httpx.MockTransport(handler))
    with httpx.Client(transport=transport, base_url="http://pool.invalid") as client:
        assert client.get("/a?b=1").status_code == 200
        with pytest.raises(httpx.ConnectError):
            client.get("/a")
        assert client.get("/a").status_code == 500
    assert seen == ["127.0.0.1:9000/a", "127.0.0.1:9001/a", "127.0.0.1:9002/a"]
    assert lc.in_flight == [0, 0, 0]


def test_importing_the_reference_leaves_the_root_logger_alone() -> None:
    from huddle_client.bench._reference import import_reference

    root = logging.getLogger()
    before = list(root.handlers)
    module = import_reference()
    assert hasattr(module, "create_cluster")
    assert root.handlers == before
    assert logging.getLogger("huddle").level == logging.ERROR


def test_a_simulated_trial_is_repeatable_from_its_seed() -> None:
    crash = SIM_SCENARIOS[2]
    a = run_trial("round robin", crash, seed=3, duration_s=4.0)
    b = run_trial("round robin", crash, seed=3, duration_s=4.0)
    assert a == b
    assert a.failed > 0  # round robin keeps sending to the crashed server


def test_simulated_huddle_fails_over_a_crash_and_ejects_the_server() -> None:
    crash = SIM_SCENARIOS[2]
    result = run_trial("huddle_client", crash, seed=0, duration_s=6.0)
    assert result.failed == 0
    assert result.to_faulty_before_ejection is not None
    assert result.to_faulty_before_ejection < 40


def test_simulated_reference_runs_on_the_virtual_clock() -> None:
    slow = SIM_SCENARIOS[1]
    result = run_trial("huddle-cluster 1.3.2", slow, seed=0, duration_s=12.0)
    assert result.to_faulty_before_ejection is not None  # it did evict, on virtual time
    oracle = run_trial("oracle (healthy only)", slow, seed=0, duration_s=12.0)
    assert oracle.to_faulty_before_ejection is None
    assert oracle.p99 < 60.0  # never sent to the 100 ms server
