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

    __slots__ = ("__weakref__", "_cluster", "_head", "_open", "_since", "started", "upstream")

    def __init__(self, cluster: HuddleCluster, upstream: Upstream, since: float) -> None:
        self._cluster = cluster
        self.upstream = upstream
        self.started = time.perf_counter()
        #: The cluster clock's time at begin(), while the call waits for its response head.
        self._since = since
        # One-shot tokens: list.pop() is atomic, so of two threads finishing the same call
        # (a stream closed while a finalizer runs, say) exactly one wins each token.
        self._open = [True]
        self._head = [True]

    @property
    def done(self) -> bool:
        """True once the call was completed, failed, cancelled or released."""
        return not self._open

    def _claim(self, token: list[bool]) -> bool:
        if not token:  # the common "already taken" case, without raising
            return False
        try:
            token.pop()
        except IndexError:  # another thread took it between the test and the pop
            return False
        return True

    def _stop_waiting(self) -> float | None:
        """The begin() time when this call was still waiting for its head, else None."""
        return self._since if self._claim(self._head) else None

    def elapsed_ms(self) -> float:
        """Milliseconds since the attempt began."""
        return (time.perf_counter() - self.started) * 1000.0

    def responded(self, status: int, latency_ms: float | None = None) -> None:
        """The response head arrived: record latency and status, keep the call in flight.

        Use this when the body is still to be read; call :meth:`completed` (or
        :meth:`failed` with ``BODY_FAILED``) when it ends.
        """
        if not self._open or not self._claim(self._head):
            return
        ms = self.elapsed_ms() if latency_ms is None else latency_ms
        self._cluster._report(self.upstream, ms, status, None, False, False, self._since)

    def completed(self) -> None:
        """The body was read to its end (or the caller closed it): release the call."""
        if self._claim(self._open):
            self._cluster._release(self.upstream, self.elapsed_ms(), self._stop_waiting())

    def succeeded(self, latency_ms: float | None = None, status: int | None = None) -> None:
        """Shorthand for a whole call that worked: :meth:`responded` then :meth:`completed`,
        in one step of the engine."""
        if not self._claim(self._open):
            return
        since = self._stop_waiting()
        if since is None:  # the head was reported already
            self._cluster._release(self.upstream, self.elapsed_ms(), None)
            return
        ms = self.elapsed_ms() if latency_ms is None else latency_ms
        self._cluster._report(self.upstream, ms, status, None, False, True, since)

    def failed(self, failure: FailureKind, latency_ms: float | None = None) -> None:
        """The call failed in the way ``failure`` says; release it."""
        if not self._claim(self._open):
            return
        ms = self.elapsed_ms() if latency_ms is None else latency_ms
        self._cluster._report(self.upstream, ms, None, failure, False, True, self._stop_waiting())

    def release_later(self) -> None:
        """Release the call without evidence, safely from a finalizer or ``__del__``.

        Unlike :meth:`cancel` it never waits for the cluster's lock (the garbage collector
        may run finalizers on a thread that holds it): when the lock is busy, the in-flight
        count is settled by the next :meth:`HuddleCluster.begin` or rotation tick.
        """
        if self._claim(self._open):
            self._cluster._release_later(self.upstream, self._stop_waiting())

    def cancel(self) -> None:
        """Release the call without evidence (the caller gave up before any outcome)."""
        self.completed()
