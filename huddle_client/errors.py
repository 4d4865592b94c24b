"""The exceptions huddle_client raises.

- ``HuddleError``: the root; catch it to catch anything the engine raises.
- ``NoUpstreamAvailable``: every upstream was excluded, removed or failed. It carries the
  attempts made so far so a caller can log which upstreams were tried and why they failed.

Invalid options raise a plain ``ValueError`` naming the option, the value and the allowed
range, because that is what a caller passing a bad argument expects to catch.
"""

from __future__ import annotations

from collections.abc import Sequence


class HuddleError(Exception):
    """Base class of the errors raised by huddle_client."""


class NoUpstreamAvailable(HuddleError, LookupError):
    """No upstream can take the call.

    ``tried`` lists ``(upstream id, reason)`` pairs, oldest first.
    """

    def __init__(self, message: str, tried: Sequence[tuple[str, str]] = ()) -> None:
        self.tried: tuple[tuple[str, str], ...] = tuple(tried)
        if self.tried:
            detail = "; ".join(f"{uid}: {why}" for uid, why in self.tried)
            message = f"{message} (tried {detail})"
        super().__init__(message)
