"""One upstream server and the evidence the engine holds about it.

The evidence is a window of the last ``window`` outcomes kept with running sums, so adding
a sample, reading the average latency and reading the error rate are all O(1): the
reference design recomputed a mean, a median and a sorted P95 on every call.
"""

from __future__ import annotations

import enum
import math
from array import array

from ._temperature import CONN_SCALE, W_ANOMALY, W_CONN, W_CPU, W_ERR, W_MEM

#: Shared "never" timestamp: one float object for every upstream.
NEVER = -math.inf


class Position(enum.Enum):
    """Which ring an upstream is in."""

    INNER = "inner"  # active: takes requests
    OUTER = "outer"  # resting: takes none, apart from recovery probes or trickle


class Upstream:
    """An upstream server: where to send requests, and what is known about it.

    Integrations read ``scheme``, ``host``, ``port`` and ``base_path`` to build the URL of a
    call; everything else is the engine's bookkeeping and is read-only for users, except
    ``cpu_usage``, ``memory_usage`` and ``active_connections``, which a ``metrics_updater``
    may set.

    Example::

        up = Upstream("api-1", "127.0.0.1", 9001)
        up.url  # 'http://127.0.0.1:9001'
    """

    __slots__ = (
        "__weakref__",
        "_errbits",
        "_idx",
        "_lat",
        "active_connections",
        "anomaly",
        "base_path",
        "cold_until",
        "cpu_usage",
        "duration_ms",
        "err_n",
        "evict_at",
        "failures",
        "healthy",
        "host",
        "id",
        "in_flight",
        "inner_since",
        "inner_time",
        "last_evidence",
        "last_moved",
        "lat_n",
        "lat_sum",
        "memory_usage",
        "n",
        "port",
        "position",
        "probe_due",
        "probe_started",
        "requests",
        "rotation_count",
        "scheme",
        "temperature",
        "waiting",
        "waiting_since",
        "weight",
    )

    def __init__(
        self,
        id: str,
        host: str,
        port: int,
        weight: float = 1.0,
        *,
        scheme: str = "http",
        base_path: str = "",
        window: int = 10,
    ) -> None:
        self.id = id
        self.host = host
        self.port = port
        self.weight = weight
        #: Temperature at which it is evicted: min(1, heat_threshold x weight), set by the
        #: cluster whenever the threshold may have changed.
        self.evict_at = 1.0
        self.scheme = scheme
        self.base_path = base_path
        self.position = Position.OUTER
        self.temperature = 0.0
        self.anomaly = 0.0
        self.healthy = True
        self.in_flight = 0
        #: Calls begun and still waiting for their response head, and the sum of their
        #: begin times (so their mean age is O(1): now - waiting_since / waiting).
        self.waiting = 0
        self.waiting_since = 0.0
        #: Set by a metrics_updater; None means "use the calls in flight".
        self.active_connections: int | None = None
        self.cpu_usage = 0.0
        self.memory_usage = 0.0
        #: Monotonic time of the last move between rings; placement is not a move.
        self.last_moved = NEVER
        self.last_evidence = NEVER
        self.cold_until = NEVER
        self.inner_since = 0.0
        self.inner_time = 0.0
        self.rotation_count = 0
        self.probe_due = False
        #: When its current probe was handed out (NEVER when none is running).
        self.probe_started = NEVER
        self.requests = 0
        self.failures = 0
        #: Duration of the last finished call, body included (time to headers is the
        #: latency sample).
        self.duration_ms = 0.0
        # The window: float32 latencies (-1 = this outcome had none) and one error bit per
        # slot, oldest overwritten first. float32 keeps 20 upstreams in a few KB.
        self._lat = array("f", [-1.0]) * window
        self._errbits = 0
        self._idx = 0
        self.n = 0
        self.lat_n = 0
        self.lat_sum = 0.0
        self.err_n = 0

    @property
    def url(self) -> str:
        """The upstream's origin and base path, e.g. ``http://10.0.0.1:8080/api``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.base_path}"

    @property
    def window(self) -> int:
        """How many recent outcomes the evidence window holds."""
        return len(self._lat)

    @property
    def avg_latency_ms(self) -> float:
        """Mean latency of the successful calls in the window (0.0 without any)."""
        return self.lat_sum / self.lat_n if self.lat_n else 0.0

    @property
    def error_rate(self) -> float:
        """Share of failed calls in the window, in [0, 1]."""
        return self.err_n / self.n if self.n else 0.0

    @property
    def connections(self) -> int:
        """Active connections: the metrics updater's figure, or the calls in flight."""
        ac = self.active_connections
        return self.in_flight if ac is None else ac

    def observe(
        self,
        latency_ms: float,
        is_error: bool,
        baseline_ms: float,
        alpha: float,
        gain: float,
        sample: bool = True,
    ) -> float:
        """Push one outcome into the window, fold the evidence into the temperature.

        ``latency_ms < 0`` means the outcome carries no latency; ``sample=False`` only
        refreshes the temperature (the tick does that for idle upstreams). One EMA step:
        raw = 0.70 anomaly + 0.10 cpu + 0.10 conn + 0.05 mem + 0.05 err, and at least
        ``gain`` x err; anomaly = clamp((avg / baseline - 1) / 2, 0, 1). One method, so the
        request path makes a single call. Returns the new temperature.
        """
        if sample:
            i = self._idx
            lat = self._lat
            old = lat[i]
            if old >= 0.0:
                self.lat_sum -= old
                self.lat_n -= 1
            bit = 1 << i
            if self.n == len(lat):
                if self._errbits & bit:
                    self.err_n -= 1
            else:
                self.n += 1
            if latency_ms >= 0.0:
                lat[i] = latency_ms
                self.lat_sum += lat[i]  # the stored float32 value, so the sum stays exact
                self.lat_n += 1
            else:
                lat[i] = -1.0
            if is_error:
                self._errbits |= bit
                self.err_n += 1
            elif self._errbits & bit:
                self._errbits &= ~bit
            i += 1
            self._idx = 0 if i == len(lat) else i
        lat_n = self.lat_n
        score = 0.0
        if lat_n and baseline_ms > 0.0:
            score = (self.lat_sum / lat_n / baseline_ms - 1.0) / 2.0
            score = 0.0 if score < 0.0 else (1.0 if score > 1.0 else score)
        self.anomaly = score
        n = self.n
        err = self.err_n / n if n else 0.0
        ac = self.active_connections
        conn = (self.in_flight if ac is None else ac) / CONN_SCALE
        raw = (
            W_ANOMALY * score
            + W_CPU * self.cpu_usage
            + W_CONN * (1.0 if conn > 1.0 else conn)
            + W_MEM * self.memory_usage
            + W_ERR * err
        )
        floor = gain * err
        if floor > raw:
            raw = floor
        raw = 0.0 if raw < 0.0 else (1.0 if raw > 1.0 else raw)
        t = alpha * raw + (1.0 - alpha) * self.temperature
        self.temperature = t
        return t

    def latencies(self) -> list[float]:
        """The latencies in the window (unordered); for ticks and reports, not hot paths."""
        return [x for x in self._lat if x >= 0.0]

    def resum(self) -> None:
        """Recompute the running sum exactly, shedding float drift (called on the tick)."""
        values = self.latencies()
        self.lat_sum = math.fsum(values)
        self.lat_n = len(values)

    def clear_evidence(self) -> None:
        """Forget every sample: the evidence has gone stale."""
        for i in range(len(self._lat)):
            self._lat[i] = -1.0
        self._errbits = 0
        self._idx = self.n = self.lat_n = self.err_n = 0
        self.lat_sum = 0.0
        self.anomaly = 0.0

    def __repr__(self) -> str:
        return (
            f"Upstream(id={self.id!r}, url={self.url!r}, ring={self.position.value}, "
            f"temp={self.temperature:.3f})"
        )


#: The reference package calls an upstream a server; both names work.
Server = Upstream
