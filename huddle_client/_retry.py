"""Fail-over decisions, shared by every integration (sans-IO).

Whether a failed call may be sent again to another upstream depends on what the failure
proves was sent, on the method and on whether the body can be replayed; how often the whole
client may retry is capped by a budget so that a full outage does not multiply the load on
the upstreams (a retry storm). The integrations only translate their exceptions into a
:class:`FailureKind` and ask :meth:`FailoverPolicy.should_retry`.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable

from . import _validate
from ._outcome import FailureKind

#: RFC 9110 section 9.2.2: repeating these has the same effect as sending them once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

#: Statuses after which an idempotent request is sent to another upstream.
DEFAULT_RETRY_STATUSES = frozenset({500, 502, 503, 504})


def is_idempotent(method: str) -> bool:
    """True for the methods that may be repeated without changing their effect."""
    return method.upper() in IDEMPOTENT_METHODS


class RetryBudget:
    """Caps retries at a share of requests, with a small floor for quiet clients.

    Each request deposits ``ratio`` of a token; each retry withdraws a whole one. On top,
    ``min_per_sec`` retries are allowed every second whatever the traffic, so a client that
    sends one request a minute can still fail over. Deposits fade with a time constant of
    ``ttl_sec``, so a burst of retries cannot be paid for by traffic from long ago.

    Example::

        budget = RetryBudget(ratio=0.2)   # at most about 1 retry per 5 requests
    """

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_sec: float = 5.0,
        ttl_sec: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = _validate.number("retry_budget ratio", ratio, low=0.0, high=10.0)
        self.min_per_sec = _validate.number("retry_budget min_per_sec", min_per_sec, low=0.0)
        self.ttl_sec = _validate.number(
            "retry_budget ttl_sec", ttl_sec, low=0.0, low_open=True, high=3600.0
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._updated = clock()
        self._deposits = itertools.count()
        self._counted = 0
        self._reads = 0
        self._floor = self.min_per_sec
        self._floor_second = int(clock())
        self.retries = 0
        self.refused = 0

    def deposit(self) -> None:
        """Count one original request (lock-free: this runs on every request)."""
        next(self._deposits)  # itertools.count: atomic, no lock on the request path

    def _settle(self, now: float) -> None:
        # Deposits fade with time constant ttl_sec: a steady rate r keeps about
        # r * ratio * ttl_sec tokens, and old traffic cannot pay for a new burst. Deposits
        # made since the last settlement are credited as of now.
        # Reading the counter takes one value from it too: subtract the reads (settlements
        # run under the lock, so they are counted exactly).
        count = next(self._deposits) - self._reads
        self._reads += 1
        elapsed = now - self._updated
        if elapsed > 0.0:
            self._tokens *= math.exp(-elapsed / self.ttl_sec)
            self._updated = now
        self._tokens += self.ratio * (count - self._counted)
        self._counted = count

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when it is exhausted."""
        now = self._clock()
        with self._lock:
            second = int(now)
            if second != self._floor_second:
                self._floor_second = second
                self._floor = self.min_per_sec
            self._settle(now)
            if self._floor >= 1.0:
                self._floor -= 1.0
            elif self._tokens >= 1.0 - 1e-9:
                self._tokens -= 1.0
            else:
                self.refused += 1
                return False
            self.retries += 1
            return True


class FailoverPolicy:
    """When to send a request to another upstream.

    - A failure that proves nothing was sent (connection refused or timed out) may be
      retried for every method, POST included.
    - Once the request was sent, only idempotent methods with a replayable body are retried,
      after a read timeout, a reset, a protocol error or a status in ``retry_statuses``.
    - Never more than ``max_tries`` attempts in all, and each retry spends from ``budget``.
    """

    def __init__(
        self,
        max_tries: int = 3,
        *,
        retry_statuses: Iterable[int] = DEFAULT_RETRY_STATUSES,
        budget: RetryBudget | None = None,
    ) -> None:
        self.max_tries = _validate.integer("max_tries", max_tries, low=1, high=100)
        statuses = frozenset(retry_statuses)
        for status in statuses:
            _validate.integer("retry_statuses", status, low=100, high=599)
        self.retry_statuses = statuses
        self.budget = RetryBudget() if budget is None else budget

    def may_retry(
        self,
        method: str,
        tries: int,
        *,
        failure: FailureKind | None = None,
        status: int | None = None,
        body_replayable: bool = True,
    ) -> bool:
        """Whether attempt number ``tries`` (1-based) may be followed by another.

        This is pure: it spends nothing. Call :meth:`should_retry` to also spend budget.
        """
        if tries >= self.max_tries:
            return False
        if failure is not None:
            if failure.nothing_sent:
                return True
            if failure is FailureKind.BODY_FAILED:
                return False
            return body_replayable and is_idempotent(method)
        if status is not None and status in self.retry_statuses:
            return body_replayable and is_idempotent(method)
        return False

    def should_retry(
        self,
        method: str,
        tries: int,
        *,
        failure: FailureKind | None = None,
        status: int | None = None,
        body_replayable: bool = True,
    ) -> bool:
        """:meth:`may_retry`, then a withdrawal from the budget when it says yes."""
        allowed = self.may_retry(
            method, tries, failure=failure, status=status, body_replayable=body_replayable
        )
        return allowed and self.budget.try_spend()
