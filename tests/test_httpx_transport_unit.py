"""Edge cases of the httpx transports that need no server, with httpx.MockTransport inside.

The behaviour on real sockets is in tests/integration/test_httpx_transport.py; a mock
stands in only where a real server cannot produce the case on demand (a pool timeout, an
interrupt inside the send, every upstream timing out at connect, a collection while the
engine holds its lock).
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from huddle_client.integrations import _httpx_route
from huddle_client.integrations._httpx_errors import failure_kind
from huddle_client.integrations._httpx_streams import ReleasingStream
from huddle_client.integrations.httpx import (
    AsyncHTTPProbe,
    AsyncHuddleTransport,
    HTTPProbe,
    HuddleTransport,
    NoUpstreamError,
)

from huddle_client import (
    FailureKind,
    HuddleCluster,
    NoUpstreamAvailable,
    RetryBudget,
    create_cluster,
)

PORTS = [9101, 9102, 9103, 9104, 9105]


def make_cluster(n: int = 3, **options: Any) -> HuddleCluster:
    return create_cluster([f"http://127.0.0.1:{p}" for p in PORTS[:n]], **options)


Handler = Callable[[httpx.Request], httpx.Response]


class Counting(httpx.MockTransport):
    """httpx's MockTransport, keeping the requests it got and whether it was closed."""

    def __init__(self, handler: Handler) -> None:
        self.sent: list[httpx.Request] = []
        self.closed = False

        def record(request: httpx.Request) -> httpx.Response:
            self.sent.append(request)
            return handler(request)

        super().__init__(record)

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def raising(exc: BaseException) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def idle(cluster: HuddleCluster) -> bool:
    return all(up.in_flight == 0 for up in cluster.all_servers())


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_tries", 0, r"max_tries must be in \[1, 100\], got 0"),
        ("max_tries", "3", r"max_tries must be an integer, got '3'"),
        ("retry_statuses", "500", r"retry_statuses must be a collection of HTTP statuses"),
        ("retry_statuses", [99], r"retry_statuses must be in \[100, 599\], got 99"),
        ("retry_budget", -0.1, r"retry_budget ratio must be in \[0, 10\], got -0.1"),
        ("retry_budget", "lots", r"retry_budget must be a RetryBudget or a ratio"),
        ("keep_host", "yes", r"keep_host must be True or False, got 'yes'"),
        ("failover", 1, r"failover must be True or False, got 1"),
        ("transport", object(), r"transport must be an httpx.BaseTransport"),
    ],
)
def test_invalid_options_name_the_option_value_and_range(
    option: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        HuddleTransport(make_cluster(), **{option: value})


def test_async_transport_checks_its_inner_transport() -> None:
    with pytest.raises(ValueError, match="transport must be an httpx.AsyncBaseTransport"):
        AsyncHuddleTransport(make_cluster(), transport=httpx.HTTPTransport())  # type: ignore[arg-type]


def test_cluster_must_be_a_cluster() -> None:
    with pytest.raises(ValueError, match="cluster must be a HuddleCluster"):
        HuddleTransport(["http://127.0.0.1:9101"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ("no", r'extension "huddle" must be a dict'),
        ({"retries": 1}, r"unknown key\(s\) retries; allowed: failover, max_tries, keep_host"),
        ({"failover": "off"}, r"failover must be True or False, got 'off'"),
        ({"keep_host": None}, r"keep_host must be True or False, got None"),
        ({"max_tries": 0}, r"max_tries must be in \[1, 100\], got 0"),
    ],
)
def test_invalid_request_extension_is_a_clear_error(extension: object, message: str) -> None:
    inner = Counting(lambda r: httpx.Response(200))
    cluster = make_cluster()
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client,
        pytest.raises(ValueError, match=message),
    ):
        client.get("http://backend/x", extensions={"huddle": extension})
    assert inner.sent == [] and idle(cluster)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "health"}, r"path must be a string starting with '/', got 'health'"),
        ({"timeout": 0}, r"timeout must be in \(0, 600\], got 0"),
        ({"timeout": "1"}, r"timeout must be a number, got '1'"),
    ],
)
@pytest.mark.parametrize("probe_class", [HTTPProbe, AsyncHTTPProbe])
def test_invalid_probe_options(probe_class: type, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        probe_class(**kwargs)


def test_missing_httpx_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['httpx'] = None\n"
        "try:\n"
        "    import huddle_client.integrations.httpx\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert 'pip install "huddle-client[httpx]"' in out.stdout, out.stderr


# -- error mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), FailureKind.CONNECT_REFUSED),
        (httpx.ConnectTimeout("slow connect"), FailureKind.CONNECT_TIMEOUT),
        (httpx.ReadTimeout("slow head"), FailureKind.READ_TIMEOUT),
        (httpx.WriteTimeout("slow body"), FailureKind.WRITE_TIMEOUT),
        (httpx.ReadError("reset by peer"), FailureKind.RESET),
        (httpx.WriteError("broken pipe"), FailureKind.RESET),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            FailureKind.RESET,
        ),
        (httpx.RemoteProtocolError("illegal status line"), FailureKind.PROTOCOL_ERROR),
        (httpx.ProxyError("proxy said no"), FailureKind.OTHER),
        (httpx.PoolTimeout("pool full"), None),
        (httpx.LocalProtocolError("bad header"), None),
        (httpx.UnsupportedProtocol("ftp"), None),
    ],
)
def test_failure_kind_of_each_httpx_error(
    exc: httpx.TransportError, kind: FailureKind | None
) -> None:
    assert failure_kind(exc) is kind


def test_no_upstream_error_is_a_connect_error_and_a_huddle_error() -> None:
    request = httpx.Request("GET", "http://backend/x")
    exc = NoUpstreamError("none left", tried=[("a:1", "connect_refused")], request=request)
    assert isinstance(exc, httpx.ConnectError)
    assert isinstance(exc, NoUpstreamAvailable)
    assert exc.tried == (("a:1", "connect_refused"),)
    assert exc.request is request
    assert str(exc) == "none left"


# -- fail-over decisions -------------------------------------------------------------------


def test_post_after_a_read_timeout_is_raised_not_replayed() -> None:
    inner = Counting(raising(httpx.ReadTimeout("no head")))
    cluster = make_cluster()
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("http://backend/pay", content=b"1")
    assert len(inner.sent) == 1 and idle(cluster)


def test_get_after_read_timeouts_is_capped_then_the_last_timeout_is_raised() -> None:
    inner = Counting(raising(httpx.ReadTimeout("no head")))
    cluster = make_cluster(5)
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("http://backend/x")
    assert len(inner.sent) == 3  # max_tries
    assert len({r.url.port for r in inner.sent}) == 3  # each on another upstream
    assert idle(cluster)


def test_connect_timeouts_everywhere_stay_a_timeout() -> None:
    inner = Counting(raising(httpx.ConnectTimeout("no SYN-ACK")))
    cluster = make_cluster(2)
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.post("http://backend/x", content=b"safe: nothing was sent")
    assert not isinstance(info.value, NoUpstreamError)
    assert len(inner.sent) == 2


def test_when_every_upstream_answers_a_retryable_status_the_last_answer_is_returned() -> None:
    inner = Counting(lambda r: httpx.Response(503, json={"port": r.url.port}))
    cluster = make_cluster(2)
    with httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client:
        response = client.get("http://backend/x")
    assert response.status_code == 503
    assert response.extensions["huddle"]["tries"] == 2
    assert len(inner.sent) == 2 and idle(cluster)


def test_a_refused_call_with_failover_off_raises_after_one_try() -> None:
    inner = Counting(raising(httpx.ConnectError("refused")))
    cluster = make_cluster()
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner, failover=False)) as c,
        pytest.raises(NoUpstreamError, match="no upstream could take GET") as info,
    ):
        c.get("http://backend/x")
    assert len(inner.sent) == 1 and len(info.value.tried) == 1


def test_an_empty_retry_budget_stops_fail_over() -> None:
    inner = Counting(raising(httpx.ConnectError("refused")))
    budget = RetryBudget(ratio=0.0, min_per_sec=0.0)
    cluster = make_cluster()
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner, retry_budget=budget)) as c,
        pytest.raises(NoUpstreamError),
    ):
        c.get("http://backend/x")
    assert len(inner.sent) == 1 and budget.refused == 1


@pytest.mark.parametrize(
    "exc", [httpx.PoolTimeout("pool full"), httpx.LocalProtocolError("bad header")]
)
def test_local_failures_are_raised_without_evidence_or_retry(exc: httpx.TransportError) -> None:
    inner = Counting(raising(exc))
    cluster = make_cluster()
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client,
        pytest.raises(type(exc)),
    ):
        client.get("http://backend/x")
    assert len(inner.sent) == 1
    assert all(up.failures == 0 and up.in_flight == 0 for up in cluster.all_servers())


class Interrupt(BaseException):
    """Stands in for KeyboardInterrupt without stopping pytest."""


def test_an_interrupt_inside_the_send_releases_the_attempt() -> None:
    cluster = make_cluster()
    transport = HuddleTransport(cluster, transport=Counting(raising(Interrupt())))
    with pytest.raises(Interrupt):
        transport.handle_request(httpx.Request("GET", "http://backend/x"))
    assert idle(cluster)
    assert all(up.failures == 0 for up in cluster.all_servers())


def test_cancelling_an_async_call_releases_the_attempt() -> None:
    cluster = make_cluster()
    started = asyncio.Event()

    class Hanging(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            started.set()
            await asyncio.sleep(60)
            raise AssertionError("not cancelled")

    async def main() -> None:
        transport = AsyncHuddleTransport(cluster, transport=Hanging())
        task = asyncio.create_task(
            transport.handle_async_request(httpx.Request("GET", "http://backend/x"))
        )
        await started.wait()
        assert not idle(cluster)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert idle(cluster) and all(up.failures == 0 for up in cluster.all_servers())


# -- request rewriting ---------------------------------------------------------------------


def test_the_request_is_rewritten_for_the_upstream() -> None:
    inner = Counting(lambda r: httpx.Response(200))
    cluster = create_cluster(["http://[::1]:8443/api"])
    with httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client:
        client.request("PATCH", "http://backend/a%2Fb?q=%20", content=b"body", headers={"X-A": "1"})
    (sent,) = inner.sent
    assert str(sent.url) == "http://[::1]:8443/api/a%2Fb?q=%20"
    assert sent.method == "PATCH" and sent.read() == b"body"
    assert sent.headers["host"] == "[::1]:8443" and sent.headers["x-a"] == "1"


def test_keep_host_leaves_the_host_header_alone() -> None:
    inner = Counting(lambda r: httpx.Response(200))
    with httpx.Client(
        transport=HuddleTransport(make_cluster(), transport=inner, keep_host=True)
    ) as client:
        client.get("http://backend:8080/x")
    assert inner.sent[0].headers["host"] == "backend:8080"


@pytest.mark.parametrize(
    "path", ["/", "/users/1?a=1&b=%20", "//evil.com/x", "/..%2f..%2fadmin", "/%2e%2e/", "/a%0d%0a"]
)
@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:9001", "http://10.0.0.1:8080/api", "https://[::1]:8443/v1/x"]
)
def test_fast_url_join_matches_httpx_copy_with(origin: str, path: str) -> None:
    base = httpx.URL(origin)
    base_path = base.raw_path.rstrip(b"/") if base.raw_path != b"/" else b""
    url = httpx.URL("http://backend" + path)
    fast = _httpx_route._join_parsed(base, base_path, url)
    public = _httpx_route._join_public(base, base_path, url)
    assert fast == public and fast.raw_path == public.raw_path == base_path + url.raw_path


def test_this_httpx_gets_the_fast_url_join() -> None:
    assert _httpx_route._join is _httpx_route._join_parsed


def test_only_an_in_memory_body_is_replayable() -> None:
    def gen() -> Iterator[bytes]:
        yield b"x"

    assert _httpx_route.is_replayable(httpx.Request("PUT", "http://b/", content=b"x"))
    assert _httpx_route.is_replayable(httpx.Request("GET", "http://b/"))
    streamed = httpx.Request("PUT", "http://b/", content=gen())
    assert not _httpx_route.is_replayable(streamed)
    streamed.read()
    assert _httpx_route.is_replayable(streamed)


# -- bodies and release --------------------------------------------------------------------


class Chunks(httpx.SyncByteStream):
    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for i in range(5):
            if self.fail_after is not None and i == self.fail_after:
                raise httpx.ReadError("peer went away")
            yield b"chunk"

    def close(self) -> None:
        self.closed = True


def test_a_response_read_by_the_inner_transport_is_released_at_once() -> None:
    cluster = make_cluster()
    transport = HuddleTransport(cluster, transport=Counting(lambda r: httpx.Response(200)))
    response = transport.handle_request(httpx.Request("GET", "http://backend/x"))
    assert response.is_closed and idle(cluster)


def test_a_body_failing_midway_is_reported_and_raised() -> None:
    cluster = make_cluster()
    stream = Chunks(fail_after=2)
    inner = Counting(lambda r: httpx.Response(200, stream=stream))
    with (
        httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client,
        pytest.raises(httpx.ReadError),
    ):
        client.get("http://backend/x")
    assert sum(up.failures for up in cluster.all_servers()) == 1
    assert idle(cluster) and stream.closed


def test_a_dropped_response_is_released_by_the_releaser_thread() -> None:
    cluster = make_cluster()
    inner = Counting(lambda r: httpx.Response(200, stream=Chunks()))
    transport = HuddleTransport(cluster, transport=inner)
    response = transport.handle_request(httpx.Request("GET", "http://backend/x"))
    assert not idle(cluster)
    del response
    gc.collect()
    assert idle(cluster)


def test_collecting_a_stream_while_the_engine_holds_its_lock_does_not_deadlock() -> None:
    cluster = make_cluster()
    attempt = cluster.begin()
    holder: list[Any] = [ReleasingStream(Chunks(), attempt)]

    def collect_under_the_lock() -> None:
        with cluster._lock:  # as when a collection runs inside an engine allocation
            holder.clear()
            gc.collect()

    thread = threading.Thread(target=collect_under_the_lock, daemon=True)
    thread.start()
    thread.join(5.0)
    assert not thread.is_alive(), "the release waited for the engine lock and deadlocked"
    cluster.rotate()  # the tick settles a release that found the lock busy
    assert idle(cluster)


class AsyncChunks(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"chunk"


def test_async_body_end_releases() -> None:
    cluster = make_cluster()

    async def main() -> None:
        inner = httpx.MockTransport(lambda r: httpx.Response(200, stream=AsyncChunks()))
        transport = AsyncHuddleTransport(cluster, transport=inner)
        async with (
            httpx.AsyncClient(transport=transport) as client,
            client.stream("GET", "http://backend/x") as response,
        ):
            assert not idle(cluster)
            assert b"".join([c async for c in response.aiter_raw()]) == b"chunk" * 3
            assert idle(cluster)

    asyncio.run(main())


def test_closing_the_client_closes_the_inner_transport() -> None:
    inner = Counting(lambda r: httpx.Response(200))
    with httpx.Client(transport=HuddleTransport(make_cluster(), transport=inner)):
        pass
    assert inner.closed

    inner = Counting(lambda r: httpx.Response(200))

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=AsyncHuddleTransport(make_cluster(), transport=inner)
        ):
            pass

    asyncio.run(main())
    assert inner.closed


def test_probes_answer_true_on_2xx_3xx_and_false_otherwise() -> None:
    statuses = {9101: 204, 9102: 302, 9103: 503}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/healthz"
        if request.url.port == 9104:
            raise httpx.ConnectError("refused")
        return httpx.Response(statuses[request.url.port or 0])

    ups = make_cluster(4).all_servers()
    with HTTPProbe(path="/healthz", transport=httpx.MockTransport(handler)) as probe:
        assert [probe(up) for up in ups] == [True, True, False, False]

    async def main() -> list[bool]:
        async with AsyncHTTPProbe(path="/healthz", transport=httpx.MockTransport(handler)) as ap:
            return [await ap(up) for up in ups]

    assert asyncio.run(main()) == [True, True, False, False]


# -- a held retryable answer ---------------------------------------------------------------


class Tracked(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that remembers whether it was closed, for sync and async responses."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"body"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"body"

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def in_turn(*answers: Callable[[], httpx.Response]) -> Handler:
    """The first call gets the first answer, the second the second, and so on."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)()

    return handler


def test_a_held_answer_is_closed_when_replaced_or_beaten() -> None:
    bodies = [Tracked(), Tracked()]
    answers = in_turn(
        lambda: httpx.Response(503, stream=bodies[0]),
        lambda: httpx.Response(502, stream=bodies[1]),
        lambda: httpx.Response(200, stream=Tracked()),
    )
    cluster = make_cluster(3)
    transport = HuddleTransport(cluster, transport=Counting(answers))
    response = transport.handle_request(httpx.Request("GET", "http://backend/x"))
    assert response.status_code == 200
    assert bodies[0].closed and bodies[1].closed
    assert [why for _, why in response.extensions["huddle"]["tried"]] == [
        "status 503",
        "status 502",
    ]
    response.close()
    assert idle(cluster)


def test_a_held_answer_is_returned_when_the_next_try_times_out() -> None:
    held = Tracked()

    def timeout() -> httpx.Response:
        raise httpx.ReadTimeout("no head")

    cluster = make_cluster(2)
    inner = Counting(in_turn(lambda: httpx.Response(503, stream=held), timeout))
    transport = HuddleTransport(cluster, transport=inner)
    response = transport.handle_request(httpx.Request("GET", "http://backend/x"))
    assert response.status_code == 503 and not held.closed
    info = response.extensions["huddle"]
    first, second = (f"127.0.0.1:{r.url.port}" for r in inner.sent)
    assert info["upstream"] == first and info["tries"] == 2
    assert [(uid, why.split(" ")[0]) for uid, why in info["tried"]] == [(second, "read_timeout")]
    assert response.read() == b"body"
    assert idle(cluster)


def test_a_held_answer_is_closed_when_the_call_is_interrupted() -> None:
    held = Tracked()

    def interrupt() -> httpx.Response:
        raise Interrupt()

    answers = in_turn(lambda: httpx.Response(503, stream=held), interrupt)
    cluster = make_cluster(2)
    transport = HuddleTransport(cluster, transport=Counting(answers))
    with pytest.raises(Interrupt):
        transport.handle_request(httpx.Request("GET", "http://backend/x"))
    assert held.closed and idle(cluster)


def test_async_held_answer_is_returned_or_closed_like_the_sync_one() -> None:
    first, beaten = Tracked(), Tracked()
    cluster = make_cluster(2)

    def refused() -> httpx.Response:
        raise httpx.ConnectError("refused")

    async def main() -> None:
        answers = in_turn(lambda: httpx.Response(503, stream=first), refused)
        transport = AsyncHuddleTransport(cluster, transport=Counting(answers))
        response = await transport.handle_async_request(httpx.Request("GET", "http://backend/x"))
        assert response.status_code == 503 and not first.closed
        await response.aclose()
        answers = in_turn(lambda: httpx.Response(503, stream=beaten), lambda: httpx.Response(200))
        fresh = make_cluster(2)
        transport = AsyncHuddleTransport(fresh, transport=Counting(answers))
        response = await transport.handle_async_request(httpx.Request("GET", "http://backend/x"))
        assert response.status_code == 200 and beaten.closed
        assert idle(fresh)

    asyncio.run(main())
    assert idle(cluster)


def test_the_router_forgets_removed_upstreams() -> None:
    cluster = make_cluster(1)
    router = _httpx_route.Router()
    router.target(cluster.all_servers()[0])
    for i in range(50):
        up = cluster.add_server(f"http://127.0.0.1:{20000 + i}")
        router.target(up)
        cluster.remove_server(up.id)
    del up
    gc.collect()
    assert len(router) == 1


@pytest.mark.parametrize("keep_host", [False, True])
@pytest.mark.parametrize(
    "headers",
    [
        None,
        {"X-A": "1", "Host": "other"},
        [("X-A", "1"), ("HOST", "a"), ("host", "b")],
        [("Cookie", "a=1"), ("Cookie", "b=2")],
    ],
)
def test_the_field_by_field_request_copy_matches_the_public_one(
    headers: Any, keep_host: bool
) -> None:
    request = httpx.Request(
        "POST", "http://backend/a?b=1", headers=headers, content=b"x", extensions={"k": 1}
    )
    before = list(request.headers.raw)
    url = httpx.URL("http://127.0.0.1:9001/a?b=1")
    host = None if keep_host else _httpx_route._host_header("127.0.0.1:9001")
    fast = _httpx_route._copy_fields(request, url, host)
    public = _httpx_route._copy_public(request, url, host)
    assert list(fast.headers.raw) == list(public.headers.raw)
    assert (fast.method, fast.url, fast.stream) == (public.method, public.url, public.stream)
    assert fast.extensions == public.extensions == {"k": 1}
    fast.headers["X-Added"] = "1"
    fast.extensions["huddle"] = {}
    assert list(request.headers.raw) == before and request.extensions == {"k": 1}


def test_this_httpx_gets_the_field_by_field_request_copy() -> None:
    assert _httpx_route._copy is _httpx_route._copy_fields
