"""What the cluster tells about itself: the health report and the fairness score.

Pure functions over snapshots the cluster takes under its lock, so building a report never
holds the lock longer than copying a few numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ._events import RotationEvent
from ._upstream import Upstream


def describe(up: Upstream, now: float) -> dict[str, Any]:
    """One upstream as the health report shows it."""
    return {
        "id": up.id,
        "url": up.url,
        "weight": up.weight,
        "temp": round(up.temperature, 4),
        "avg_latency_ms": round(up.avg_latency_ms, 3),
        "anomaly_score": round(up.anomaly, 4),
        "error_rate": round(up.error_rate, 4),
        "healthy": up.healthy,
        "in_flight": up.in_flight,
        "requests": up.requests,
        "failures": up.failures,
        "rotations": up.rotation_count,
        "cold_start": up.cold_until > now,
    }


def build_report(
    inner: Sequence[dict[str, Any]],
    outer: Sequence[dict[str, Any]],
    recent: Sequence[RotationEvent],
    *,
    degraded: bool,
    thresholds: tuple[float, float],
    baseline_ms: float,
    cluster_p95_ms: float,
    fairness: float,
) -> dict[str, Any]:
    """The reference's health_report() layout, plus our figures (JSON-ready)."""
    return {
        "status": "degraded" if degraded else "healthy",
        "inner_ring": list(inner),
        "outer_ring": list(outer),
        "inner_count": len(inner),
        "outer_count": len(outer),
        "total_servers": len(inner) + len(outer),
        "heat_threshold": thresholds[0],
        "cool_threshold": thresholds[1],
        "baseline_ms": round(baseline_ms, 3),
        "cluster_p95_ms": round(cluster_p95_ms, 3),
        "fairness_score": round(fairness, 4),
        "recent_rotations": [
            {
                "server_id": e.server_id,
                "direction": e.direction,
                "reason": e.reason,
                "temperature": round(e.temperature, 4),
                "timestamp": e.timestamp,
            }
            for e in recent
        ],
    }


def gini(values: Iterable[float]) -> float:
    """Gini coefficient of non-negative values (0 when fewer than two or all zero)."""
    xs = sorted(values)
    n = len(xs)
    total = sum(xs)
    if n < 2 or total <= 0.0:
        return 0.0
    weighted = sum((2 * (i + 1) - n - 1) * x for i, x in enumerate(xs))
    return weighted / (n * total)
