"""One upstream server and the evidence the engine holds about it.

The evidence is a window of the last ``window`` outcomes kept with running sums, so adding
a sample, reading the average latency and reading the error rate are all O(1): the
reference design recomputed a mean, a median and a sorted P95 on every call.
"""

from __future__ import annotations

import enum
import math
from array import array


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
        "_errs",
        "_idx",
        "_lat",
        "_window",
        "active_connections",
        "anomaly",
        "base_path",
        "cold_until",
        "consecutive_ejections",
        "cpu_usage",
        "duration_ms",
        "err_n",
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
        "requests",
        "failures",
        "rotation_count",
        "scheme",
        "temperature",
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
        self.scheme = scheme
        self.base_path = base_path
        self.position = Position.OUTER
        self.temperature = 0.0
        self.anomaly = 0.0
        self.healthy = True
        self.in_flight = 0
        #: Set by a metrics_updater; None means "use the calls in flight".
        self.active_connections: int | None = None
        self.cpu_usage = 0.0
        self.memory_usage = 0.0
        #: Monotonic time of the last move between rings; placement is not a move.
        self.last_moved = -math.inf
        self.last_evidence = -math.inf
        self.cold_until = -math.inf
        self.inner_since = 0.0
        self.inner_time = 0.0
        self.rotation_count = 0
        self.consecutive_ejections = 0
        self.probe_due = False
        self.requests = 0
        self.failures = 0
        self.duration_ms = 0.0
        self._window = window
        self._lat = array("d", [-1.0]) * window
        self._errs = bytearray(window)
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

    def add_sample(self, latency_ms: float, is_error: bool) -> None:
        """Push one outcome into the window; ``latency_ms < 0`` means "no latency"."""
        i = self._idx
        lat = self._lat
        old = lat[i]
        if old >= 0.0:
            self.lat_sum -= old
            self.lat_n -= 1
        if self.n == self._window:
            self.err_n -= self._errs[i]
        else:
            self.n += 1
        lat[i] = latency_ms
        if latency_ms >= 0.0:
            self.lat_sum += latency_ms
            self.lat_n += 1
        self._errs[i] = is_error
        self.err_n += is_error
        i += 1
        self._idx = 0 if i == self._window else i

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
        for i in range(self._window):
            self._lat[i] = -1.0
            self._errs[i] = 0
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
