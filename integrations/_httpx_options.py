"""The options of a Huddle transport, and their per-request overrides.

A transport is configured once (the checks shared with the requests adapter live in
``_options``); one call can still change what applies to it through the request extension
``"huddle"``, a dict with any of these keys:

- ``"failover"`` (bool): False sends the call to one upstream and never elsewhere;
- ``"max_tries"`` (int, 1-100): the cap on attempts for this call;
- ``"keep_host"`` (bool): True forwards the caller's Host header instead of the upstream's.

Example::

    client.get("/charge", extensions={"huddle": {"failover": False}})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from huddle_client import RetryBudget

from . import _options
from ._options import Options

#: The request extension that carries per-call overrides.
EXTENSION = "huddle"

_OVERRIDE_KEYS = ("failover", "max_tries", "keep_host")


def build_options(
    *,
    max_tries: object,
    retry_statuses: object,
    retry_budget: object,
    keep_host: object,
    failover: object,
) -> Options:
    """Check the transport's options and build the defaults every call starts from."""
    return _options.build(
        max_tries=max_tries,
        retry_statuses=retry_statuses,
        budget=_budget(retry_budget),
        keep_host=keep_host,
        failover=failover,
    )


def _budget(value: object) -> RetryBudget:
    if isinstance(value, RetryBudget):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            "retry_budget must be a RetryBudget or a ratio of retries to requests in "
            f"[0, 10], got {value!r}"
        )
    return _options.budget(value, name="retry_budget ratio", min_name="retry_budget min_per_sec")


def options_for(extensions: Mapping[str, object], defaults: Options) -> Options:
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
        options = replace(options, failover=_options.flag("failover", overrides["failover"]))
    if "keep_host" in overrides:
        options = replace(options, keep_host=_options.flag("keep_host", overrides["keep_host"]))
    if "max_tries" in overrides:
        options = options.with_max_tries(overrides["max_tries"])
    return options


__all__ = ["EXTENSION", "build_options", "options_for"]
