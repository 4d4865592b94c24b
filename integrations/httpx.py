"""httpx transports that spread calls over a huddle_client cluster.

Mount one on a client and every request to the logical host goes to the upstream the engine
picks, fails over when that is safe, and reports its outcome (time to the response head,
status, failure kind, end of body) without the caller doing anything::

    cluster = create_cluster(["http://127.0.0.1:9001", "http://127.0.0.1:9002"])
    with cluster:
        client = httpx.Client(transport=HuddleTransport(cluster), base_url="http://backend")
        client.get("/users/1")

Fail-over rules (shared with every integration, see :class:`huddle_client.FailoverPolicy`):
a connection that could not be made is retried on another upstream for every method, since
nothing was sent; once the request went out only idempotent methods with an in-memory body
are retried, after a timeout, a reset, a malformed response or a status in
``retry_statuses`` (that response is closed and dropped). ``max_tries`` and a retry budget
bound the attempts, so a full outage does not turn into a retry storm.

Errors: when no upstream can take the call, :class:`NoUpstreamError` (an
``httpx.ConnectError``) names each upstream tried and why it failed. A timeout, a reset or a
protocol error that may not be retried reaches the caller as httpx raised it.

Per-call overrides go in the request extension ``"huddle"``: ``{"failover": bool,
"max_tries": int, "keep_host": bool}``. The response carries ``extensions["huddle"]``:
``{"upstream": id, "tries": n, "tried": [(id, reason), ...]}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        'huddle_client.integrations.httpx needs httpx: pip install "huddle-client[httpx]"'
    ) from exc

from huddle_client import (
    Attempt,
    FailoverRun,
    HuddleCluster,
    NoUpstreamAvailable,
    RetryBudget,
)

from ._httpx_errors import NoUpstreamError, failure_kind
from ._httpx_options import DEFAULT_RETRY_STATUSES, EXTENSION, RouteOptions, build_options
from ._httpx_options import options_for as _options_for
from ._httpx_probe import AsyncHTTPProbe, HTTPProbe
from ._httpx_route import Router, is_replayable
from ._httpx_streams import AsyncReleasingStream, ReleasingStream

__all__ = [
    "EXTENSION",
    "AsyncHTTPProbe",
    "AsyncHuddleTransport",
    "HTTPProbe",
    "HuddleTransport",
    "NoUpstreamError",
]


class _Balancing:
    """What the sync and async transports share: options, routing and outcome handling."""

    _cluster: HuddleCluster
    _options: RouteOptions
    _router: Router

    def _setup(
        self,
        cluster: object,
        max_tries: object,
        retry_statuses: object,
        retry_budget: object,
        keep_host: object,
        failover: object,
    ) -> None:
        if not isinstance(cluster, HuddleCluster):
            raise ValueError(
                f"cluster must be a HuddleCluster (from create_cluster), got {cluster!r}"
            )
        self._cluster = cluster
        self._options = build_options(
            max_tries=max_tries,
            retry_statuses=retry_statuses,
            retry_budget=retry_budget,
            keep_host=keep_host,
            failover=failover,
        )
        self._router = Router()

    @property
    def cluster(self) -> HuddleCluster:
        """The cluster this transport balances over."""
        return self._cluster

    @property
    def retry_budget(self) -> RetryBudget:
        """The budget every call of this transport spends its retries from."""
        return self._options.policy.budget

    def _start(self, request: httpx.Request) -> tuple[FailoverRun, RouteOptions]:
        options = _options_for(request.extensions, self._options)
        run = FailoverRun(
            self._cluster,
            options.policy,
            request.method,
            body_replayable=is_replayable(request),
            enabled=options.failover,
        )
        return run, options

    def _next_attempt(
        self, run: FailoverRun, request: httpx.Request, last: httpx.TransportError | None
    ) -> Attempt:
        try:
            return run.next_attempt()
        except NoUpstreamAvailable as exc:
            if last is not None and not isinstance(last, httpx.ConnectError):
                raise last from last.__cause__
            raise _no_upstream(run, request) from (last or exc)

    def _failed(
        self,
        run: FailoverRun,
        attempt: Attempt,
        exc: httpx.TransportError,
        request: httpx.Request,
    ) -> httpx.TransportError:
        """Record a failed attempt; return ``exc`` to go on, or raise what the caller gets."""
        kind = failure_kind(exc)
        if kind is None:
            attempt.cancel()
            raise exc
        if run.failed(attempt, kind, exc):
            return exc
        if isinstance(exc, httpx.ConnectError):
            raise _no_upstream(run, request) from exc
        raise exc

    @staticmethod
    def _label(response: httpx.Response, attempt: Attempt, run: FailoverRun) -> None:
        response.extensions[EXTENSION] = {
            "upstream": attempt.upstream.id,
            "tries": run.tries,
            "tried": run.tried_ids(),
        }


def _no_upstream(run: FailoverRun, request: httpx.Request) -> NoUpstreamError:
    return NoUpstreamError(
        f"no upstream could take {request.method} {request.url}: {run.describe()}",
        tried=run.tried_ids(),
        request=request,
    )


def _check_inner(transport: object, kind: type[Any], default: type[Any]) -> Any:
    if transport is None:
        return default()
    if not isinstance(transport, kind):
        raise ValueError(
            f"transport must be an httpx.{kind.__name__} to send through, or None for "
            f"httpx.{default.__name__}(), got {transport!r}"
        )
    return transport


class HuddleTransport(_Balancing, httpx.BaseTransport):
    """An httpx transport that sends each request to the upstream the cluster picks.

    ``transport`` is the inner transport that does the HTTP (default
    ``httpx.HTTPTransport()``; pass your own for TLS, pool limits or retries on one host);
    one inner transport pools connections per upstream origin. Closing the client closes
    it. Options:

    - ``max_tries`` (1-100): attempts per call, across upstreams;
    - ``retry_statuses``: statuses sent to another upstream for idempotent calls;
    - ``retry_budget``: a :class:`~huddle_client.RetryBudget`, or the ratio of retries to
      calls it allows (default 0.2, plus a floor of 5 retries a second);
    - ``keep_host``: forward the caller's Host header instead of the upstream's;
    - ``failover``: False sends every call to one upstream only.

    Safe to share between threads.

    Example::

        cluster = create_cluster(["http://127.0.0.1:9001", "http://127.0.0.1:9002"])
        with cluster, httpx.Client(
            mounts={"http://backend": HuddleTransport(cluster)}
        ) as client:
            client.get("http://backend/users/1")   # balanced
            client.get("https://example.org/")     # not: another host
    """

    def __init__(
        self,
        cluster: HuddleCluster,
        *,
        transport: httpx.BaseTransport | None = None,
        max_tries: int = 3,
        retry_statuses: Iterable[int] = DEFAULT_RETRY_STATUSES,
        retry_budget: RetryBudget | float = 0.2,
        keep_host: bool = False,
        failover: bool = True,
    ) -> None:
        self._setup(cluster, max_tries, retry_statuses, retry_budget, keep_host, failover)
        self._inner: httpx.BaseTransport = _check_inner(
            transport, httpx.BaseTransport, httpx.HTTPTransport
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        run, options = self._start(request)
        last: httpx.TransportError | None = None
        while True:
            attempt = self._next_attempt(run, request, last)
            sent = self._router.upstream_request(request, attempt.upstream, options.keep_host)
            try:
                response = self._inner.handle_request(sent)
            except httpx.TransportError as exc:
                last = self._failed(run, attempt, exc, request)
                continue
            except BaseException:
                attempt.cancel()
                raise
            if run.responded(attempt, response.status_code):
                response.close()
                continue
            self._label(response, attempt, run)
            if response.is_closed:
                attempt.completed()
            else:
                response.stream = ReleasingStream(response.stream, attempt)  # type: ignore[arg-type]
            return response

    def close(self) -> None:
        self._inner.close()

    def __repr__(self) -> str:
        return f"HuddleTransport({self._cluster!r})"


class AsyncHuddleTransport(_Balancing, httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`HuddleTransport`, with the same options.

    Nothing on its request path blocks: the engine's lock is held for a few microseconds
    and never across an await, so thousands of concurrent tasks can share one transport.

    Example::

        async with httpx.AsyncClient(
            transport=AsyncHuddleTransport(cluster), base_url="http://backend"
        ) as client:
            await client.get("/users/1")
    """

    def __init__(
        self,
        cluster: HuddleCluster,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_tries: int = 3,
        retry_statuses: Iterable[int] = DEFAULT_RETRY_STATUSES,
        retry_budget: RetryBudget | float = 0.2,
        keep_host: bool = False,
        failover: bool = True,
    ) -> None:
        self._setup(cluster, max_tries, retry_statuses, retry_budget, keep_host, failover)
        self._inner: httpx.AsyncBaseTransport = _check_inner(
            transport, httpx.AsyncBaseTransport, httpx.AsyncHTTPTransport
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        run, options = self._start(request)
        last: httpx.TransportError | None = None
        while True:
            attempt = self._next_attempt(run, request, last)
            sent = self._router.upstream_request(request, attempt.upstream, options.keep_host)
            try:
                response = await self._inner.handle_async_request(sent)
            except httpx.TransportError as exc:
                last = self._failed(run, attempt, exc, request)
                continue
            except BaseException:
                attempt.cancel()
                raise
            if run.responded(attempt, response.status_code):
                await response.aclose()
                continue
            self._label(response, attempt, run)
            if response.is_closed:
                attempt.completed()
            else:
                response.stream = AsyncReleasingStream(response.stream, attempt)  # type: ignore[arg-type]
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __repr__(self) -> str:
        return f"AsyncHuddleTransport({self._cluster!r})"
