"""What an integration can tell the engine about one call.

The reference design only learned latencies. We also learn *how* a call failed, because the
kind of failure decides what is safe: a refused connection proves the upstream is down and
that nothing was sent (so any request may be retried elsewhere), while a reset after the
request went out means a POST may already have had its effect.
"""

from __future__ import annotations

import enum


class FailureKind(enum.Enum):
    """Why a call to an upstream did not produce a usable response."""

    #: The TCP connection was refused or could not be opened: certain evidence the
    #: upstream is down; nothing was sent.
    CONNECT_REFUSED = "connect_refused"
    #: Opening the connection took longer than the connect timeout; nothing was sent.
    CONNECT_TIMEOUT = "connect_timeout"
    #: The request was sent but no response head arrived in time.
    READ_TIMEOUT = "read_timeout"
    #: Sending the request body took longer than the write timeout.
    WRITE_TIMEOUT = "write_timeout"
    #: The connection was reset or closed before a complete response head arrived.
    RESET = "reset"
    #: The upstream answered with something that is not valid HTTP.
    PROTOCOL_ERROR = "protocol_error"
    #: The response head arrived but the body failed midway.
    BODY_FAILED = "body_failed"
    #: Anything else (an exception inside ``get_server_context``, say).
    OTHER = "other"

    @property
    def nothing_sent(self) -> bool:
        """True when the failure happened before any byte of the request left."""
        return self in _NOTHING_SENT

    @property
    def proves_down(self) -> bool:
        """True when one occurrence is enough to take the upstream out of rotation."""
        return self in _NOTHING_SENT

    @property
    def measures_latency(self) -> bool:
        """True when the elapsed time is a lower bound on the upstream's latency."""
        return self in _TIMED


_NOTHING_SENT = frozenset({FailureKind.CONNECT_REFUSED, FailureKind.CONNECT_TIMEOUT})
_TIMED = frozenset({FailureKind.READ_TIMEOUT, FailureKind.WRITE_TIMEOUT, FailureKind.OTHER})
