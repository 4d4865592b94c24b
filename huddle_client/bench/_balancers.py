"""The baselines every table compares against, behind one httpx transport.

A :class:`Picker` only decides: ``pick()`` names a target and counts it in flight,
``done()`` reports how the call went. :class:`PickerTransport` turns any picker into an httpx
transport, so every row of a table goes through the same client path (same connection
pool, same timeouts) and only the decision differs:

- :class:`RoundRobin`: the textbook rotation, blind to latency and failures;
- :class:`LeastConnections`: fewest calls in flight, ties rotated;
- :class:`PeakEwmaP2C`: power of two choices over a peak-sensitive EWMA of latency times
  load, as Finagle's and Linkerd's balancers do;
- :class:`Oracle`: round robin over the servers the fault schedule says are healthy, the
  best any balancer could do without fail-over;
- :class:`ReferencePicker`: the reference package ``huddle-cluster==1.3.2``, called as its
  README shows (``get_server_context()`` around the request).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class Target:
    """One upstream as the baselines see it: a name (the fleet server's) and an address."""

    name: str
    host: str
    port: int


@dataclass
class Ticket:
    """One call in flight: which target, and the picker's private handle for it."""

    target: Target
    index: int
    started: float
    handle: Any = None


class Picker(Protocol):
    """What a baseline balancer does: choose, then learn."""

    name: str

    def pick(self) -> Ticket: ...

    def done(self, ticket: Ticket, latency_ms: float, ok: bool) -> None: ...

    def close(self) -> None: ...


class RoundRobin:
    """Each target in turn, whatever happens to it."""

    name = "round robin"

    def __init__(self, targets: Sequence[Target]) -> None:
        if not targets:
            raise ValueError("targets must name at least one upstream, got none")
        self.targets = list(targets)
        self._lock = threading.Lock()
        self._i = 0

    def pick(self) -> Ticket:
        with self._lock:
            i = self._i % len(self.targets)
            self._i += 1
        return Ticket(self.targets[i], i, time.perf_counter())

    def done(self, ticket: Ticket, latency_ms: float, ok: bool) -> None:
        return None

    def close(self) -> None:
        return None


class LeastConnections:
    """The target with the fewest calls in flight; ties go round robin."""

    name = "least connections"

    def __init__(self, targets: Sequence[Target]) -> None:
        if not targets:
            raise ValueError("targets must name at least one upstream, got none")
        self.targets = list(targets)
        self.in_flight = [0] * len(self.targets)
        self._lock = threading.Lock()
        self._start = 0

    def pick(self) -> Ticket:
        n = len(self.targets)
        with self._lock:
            start = self._start
            self._start = (start + 1) % n
            best = start
            for k in range(1, n):
                i = (start + k) % n
                if self.in_flight[i] < self.in_flight[best]:
                    best = i
            self.in_flight[best] += 1
        return Ticket(self.targets[best], best, time.perf_counter())

    def done(self, ticket: Ticket, latency_ms: float, ok: bool) -> None:
        with self._lock:
            self.in_flight[ticket.index] -= 1

    def close(self) -> None:
        return None


class PeakEwmaP2C:
    """Power of two choices over ``peak EWMA latency x (in flight + 1)``.

    The EWMA jumps straight up to a slower sample (the "peak") and decays towards faster
    ones with time constant ``decay_sec``, so a server that turns slow is avoided at once
    and one that recovers regains traffic gradually. A transport failure counts as a sample
    of ``failure_penalty_ms``: a refused connection is instant, and without a penalty the
    balancer would prefer the dead server. ``clock`` is injectable for simulations.
    """

    name = "P2C peak-EWMA"

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        decay_sec: float = 10.0,
        failure_penalty_ms: float = 2000.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(targets) < 1:
            raise ValueError("targets must name at least one upstream, got none")
        if not decay_sec > 0.0:
            raise ValueError(f"decay_sec must be in (0, inf), got {decay_sec!r}")
        self.targets = list(targets)
        self.decay_sec = decay_sec
        self.failure_penalty_ms = failure_penalty_ms
        self.ewma = [0.0] * len(self.targets)
        self.stamp = [clock()] * len(self.targets)
        self.in_flight = [0] * len(self.targets)
        self._rng = random.Random(seed)
        self._clock = clock
        self._lock = threading.Lock()

    def cost(self, i: int) -> float:
        """The load estimate the choice compares (caller holds the lock or is single-threaded)."""
        return self.ewma[i] * (self.in_flight[i] + 1)

    def pick(self) -> Ticket:
        n = len(self.targets)
        with self._lock:
            if n == 1:
                best = 0
            else:
                a, b = self._rng.sample(range(n), 2)
                best = a if self.cost(a) <= self.cost(b) else b
            self.in_flight[best] += 1
        return Ticket(self.targets[best], best, time.perf_counter())

    def done(self, ticket: Ticket, latency_ms: float, ok: bool) -> None:
        i = ticket.index
        rtt = latency_ms if ok else max(latency_ms, self.failure_penalty_ms)
        now = self._clock()
        with self._lock:
            self.in_flight[i] -= 1
            old = self.ewma[i]
            if rtt > old:
                self.ewma[i] = rtt
            else:
                w = math.exp(-max(now - self.stamp[i], 0.0) / self.decay_sec)
                self.ewma[i] = old * w + rtt * (1.0 - w)
            self.stamp[i] = now

    def close(self) -> None:
        return None


class Oracle:
    """Round robin over the targets that ``healthy(index)`` says are healthy right now.

    It knows the fault schedule (the scenario hands it the predicate), so it never sends a
    request to a faulty server: the floor a latency-aware balancer should approach.
    """

    name = "oracle (healthy only)"

    def __init__(self, targets: Sequence[Target], healthy: Callable[[int], bool]) -> None:
        if not targets:
            raise ValueError("targets must name at least one upstream, got none")
        self.targets = list(targets)
        self.healthy = healthy
        self._lock = threading.Lock()
        self._i = 0

    def pick(self) -> Ticket:
        n = len(self.targets)
        with self._lock:
            start = self._i
            self._i += 1
        for k in range(n):
            i = (start + k) % n
            if self.healthy(i):
                return Ticket(self.targets[i], i, time.perf_counter())
        i = start % n
        return Ticket(self.targets[i], i, time.perf_counter())

    def done(self, ticket: Ticket, latency_ms: float, ok: bool) -> None:
        return None

    def close(self) -> None:
        return None


class ReferenceFailure(Exception):
    """Raised into the reference's context manager when a call failed, as user code would."""


class ReferencePicker:
    """The reference package, used the way its README shows.

    ``pick`` enters ``cluster.get_server_context()`` and ``done`` leaves it, raising
    :class:`ReferenceFailure` into it for a failed call (its README's user code would see
    the httpx exception there); an HTTP 500 is not an exception for that code, so it is not
    one here either. ``on_rotation`` receives the reference's rotation events.
    """

    name = "huddle-cluster 1.3.2"

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        on_rotation: Callable[[Any], None] | None = None,
        start: bool = True,
        **options: Any,
    ) -> None:
        from ._reference import import_reference

        ref = import_reference()
        self.targets = list(targets)
        self._index = {t.name: i for i, t in enumerate(self.targets)}
        self.cluster = ref.create_cluster(
            [(t.name, t.host, t.port) for t in self.targets], on_rotation=on_rotation, **options
        )
        if start:
            self.cluster.start()

    def pick(self) -> Ticket:
        context = self.cluster.get_server_context()
        server = context.__enter__()
        if server is None:
            context.__exit__(None, None, None)
            raise RuntimeError("the reference cluster returned no server")
        i = self._index[server.id]
        return Ticket(self.targets[i], i, time.perf_counter(), context)

    def done(self, ticket: Ticket, latency_ms: float, ok: bool) -> None:
        context = ticket.handle
        if ok:
            context.__exit__(None, None, None)
            return
        error = ReferenceFailure(ticket.target.name)
        with contextlib.suppress(ReferenceFailure):
            context.__exit__(ReferenceFailure, error, None)

    def close(self) -> None:
        self.cluster.stop(timeout=2.0)


class PickerTransport(httpx.BaseTransport):
    """An httpx transport that sends each request where ``picker`` says.

    The request's URL keeps its path and query; scheme, host and port come from the pick.
    The body is read before the outcome is reported, so latency is the whole call. A status
    of 500 or more counts as not ok (the pickers that learn, learn from it), except for the
    reference, which learns only from exceptions as its README's user code would.

    Example::

        picker = RoundRobin([Target("a", "127.0.0.1", 9001), Target("b", "127.0.0.1", 9002)])
        client = httpx.Client(transport=PickerTransport(picker), base_url="http://pool")
        client.get("/users/1")
    """

    def __init__(self, picker: Picker, inner: httpx.BaseTransport | None = None) -> None:
        self.picker = picker
        self._inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        ticket = self.picker.pick()
        t = ticket.target
        request.url = request.url.copy_with(scheme="http", host=t.host, port=t.port)
        try:
            response = self._inner.handle_request(request)
            response.read()
        except BaseException:
            self.picker.done(ticket, (time.perf_counter() - ticket.started) * 1000.0, False)
            raise
        elapsed = (time.perf_counter() - ticket.started) * 1000.0
        ok = response.status_code < 500 or isinstance(self.picker, ReferencePicker)
        self.picker.done(ticket, elapsed, ok)
        return response  # read already: the client reuses the body, it does not read again

    def close(self) -> None:
        self._inner.close()
