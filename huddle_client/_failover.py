"""The fail-over loop of one client request, without the I/O.

Both the sync and the async integrations run the same loop: pick an upstream not tried
yet, send, classify the outcome, ask the policy whether to go on. :class:`FailoverRun`
holds that loop's state so each integration only does the sending::

    run = FailoverRun(cluster, policy, "GET")
    while True:
        attempt = run.next_attempt()          # raises NoUpstreamAvailable when out of options
        try:
            response = send(attempt.upstream)
        except ConnectionRefusedError as exc:
            if run.failed(attempt, FailureKind.CONNECT_REFUSED, exc):
                continue
            raise
        if run.responded(attempt, response.status):
            continue                          # a retryable status: try elsewhere (the
                                              # integration may hold the answer as a fallback)
        return response
"""

from __future__ import annotations

from ._attempt import Attempt
from ._cluster import HuddleCluster
from ._outcome import FailureKind
from ._retry import FailoverPolicy, is_idempotent
from ._upstream import Upstream
from .errors import NoUpstreamAvailable


class FailoverRun:
    """State of one request's attempts across upstreams."""

    __slots__ = (
        "_cluster",
        "_policy",
        "_trickle",
        "body_replayable",
        "enabled",
        "method",
        "tried",
        "tries",
    )

    def __init__(
        self,
        cluster: HuddleCluster,
        policy: FailoverPolicy,
        method: str,
        *,
        body_replayable: bool = True,
        enabled: bool = True,
    ) -> None:
        self._cluster = cluster
        self._policy = policy
        self.method = method.upper()
        self.body_replayable = body_replayable
        self.enabled = enabled
        # A trickle call goes to a resting upstream that may still be bad: only a request
        # that can fail over afterwards may be one.
        self._trickle = enabled and body_replayable and is_idempotent(self.method)
        self.tries = 0
        #: ``(upstream, reason)`` for every attempt that did not produce the final answer.
        self.tried: list[tuple[Upstream, str]] = []
        if enabled:
            policy.budget.deposit()

    def next_attempt(self) -> Attempt:
        """Begin the next attempt on an upstream this request has not tried yet."""
        exclude = {up for up, _ in self.tried} if self.tried else None
        try:
            attempt = self._cluster.begin(exclude, trickle=self._trickle)
        except NoUpstreamAvailable as exc:
            raise NoUpstreamAvailable("no upstream can take the request", self.tried_ids()) from exc
        self.tries += 1
        return attempt

    def failed(self, attempt: Attempt, failure: FailureKind, error: BaseException | None) -> bool:
        """Record a failed attempt; True when the request should go to another upstream."""
        attempt.failed(failure)
        reason = failure.value if error is None else f"{failure.value} ({error!r})"
        self.tried.append((attempt.upstream, reason))
        return self._go_on(failure=failure)

    def responded(self, attempt: Attempt, status: int) -> bool:
        """Record a response head; True when its status should be retried elsewhere.

        When it returns True the attempt is finished (the caller drops the response);
        otherwise the attempt stays in flight until its body ends.
        """
        if not (self.enabled and status in self._policy.retry_statuses):
            attempt.responded(status)
            return False
        retry = self._policy.may_retry(
            self.method, self.tries, status=status, body_replayable=self.body_replayable
        )
        if retry and self._untried_left() and self._policy.budget.try_spend():
            attempt.responded(status)
            attempt.completed()
            self.tried.append((attempt.upstream, f"status {status}"))
            return True
        attempt.responded(status)
        return False

    def _untried_left(self) -> bool:
        # The current attempt's upstream is not in `tried` yet when a response is judged.
        return len(self.tried) + 1 < len(self._cluster)

    def _go_on(self, *, failure: FailureKind) -> bool:
        if not self.enabled or len(self.tried) >= len(self._cluster):
            return False
        return self._policy.should_retry(
            self.method, self.tries, failure=failure, body_replayable=self.body_replayable
        )

    def tried_ids(self) -> list[tuple[str, str]]:
        """``(upstream id, reason)`` pairs, for error messages."""
        return [(up.id, why) for up, why in self.tried]

    def describe(self) -> str:
        """A one-line account of what was tried, for exception messages."""
        if not self.tried:
            return "no upstream was tried"
        return "tried " + "; ".join(f"{up.id}: {why}" for up, why in self.tried)
