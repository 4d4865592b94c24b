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
``retry_statuses``. Such a response is held, not dropped: it is closed when a better answer
arrives or another retryable one replaces it, and when no other upstream can be tried (all
tried, the others refuse or time out, the tries or the budget run out) the caller gets it.
``max_tries`` and a retry budget bound the attempts, so a full outage does not turn into a
retry storm.

Errors: when no upstream can take the call and no retryable answer is held,
:class:`NoUpstreamError` (an ``httpx.ConnectError``) names each upstream tried and why it
failed. A timeout, a reset or a protocol error that may not be retried (and finds no answer
held) reaches the caller as httpx raised it.

Per-call overrides go in the request extension ``"huddle"``: ``{"failover": bool,
"max_tries": int, "keep_host": bool}``. The response carries ``extensions["huddle"]``:
``{"upstream": id, "tries": n, "tried": [(id, reason), ...]}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        'huddle_client.integrations.httpx needs httpx: pip install "huddle-client[httpx]"'
    ) from exc

from huddle_client import (
    DEFAULT_RETRY_STATUSES,
    Attempt,
    FailoverRun,
    HuddleCluster,
    NoUpstreamAvailable,
    RetryBudget,
)

from ._httpx_errors import NoUpstreamError, failure_kind
from ._httpx_options import EXTENSION, build_options
from ._httpx_options import options_for as _options_for
from ._httpx_probe import AsyncHTTPProbe, HTTPProbe
from ._httpx_route import Router, is_replayable
from ._httpx_streams import AsyncReleasingStream, ReleasingStream
from ._options import Options

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
    _options: Options
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

    def _start(self, request: httpx.Request) -> tuple[FailoverRun, Options]:
        options = _options_for(request.extensions, self._options)
        run = FailoverRun(
            self._cluster,
            options.policy,
            request.method,
            body_replayable=is_replayable(request),
            enabled=options.failover,
        )
        return run, options

    def _out_of_upstreams(
        self,
        run: FailoverRun,
        request: httpx.Request,
        last: httpx.TransportError | None,
        exc: NoUpstreamAvailable,
    ) -> NoReturn:
        """Raise what the caller gets when no upstream is left and no answer is held."""
        if last is not None and not isinstance(last, httpx.ConnectError):
            raise last from last.__cause__
        raise _no_upstream(run, request) from (last or exc)

    def _failed(
        self,
        run: FailoverRun,
        attempt: Attempt,
        exc: httpx.TransportError,
        request: httpx.Request,
        holding: bool,
    ) -> bool:
        """Record a failed attempt: True to try another upstream, False to answer with the
        held response (only when ``holding``); otherwise raise what the caller gets."""
        kind = failure_kind(exc)
        if kind is None:
            attempt.cancel()
            raise exc
        if run.failed(attempt, kind, exc):
            return True
        if holding:
            return False
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


class _Held:
    """A retryable answer (a 503, say) kept while other upstreams are tried.

    Its attempt is already finished (the engine counted it when the head arrived); it is
    closed when a better answer arrives or another retryable one replaces it, and returned
    when no other upstream can be tried.
    """

    __slots__ = ("index", "response", "upstream")

    def __init__(self, response: httpx.Response, attempt: Attempt, run: FailoverRun) -> None:
        self.response = response
        self.upstream = attempt.upstream
        #: Where FailoverRun.responded put this attempt in ``run.tried``.
        self.index = len(run.tried) - 1

    def answer(self, run: FailoverRun) -> httpx.Response:
        """The held response, labelled like any answer (its own attempt not in "tried")."""
        tried = run.tried_ids()
        del tried[self.index]
        self.response.extensions[EXTENSION] = {
            "upstream": self.upstream.id,
            "tries": run.tries,
            "tried": tried,
        }
        return self.response


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
        held: _Held | None = None
        try:
            while True:
                try:
                    attempt = run.next_attempt()
                except NoUpstreamAvailable as exc:
                    if held is not None:
                        return held.answer(run)
                    self._out_of_upstreams(run, request, last, exc)
                sent = self._router.upstream_request(request, attempt.upstream, options.keep_host)
                try:
                    response = self._inner.handle_request(sent)
                except httpx.TransportError as exc:
                    if self._failed(run, attempt, exc, request, held is not None):
                        last = exc
                        continue
                    assert held is not None  # _failed raises unless an answer is held
                    return held.answer(run)
                except BaseException:
                    attempt.cancel()
                    raise
                retry = run.responded(attempt, response.status_code)
                if held is not None:  # replaced by another retryable answer, or beaten
                    held.response.close()
                    held = None
                if retry:
                    held = _Held(response, attempt, run)
                    continue
                self._label(response, attempt, run)
                if response.is_closed:
                    attempt.completed()
                else:
                    response.stream = ReleasingStream(response.stream, attempt)  # type: ignore[arg-type]
                return response
        except BaseException:
            if held is not None:
                held.response.close()
            raise

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
        held: _Held | None = None
        try:
            while True:
                try:
                    attempt = run.next_attempt()
                except NoUpstreamAvailable as exc:
                    if held is not None:
                        return held.answer(run)
                    self._out_of_upstreams(run, request, last, exc)
                sent = self._router.upstream_request(request, attempt.upstream, options.keep_host)
                try:
                    response = await self._inner.handle_async_request(sent)
                except httpx.TransportError as exc:
                    if self._failed(run, attempt, exc, request, held is not None):
                        last = exc
                        continue
                    assert held is not None  # _failed raises unless an answer is held
                    return held.answer(run)
                except BaseException:
                    attempt.cancel()
                    raise
                retry = run.responded(attempt, response.status_code)
                if held is not None:  # replaced by another retryable answer, or beaten
                    await held.response.aclose()
                    held = None
                if retry:
                    held = _Held(response, attempt, run)
                    continue
                self._label(response, attempt, run)
                if response.is_closed:
                    attempt.completed()
                else:
                    response.stream = AsyncReleasingStream(response.stream, attempt)  # type: ignore[arg-type]
                return response
        except BaseException:
            if held is not None:
                await held.response.aclose()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __repr__(self) -> str:
        return f"AsyncHuddleTransport({self._cluster!r})"
