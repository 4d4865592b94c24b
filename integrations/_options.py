"""The fail-over options every client integration takes, checked in one place.

The httpx transports and the requests adapter share ``max_tries``, ``retry_statuses``, a
retry budget, ``keep_host`` and ``failover``. A bad value raises ``ValueError`` naming the
option, the value and the allowed range. ``max_tries`` and each status are checked by
:class:`huddle_client.FailoverPolicy` itself (its messages already name them); this module
adds what the policy cannot know: that ``retry_statuses`` is a collection, which name the
client gives its budget ratio, and the two flags.

Example::

    options = build(max_tries=3, retry_statuses={503}, budget=RetryBudget(), keep_host=False,
                    failover=True)
    FailoverRun(cluster, options.policy, "GET", enabled=options.failover)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from huddle_client import FailoverPolicy, RetryBudget, _validate


@dataclass(frozen=True)
class Options:
    """What applies to one call: the fail-over policy and how to rewrite the request."""

    policy: FailoverPolicy
    failover: bool
    keep_host: bool

    def with_max_tries(self, max_tries: object) -> Options:
        """These options with another cap on attempts (same statuses, same budget)."""
        policy = FailoverPolicy(
            max_tries,  # type: ignore[arg-type]  # checked by FailoverPolicy
            retry_statuses=self.policy.retry_statuses,
            budget=self.policy.budget,
        )
        return replace(self, policy=policy)


def build(
    *,
    max_tries: object,
    retry_statuses: object,
    budget: RetryBudget,
    keep_host: object,
    failover: object,
) -> Options:
    """Check the shared options and build the defaults every call starts from."""
    policy = FailoverPolicy(
        max_tries,  # type: ignore[arg-type]  # checked by FailoverPolicy
        retry_statuses=statuses(retry_statuses),
        budget=budget,
    )
    return Options(
        policy=policy,
        failover=flag("failover", failover),
        keep_host=flag("keep_host", keep_host),
    )


def statuses(value: object) -> Iterable[int]:
    """``value`` when it is a collection; FailoverPolicy checks each status in it."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(
            f"retry_statuses must be a collection of HTTP statuses in [100, 599], got {value!r}"
        )
    return value


def budget(ratio: object, min_per_sec: object = 5.0, *, name: str, min_name: str) -> RetryBudget:
    """A :class:`RetryBudget` from a ratio, its messages using the client's option names.

    The range is RetryBudget's own; it is checked here first only so that the message names
    the option as this client spells it (``retry_budget`` or ``retry_budget_ratio``).
    """
    return RetryBudget(
        _validate.number(name, ratio, low=0.0, high=10.0),
        _validate.number(min_name, min_per_sec, low=0.0),
    )


def flag(name: str, value: object) -> bool:
    """``value`` when it is a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value
