"""Checks for user-supplied options.

Every failure is a ValueError whose message names the option, the value given and the
allowed range, so a typo in a config file is found from the message alone.
"""

from __future__ import annotations

import math


def number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it lies in the given interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (result <= low if low_open else result < low)
    too_high = high is not None and (result >= high if high_open else result > high)
    if too_low or too_high:
        allowed = _interval(low, high, low_open, high_open)
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")
    return result


def integer(name: str, value: object, *, low: int, high: int | None = None) -> int:
    """Return ``value`` after checking it is an int in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        upper = "inf)" if high is None else f"{high}]"
        raise ValueError(f"{name} must be in [{low}, {upper}, got {value!r}")
    return value


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(-inf" if low is None else ("(" if low_open else "[") + _fmt(low)
    right = "inf)" if high is None else _fmt(high) + (")" if high_open else "]")
    return f"{left}, {right}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
