"""Load balancing for requests: a transport adapter sending each call where the engine says.

Mount :class:`HuddleAdapter` on a logical prefix; every request under it goes to one of the
cluster's upstreams, with the engine told how each call went and failed calls moved to another
upstream when that is safe::

    cluster = create_cluster(["http://127.0.0.1:9001", "http://127.0.0.1:9002"])
    with cluster:
        session = requests.Session()
        session.mount("http://backend/", HuddleAdapter(cluster))
        session.get("http://backend/users/1")

The HTTP itself (urllib3 pools per upstream, TLS, proxies) is ``HTTPAdapter``'s: this module
only rewrites the URL of each attempt and reports outcomes. Needs the ``requests`` extra.
"""

from __future__ import annotations

try:
    import requests
    from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
    from urllib3.util.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "huddle_client.integrations.requests needs requests and urllib3: "
        'pip install "huddle-client[requests]"'
    ) from exc

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from huddle_client import (
    DEFAULT_RETRY_STATUSES,
    FailoverRun,
    FailureKind,
    HuddleCluster,
    NoUpstreamAvailable,
    Upstream,
    _validate,
    is_idempotent,
)

from . import _options
from ._requests_body import TrackedBody
from ._requests_errors import NoUpstreamError, classify

__all__ = ["HuddleAdapter", "NoUpstreamError", "TrackedBody"]


class _UpstreamRequest(requests.PreparedRequest):
    """The copy of a request sent to one upstream; remembers the caller's request.

    ``build_response`` hands the caller's request (and its logical URL) to the response, so
    cookies, redirects and ``response.url`` see the name the caller used, not the upstream.
    """

    logical: requests.PreparedRequest


class HuddleAdapter(HTTPAdapter):
    """A requests transport adapter that balances calls over a :class:`HuddleCluster`.

    Per call it picks an upstream, replaces the scheme, host and port of the request's URL
    with the upstream's (its base path is prepended to the raw path, by concatenation), and
    sends with ``HTTPAdapter.send``. Path (percent-encoding kept), query, method, headers and
    body are left as they are. ``Host`` is the upstream's; ``keep_host=True`` sends the
    logical host (the one in the URL the caller used) instead. A ``Host`` header set by the
    caller is always kept.

    The engine hears of every outcome without the caller doing anything: time to the
    response head, the status (5xx counts as an error), the full duration when the body ends
    or is closed (or when the response is garbage collected unread), and how a failed call
    failed.

    Fail-over (``failover=True``): a call that could not connect goes to another upstream
    whatever its method, since nothing was sent. Once a request was sent, only idempotent
    methods with a replayable body (none, bytes or str; not a generator or a file) are sent
    again, after a read timeout, a reset, a malformed answer or a status in
    ``retry_statuses``; that response is held until a better answer arrives (then closed), and
    is what the caller gets when no other upstream is left. ``max_tries`` caps the attempts
    of one call; retries as a whole are capped at ``retry_budget_ratio`` of the calls (plus
    ``retry_budget_min_per_sec``), so an outage does not turn into a retry storm. Timeouts
    apply per attempt.

    urllib3's own ``Retry`` (``max_retries``) stays same-host, below fail-over; it defaults
    to 0 retries so that a failure reaches fail-over at once.

    When no upstream can take the call, :class:`NoUpstreamError` (a
    ``requests.exceptions.ConnectionError``) says which upstreams were tried and why. Other
    failures keep requests' exceptions (``ReadTimeout``, ``ConnectTimeout``,
    ``ConnectionError``), with the attempts in a note.

    One adapter may be shared by many threads: per-call state never lives on it.

    Example::

        adapter = HuddleAdapter(cluster, max_tries=2, keep_host=True, pool_maxsize=32)
        session.mount("http://backend/", adapter)
        session.post("http://backend/orders", json=order, timeout=(1, 5))
    """

    def __init__(
        self,
        cluster: HuddleCluster,
        *,
        max_tries: int = 3,
        retry_statuses: Iterable[int] = DEFAULT_RETRY_STATUSES,
        retry_budget_ratio: float = 0.2,
        retry_budget_min_per_sec: float = 5.0,
        failover: bool = True,
        keep_host: bool = False,
        pool_connections: int = DEFAULT_POOLSIZE,
        pool_maxsize: int = DEFAULT_POOLSIZE,
        pool_block: bool = DEFAULT_POOLBLOCK,
        max_retries: int | Retry = 0,
    ) -> None:
        if not isinstance(cluster, HuddleCluster):
            raise ValueError(
                f"cluster must be a HuddleCluster (from create_cluster), got {cluster!r}"
            )
        self.cluster = cluster
        options = _options.build(
            max_tries=max_tries,
            retry_statuses=retry_statuses,
            budget=_options.budget(
                retry_budget_ratio,
                retry_budget_min_per_sec,
                name="retry_budget_ratio",
                min_name="retry_budget_min_per_sec",
            ),
            keep_host=keep_host,
            failover=failover,
        )
        self.failover = options.failover
        self.keep_host = options.keep_host
        self.policy = options.policy
        if not isinstance(max_retries, Retry):
            _validate.integer("max_retries", max_retries, low=0, high=100)
        super().__init__(
            pool_connections=_validate.integer("pool_connections", pool_connections, low=1),
            pool_maxsize=_validate.integer("pool_maxsize", pool_maxsize, low=1),
            max_retries=max_retries,
            pool_block=_options.flag("pool_block", pool_block),
        )

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` to an upstream, failing over as the policy allows."""
        method = (request.method or "GET").upper()
        run = FailoverRun(
            self.cluster,
            self.policy,
            method,
            body_replayable=_replayable(request.body),
            enabled=self.failover,
        )
        # A retryable answer (a 503, say) is kept until a better one arrives: if no other
        # upstream can be tried after all, the caller gets it rather than an exception.
        held: requests.Response | None = None
        error: BaseException | None = None
        failure: FailureKind | None = None
        while True:
            try:
                attempt = run.next_attempt()
            except NoUpstreamAvailable as exc:
                if held is not None:
                    return held
                if error is None:
                    raise NoUpstreamError(
                        _no_upstream_message(method, request, run, "the cluster has none"),
                        tried=run.tried_ids(),
                        request=request,
                    ) from exc
                break
            try:
                response = super().send(
                    self._upstream_request(request, attempt.upstream),
                    stream=stream,
                    timeout=timeout,
                    verify=verify,
                    cert=cert,
                    proxies=proxies,
                )
            except BaseException as exc:
                failure = classify(exc)
                if failure is None:
                    attempt.cancel()
                    _close(held)
                    raise
                error = exc
                if run.failed(attempt, failure, None):
                    continue
                if held is not None:
                    return held
                break
            if run.responded(attempt, response.status_code):
                _close(held)
                held = response
                continue
            _close(held)
            response.raw = TrackedBody(response.raw, attempt)
            return response
        assert error is not None  # the loop only ends here after a failed attempt
        why = self._why_stopped(run)
        if failure is FailureKind.CONNECT_REFUSED:
            raise NoUpstreamError(
                _no_upstream_message(method, request, run, why),
                tried=run.tried_ids(),
                request=request,
            ) from error
        _add_note(error, f"huddle_client: {run.describe()} ({why})")
        raise error

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """Build the response against the caller's request, not the upstream's copy."""
        logical = req.logical if isinstance(req, _UpstreamRequest) else req
        return super().build_response(logical, resp)

    def _upstream_request(
        self, request: requests.PreparedRequest, upstream: Upstream
    ) -> _UpstreamRequest:
        url = request.url or ""
        copy = _UpstreamRequest.__new__(_UpstreamRequest)  # every field is set just below
        # A shallow copy of every field (method, body, hooks, cookies, body position): the
        # body is shared, never re-encoded, and headers are copied only when changed.
        copy.__dict__.update(request.__dict__)
        copy.url = upstream.url + (request.path_url if url else "/")
        copy.logical = request
        if self.keep_host and "Host" not in request.headers:
            copy.headers = request.headers.copy()
            copy.headers["Host"] = urlsplit(url).netloc.rpartition("@")[2]
        return copy

    def _why_stopped(self, run: FailoverRun) -> str:
        if not self.failover:
            return "fail-over is off"
        if run.tries >= self.policy.max_tries:
            return f"max_tries={self.policy.max_tries} reached"
        if len(run.tried) >= len(self.cluster.all_servers()):
            return "every upstream was tried"
        if not is_idempotent(run.method):
            return f"{run.method} is not idempotent: never sent twice"
        if not run.body_replayable:
            return "a streamed body is never replayed"
        return "retry budget exhausted"

    def __repr__(self) -> str:
        return f"<HuddleAdapter {self.cluster!r} max_tries={self.policy.max_tries}>"


def _replayable(body: object) -> bool:
    """A body that can be sent again as it is: none, bytes or text (not a stream)."""
    return body is None or isinstance(body, (bytes, bytearray, memoryview, str))


def _no_upstream_message(
    method: str, request: requests.PreparedRequest, run: FailoverRun, why: str
) -> str:
    return f"no upstream could take {method} {request.url}: {run.describe()} ({why})"


def _close(response: requests.Response | None) -> None:
    if response is not None:
        response.raw.close()


def _add_note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note(note)
