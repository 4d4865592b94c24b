"""What a fleet server does with the next request: one immutable value per mode switch.

A switch replaces the whole value in one assignment, so the event loop thread serving requests
never sees half of a change made from the test thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["normal", "slow", "crash", "error", "hang", "flaky"]

#: Names accepted by a schedule: every mode, plus ``recover`` (an alias of ``normal``).
SCHEDULE_MODES = ("normal", "slow", "crash", "error", "hang", "flaky", "recover")


@dataclass(frozen=True)
class Behaviour:
    """A server's mode and its parameters; build it with :func:`behaviour_for`."""

    mode: Mode = "normal"
    factor: float = 1.0
    status: int = 500
    p: float = 0.0


NORMAL = Behaviour()


def _check_status(status: int) -> int:
    if not 400 <= status <= 599:
        raise ValueError(f"a failure status must be 4xx or 5xx, got {status}")
    return status


def behaviour_for(mode: str, arg: float | None = None, status: int | None = None) -> Behaviour:
    """Validate a mode name and its argument, so a bad switch fails in the caller's thread.

    ``arg`` is the factor of ``slow``, the status of ``error`` and the probability of ``flaky``;
    ``status`` is the failure status of ``flaky``.
    """
    if mode in ("normal", "recover"):
        return NORMAL
    if mode == "slow":
        factor = 1.0 if arg is None else float(arg)
        if factor < 0:
            raise ValueError(f"slow factor must be >= 0, got {factor}")
        return Behaviour(mode="slow", factor=factor)
    if mode == "crash":
        return Behaviour(mode="crash")
    if mode == "hang":
        return Behaviour(mode="hang")
    if mode == "error":
        return Behaviour(mode="error", status=_check_status(500 if arg is None else int(arg)))
    if mode == "flaky":
        if arg is None or not 0.0 <= float(arg) <= 1.0:
            raise ValueError(f"flaky needs a probability in [0, 1], got {arg}")
        return Behaviour(mode="flaky", p=float(arg), status=_check_status(status or 500))
    raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(SCHEDULE_MODES)}")
