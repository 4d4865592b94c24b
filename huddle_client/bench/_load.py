"""A closed-loop load generator: K callers, each sending its next request when one ends.

Each caller is a thread with its own ``httpx.Client`` over a transport from the row's
factory (the balancer state is shared through it). The run is bounded twice, by a duration
and by a request count, and every request has a timeout, so a crashed or hung server
costs a visible failure but never a hang. Each request leaves a :class:`Sample`.
:func:`call_loop` is one caller's loop; ``huddle demo`` runs it too (this module needs
only httpx).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Sample:
    """One client request: start (seconds since the run began), latency, outcome, server.

    ``server`` is the fleet server that answered (from its JSON body), or None when the
    request failed without an answer.
    """

    t: float
    latency_ms: float
    ok: bool
    server: str | None


@dataclass
class LoadResult:
    """Every sample of a run, and the run's clock origin on ``time.perf_counter()``."""

    samples: list[Sample]
    t0: float
    duration_s: float


def server_of(response: httpx.Response) -> str | None:
    """The fleet server named in a response's JSON body (None when there is none)."""
    try:
        value = json.loads(response.content).get("server")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def call_loop(
    client: httpx.Client,
    path: str,
    *,
    t0: float,
    deadline: float,
    max_requests: int,
    record: Callable[[Sample], None],
    stop: threading.Event | None = None,
) -> None:
    """One closed-loop caller: ``GET path`` again and again, each call one :class:`Sample`.

    Stops at ``deadline`` (on ``time.perf_counter()``, like ``t0``, the run's origin), after
    ``max_requests`` calls, or when ``stop`` is set. An HTTP error is a failed sample, a
    status of 500 or more too; anything else propagates to the caller's thread.
    """
    for _ in range(max_requests):
        start = time.perf_counter()
        if start >= deadline or (stop is not None and stop.is_set()):
            return
        try:
            response = client.get(path)
            ok = response.status_code < 500
            server = server_of(response)
        except httpx.HTTPError:
            ok, server = False, None
        end = time.perf_counter()
        record(Sample(start - t0, (end - start) * 1000.0, ok, server))


def run_load(
    new_transport: Callable[[], httpx.BaseTransport] | None,
    base_url: str,
    *,
    callers: int = 12,
    duration_s: float = 20.0,
    max_requests: int = 200_000,
    timeout_s: float = 2.0,
    path: str = "/work",
    on_start: Callable[[float], None] | None = None,
) -> LoadResult:
    """Run ``callers`` closed-loop callers for ``duration_s`` (or ``max_requests`` in all).

    ``new_transport`` builds each caller's transport (None: httpx's default, for a proxy
    at ``base_url``). ``on_start`` gets the run's origin once every caller is ready.
    """
    if callers < 1:
        raise ValueError(f"callers must be in [1, inf), got {callers!r}")
    if not duration_s > 0.0:
        raise ValueError(f"duration_s must be in (0, inf), got {duration_s!r}")
    if max_requests < 1:
        raise ValueError(f"max_requests must be in [1, inf), got {max_requests!r}")
    per_caller = max(1, max_requests // callers)
    ready = threading.Barrier(callers + 1)
    go = threading.Event()
    origin: list[float] = []
    results: list[list[Sample]] = [[] for _ in range(callers)]
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 1.0))

    def caller(k: int) -> None:
        try:
            transport = new_transport() if new_transport is not None else None
        except BaseException:
            ready.abort()  # the run cannot start: release everyone waiting
            raise
        with httpx.Client(transport=transport, base_url=base_url, timeout=timeout) as client:
            ready.wait(60.0)
            go.wait(60.0)
            t0 = origin[0]
            call_loop(
                client,
                path,
                t0=t0,
                deadline=t0 + duration_s,
                max_requests=per_caller,
                record=results[k].append,
            )

    threads = [
        threading.Thread(target=caller, args=(k,), name=f"bench-caller-{k}", daemon=True)
        for k in range(callers)
    ]
    for thread in threads:
        thread.start()
    ready.wait(60.0)  # every caller has its client: building them is not part of the run
    origin.append(time.perf_counter())
    if on_start is not None:
        on_start(origin[0])
    go.set()
    for thread in threads:
        thread.join(duration_s + 4 * timeout_s + 5.0)
    samples = sorted((s for r in results for s in r), key=lambda s: s.t)
    return LoadResult(samples, origin[0], duration_s)
