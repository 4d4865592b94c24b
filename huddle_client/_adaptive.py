"""Adaptive thresholds: loosen under sustained cluster-wide slowness, tighten when healthy.

When the whole cluster slows down together (a load spike), relative scores jitter and a
fixed threshold evicts servers that are no worse than their peers; loosening the heat
threshold then avoids shrinking capacity exactly when it is needed. When the cluster is calm,
a tighter threshold reacts sooner to one server going bad.

The controller is fed one cluster P95 figure per rotation tick (never per request) and
compares the median of the recent half of its history with the median of the older half.
"""

from __future__ import annotations

import statistics
from collections import deque

HEAT_LIMITS = (0.35, 0.85)
COOL_FLOOR = 0.10
#: cool stays at least this far below heat, so adaptation can never close the hysteresis gap.
MIN_GAP = 0.15


class AdaptiveThresholds:
    """Moves the heat and cool thresholds within ``max_delta`` of their configured values."""

    def __init__(
        self,
        base_heat: float,
        base_cool: float,
        *,
        max_delta: float = 0.10,
        history: int = 20,
        interval_sec: float = 5.0,
    ) -> None:
        self.base_heat = base_heat
        self.base_cool = base_cool
        self.max_delta = max_delta
        self.interval_sec = interval_sec
        self.heat = base_heat
        self.cool = base_cool
        self._history: deque[float] = deque(maxlen=history)
        self._last_adapted: float | None = None

    def observe(self, p95_ms: float, now: float) -> tuple[float, float]:
        """Add one cluster P95 sample and return the (heat, cool) thresholds now in force."""
        if p95_ms > 0.0:
            self._history.append(p95_ms)
        if self._last_adapted is None:
            self._last_adapted = now
        full = len(self._history) == self._history.maxlen
        if full and now - self._last_adapted >= self.interval_sec:
            self._last_adapted = now
            self._adapt()
        return self.heat, self.cool

    def _adapt(self) -> None:
        samples = list(self._history)
        half = len(samples) // 2
        older = statistics.median(samples[:half])
        recent = statistics.median(samples[half:])
        ratio = recent / max(older, 1e-9)
        # ratio 0.7 or less: calm, tighten fully; 1.5 or more: stressed, loosen fully.
        position = min(1.0, max(0.0, (ratio - 0.7) / 0.8))
        delta = (2.0 * position - 1.0) * self.max_delta
        low = min(HEAT_LIMITS[0], self.base_heat)
        high = max(HEAT_LIMITS[1], self.base_heat)
        heat = min(high, max(low, self.base_heat + delta))
        cool = min(heat - MIN_GAP, self.base_cool + delta / 2.0)
        self.heat = heat
        self.cool = max(COOL_FLOOR, cool) if heat - MIN_GAP >= COOL_FLOOR else heat / 2.0
