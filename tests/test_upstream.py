"""The evidence window: O(1) running sums that match a recomputation."""

from __future__ import annotations

import random

import pytest

from huddle_client import Upstream


def test_window_keeps_the_last_n_outcomes() -> None:
    up = Upstream("a", "h", 1, window=4)
    for ms in (10.0, 20.0, 30.0, 40.0, 50.0):
        up.observe(ms, False, 0.0, 0.5, 2.5)
    assert up.n == 4 and up.lat_n == 4
    assert up.avg_latency_ms == pytest.approx(35.0)
    assert sorted(up.latencies()) == [20.0, 30.0, 40.0, 50.0]


def test_errors_and_latency_free_outcomes() -> None:
    up = Upstream("a", "h", 1, window=4)
    up.observe(10.0, False, 0.0, 0.5, 2.5)
    up.observe(-1.0, True, 0.0, 0.5, 2.5)
    up.observe(-1.0, True, 0.0, 0.5, 2.5)
    assert up.error_rate == pytest.approx(2 / 3)
    assert up.avg_latency_ms == 10.0
    for _ in range(4):
        up.observe(5.0, False, 0.0, 0.5, 2.5)
    assert up.error_rate == 0.0 and up.avg_latency_ms == 5.0


def test_running_sums_match_a_recomputation_after_many_samples() -> None:
    rng = random.Random(3)
    up = Upstream("a", "h", 1, window=10)
    shadow: list[tuple[float, bool]] = []
    for _ in range(5000):
        ms = rng.choice([-1.0, rng.uniform(0.1, 500.0)])
        err = rng.random() < 0.2
        up.observe(ms, err, 20.0, 0.6, 2.5)
        shadow = (shadow + [(ms, err)])[-10:]
    lats = [m for m, _ in shadow if m >= 0]
    assert up.lat_n == len(lats)
    assert up.avg_latency_ms == pytest.approx(sum(lats) / len(lats) if lats else 0.0, rel=1e-4)
    assert up.err_n == sum(e for _, e in shadow)


def test_clear_evidence_forgets_everything() -> None:
    up = Upstream("a", "h", 1)
    up.observe(10.0, True, 5.0, 0.5, 2.5)
    up.clear_evidence()
    assert (up.n, up.lat_n, up.err_n, up.avg_latency_ms, up.error_rate) == (0, 0, 0, 0.0, 0.0)


def test_error_floor_heats_a_fast_failing_server() -> None:
    up = Upstream("a", "h", 1, window=10)
    for _ in range(10):
        up.observe(-1.0, True, 20.0, 1.0, 2.5)
    assert up.temperature == 1.0  # the reference's 0.05 weight alone would give 0.05


def test_repr_and_url() -> None:
    up = Upstream("a", "example", 8080, base_path="/v1", scheme="https")
    assert up.url == "https://example:8080/v1"
    assert "a" in repr(up) and "outer" in repr(up)
