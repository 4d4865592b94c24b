"""The options of a Huddle transport, and their per-request overrides.

A transport is configured once; one call can still change what applies to it through the
request extension ``"huddle"``, a dict with any of these keys:

- ``"failover"`` (bool): False sends the call to one upstream and never elsewhere;
- ``"max_tries"`` (int, 1-100): the cap on attempts for this call;
- ``"keep_host"`` (bool): True forwards the caller's Host header instead of the upstream's.

Example::

    client.get("/charge", extensions={"huddle": {"failover": False}})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from huddle_client import FailoverPolicy, RetryBudget
from huddle_client._retry import DEFAULT_RETRY_STATUSES

#: The request extension that carries per-call overrides.
EXTENSION = "huddle"

_OVERRIDE_KEYS = ("failover", "max_tries", "keep_host")


@dataclass(frozen=True)
class RouteOptions:
    """What applies to one call: the fail-over policy and how to rewrite the request."""

    policy: FailoverPolicy
    failover: bool
    keep_host: bool


def build_options(
    *,
    max_tries: object,
    retry_statuses: object,
    retry_budget: object,
    keep_host: object,
    failover: object,
) -> RouteOptions:
    """Check the transport's options and build the defaults every call starts from."""
    if isinstance(retry_statuses, (str, bytes)) or not isinstance(retry_statuses, Iterable):
        raise ValueError(
            "retry_statuses must be a collection of HTTP statuses in [100, 599], "
            f"got {retry_statuses!r}"
        )
    budget = _budget(retry_budget)
    policy = FailoverPolicy(max_tries, retry_statuses=retry_statuses, budget=budget)  # type: ignore[arg-type]
    return RouteOptions(
        policy=policy,
        failover=_flag("failover", failover),
        keep_host=_flag("keep_host", keep_host),
    )


def _budget(value: object) -> RetryBudget:
    if isinstance(value, RetryBudget):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            "retry_budget must be a RetryBudget or a ratio of retries to requests in "
            f"[0, 10], got {value!r}"
        )
    return RetryBudget(ratio=value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def options_for(extensions: Mapping[str, object], defaults: RouteOptions) -> RouteOptions:
    """The options for one call: the defaults, changed by its ``"huddle"`` extension."""
    overrides = extensions.get(EXTENSION)
    if overrides is None:
        return defaults
    if not isinstance(overrides, Mapping):
        raise ValueError(
            f'the request extension "{EXTENSION}" must be a dict with keys among '
            f"{', '.join(_OVERRIDE_KEYS)}, got {overrides!r}"
        )
    unknown = sorted(str(k) for k in overrides if k not in _OVERRIDE_KEYS)
    if unknown:
        raise ValueError(
            f'the request extension "{EXTENSION}" has unknown key(s) {", ".join(unknown)}; '
            f"allowed: {', '.join(_OVERRIDE_KEYS)}"
        )
    options = defaults
    if "failover" in overrides:
        options = replace(options, failover=_flag("failover", overrides["failover"]))
    if "keep_host" in overrides:
        options = replace(options, keep_host=_flag("keep_host", overrides["keep_host"]))
    if "max_tries" in overrides:
        base = defaults.policy
        policy = FailoverPolicy(
            overrides["max_tries"],
            retry_statuses=base.retry_statuses,
            budget=base.budget,
        )
        options = replace(options, policy=policy)
    return options


__all__ = ["DEFAULT_RETRY_STATUSES", "EXTENSION", "RouteOptions", "build_options", "options_for"]
