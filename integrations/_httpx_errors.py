"""What an httpx exception tells the engine, and the error raised when no upstream is left.

httpx raises the same classes whatever the inner transport, so one table maps them to a
:class:`~huddle_client.FailureKind`. The mapping decides what is safe to retry: a
``ConnectError`` means nothing was sent (any method may go elsewhere), while a
``ReadError`` after the request went out means a POST may already have had its effect.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from huddle_client import FailureKind, NoUpstreamAvailable


class NoUpstreamError(httpx.ConnectError, NoUpstreamAvailable):
    """No upstream could take the request: every one tried refused it, or none was left.

    It is an ``httpx.ConnectError``, so code that already catches connection failures keeps
    working, and a :class:`huddle_client.NoUpstreamAvailable`. ``tried`` lists
    ``(upstream id, reason)`` pairs, oldest first.

    Example::

        try:
            client.get("/users/1")
        except NoUpstreamError as exc:
            log.warning("backend down: %s", exc)   # names each upstream and its failure
    """

    def __init__(
        self,
        message: str,
        *,
        tried: Sequence[tuple[str, str]] = (),
        request: httpx.Request | None = None,
    ) -> None:
        httpx.ConnectError.__init__(self, message, request=request)
        self.tried: tuple[tuple[str, str], ...] = tuple(tried)


def failure_kind(exc: httpx.TransportError) -> FailureKind | None:
    """The engine's name for ``exc``, or None when it says nothing about the upstream.

    None covers failures on our side of the wire (a full local pool, a request httpx
    refuses to send, an unsupported scheme): the attempt is released without evidence and
    the exception reaches the caller unchanged.
    """
    if isinstance(exc, httpx.ConnectTimeout):
        return FailureKind.CONNECT_TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return FailureKind.CONNECT_REFUSED
    if isinstance(exc, httpx.ReadTimeout):
        return FailureKind.READ_TIMEOUT
    if isinstance(exc, httpx.WriteTimeout):
        return FailureKind.WRITE_TIMEOUT
    if isinstance(exc, (httpx.PoolTimeout, httpx.LocalProtocolError, httpx.UnsupportedProtocol)):
        return None
    if isinstance(exc, httpx.RemoteProtocolError):
        # httpcore words a connection closed before the response head this way; anything
        # else is a malformed response.
        if str(exc).startswith("Server disconnected"):
            return FailureKind.RESET
        return FailureKind.PROTOCOL_ERROR
    if isinstance(exc, httpx.NetworkError):
        return FailureKind.RESET
    return FailureKind.OTHER
