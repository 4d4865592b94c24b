"""One call to one upstream, from pick to outcome.

An :class:`Attempt` is what integrations hold while a request is in flight: it counts the
call in the upstream's ``in_flight`` from :meth:`HuddleCluster.begin` until it is finished,
and it reports the outcome exactly once, so in-flight counts stay exact however the call
ends (a second report, or a report after :meth:`cancel`, is ignored).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ._outcome import FailureKind
from ._upstream import Upstream

if TYPE_CHECKING:
    from ._cluster import HuddleCluster


class Attempt:
    """A call in flight to ``upstream``.

    Example::

        attempt = cluster.begin()
        try:
            response = send(attempt.upstream.url + "/users/1")
        except ConnectionRefusedError:
            attempt.failed(FailureKind.CONNECT_REFUSED)
            raise
        attempt.succeeded(status=response.status)
    """

    __slots__ = ("__weakref__", "_cluster", "_responded", "done", "started", "upstream")

    def __init__(self, cluster: HuddleCluster, upstream: Upstream) -> None:
        self._cluster = cluster
        self.upstream = upstream
        self.started = time.perf_counter()
        self.done = False
        self._responded = False

    def elapsed_ms(self) -> float:
        """Milliseconds since the attempt began."""
        return (time.perf_counter() - self.started) * 1000.0

    def responded(self, status: int, latency_ms: float | None = None) -> None:
        """The response head arrived: record latency and status, keep the call in flight.

        Use this when the body is still to be read; call :meth:`completed` (or
        :meth:`failed` with ``BODY_FAILED``) when it ends.
        """
        if self.done or self._responded:
            return
        self._responded = True
        ms = self.elapsed_ms() if latency_ms is None else latency_ms
        self._cluster.report(self.upstream, ms, status=status)

    def completed(self) -> None:
        """The body was read to its end (or the caller closed it): release the call."""
        if self.done:
            return
        self.done = True
        self._cluster._release(self.upstream, self.elapsed_ms())

    def succeeded(self, latency_ms: float | None = None, status: int | None = None) -> None:
        """Shorthand for a whole call that worked: :meth:`responded` then :meth:`completed`,
        in one step of the engine."""
        if self.done:
            return
        self.done = True
        if self._responded:
            self._cluster._release(self.upstream, self.elapsed_ms())
            return
        self._responded = True
        ms = self.elapsed_ms() if latency_ms is None else latency_ms
        self._cluster._report(self.upstream, ms, status, None, False, True)

    def failed(self, failure: FailureKind, latency_ms: float | None = None) -> None:
        """The call failed in the way ``failure`` says; release it."""
        if self.done:
            return
        self.done = True
        ms = self.elapsed_ms() if latency_ms is None else latency_ms
        self._cluster._report(self.upstream, ms, None, failure, False, True)

    def release_later(self) -> None:
        """Release the call without evidence, safely from a finalizer or ``__del__``.

        Unlike :meth:`cancel` it never waits for the cluster's lock (the garbage collector
        may run finalizers on a thread that holds it): when the lock is busy, the in-flight
        count is settled by the next :meth:`HuddleCluster.begin` or rotation tick.
        """
        if self.done:
            return
        self.done = True
        self._cluster._release_later(self.upstream)

    def cancel(self) -> None:
        """Release the call without evidence (the caller gave up before any outcome)."""
        self.completed()
