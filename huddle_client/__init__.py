"""huddle_client: latency-aware load balancing across upstream servers, from inside the app.

The engine (this package) is sans-IO and has no third-party dependency; the httpx,
requests, Starlette and Django layers live in :mod:`huddle_client.integrations`.
"""

from __future__ import annotations

from ._attempt import Attempt
from ._cluster import HuddleCluster, create_cluster
from ._events import Reason, RotationEvent
from ._failover import FailoverRun
from ._outcome import FailureKind
from ._parse import UpstreamSpec
from ._retry import (
    DEFAULT_RETRY_STATUSES,
    IDEMPOTENT_METHODS,
    FailoverPolicy,
    RetryBudget,
    is_idempotent,
)
from ._upstream import Position, Server, Upstream
from .errors import HuddleError, NoUpstreamAvailable

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "IDEMPOTENT_METHODS",
    "Attempt",
    "FailoverPolicy",
    "FailoverRun",
    "FailureKind",
    "HuddleCluster",
    "HuddleError",
    "NoUpstreamAvailable",
    "Position",
    "Reason",
    "RetryBudget",
    "RotationEvent",
    "Server",
    "Upstream",
    "UpstreamSpec",
    "create_cluster",
    "is_idempotent",
]
