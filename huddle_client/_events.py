"""Rotation events: what moved between the rings, when and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(str, enum.Enum):
    """Why an upstream moved. The values are the strings the reference used, plus ours."""

    OVERHEATED = "overheated"
    ABSOLUTE_LATENCY = "absolute_latency"
    HEALTH_FAIL = "health_fail"
    CONNECT_FAILED = "connect_failed"
    MANUAL = "manual"
    COOLED = "cooled"
    REFILL = "refill"  # pulled in to keep the inner ring at min_inner_size

    def __str__(self) -> str:
        return self.value


INNER_TO_OUTER = "inner->outer"
OUTER_TO_INNER = "outer->inner"


@dataclass(frozen=True)
class RotationEvent:
    """One move of one upstream between the rings.

    ``timestamp`` is wall-clock time (``time.time()``), for logs and dashboards.
    """

    timestamp: float
    server_id: str
    direction: str
    reason: str
    temperature: float
