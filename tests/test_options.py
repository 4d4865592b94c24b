"""Every option is checked at construction, and the error names option, value and range."""

from __future__ import annotations

from typing import Any

import pytest

from huddle_client import HuddleCluster


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"heat_threshold": 0.0}, r"heat_threshold must be in \(0, 1\], got 0.0"),
        ({"heat_threshold": 1.5}, r"heat_threshold must be in \(0, 1\], got 1.5"),
        ({"heat_threshold": "hot"}, r"heat_threshold must be a number, got 'hot'"),
        ({"cool_threshold": 0.55}, r"cool_threshold must be in \[0, heat_threshold=0.55\)"),
        ({"cool_threshold": 0.6}, r"cool_threshold must be in \[0, heat_threshold"),
        ({"cool_threshold": -0.1}, r"cool_threshold must be in \[0, 1\], got -0.1"),
        ({"ema_alpha": 0.0}, r"ema_alpha must be in \(0, 1\], got 0.0"),
        ({"ema_alpha": 1.01}, r"ema_alpha must be in \(0, 1\], got 1.01"),
        ({"ema_alpha": float("nan")}, r"ema_alpha must be a finite number"),
        ({"min_inner_size": 0}, r"min_inner_size must be in \[1, inf\), got 0"),
        ({"min_inner_size": 2.5}, r"min_inner_size must be an integer, got 2.5"),
        (
            {"min_inner_size": 4, "max_inner_size": 3},
            r"max_inner_size must be in \[min_inner_size=4, inf\), got 3",
        ),
        ({"rotation_cooldown_sec": -1}, r"rotation_cooldown_sec must be in \[0, inf\), got -1"),
        ({"min_outer_dwell_sec": -0.5}, r"min_outer_dwell_sec must be in \[0, inf\)"),
        ({"absolute_latency_floor_ms": 0}, r"absolute_latency_floor_ms must be in \(0, inf\)"),
        ({"cold_start_sec": -1}, r"cold_start_sec must be in \[0, inf\)"),
        ({"rotation_interval_sec": 0}, r"rotation_interval_sec must be in \(0, inf\)"),
        ({"latency_window": 0}, r"latency_window must be in \[1, 10000\], got 0"),
        ({"error_gain": -1}, r"error_gain must be in \[0, inf\)"),
        ({"evidence_ttl_sec": 0}, r"evidence_ttl_sec must be in \(0, inf\)"),
        ({"probe_interval_sec": -1}, r"probe_interval_sec must be in \(0, inf\)"),
        ({"probe_timeout_sec": 0}, r"probe_timeout_sec must be in \(0, inf\)"),
        ({"stall_factor": 0.5}, r"stall_factor must be in \[1, 1000\], got 0.5"),
        ({"stall_floor_ms": -1}, r"stall_floor_ms must be in \[0, inf\)"),
        ({"max_rotation_log": 0}, r"max_rotation_log must be in \[1, inf\)"),
        ({"metrics_updater": 3}, r"metrics_updater must be a callable or None, got 3"),
        ({"on_rotation": "log"}, r"on_rotation must be a callable or None"),
        ({"probe": 1}, r"probe must be a callable or None"),
        ({"clock": 1.0}, r"clock must be a callable"),
        ({"heat_threshold": True}, r"heat_threshold must be a number, got True"),
    ],
)
def test_invalid_option_raises_a_value_error_naming_it(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        HuddleCluster(**options)


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        HuddleCluster(heat=0.5)  # type: ignore[call-arg]


def test_start_validates_the_interval() -> None:
    with pytest.raises(ValueError, match="rotation_interval_sec"):
        HuddleCluster().start(rotation_interval_sec=0)


def test_valid_edge_values_are_accepted() -> None:
    c = HuddleCluster(
        heat_threshold=1.0, cool_threshold=0.0, ema_alpha=1.0, min_inner_size=1, max_inner_size=1
    )
    assert c.heat_threshold == 1.0 and c.cool_threshold == 0.0
