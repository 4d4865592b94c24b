"""The rules of the thermal rotation, one by one, on a fake clock."""

from __future__ import annotations

import statistics

import pytest
from engine_helpers import FakeClock, feed, ids, make_cluster, pin

from huddle_client import (
    FailureKind,
    HuddleCluster,
    NoUpstreamAvailable,
    Position,
    Reason,
    create_cluster,
)


def test_defaults_are_the_reference_defaults() -> None:
    c = HuddleCluster()
    assert (c.heat_threshold, c.cool_threshold) == (0.55, 0.30)
    assert (c.min_inner_size, c.max_inner_size) == (2, 5)
    assert (c.rotation_cooldown_sec, c.min_outer_dwell_sec) == (5.0, 10.0)
    assert c.ema_alpha == 0.60
    assert c.absolute_latency_floor_ms is None
    assert c.cold_start_sec == 0.0
    assert c.adaptive_thresholds is False
    assert c.rotation_interval_sec == 1.0


def test_first_max_inner_servers_start_active_the_rest_rest() -> None:
    c, _, _ = make_cluster(7)
    assert ids(c.inner_servers()) == ["s0", "s1", "s2", "s3", "s4"]
    assert sorted(ids(c.outer_servers())) == ["s5", "s6"]


def test_inner_ring_is_served_round_robin() -> None:
    c, _, _ = make_cluster(4)
    picks = [c.get_server().id for _ in range(400)]
    assert {picks.count(f"s{i}") for i in range(4)} == {100}
    assert c.fairness_score() == 0.0


def test_anomaly_follows_the_median_ratio() -> None:
    c, _, _ = make_cluster(5, ema_alpha=1.0)
    c.rotate()
    for up in c.inner_servers():
        for _ in range(10):
            c.record_latency(up, 10.0)
    c.rotate()  # baseline = 10 ms
    s0 = c.server("s0")
    for ratio, expected in ((1.0, 0.0), (2.0, 0.5), (3.0, 1.0), (5.0, 1.0), (0.5, 0.0)):
        for _ in range(10):
            c.record_latency(s0, 10.0 * ratio)
        assert s0.anomaly == pytest.approx(expected)


def test_temperature_is_an_ema_of_the_raw_score() -> None:
    c, _, _ = make_cluster(5, ema_alpha=0.6, rotation_cooldown_sec=1e9)
    for up in c.inner_servers():
        for _ in range(10):
            c.record_latency(up, 10.0)
    c.rotate()
    s0 = c.server("s0")
    for _ in range(10):
        c.record_latency(s0, 30.0)  # fills the window with 3x the median
    s0.temperature = 0.0
    for _ in range(10):
        c.record_latency(s0, 30.0)  # anomaly 1, raw 0.70 each time
    assert s0.temperature == pytest.approx(0.70 * (1 - 0.4**10), rel=1e-3)
    c.record_latency(s0, 30.0)
    expected = 0.6 * 0.70 + 0.4 * 0.70 * (1 - 0.4**10)
    assert s0.temperature == pytest.approx(expected, rel=1e-3)


def test_a_slow_server_is_evicted_within_a_few_of_its_requests() -> None:
    c, clock, events = make_cluster(6)
    feed(c, {}, 60)
    c.rotate()
    slow_requests = 0
    for _ in range(300):
        up = c.get_server()
        if up.id == "s2":
            slow_requests += 1
        c.record_latency(up, 100.0 if up.id == "s2" else 20.0)
        if c.server("s2").position is Position.OUTER:
            break
    assert c.server("s2").position is Position.OUTER
    assert slow_requests <= 10
    assert events[-1].reason == Reason.OVERHEATED.value
    assert events[-1].direction == "inner->outer"


def test_evictions_per_cycle_are_capped_at_a_third_of_the_inner_ring() -> None:
    c, clock, events = make_cluster(6, rotation_cooldown_sec=0.0, min_inner_size=1)
    feed(c, {}, 50)
    c.rotate()
    for up in c.inner_servers()[:3]:
        up.temperature = 0.9
    c.rotate()
    evicted = [e for e in events if e.reason == "overheated"]
    assert len(evicted) == max(1, 5 // 3) == 1


def test_eviction_never_goes_below_min_inner_size() -> None:
    c, clock, events = make_cluster(3, max_inner_size=3, min_inner_size=3)
    for up in c.inner_servers():
        up.temperature = 0.99
    for _ in range(5):
        clock.advance(10)
        c.rotate()
    assert len(c.inner_servers()) == 3
    assert not events


def test_no_temperature_move_within_the_cooldown() -> None:
    c, clock, events = make_cluster(5, rotation_cooldown_sec=5.0, min_outer_dwell_sec=0.0)
    s0 = c.server("s0")
    c.force_evict("s0")
    clock.advance(1.0)
    c.rotate()  # promoted back (dwell 0), at t=1
    assert s0.position is Position.INNER
    clock.advance(2.0)
    pin(s0, 0.9, clock)
    c.rotate()  # 2 s after its last move: too soon
    assert s0.position is Position.INNER
    clock.advance(3.0)
    pin(s0, 0.9, clock)
    c.rotate()
    assert s0.position is Position.OUTER


def test_promotion_takes_the_coolest_rested_server() -> None:
    c, clock, events = make_cluster(7, min_outer_dwell_sec=10.0)
    s5, s6 = c.server("s5"), c.server("s6")
    s5.temperature, s6.temperature = 0.2, 0.1
    c.force_evict("s0")
    c.server("s0").temperature = 0.9
    c.rotate()
    assert s6.position is Position.INNER  # never moved: no dwell to serve
    assert s5.position is Position.OUTER  # the ring is full again


def test_promotion_waits_for_the_dwell_and_the_cool_threshold() -> None:
    c, clock, events = make_cluster(5, min_outer_dwell_sec=10.0)
    s0 = c.server("s0")
    c.force_evict("s0")
    clock.advance(5.0)
    pin(s0, 0.1, clock)
    c.rotate()
    assert s0.position is Position.OUTER  # 5 s of rest < 10 s dwell
    clock.advance(6.0)
    pin(s0, 0.4, clock)  # rested enough, but above cool_threshold
    c.rotate()
    assert s0.position is Position.OUTER
    pin(s0, 0.25, clock)
    c.rotate()
    assert s0.position is Position.INNER
    assert events[-1].reason == "cooled"


def test_unhealthy_server_leaves_at_once_and_the_ring_is_refilled() -> None:
    c, clock, events = make_cluster(3, max_inner_size=2, min_inner_size=2)
    c.set_healthy("s0", False)
    assert c.server("s0").position is Position.OUTER
    assert ids(c.inner_servers()) == ["s1", "s2"]
    assert [e.reason for e in events] == ["health_fail", "refill"]


def test_emergency_fallback_uses_the_coolest_server_anywhere() -> None:
    c, clock, events = make_cluster(2, min_inner_size=1)
    c.set_healthy("s0", False)
    c.set_healthy("s1", False)
    assert not c.inner_servers()
    c.server("s0").temperature, c.server("s1").temperature = 0.7, 0.4
    assert c.get_server().id == "s1"


def test_weight_scales_the_eviction_threshold() -> None:
    clock = FakeClock()
    c = create_cluster(
        [("light", "h", 1, 0.5), ("heavy", "h", 2, 2.0), ("a", "h", 3), ("b", "h", 4)],
        auto_rotate=False,
        min_inner_size=1,
        rotation_cooldown_sec=0.0,
        clock=clock,
    )
    pin(c.server("light"), 0.3, clock)  # >= 0.55 * 0.5
    pin(c.server("heavy"), 0.9, clock)  # < min(1, 0.55 * 2)
    c.rotate()
    assert c.server("light").position is Position.OUTER
    assert c.server("heavy").position is Position.INNER


def test_cold_start_keeps_a_new_server_resting() -> None:
    c, clock, events = make_cluster(2, cold_start_sec=30.0)
    new = c.add_server(("new", "127.0.0.1", 9100), force_inner=True)
    assert new.position is Position.OUTER
    clock.advance(29.0)
    c.rotate()
    assert new.position is Position.OUTER
    clock.advance(2.0)
    c.rotate()
    assert new.position is Position.INNER


def test_added_server_is_promoted_when_there_is_room() -> None:
    c, clock, events = make_cluster(2)
    new = c.add_server("http://127.0.0.1:9100")
    assert new.position is Position.OUTER
    c.rotate()
    assert new.position is Position.INNER
    with pytest.raises(ValueError, match="exists already"):
        c.add_server("http://127.0.0.1:9100")


def test_absolute_latency_floor_evicts_whatever_the_relative_score() -> None:
    c, clock, events = make_cluster(6, absolute_latency_floor_ms=200.0, min_inner_size=1)
    feed(c, {"s0": 300.0, "s1": 300.0, "s2": 300.0, "s3": 300.0, "s4": 300.0}, 50)
    assert any(e.reason == "absolute_latency" for e in events)
    out = [u for u in c.outer_servers() if u.id != "s5"]
    assert out and all(u.temperature >= 0.8 for u in out)


def test_remove_server_refills_the_inner_ring() -> None:
    c, clock, events = make_cluster(3, max_inner_size=2)
    assert c.remove_server("s0") is True
    assert c.remove_server("s0") is False
    assert ids(c.inner_servers()) == ["s1", "s2"]
    assert "s0" not in ids(c.all_servers())


def test_force_evict_moves_only_inner_servers() -> None:
    c, _, events = make_cluster(6)
    assert c.force_evict("s5") is False
    assert c.force_evict("nope") is False
    assert c.force_evict("s1") is True
    assert events[0].reason == "manual"


def test_connection_refused_ejects_at_once_past_cap_and_cooldown() -> None:
    c, clock, events = make_cluster(6, rotation_cooldown_sec=1e9)
    for name in ("s0", "s1", "s2"):
        c.report(c.server(name), failure=FailureKind.CONNECT_REFUSED)
    outer = {u.id for u in c.outer_servers()}
    assert {"s0", "s1", "s2"} <= outer
    assert all(not c.server(n).healthy for n in ("s0", "s1", "s2"))
    assert [e.reason for e in events].count("connect_failed") == 3


def test_connection_failure_refills_to_min_inner_with_healthy_servers() -> None:
    c, clock, events = make_cluster(4, max_inner_size=2)
    c.report(c.server("s0"), failure=FailureKind.CONNECT_TIMEOUT)
    assert len(c.inner_servers()) == 2
    assert "s0" not in ids(c.inner_servers())


def test_fast_500s_heat_a_server_until_it_leaves() -> None:
    c, clock, events = make_cluster(6)
    feed(c, {}, 60)
    c.rotate()
    s3 = c.server("s3")
    errors = 0
    for _ in range(100):
        up = c.get_server()
        if up is s3:
            errors += 1
            c.report(up, 1.0, status=500)  # answers fast, fails
        else:
            c.report(up, 20.0, status=200)
        if s3.position is Position.OUTER:
            break
    assert s3.position is Position.OUTER
    assert errors <= 4
    assert s3.avg_latency_ms == pytest.approx(20.0)  # fast failures never made it look fast


def test_timeouts_count_as_errors_and_as_latency() -> None:
    c, _, _ = make_cluster(6)
    up = c.server("s0")
    c.report(up, 2000.0, failure=FailureKind.READ_TIMEOUT)
    assert up.error_rate == 1.0
    assert up.avg_latency_ms == 2000.0
    c.report(up, 5.0, failure=FailureKind.RESET)
    assert up.avg_latency_ms == 2000.0
    assert up.failures == 2


def test_a_success_marks_an_unhealthy_server_healthy_again() -> None:
    c, _, _ = make_cluster(6)
    up = c.server("s5")
    c.report(up, failure=FailureKind.CONNECT_REFUSED)
    assert not up.healthy
    c.record_latency(up, 20.0)
    assert up.healthy


def test_get_server_excludes_what_was_tried() -> None:
    c, _, _ = make_cluster(3, max_inner_size=2)
    s0, s1, s2 = (c.server(f"s{i}") for i in range(3))
    for _ in range(5):
        assert c.get_server(exclude={s0}) is s1
    assert c.get_server(exclude={s0, s1}) is s2  # the resting one, as a last resort
    with pytest.raises(NoUpstreamAvailable, match="every upstream was excluded"):
        c.get_server(exclude={s0, s1, s2})


def test_an_empty_cluster_has_no_upstream() -> None:
    with pytest.raises(NoUpstreamAvailable, match="no upstreams"):
        HuddleCluster().get_server()


def test_attempts_count_calls_in_flight_exactly_once() -> None:
    c, _, _ = make_cluster(2)
    a = c.begin()
    b = c.begin()
    assert a.upstream.in_flight == 1 and b.upstream.in_flight == 1
    a.responded(200)
    assert a.upstream.in_flight == 1  # the body is still coming
    a.completed()
    a.completed()
    a.failed(FailureKind.RESET)  # ignored: already finished
    assert a.upstream.in_flight == 0
    assert a.upstream.requests == 1
    b.cancel()
    b.succeeded()
    assert b.upstream.in_flight == 0 and b.upstream.requests == 0


def test_in_flight_calls_feed_the_conn_term() -> None:
    c, _, _ = make_cluster(2, ema_alpha=1.0)
    up = c.server("s0")
    held = [c.begin(exclude={c.server("s1")}) for _ in range(500)]
    c.record_latency(up, 20.0)
    assert up.in_flight == 501 - 1
    assert up.temperature == pytest.approx(0.10 * 0.5)
    for a in held:
        a.cancel()
    assert up.in_flight == 0


def test_get_server_context_records_latency_and_errors() -> None:
    c, _, _ = make_cluster(2)
    with c.get_server_context() as up:
        pass
    assert up.requests == 1 and up.error_rate == 0.0 and up.in_flight == 0
    with pytest.raises(RuntimeError), c.get_server_context() as up2:
        raise RuntimeError("boom")
    assert up2.failures == 1 and up2.in_flight == 0


def test_rotation_hook_errors_do_not_break_rotation(caplog: pytest.LogCaptureFixture) -> None:
    def hook(_event: object) -> None:
        raise RuntimeError("hook failed")

    c = create_cluster(
        [("a", "h", 1), ("b", "h", 2), ("c", "h", 3)], on_rotation=hook, auto_rotate=False
    )
    assert c.force_evict("a") is True
    assert "on_rotation hook failed" in caplog.text


def test_rotation_log_is_bounded() -> None:
    c, clock, _ = make_cluster(5, max_rotation_log=5, min_outer_dwell_sec=0.0)
    for _ in range(10):
        assert c.force_evict("s0")
        c.rotate()
    assert len(c.rotation_log) == 5


def test_metrics_updater_feeds_cpu_and_memory() -> None:
    def updater(up: object) -> None:
        if getattr(up, "id", "") == "s0":
            up.cpu_usage = 1.0  # type: ignore[attr-defined]
            up.memory_usage = 1.0  # type: ignore[attr-defined]

    c, clock, _ = make_cluster(3, metrics_updater=updater, ema_alpha=1.0)
    clock.advance(1.0)
    c.rotate()
    assert c.server("s0").temperature == pytest.approx(0.15)
    assert c.server("s1").temperature == 0.0


def test_stale_evidence_ages_out_and_the_server_cools() -> None:
    c, clock, _ = make_cluster(6, evidence_ttl_sec=30.0, trickle=False)
    feed(c, {"s0": 100.0}, 60)
    s0 = c.server("s0")
    assert s0.position is Position.OUTER and s0.temperature > 0.3
    clock.advance(10.0)
    c.rotate()
    assert s0.temperature > 0.3  # the slow evidence still stands
    clock.advance(25.0)
    for _ in range(5):
        c.rotate()
    assert s0.avg_latency_ms == 0.0
    assert s0.temperature < 0.3


def test_trickle_gives_resting_servers_fresh_evidence_and_a_healed_one_returns() -> None:
    c, clock, events = make_cluster(6, max_inner_size=5, probe_interval_sec=1.0)
    latency = {"s2": 100.0}
    for _ in range(30):
        feed(c, latency, 40)
        clock.advance(1.0)
        c.rotate()
    s2 = c.server("s2")
    assert s2.position is Position.OUTER
    sampled_while_resting = s2.requests
    latency.clear()  # healed
    for _ in range(40):
        feed(c, latency, 40)
        clock.advance(1.0)
        c.rotate()
        if s2.position is Position.INNER:
            break
    assert s2.requests > sampled_while_resting
    assert s2.position is Position.INNER or len(c.inner_servers()) == 5


def test_probes_are_scheduled_for_resting_servers_only() -> None:
    c, clock, _ = make_cluster(6, probe=lambda up: True, probe_interval_sec=1.0)
    clock.advance(2.0)
    c.rotate()
    due = c.take_due_probes()
    assert ids(due) == ["s5"]
    assert c.take_due_probes() == []


def test_failed_probe_keeps_a_server_out_and_a_passing_one_lets_it_back() -> None:
    c, clock, events = make_cluster(6, probe=lambda up: True, min_outer_dwell_sec=5.0)
    s1 = c.server("s1")
    c.report(s1, failure=FailureKind.CONNECT_REFUSED)
    for _ in range(10):
        clock.advance(1.0)
        c.rotate()
        for up in c.take_due_probes():
            c.record_probe(up, ok=False)
    assert s1.position is Position.OUTER and not s1.healthy
    assert c.remove_server("s5")  # make room
    for _ in range(25):
        clock.advance(1.0)
        c.rotate()
        for up in c.take_due_probes():
            c.record_probe(up, ok=True, latency_ms=20.0)
        if s1.position is Position.INNER:
            break
    assert s1.position is Position.INNER and s1.healthy


def test_adaptive_thresholds_loosen_under_sustained_slowness() -> None:
    c, clock, _ = make_cluster(6, adaptive_thresholds=True)
    for _ in range(20):
        feed(c, {}, 30, default=20.0)
        clock.advance(1.0)
        c.rotate()
    calm = c.heat_threshold
    loosest = calm
    for _ in range(15):
        feed(c, {}, 30, default=80.0)
        clock.advance(1.0)
        c.rotate()
        loosest = max(loosest, c.heat_threshold)
        assert c.cool_threshold <= c.heat_threshold - 0.15 + 1e-9
    assert loosest >= 0.55 + 0.1 - 1e-9 > calm


def test_adaptive_thresholds_tighten_when_the_cluster_is_calm() -> None:
    c, clock, _ = make_cluster(6, adaptive_thresholds=True)
    for step in range(30):
        feed(c, {}, 30, default=80.0 if step < 12 else 20.0)
        clock.advance(1.0)
        c.rotate()
    assert c.heat_threshold < 0.55


def test_the_request_path_computes_no_median(monkeypatch: pytest.MonkeyPatch) -> None:
    c, clock, _ = make_cluster(6)
    feed(c, {}, 20)
    c.rotate()
    calls = 0
    real = statistics.median

    def counting(data: object) -> float:
        nonlocal calls
        calls += 1
        return real(data)  # type: ignore[arg-type]

    monkeypatch.setattr(statistics, "median", counting)
    feed(c, {"s1": 45.0}, 2000)
    assert calls == 0
    c.rotate()
    assert calls == 1


def test_without_a_thread_the_request_path_runs_the_tick() -> None:
    c, clock, events = make_cluster(6, auto_rotate=True)
    c.force_evict("s0")
    c.server("s0").temperature = 0.0
    clock.advance(11.0)
    c.record_latency(c.server("s1"), 20.0)
    assert c.server("s0").position is Position.INNER or c.server("s5").position is Position.INNER


def test_health_report_describes_both_rings() -> None:
    c, _, _ = make_cluster(6)
    feed(c, {}, 20)
    report = c.health_report()
    assert report["status"] == "healthy"
    assert report["inner_count"] == 5 and report["outer_count"] == 1
    assert {"id", "weight", "temp", "avg_latency_ms", "error_rate", "healthy"} <= set(
        report["inner_ring"][0]
    )
    assert report["heat_threshold"] == 0.55 and report["cool_threshold"] == 0.30
    assert 0.0 <= report["fairness_score"] <= 1.0
    assert isinstance(report["recent_rotations"], list)


def test_fairness_score_is_a_gini_of_duty_time() -> None:
    c, clock, _ = make_cluster(3, max_inner_size=3, min_outer_dwell_sec=0.0)
    clock.advance(10.0)
    assert c.fairness_score() == 0.0
    c.force_evict("s0")
    clock.advance(100.0)
    c.server("s0").temperature = 0.0
    c.rotate()
    clock.advance(1.0)
    assert 0.2 < c.fairness_score() < 0.5


def test_start_stop_and_context_manager_leave_no_thread() -> None:
    import threading

    before = set(threading.enumerate())
    c = create_cluster(
        ["http://127.0.0.1:9001", "http://127.0.0.1:9002"], rotation_interval_sec=0.01
    )
    with c:
        assert c.running
        c.start()  # idempotent
    assert not c.running
    assert set(threading.enumerate()) <= before


async def _use_async(c: HuddleCluster) -> bool:
    async with c:
        return c.running


def test_async_context_manager() -> None:
    import asyncio

    c = create_cluster(["http://127.0.0.1:9001"], rotation_interval_sec=0.01)
    assert asyncio.run(_use_async(c)) is True
    assert not c.running


def test_prometheus_metrics_parse_and_name_the_reference_series() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    c, _, _ = make_cluster(3)
    feed(c, {}, 10)
    families = {f.name for f in text_string_to_metric_families(c.prometheus_metrics())}
    for name in (
        "huddle_server_temperature",
        "huddle_server_avg_latency_ms",
        "huddle_server_anomaly_score",
        "huddle_server_rotations",
        "huddle_cluster_inner_count",
        "huddle_cluster_fairness_gini",
        "huddle_cluster_heat_threshold",
        "huddle_cluster_p95_latency_ms",
    ):
        assert name in families


def test_fake_clock_helper_moves_only_when_told() -> None:
    clock = FakeClock(5.0)
    clock.advance(1.5)
    assert clock() == 6.5


def test_release_later_settles_in_flight_without_taking_the_lock() -> None:
    c, _, _ = make_cluster(2)
    a = c.begin()
    up = a.upstream
    with c._lock:  # as when the garbage collector runs a finalizer inside a locked section
        a.release_later()
    assert up.in_flight == 1  # not settled yet: nothing took the lock
    c.begin().cancel()
    assert up.in_flight == 0
    a.succeeded()  # already finished: ignored
    assert up.requests == 0


def test_a_whole_call_is_reported_and_released_in_one_step() -> None:
    c, _, _ = make_cluster(2)
    a = c.begin()
    a.succeeded(12.0, status=200)
    assert (a.upstream.in_flight, a.upstream.requests, a.upstream.avg_latency_ms) == (0, 1, 12.0)
    b = c.begin()
    b.failed(FailureKind.RESET)
    assert (b.upstream.in_flight, b.upstream.failures) == (0, 1)
    assert len(c) == 2


def test_begin_passes_over_an_upstream_whose_calls_are_stalled() -> None:
    c, clock, _ = make_cluster(3, max_inner_size=3)
    feed(c, {}, 30)
    c.rotate()  # baseline 20 ms
    s0, s1, s2 = (c.server(f"s{i}") for i in range(3))
    stuck = [c.begin() for _ in range(3)]  # one call on each
    clock.advance(0.030)
    assert [c.begin().upstream for _ in range(3)] == [s0, s1, s2]  # 30 ms < 2 x 20 ms
    clock.advance(0.050)
    fresh = [c.begin() for _ in range(3)]  # every server now has an 80 ms old call...
    for a in fresh[:2]:
        a.succeeded(20.0, status=200)
    for a in stuck[1:]:
        a.succeeded(20.0, status=200)
    # ...s1 and s2 answered; s0 still holds two calls, mean age 40 ms = 2 x baseline + clock
    clock.advance(0.010)
    picks = [c.begin().upstream.id for _ in range(6)]
    assert "s0" not in picks
    assert s0.waiting == 2 + 0 and s0.in_flight == s0.waiting


def test_stall_avoidance_leaves_round_robin_alone_when_all_are_stalled() -> None:
    c, clock, _ = make_cluster(2)
    feed(c, {}, 20)
    c.rotate()
    held = [c.begin() for _ in range(2)]
    clock.advance(1.0)
    picks = [c.begin().upstream.id for _ in range(4)]
    assert sorted(picks) == ["s0", "s0", "s1", "s1"]
    for a in held:
        a.cancel()


def test_stall_avoidance_can_be_turned_off() -> None:
    c, clock, _ = make_cluster(2, stall_factor=None)
    feed(c, {}, 20)
    c.rotate()
    c.begin()  # s0, then it stalls
    clock.advance(1.0)
    assert [c.begin().upstream.id for _ in range(2)] == ["s1", "s0"]


def test_waiting_calls_are_counted_until_their_head_arrives() -> None:
    c, clock, _ = make_cluster(1, min_inner_size=1)
    a, b, d = c.begin(), c.begin(), c.begin()
    up = a.upstream
    assert up.waiting == 3
    a.responded(200)
    b.failed(FailureKind.RESET)
    d.release_later()
    assert (up.waiting, up.in_flight, up.waiting_since) == (0, 1, 0.0)
    a.completed()
    assert up.in_flight == 0


def test_recovery_trickle_never_takes_a_call_that_cannot_fail_over() -> None:
    c, clock, _ = make_cluster(6, min_outer_dwell_sec=0.0, probe_interval_sec=1.0)
    clock.advance(2.0)
    c.rotate()  # s5 rests with no evidence: it is due a trickle call
    assert c.begin(trickle=False).upstream.id != "s5"
    assert c.begin().upstream.id == "s5"


def test_failover_run_keeps_posts_and_streamed_bodies_off_the_trickle() -> None:
    from huddle_client import FailoverPolicy, FailoverRun

    c, clock, _ = make_cluster(6, min_outer_dwell_sec=0.0, probe_interval_sec=1.0)
    policy = FailoverPolicy()
    for method, replayable in (("POST", True), ("GET", False)):
        clock.advance(2.0)
        c.rotate()
        run = FailoverRun(c, policy, method, body_replayable=replayable)
        assert run.next_attempt().upstream.id != "s5"
    clock.advance(2.0)
    c.rotate()
    assert FailoverRun(c, policy, "GET").next_attempt().upstream.id == "s5"


def test_two_threads_finishing_one_call_release_it_once() -> None:
    import threading

    c, _, _ = make_cluster(1, min_inner_size=1)
    for _ in range(200):
        keep = c.begin()  # another call on the same upstream, whose count must survive
        a = c.begin()
        barrier = threading.Barrier(2)

        def finish(fn: object, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            fn()  # type: ignore[operator]

        threads = [
            threading.Thread(target=finish, args=(a.completed,)),
            threading.Thread(target=finish, args=(a.release_later,)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert a.upstream.in_flight == 1 and a.upstream.waiting == 1
        keep.cancel()
        assert a.upstream.in_flight == 0 and a.upstream.waiting == 0
