"""The rotation cycle: moves between the rings and the tick that decides them.

A mixin of :class:`~huddle_client.HuddleCluster`, kept apart from the request path: these
methods run with the cluster's lock held (except :meth:`RotationCycle._flush_events` and the
metrics updater, which call user code and so must not), and own the rules of the design:
eviction of hot servers within the cap, the cooldown and min_inner_size; promotion of cooled,
rested ones; the emergency refill; evidence ageing; and scheduling recovery probes or trickle
calls for resting servers.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

from ._adaptive import AdaptiveThresholds
from ._events import INNER_TO_OUTER, OUTER_TO_INNER, Reason, RotationEvent
from ._probe import Probe
from ._upstream import Position, Upstream

log = logging.getLogger("huddle_client")


class RotationCycle:
    """The rules that move upstreams between rings (state lives in HuddleCluster)."""

    # Declared here, assigned by HuddleCluster.__init__; HuddleCluster's __slots__ hold them
    # (this mixin has no __slots__ of its own, so mypy lets it assign them).
    heat_threshold: float
    cool_threshold: float
    min_inner_size: int
    max_inner_size: int
    rotation_cooldown_sec: float
    min_outer_dwell_sec: float
    ema_alpha: float
    absolute_latency_floor_ms: float | None
    rotation_interval_sec: float
    error_gain: float
    evidence_ttl_sec: float
    probe: Probe | None
    probe_interval_sec: float
    probe_timeout_sec: float
    trickle: bool
    _adaptive: AdaptiveThresholds | None
    _metrics_updater: Callable[[Upstream], None] | None
    _on_rotation: Callable[[RotationEvent], None] | None
    _lock: threading.Lock
    _servers: dict[str, Upstream]
    _inner: list[Upstream]
    _outer: list[Upstream]
    _trickle: list[Upstream]
    _baseline: float
    _warming: bool
    _cluster_p95: float
    _cycle_evictions: int
    _cycle_cap: int
    _last_tick: float
    _now: float
    _next_tick: float
    _log: deque[RotationEvent]
    _pending: list[RotationEvent]
    _moves: int

    def _warm_baseline(self) -> float:
        """The median, recomputed per report only until every inner server has a sample.

        Without this the first server to report would set the baseline alone until the
        first tick, and a slow one would be judged against itself.
        """
        avgs = [u.lat_sum / u.lat_n for u in self._inner if u.lat_n]
        self._baseline = statistics.median(avgs) if avgs else 0.0
        self._warming = len(avgs) < len(self._inner)
        return self._baseline

    def _heat(self, up: Upstream) -> None:
        up.observe(-1.0, False, self._baseline, self.ema_alpha, self.error_gain, False)

    def _is_hot(self, up: Upstream) -> Reason | None:
        floor = self.absolute_latency_floor_ms
        if floor is not None and up.lat_n and up.lat_sum / up.lat_n > floor:
            return Reason.ABSOLUTE_LATENCY
        if up.temperature >= up.evict_at:
            return Reason.OVERHEATED
        return None

    def _maybe_evict_hot(self, up: Upstream, now: float) -> bool:
        reason = self._is_hot(up)
        if reason is None:
            return False
        if now - up.last_moved < self.rotation_cooldown_sec:
            return False
        if self._cycle_evictions >= self._cycle_cap or len(self._inner) <= self.min_inner_size:
            return False
        self._cycle_evictions += 1
        self._move_out(up, reason, now)
        return True

    def _move_out(self, up: Upstream, reason: Reason, now: float) -> None:
        self._inner.remove(up)
        self._outer.append(up)
        up.position = Position.OUTER
        up.inner_time += now - up.inner_since
        up.last_moved = now
        up.rotation_count += 1
        if reason is Reason.ABSOLUTE_LATENCY:
            # Without this a floor breach would cool below cool_threshold and come straight
            # back: the relative score alone says nothing is wrong.
            up.temperature = max(up.temperature, 0.8)
        self._record_event(up, INNER_TO_OUTER, reason)

    def _eject(self, up: Upstream, reason: Reason, now: float) -> None:
        """Take ``up`` out now, past the cap and the cooldown, and keep min_inner_size."""
        self._move_out(up, reason, now)
        self._refill(now)

    def _move_in(self, up: Upstream, reason: Reason, now: float) -> None:
        self._outer.remove(up)
        if up in self._trickle:
            self._trickle.remove(up)
        up.position = Position.INNER
        up.inner_since = now
        up.last_moved = now
        up.rotation_count += 1
        self._inner.append(up)
        self._record_event(up, OUTER_TO_INNER, reason)

    def _record_event(self, up: Upstream, direction: str, reason: Reason) -> None:
        self._moves += 1
        event = RotationEvent(time.time(), up.id, direction, reason.value, up.temperature)
        self._log.append(event)
        self._pending.append(event)
        log.info("%s %s (%s, temperature %.3f)", up.id, direction, reason.value, up.temperature)

    def _refill(self, now: float) -> None:
        """Emergency fallback: keep the inner ring at min_inner_size with healthy servers."""
        while len(self._inner) < self.min_inner_size:
            ready = [u for u in self._outer if u.healthy and u.cold_until <= now]
            if not ready:
                return
            self._move_in(min(ready, key=lambda u: u.temperature), Reason.REFILL, now)

    def _flush_events(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        hook = self._on_rotation
        if hook is None:
            return
        for event in events:
            try:
                hook(event)
            except Exception:
                log.exception("on_rotation hook failed for %s", event)

    def _run_metrics_updater(self) -> None:
        assert self._metrics_updater is not None
        with self._lock:
            servers = self._inner + self._outer
        for up in servers:
            try:
                self._metrics_updater(up)
            except Exception:
                log.exception("metrics_updater failed for %s", up.id)

    def _tick(self, now: float) -> bool:
        since = self._last_tick
        self._last_tick = self._now = now
        self._next_tick = now + self.rotation_interval_sec
        moves_before = self._moves

        for up in self._servers.values():
            if up.n and now - up.last_evidence > self.evidence_ttl_sec:
                up.clear_evidence()
            else:
                up.resum()
        self._warm_baseline()
        for up in self._servers.values():
            if up.last_evidence < since:
                self._heat(up)
        self._adapt_thresholds(now)
        for up in self._servers.values():
            up.evict_at = min(1.0, self.heat_threshold * up.weight)

        self._cycle_evictions = 0
        self._cycle_cap = max(1, len(self._inner) // 3)
        for up in sorted(self._inner, key=lambda u: -u.temperature):
            if not up.healthy:
                self._move_out(up, Reason.HEALTH_FAIL, now)
            else:
                self._maybe_evict_hot(up, now)
        self._promote(now)
        self._refill(now)
        self._schedule_recovery(now)
        return self._moves != moves_before

    def _adapt_thresholds(self, now: float) -> None:
        samples = sorted(x for u in self._inner for x in u.latencies())
        self._cluster_p95 = samples[max(0, math.ceil(0.95 * len(samples)) - 1)] if samples else 0.0
        if self._adaptive is not None:
            self.heat_threshold, self.cool_threshold = self._adaptive.observe(
                self._cluster_p95, now
            )

    def _promote(self, now: float) -> None:
        while len(self._inner) < self.max_inner_size:
            ready = [
                u
                for u in self._outer
                if u.healthy
                and u.cold_until <= now
                and now - u.last_moved >= self.min_outer_dwell_sec
                and u.temperature <= self.cool_threshold
            ]
            if not ready:
                return
            self._move_in(min(ready, key=lambda u: u.temperature), Reason.COOLED, now)

    def _schedule_recovery(self, now: float) -> None:
        """Resting servers need fresh evidence to cool: probe them, or trickle real calls."""
        self._trickle.clear()
        for up in self._outer:
            if now - up.last_evidence < self.probe_interval_sec:
                continue
            if self.probe is not None:
                running = now - up.probe_started < 2.0 * self.probe_timeout_sec
                up.probe_due = not running
            elif self.trickle and now - up.last_moved >= self.min_outer_dwell_sec:
                self._trickle.append(up)
