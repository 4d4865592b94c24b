"""What went wrong in one requests call, in the engine's terms, and what the caller sees.

requests wraps every transport failure in its own exceptions, which in turn wrap urllib3's,
which wrap the socket's. The engine needs to know which of those failures prove that nothing
was sent (a POST may then go elsewhere) and which prove an upstream is down, so
:func:`classify` digs through the wrapping once, here, instead of in the adapter's loop.

- :class:`NoUpstreamError` (a ``requests.exceptions.ConnectionError``, and a
  :class:`huddle_client.HuddleError`): no upstream could take the call. Raised when the last
  attempt could not connect, or when every upstream was already tried; ``tried`` says which
  upstreams were tried and why each failed.
- Every other failure keeps requests' own exception (``ReadTimeout``, ``ConnectTimeout``,
  ``ConnectionError``), with a note listing the attempts, so existing ``except`` clauses work.
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence

import requests
import urllib3.exceptions as u3

from huddle_client import FailureKind, HuddleError


class NoUpstreamError(requests.exceptions.ConnectionError, HuddleError):
    """No upstream could take the request.

    ``tried`` holds ``(upstream id, reason)`` pairs, oldest first, e.g.
    ``(("127.0.0.1:9001", "connect_refused"), ("127.0.0.1:9002", "connect_refused"))``.

    Example::

        try:
            session.get("http://backend/users/1", timeout=2)
        except NoUpstreamError as exc:
            log.error("backend down: %s", exc)   # names every upstream tried and why
    """

    def __init__(
        self,
        message: str,
        *,
        tried: Sequence[tuple[str, str]] = (),
        request: requests.PreparedRequest | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.tried: tuple[tuple[str, str], ...] = tuple(tried)


def classify(exc: BaseException) -> FailureKind | None:
    """The engine's name for a failure raised by ``HTTPAdapter.send``.

    None means the failure is the caller's, not the upstream's (an invalid header, a request
    body generator that raised, an interrupt): it is neither counted against the upstream
    nor retried.
    """
    if isinstance(exc, ValueError) or not isinstance(exc, (requests.RequestException, OSError)):
        return None
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return FailureKind.CONNECT_TIMEOUT
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return FailureKind.READ_TIMEOUT
    if isinstance(exc, requests.exceptions.SSLError):
        return FailureKind.OTHER
    cause: object = exc.args[0] if exc.args else exc
    if isinstance(cause, u3.MaxRetryError):
        cause = cause.reason
    return _from_urllib3(cause)


def _from_urllib3(cause: object) -> FailureKind:
    # NewConnectionError subclasses ConnectTimeoutError for backwards compatibility, and
    # NameResolutionError subclasses NewConnectionError: test the narrowest first.
    if isinstance(cause, u3.NewConnectionError):
        return FailureKind.CONNECT_REFUSED
    if isinstance(cause, u3.ConnectTimeoutError):
        return FailureKind.CONNECT_TIMEOUT
    if isinstance(cause, (u3.ReadTimeoutError, TimeoutError)):
        return FailureKind.READ_TIMEOUT
    if isinstance(cause, u3.ProtocolError):
        inner = cause.args[1] if len(cause.args) > 1 else None
        return _from_socket(inner)
    return _from_socket(cause)


def _from_socket(inner: object) -> FailureKind:
    # RemoteDisconnected is both a ConnectionResetError and a BadStatusLine: the peer closed
    # the connection, so it is a reset, not a malformed answer.
    if isinstance(inner, (ConnectionError, EOFError)):
        return FailureKind.RESET
    if isinstance(inner, http.client.HTTPException):
        return FailureKind.PROTOCOL_ERROR
    if isinstance(inner, TimeoutError):
        return FailureKind.READ_TIMEOUT
    if isinstance(inner, OSError):
        return FailureKind.RESET
    return FailureKind.OTHER
