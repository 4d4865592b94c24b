"""The thermal-rotation cluster: two rings of upstreams and the rules that move them.

Sans-IO: nothing here opens a socket or awaits. Integrations ask "which upstream?"
(:meth:`HuddleCluster.get_server` / :meth:`HuddleCluster.begin`) and report what happened
(:meth:`HuddleCluster.report`); a rotation tick, run by a background thread, by the request
path when no thread runs, or by the caller, ages evidence and moves servers between rings.

The request path is O(1): picking is a round robin over the inner ring, and a report updates
running sums and one EMA against a median baseline that only the tick recomputes. One plain
lock guards the state; it is never held across a callback, an await or I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from . import _validate
from ._adaptive import AdaptiveThresholds
from ._attempt import Attempt
from ._events import Reason, RotationEvent
from ._health import build_report, describe, gini
from ._outcome import FailureKind
from ._parse import UpstreamSpec, parse_upstream, parse_upstreams
from ._probe import Probe, ProbeRunner
from ._rotation import RotationCycle
from ._upstream import NEVER, Position, Upstream
from .errors import NoUpstreamAvailable

log = logging.getLogger("huddle_client")

MetricsUpdater = Callable[[Upstream], None]
RotationHook = Callable[[RotationEvent], None]


class HuddleCluster(RotationCycle):
    """A self-organizing set of upstreams: hot servers rest, cool ones return.

    Every option of the reference design keeps its name and default; the options after
    ``on_rotation`` are ours (see the README for what each does).

    Example::

        cluster = create_cluster(["http://127.0.0.1:9001", "http://127.0.0.1:9002"])
        with cluster:                      # starts the rotation thread
            with cluster.get_server_context() as up:
                call(up.url + "/users/1")  # latency recorded, exceptions count as errors
    """

    # Slots keep a cluster of 20 upstreams within a few KB (the reference: about 37 KB).
    __slots__ = (
        "_abandoned",
        "_adaptive",
        "_baseline",
        "_clock",
        "_cluster_p95",
        "_cycle_cap",
        "_cycle_evictions",
        "_inner",
        "_last_tick",
        "_lock",
        "_log",
        "_metrics_updater",
        "_moves",
        "_next_tick",
        "_now",
        "_on_rotation",
        "_outer",
        "_pending",
        "_prober",
        "_rotate_lock",
        "_rr",
        "_servers",
        "_stop",
        "_thread",
        "_trickle",
        "_warming",
        "absolute_latency_floor_ms",
        "adaptive_thresholds",
        "auto_rotate",
        "cold_start_sec",
        "cool_threshold",
        "ema_alpha",
        "error_gain",
        "evidence_ttl_sec",
        "heat_threshold",
        "latency_window",
        "max_inner_size",
        "min_inner_size",
        "min_outer_dwell_sec",
        "probe",
        "probe_interval_sec",
        "probe_timeout_sec",
        "rotation_cooldown_sec",
        "rotation_interval_sec",
        "stall_factor",
        "stall_floor_ms",
        "trickle",
    )

    def __init__(
        self,
        heat_threshold: float = 0.55,
        cool_threshold: float = 0.30,
        min_inner_size: int = 2,
        max_inner_size: int = 5,
        rotation_cooldown_sec: float = 5.0,
        min_outer_dwell_sec: float = 10.0,
        ema_alpha: float = 0.60,
        absolute_latency_floor_ms: float | None = None,
        cold_start_sec: float = 0.0,
        adaptive_thresholds: bool = False,
        metrics_updater: MetricsUpdater | None = None,
        on_rotation: RotationHook | None = None,
        *,
        rotation_interval_sec: float = 1.0,
        latency_window: int = 10,
        error_gain: float = 2.5,
        evidence_ttl_sec: float = 30.0,
        probe: Probe | None = None,
        probe_interval_sec: float = 1.0,
        probe_timeout_sec: float = 2.0,
        trickle: bool | None = None,
        stall_factor: float | None = 2.0,
        stall_floor_ms: float = 10.0,
        auto_rotate: bool = True,
        max_rotation_log: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        v = _validate
        self.heat_threshold = v.number(
            "heat_threshold", heat_threshold, low=0.0, high=1.0, low_open=True
        )
        self.cool_threshold = v.number("cool_threshold", cool_threshold, low=0.0, high=1.0)
        if self.cool_threshold >= self.heat_threshold:
            raise ValueError(
                f"cool_threshold must be in [0, heat_threshold={self.heat_threshold}), got "
                f"{cool_threshold!r}: the gap between the two prevents flapping"
            )
        self.min_inner_size = v.integer("min_inner_size", min_inner_size, low=1)
        self.max_inner_size = v.integer("max_inner_size", max_inner_size, low=1)
        if self.max_inner_size < self.min_inner_size:
            raise ValueError(
                f"max_inner_size must be in [min_inner_size={self.min_inner_size}, inf), "
                f"got {max_inner_size!r}"
            )
        self.rotation_cooldown_sec = v.number(
            "rotation_cooldown_sec", rotation_cooldown_sec, low=0.0
        )
        self.min_outer_dwell_sec = v.number("min_outer_dwell_sec", min_outer_dwell_sec, low=0.0)
        self.ema_alpha = v.number("ema_alpha", ema_alpha, low=0.0, high=1.0, low_open=True)
        self.absolute_latency_floor_ms = (
            None
            if absolute_latency_floor_ms is None
            else v.number(
                "absolute_latency_floor_ms", absolute_latency_floor_ms, low=0.0, low_open=True
            )
        )
        self.cold_start_sec = v.number("cold_start_sec", cold_start_sec, low=0.0)
        self.rotation_interval_sec = v.number(
            "rotation_interval_sec", rotation_interval_sec, low=0.0, low_open=True
        )
        self.latency_window = v.integer("latency_window", latency_window, low=1, high=10_000)
        self.error_gain = v.number("error_gain", error_gain, low=0.0)
        self.evidence_ttl_sec = v.number(
            "evidence_ttl_sec", evidence_ttl_sec, low=0.0, low_open=True
        )
        self.probe_interval_sec = v.number(
            "probe_interval_sec", probe_interval_sec, low=0.0, low_open=True
        )
        self.probe_timeout_sec = v.number(
            "probe_timeout_sec", probe_timeout_sec, low=0.0, low_open=True
        )
        self.stall_factor = (
            None
            if stall_factor is None
            else v.number("stall_factor", stall_factor, low=1.0, high=1000.0)
        )
        self.stall_floor_ms = v.number("stall_floor_ms", stall_floor_ms, low=0.0)
        max_log = v.integer("max_rotation_log", max_rotation_log, low=1)
        for name, hook in (
            ("metrics_updater", metrics_updater),
            ("on_rotation", on_rotation),
            ("probe", probe),
        ):
            if hook is not None and not callable(hook):
                raise ValueError(f"{name} must be a callable or None, got {hook!r}")
        if not callable(clock):
            raise ValueError(f"clock must be a callable returning seconds, got {clock!r}")

        self.probe = probe
        self.trickle = (probe is None) if trickle is None else bool(trickle)
        self.auto_rotate = bool(auto_rotate)
        self.adaptive_thresholds = bool(adaptive_thresholds)
        self._metrics_updater = metrics_updater
        self._on_rotation = on_rotation
        self._clock = clock
        self._adaptive = (
            AdaptiveThresholds(self.heat_threshold, self.cool_threshold)
            if self.adaptive_thresholds
            else None
        )

        self._lock = threading.Lock()
        self._rotate_lock = threading.Lock()
        self._servers: dict[str, Upstream] = {}
        self._inner: list[Upstream] = []
        self._outer: list[Upstream] = []
        self._trickle: list[Upstream] = []
        self._rr = 0
        self._baseline = 0.0
        self._warming = True
        self._cluster_p95 = 0.0
        self._cycle_evictions = 0
        self._cycle_cap = 1
        now = clock()
        self._last_tick = now
        self._now = now
        self._next_tick = now + self.rotation_interval_sec
        self._log: deque[RotationEvent] = deque(maxlen=max_log)
        self._pending: list[RotationEvent] = []
        self._abandoned: deque[tuple[Upstream, float | None]] = deque()
        self._moves = 0
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._prober: ProbeRunner | None = None

    def add_server(self, server: UpstreamSpec, force_inner: bool = False) -> Upstream:
        """Add an upstream (URL, reference tuple or :class:`Upstream`); return it.

        It joins the inner ring at once when ``force_inner`` is set and there is room;
        otherwise it waits in the outer ring and the next tick promotes it when there is
        room. ``cold_start_sec`` keeps it resting that long either way.
        """
        up = parse_upstream(server, window=self.latency_window)
        now = self._clock()
        with self._lock:
            if up.id in self._servers:
                raise ValueError(f"add_server: an upstream with id {up.id!r} exists already")
            self._join(up, now, inner=force_inner, cold=self.cold_start_sec > 0.0)
        return up

    def _join(self, up: Upstream, now: float, *, inner: bool, cold: bool) -> None:
        """Register ``up``: active when asked and there is room (and no cold start)."""
        self._servers[up.id] = up
        up.evict_at = min(1.0, self.heat_threshold * up.weight)
        if cold:
            up.cold_until = now + self.cold_start_sec
        if inner and not cold and len(self._inner) < self.max_inner_size:
            up.position = Position.INNER
            up.inner_since = now
            self._inner.append(up)
        else:
            up.position = Position.OUTER
            self._outer.append(up)

    def remove_server(self, server_id: str) -> bool:
        """Remove an upstream from the cluster; False when there is no such id."""
        with self._lock:
            up = self._servers.pop(server_id, None)
            if up is None:
                return False
            ring = self._inner if up.position is Position.INNER else self._outer
            ring.remove(up)
            if up in self._trickle:
                self._trickle.remove(up)
            self._refill(self._clock())
        self._flush_events()
        return True

    def force_evict(self, server_id: str) -> bool:
        """Move an inner upstream to the outer ring now (no cap, no cooldown)."""
        with self._lock:
            up = self._servers.get(server_id)
            if up is None or up.position is not Position.INNER:
                return False
            self._eject(up, Reason.MANUAL, self._clock())
        self._flush_events()
        return True

    def set_healthy(self, server: Upstream | str, healthy: bool) -> None:
        """Mark an upstream healthy or not; an unhealthy inner upstream leaves at once."""
        with self._lock:
            up = self._resolve(server)
            up.healthy = healthy
            if not healthy and up.position is Position.INNER:
                self._eject(up, Reason.HEALTH_FAIL, self._clock())
        self._flush_events()

    def _resolve(self, server: Upstream | str) -> Upstream:
        key = server if isinstance(server, str) else server.id
        up = self._servers.get(key)
        if up is None:
            raise KeyError(f"no upstream with id {key!r} in this cluster")
        return up

    def get_server(self, exclude: Collection[Upstream] | None = None) -> Upstream:
        """The next upstream to call: round robin over the inner ring.

        ``exclude`` names upstreams not to return (the ones a retry already tried); when the
        whole inner ring is excluded the coolest healthy resting upstream is used.
        Raises :class:`NoUpstreamAvailable` when nothing is left.
        """
        lock = self._lock
        lock.acquire()
        try:
            if exclude is None and not self._trickle:
                inner = self._inner
                if inner:
                    i = self._rr
                    self._rr = i + 1
                    return inner[i % len(inner)]
            return self._pick(exclude)
        finally:
            lock.release()

    def begin(
        self, exclude: Collection[Upstream] | None = None, *, trickle: bool = True
    ) -> Attempt:
        """Pick an upstream and count a call in flight to it; report through the Attempt.

        Unlike :meth:`get_server` it also passes over an inner upstream whose calls are
        stalled (see ``stall_factor``), since it knows when each call got its answer.
        ``trickle=False`` keeps this call off the recovery trickle to resting upstreams:
        pass it for a request that could not be retried elsewhere (a POST, a streamed body).
        """
        now = self._clock()
        with self._lock:
            if self._abandoned:
                self._drain_abandoned()
            up = self._pick(exclude, trickle)
            if up.waiting and self.stall_factor is not None and up.position is Position.INNER:
                up = self._unstalled(up, exclude, now)
            up.in_flight += 1
            up.waiting += 1
            up.waiting_since += now
        return Attempt(self, up, now)

    def _unstalled(
        self, up: Upstream, exclude: Collection[Upstream] | None, now: float
    ) -> Upstream:
        """``up``, or the next inner upstream when ``up``'s calls are stalled.

        Evidence only arrives with an answer, so a server that just turned slow or hung
        would keep its round-robin share until enough slow answers came back. Its calls
        still waiting for a head are evidence too: when their mean age exceeds
        ``stall_factor`` times the baseline (and ``stall_floor_ms``), the pick moves on to
        the next inner upstream that is not stalled. Healthy calls wait about half the
        baseline on average, so round robin is untouched while nothing is wrong.
        """
        baseline = self._baseline
        if baseline <= 0.0 or self.stall_factor is None:
            return up
        limit = max(self.stall_factor * baseline, self.stall_floor_ms) / 1000.0

        def stalled(u: Upstream) -> bool:
            return u.waiting > 0 and now - u.waiting_since / u.waiting > limit

        if not stalled(up):
            return up
        inner = self._inner
        n = len(inner)
        k = inner.index(up)
        for j in range(1, n):
            other = inner[(k + j) % n]
            if (not exclude or other not in exclude) and not stalled(other):
                return other
        return up

    def _stop_waiting(self, up: Upstream, since: float | None) -> None:
        if since is not None and up.waiting > 0:
            up.waiting -= 1
            up.waiting_since = up.waiting_since - since if up.waiting else 0.0

    def _drain_abandoned(self) -> None:
        abandoned = self._abandoned
        while abandoned:
            up, since = abandoned.popleft()
            if up.in_flight > 0:
                up.in_flight -= 1
            self._stop_waiting(up, since)

    def _pick(self, exclude: Collection[Upstream] | None, trickle: bool = True) -> Upstream:
        if self._trickle and exclude is None and trickle:
            return self._trickle.pop()
        inner = self._inner
        n = len(inner)
        start = self._rr
        self._rr = start + 1
        for k in range(n):
            up = inner[(start + k) % n]
            if not exclude or up not in exclude:
                return up
        # Emergency fallback: the coolest server anywhere, healthy ones first.
        rest = [u for u in self._servers.values() if not exclude or u not in exclude]
        if not rest:
            if not self._servers:
                raise NoUpstreamAvailable("the cluster has no upstreams")
            raise NoUpstreamAvailable("every upstream was excluded")
        return min(rest, key=lambda u: (not u.healthy, u.temperature))

    def report(
        self,
        server: Upstream,
        latency_ms: float | None = None,
        *,
        status: int | None = None,
        failure: FailureKind | None = None,
    ) -> None:
        """Record the outcome of one call to ``server``.

        - ``failure`` set: the call failed that way. A refused or timed-out connection takes
          the server out of the inner ring at once; other failures count as errors.
        - ``status`` of 500 or more: an error. Its latency only counts when it is above the
          server's average, so failing fast never makes a server look fast.
        - otherwise: a success with ``latency_ms``.
        """
        self._report(server, latency_ms, status, failure, False)

    def _release(self, server: Upstream, duration_ms: float, since: float | None) -> None:
        with self._lock:
            if server.in_flight > 0:
                server.in_flight -= 1
            server.duration_ms = duration_ms
            self._stop_waiting(server, since)

    def _release_later(self, server: Upstream, since: float | None) -> None:
        # Never waits for the lock, so it is safe from a finalizer or __del__, which the
        # garbage collector may run on a thread that holds the cluster's lock already. When
        # the lock is busy, a (thread-safe) deque takes the release and the next begin() or
        # tick settles the count.
        lock = self._lock
        if lock.acquire(blocking=False):
            try:
                if server.in_flight > 0:
                    server.in_flight -= 1
                self._stop_waiting(server, since)
            finally:
                lock.release()
        else:
            self._abandoned.append((server, since))

    def record_latency(self, server: Upstream, latency_ms: float) -> None:
        """Record one successful call's latency (the reference's feedback call).

        The hottest call there is, so it is the success-only path of :meth:`report`, cut
        to the bone: while the rotation thread runs it even reads the tick's clock instead
        of the system's (evidence timestamps only need tick precision).
        """
        thread = self._thread
        now = self._now if thread is not None else self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if self._servers.get(server.id) is not server:
                return
            server.requests += 1
            server.last_evidence = now
            server.healthy = True
            temperature = server.observe(
                latency_ms if latency_ms >= 0.0 else -1.0,
                False,
                self._warm_baseline() if self._warming else self._baseline,
                self.ema_alpha,
                self.error_gain,
            )
            if (
                temperature >= server.evict_at or self.absolute_latency_floor_ms is not None
            ) and server.position is Position.INNER:
                self._maybe_evict_hot(server, self._clock())
            due = thread is None and now >= self._next_tick and self.auto_rotate
        finally:
            lock.release()
        if self._pending or due:
            self._after_report(due)

    def _report(
        self,
        up: Upstream,
        latency_ms: float | None,
        status: int | None = None,
        failure: FailureKind | None = None,
        probe: bool = False,
        release: bool = False,
        waited_since: float | None = None,
    ) -> None:
        thread = self._thread
        now = self._now if thread is not None else self._clock()
        lat = -1.0 if latency_ms is None or latency_ms < 0.0 else latency_ms
        with self._lock:
            self._stop_waiting(up, waited_since)
            if release and up.in_flight > 0:  # the whole call ended with this outcome
                up.in_flight -= 1
                if latency_ms is not None:
                    up.duration_ms = latency_ms
            if self._servers.get(up.id) is not up:
                return
            up.requests += 1
            up.last_evidence = now
            if failure is not None:
                is_error = True
                up.failures += 1
                if not failure.measures_latency:
                    lat = -1.0
            elif status is not None and status >= 500:
                is_error = True
                up.failures += 1
                if lat <= up.avg_latency_ms:
                    lat = -1.0
            else:
                is_error = False
                up.healthy = True
            baseline = self._warm_baseline() if self._warming else self._baseline
            temperature = up.observe(lat, is_error, baseline, self.ema_alpha, self.error_gain)
            if failure is not None and failure.proves_down:
                up.healthy = False
                if up.position is Position.INNER:
                    self._eject(up, Reason.CONNECT_FAILED, self._clock())
            elif probe and is_error:
                up.healthy = False
                if up.position is Position.INNER:  # promoted while its probe was running
                    self._eject(up, Reason.HEALTH_FAIL, self._clock())
            elif up.position is Position.INNER and (
                temperature >= up.evict_at or self.absolute_latency_floor_ms is not None
            ):
                self._maybe_evict_hot(up, self._clock())
            due = thread is None and now >= self._next_tick and self.auto_rotate
        if self._pending or due:
            self._after_report(due)

    def _after_report(self, due: bool) -> None:
        if self._pending:
            self._flush_events()
        if due:
            self.rotate()

    def rotate(self) -> bool:
        """Run one rotation cycle now; True when any upstream moved.

        Ages stale evidence, refreshes the median baseline, then evicts hot inner servers
        (at most max(1, |inner| // 3) per cycle, never below min_inner_size, not within
        rotation_cooldown_sec of their last move), evicts unhealthy ones, promotes cooled
        resting ones, and schedules recovery probes or trickle requests.
        """
        if not self._rotate_lock.acquire(blocking=False):
            return False
        try:
            if self._metrics_updater is not None:
                self._run_metrics_updater()
            with self._lock:
                if self._abandoned:
                    self._drain_abandoned()
                moved = self._tick(self._clock())
            self._flush_events()
            return moved
        finally:
            self._rotate_lock.release()

    def take_due_probes(self) -> list[Upstream]:
        """Resting upstreams due for a recovery probe, each handed out once until its result
        is recorded (or its probe overran the timeout twice over)."""
        now = self._clock()
        with self._lock:
            due = [u for u in self._outer if u.probe_due]
            for u in due:
                u.probe_due = False
                u.probe_started = now
        return due

    def record_probe(self, server: Upstream, ok: bool, latency_ms: float | None = None) -> None:
        """Record a recovery probe: a pass is a fresh success, a failure marks it unhealthy."""
        server.probe_started = NEVER
        if ok:
            self._report(server, latency_ms, None, None, True)
        else:
            self._report(server, latency_ms, None, FailureKind.OTHER, True)

    def start(self, rotation_interval_sec: float | None = None) -> None:
        """Start the background rotation thread (and the probe runner, if a probe is set)."""
        if rotation_interval_sec is not None:
            self.rotation_interval_sec = _validate.number(
                "rotation_interval_sec", rotation_interval_sec, low=0.0, low_open=True
            )
        if self._thread is not None:
            return
        self._stop = stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(stop,), name="huddle-rotation", daemon=True
        )
        self._thread.start()
        if self.probe is not None:
            self._prober = ProbeRunner(self, self.probe, self.probe_timeout_sec)
            self._prober.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background threads and wait for them (up to ``timeout`` seconds)."""
        if self._stop is not None:
            self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        prober, self._prober = self._prober, None
        if prober is not None:
            prober.stop(timeout)

    @property
    def running(self) -> bool:
        """True while the background rotation thread runs."""
        return self._thread is not None

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.rotation_interval_sec):
            try:
                self.rotate()
            except Exception:
                log.exception("rotation cycle failed")

    def __enter__(self) -> HuddleCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> HuddleCluster:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # stop() joins threads: wait for them off the event loop.
        await asyncio.to_thread(self.stop)

    @contextlib.contextmanager
    def get_server_context(self) -> Iterator[Upstream]:
        """Pick an upstream, time the block, record the outcome; an exception is an error."""
        attempt = self.begin()
        try:
            yield attempt.upstream
        except BaseException:
            attempt.failed(FailureKind.OTHER)
            raise
        attempt.succeeded()

    def all_servers(self) -> list[Upstream]:
        """Every upstream, inner ring first."""
        with self._lock:
            return self._inner + self._outer

    def inner_servers(self) -> list[Upstream]:
        """The active upstreams, in round-robin order."""
        with self._lock:
            return list(self._inner)

    def outer_servers(self) -> list[Upstream]:
        """The resting upstreams, coolest first."""
        with self._lock:
            return sorted(self._outer, key=lambda u: u.temperature)

    def server(self, server_id: str) -> Upstream:
        """The upstream with this id (KeyError when there is none)."""
        with self._lock:
            return self._resolve(server_id)

    def __len__(self) -> int:
        """The number of upstreams in both rings."""
        return len(self._servers)

    @property
    def rotation_log(self) -> list[RotationEvent]:
        """The most recent rotation events, oldest first (bounded by max_rotation_log)."""
        with self._lock:
            return list(self._log)

    @property
    def baseline_ms(self) -> float:
        """The median of the inner ring's average latencies, as of the last tick."""
        return self._baseline

    @property
    def cluster_p95_ms(self) -> float:
        """The P95 over the inner ring's latency windows, as of the last tick."""
        return self._cluster_p95

    def fairness_score(self) -> float:
        """Gini coefficient of the inner ring's duty time: 0 is perfectly even."""
        now = self._clock()
        with self._lock:
            duty = [u.inner_time + (now - u.inner_since) for u in self._inner]
        return gini(duty)

    def health_report(self) -> dict[str, Any]:
        """A JSON-ready snapshot of both rings, the thresholds and recent rotations."""
        now = self._clock()
        with self._lock:
            inner = [describe(u, now) for u in self._inner]
            outer = [describe(u, now) for u in sorted(self._outer, key=_temp)]
            recent = list(self._log)[-10:]
        return build_report(
            inner,
            outer,
            recent,
            degraded=len(inner) < self.min_inner_size,
            thresholds=(self.heat_threshold, self.cool_threshold),
            baseline_ms=self._baseline,
            cluster_p95_ms=self._cluster_p95,
            fairness=self.fairness_score(),
        )

    def prometheus_metrics(self) -> str:
        """The cluster's metrics in Prometheus text format (needs prometheus-client)."""
        from .metrics import render_metrics

        return render_metrics(self)

    def __repr__(self) -> str:
        inner, outer = getattr(self, "_inner", ()), getattr(self, "_outer", ())
        running = getattr(self, "_thread", None) is not None  # safe on a half-built cluster
        return f"HuddleCluster(inner={len(inner)}, outer={len(outer)}, running={running})"


def _temp(up: Upstream) -> float:
    return up.temperature


def create_cluster(upstreams: Iterable[UpstreamSpec], **options: Any) -> HuddleCluster:
    """Build a cluster from URLs or reference tuples; the first max_inner_size are active.

    Example::

        cluster = create_cluster(
            ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080/api"],
            heat_threshold=0.6,
        )
    """
    cluster = HuddleCluster(**options)
    parsed = parse_upstreams(upstreams, window=cluster.latency_window)
    now = cluster._clock()
    with cluster._lock:
        for up in parsed:
            cluster._join(up, now, inner=True, cold=False)
        cluster._cycle_cap = max(1, len(cluster._inner) // 3)
    return cluster
