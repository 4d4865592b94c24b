"""HuddleTransport and AsyncHuddleTransport against a real upstream fleet on loopback.

Covers the client-side lines 20-27 of /work/shared/PROXY_CHECKLIST.md ("Faults and
retries"), traffic shares under slow, crashed, failing and healed servers, streaming bodies,
concurrency, and the options. Every load loop is bounded in count; timings are only checked
against loose bounds.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huddle_client.integrations.httpx import (
    AsyncHTTPProbe,
    AsyncHuddleTransport,
    HTTPProbe,
    HuddleTransport,
    NoUpstreamError,
)
from integration.helpers import wait_idle, wait_until

from huddle_client import HuddleCluster, Upstream, create_cluster
from huddle_client.testing import UpstreamFleet

pytestmark = [
    pytest.mark.integration,
    pytest.mark.upstream_fleet(n=3, base_latency_ms=2.0, jitter_ms=0.2),
]

ROOT = Path(__file__).resolve().parents[2]


class Recording(httpx.BaseTransport):
    """A real HTTPTransport that also keeps every request it was asked to send."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []
        self.closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def upstream_of(cluster: HuddleCluster, fleet: UpstreamFleet, i: int) -> Upstream:
    return next(up for up in cluster.all_servers() if up.port == fleet[i].port)


@pytest.fixture
def cluster(upstream_fleet: UpstreamFleet) -> Iterator[HuddleCluster]:
    c = create_cluster(upstream_fleet.urls)
    with c:
        yield c
    wait_idle(c)


def client_for(cluster: HuddleCluster, **options: Any) -> httpx.Client:
    timeout = options.pop("timeout", 10.0)
    return httpx.Client(
        transport=HuddleTransport(cluster, **options), base_url="http://backend", timeout=timeout
    )


# -- routing -------------------------------------------------------------------------------


def test_requests_go_round_robin_and_keep_method_path_query_headers_body(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    with client_for(cluster) as client:
        servers = [client.get(f"/users/{i}").json()["server"] for i in range(6)]
        echoed = client.put(
            "/echo?b=%20x&a=1", content=b"payload", headers={"X-Trace": "t-1"}
        ).json()
    assert servers == ["s0", "s1", "s2", "s0", "s1", "s2"]
    assert echoed["method"] == "PUT"
    assert echoed["path"] == "/echo"
    assert echoed["query"] == "b=%20x&a=1"
    assert echoed["body"] == "payload"
    headers = dict(echoed["headers"])
    assert headers["x-trace"] == "t-1"
    port = upstream_fleet.server_for(
        upstream_fleet.urls[["s0", "s1", "s2"].index(echoed["server"])]
    ).port
    assert headers["host"] == f"127.0.0.1:{port}"


def test_raw_path_and_query_are_sent_byte_for_byte(cluster: HuddleCluster) -> None:
    inner = Recording()
    paths = ["/..%2f..%2fadmin", "/%2e%2e/x", "/a%0d%0ab?q=%0d%0a&x=%2F", "//evil.com/x"]
    with httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client:
        for path in paths:
            response = client.get("http://backend" + path)
            assert response.status_code == 200
            assert response.json()["server"] in {"s0", "s1", "s2"}
    assert [r.url.raw_path.decode() for r in inner.sent] == paths
    assert all(r.url.host == "127.0.0.1" for r in inner.sent)
    assert inner.closed


def test_keep_host_forwards_the_logical_host(cluster: HuddleCluster) -> None:
    with client_for(cluster, keep_host=True) as client:
        headers = dict(client.get("/echo").json()["headers"])
    assert headers["host"] == "backend"


def test_base_path_is_joined_by_concatenation(upstream_fleet: UpstreamFleet) -> None:
    c = create_cluster([url + "/api/v1" for url in upstream_fleet.urls])
    with c, httpx.Client(transport=HuddleTransport(c), base_url="http://backend") as client:
        assert client.get("/users/1").json()["path"] == "/api/v1/users/1"
        evil = client.get("http://backend//evil.com/x").json()
        assert evil["path"] == "/api/v1//evil.com/x"
        assert evil["server"] in {"s0", "s1", "s2"}
    wait_idle(c)


def test_mounts_balance_only_the_mounted_host(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    with httpx.Client(mounts={"http://backend": HuddleTransport(cluster)}) as client:
        balanced = [client.get("http://backend/x") for _ in range(3)]
        direct = client.get(upstream_fleet.urls[2] + "/y")
    assert sorted(r.json()["server"] for r in balanced) == ["s0", "s1", "s2"]
    assert all("huddle" in r.extensions for r in balanced)
    assert direct.json()["server"] == "s2"
    assert "huddle" not in direct.extensions
    assert sum(up.requests for up in cluster.all_servers()) == 3


def test_one_inner_transport_pools_connections_per_upstream(cluster: HuddleCluster) -> None:
    local_ports: dict[str, set[int]] = {}
    with client_for(cluster) as client:
        for i in range(12):
            response = client.get(f"/p/{i}")
            peer = response.extensions["network_stream"].get_extra_info("client_addr")
            local_ports.setdefault(response.json()["server"], set()).add(peer[1])
    assert sorted(local_ports) == ["s0", "s1", "s2"]
    assert all(len(ports) == 1 for ports in local_ports.values()), local_ports


# -- faults and retries (checklist 20-27) --------------------------------------------------


def test_refused_get_is_retried_on_another_upstream(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    upstream_fleet[0].crash()
    with client_for(cluster) as client:
        responses = [client.get(f"/g/{i}") for i in range(9)]
    assert [r.status_code for r in responses] == [200] * 9
    assert {r.json()["server"] for r in responses} == {"s1", "s2"}
    first = responses[0].extensions["huddle"]
    assert first["tries"] == 2 and "connect_refused" in first["tried"][0][1]
    # Ejected at once: only the first call paid a retry.
    assert sum(r.extensions["huddle"]["tries"] for r in responses) == 10
    assert upstream_of(cluster, upstream_fleet, 0) in cluster.outer_servers()


def test_refused_post_is_retried_and_reaches_exactly_one_server(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    upstream_fleet[0].crash()
    with client_for(cluster) as client:
        for i in range(6):
            response = client.post(f"/orders/{i}", content=b"{}")
            assert response.status_code == 200
    for i in range(6):
        assert upstream_fleet.total_received("POST", f"/orders/{i}") == 1


def test_post_reset_after_it_was_sent_raises_and_is_not_replayed(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    for server in upstream_fleet:
        server.hang()
    outcome: list[BaseException | httpx.Response] = []

    def post() -> None:
        with client_for(cluster) as client:
            try:
                outcome.append(client.post("/charge", content=b"amount=5"))
            except BaseException as exc:
                outcome.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    wait_until(lambda: upstream_fleet.total_received("POST", "/charge") == 1, 5.0, "the POST")
    victim = next(s for s in upstream_fleet if s.received("POST", "/charge"))
    victim.crash()
    thread.join(10.0)
    assert not thread.is_alive()
    (exc,) = outcome
    assert isinstance(exc, httpx.TransportError) and not isinstance(exc, NoUpstreamError), exc
    time.sleep(0.2)  # a replay would reach a hung server, which counts it on arrival
    assert upstream_fleet.total_received("POST", "/charge") == 1


def test_streamed_request_body_is_never_replayed(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    for server in upstream_fleet:
        server.error(503)
    with client_for(cluster) as client:
        in_memory = client.put("/doc", content=b"x" * 100)
        streamed = client.put("/doc-stream", content=iter([b"x" * 50, b"y" * 50]))
    # An in-memory idempotent body is replayed on each upstream; a generator body is not.
    assert in_memory.status_code == 503 and in_memory.extensions["huddle"]["tries"] == 3
    assert upstream_fleet.total_received("PUT", "/doc") == 3
    assert streamed.status_code == 503 and streamed.extensions["huddle"]["tries"] == 1
    assert upstream_fleet.total_received("PUT", "/doc-stream") == 1


def test_streamed_request_body_failing_midway_raises_without_replay(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    def body() -> Iterator[bytes]:
        yield b"first part"
        raise RuntimeError("the producer broke")

    with client_for(cluster) as client, pytest.raises(RuntimeError, match="producer broke"):
        client.put("/upload", content=body())
    # The head and the first part went out, so one upstream saw the request; none saw a replay.
    wait_until(lambda: upstream_fleet.total_received("PUT", "/upload") >= 1, 5.0, "the PUT")
    time.sleep(0.2)  # a replay would be counted on arrival
    assert upstream_fleet.total_received("PUT", "/upload") == 1
    wait_idle(cluster)


def test_retryable_answer_then_refused_returns_the_held_answer(
    upstream_fleet: UpstreamFleet,
) -> None:
    upstream_fleet[0].error(503)
    upstream_fleet[1].crash()
    c = create_cluster(upstream_fleet.urls[:2])  # fresh: its first pick is s0
    with c, client_for(c) as client:
        response = client.get("/held")
    # The 503 was held while s1 was tried; s1 refused, so the caller gets the 503, not an error.
    assert response.status_code == 503 and response.json()["server"] == "s0"
    info = response.extensions["huddle"]
    assert info["upstream"] == upstream_of(c, upstream_fleet, 0).id and info["tries"] == 2
    assert [(uid, why.split(" ")[0]) for uid, why in info["tried"]] == [
        (upstream_of(c, upstream_fleet, 1).id, "connect_refused")
    ]
    assert upstream_fleet.total_received("GET", "/held") == 1
    wait_idle(c)


def test_async_retryable_answer_then_refused_returns_the_held_answer(
    upstream_fleet: UpstreamFleet,
) -> None:
    upstream_fleet[0].error(503)
    upstream_fleet[1].crash()
    c = create_cluster(upstream_fleet.urls[:2])  # fresh: its first pick is s0

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=AsyncHuddleTransport(c), base_url="http://backend", timeout=10.0
        ) as client:
            return await client.get("/held")

    with c:
        response = asyncio.run(asyncio.wait_for(main(), 30.0))
    assert response.status_code == 503 and response.json()["server"] == "s0"
    assert response.extensions["huddle"]["tries"] == 2
    assert upstream_fleet.total_received("GET", "/held") == 1
    wait_idle(c)


@pytest.mark.upstream_fleet(n=3, base_latency_ms=20.0, jitter_ms=1.0)
def test_hanging_upstream_times_out_per_try_get_is_rerouted_and_heats(
    upstream_fleet: UpstreamFleet,
) -> None:
    upstream_fleet[0].hang()
    c = create_cluster(upstream_fleet.urls)  # fresh: its first pick is s0
    hung = upstream_of(c, upstream_fleet, 0)
    with c, client_for(c, timeout=httpx.Timeout(10.0, read=0.3)) as client:
        started = time.monotonic()
        response = client.get("/first")
        elapsed = time.monotonic() - started
        assert response.status_code == 200 and response.json()["server"] != "s0"
        assert response.extensions["huddle"]["tries"] == 2
        assert "read_timeout" in response.extensions["huddle"]["tried"][0][1]
        assert elapsed >= 0.25  # the read timeout did apply to the try that hung
        assert hung.requests == 1 and hung.failures == 1
        for i in range(6):
            assert client.get(f"/next/{i}").json()["server"] != "s0"
        others = [up for up in c.all_servers() if up is not hung]
        assert hung.temperature > max(up.temperature for up in others)
    wait_idle(c)


@pytest.mark.upstream_fleet(n=3, base_latency_ms=20.0, jitter_ms=1.0)
def test_hanging_upstream_post_gets_the_read_timeout_once(upstream_fleet: UpstreamFleet) -> None:
    upstream_fleet[0].hang()
    c = create_cluster(upstream_fleet.urls)  # fresh: its first pick is s0
    with (
        c,
        client_for(c, timeout=httpx.Timeout(10.0, read=0.3)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/pay", content=b"1")
    assert upstream_fleet[0].received("POST", "/pay") == 1
    assert upstream_fleet.total_received("POST", "/pay") == 1
    wait_idle(c)


def test_all_down_raises_no_upstream_error_quickly_with_bounded_attempts(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    for server in upstream_fleet:
        server.crash()
    inner = Recording()
    calls = 30
    started = time.monotonic()
    with httpx.Client(transport=HuddleTransport(cluster, transport=inner)) as client:
        for i in range(calls):
            with pytest.raises(NoUpstreamError) as info:
                client.get(f"http://backend/down/{i}")
            assert isinstance(info.value, httpx.ConnectError)
            assert info.value.tried and all("connect_refused" in why for _, why in info.value.tried)
    elapsed = time.monotonic() - started
    assert elapsed < 10.0
    message = str(info.value)
    assert "no upstream could take GET http://backend/down/29" in message
    # Tries cap (3) and budget (5 retries a second + 20% of calls) bound the attempts far
    # below the 90 a retry storm would send.
    assert len(inner.sent) <= calls + 5 * (int(elapsed) + 2) + 0.2 * calls + 1
    assert len(inner.sent) < 3 * calls


class GarbageServer:
    """A loopback TCP server answering every request with bytes that are not HTTP."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            with conn:
                conn.settimeout(2.0)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(self.reply)

    def __enter__(self) -> GarbageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()


@pytest.mark.parametrize(
    "reply", [b"SPAM SPAM SPAM\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"]
)
def test_malformed_response_is_an_error_get_rerouted_post_raised(
    upstream_fleet: UpstreamFleet, reply: bytes
) -> None:
    with GarbageServer(reply) as garbage:
        urls = [f"http://127.0.0.1:{garbage.port}", upstream_fleet.urls[0]]
        c = create_cluster(urls)  # fresh: its first pick is the garbage server
        with c, client_for(c) as client:
            response = client.get("/x")
            assert response.status_code == 200 and response.json()["server"] == "s0"
            assert "protocol_error" in response.extensions["huddle"]["tried"][0][1]
        wait_idle(c)
        c = create_cluster(urls)
        with c, client_for(c) as client, pytest.raises(httpx.RemoteProtocolError):
            client.post("/x", content=b"once")
        assert upstream_fleet.total_received("POST", "/x") == 0
        assert c.server(f"127.0.0.1:{garbage.port}").failures == 1
        wait_idle(c)


# -- traffic shares ------------------------------------------------------------------------


def test_slow_upstream_loses_its_share(upstream_fleet: UpstreamFleet) -> None:
    # 50 ms against 2 ms: a CPU stall of a loaded machine cannot make the fast ones look slow.
    upstream_fleet[0].slow(25.0)
    c = create_cluster(upstream_fleet.urls, rotation_interval_sec=0.1)
    with c, client_for(c) as client:
        servers = Counter(client.get(f"/s/{i}").json()["server"] for i in range(120))
    assert servers["s0"] <= 18, servers  # an even share would be 40
    assert servers["s1"] + servers["s2"] >= 102
    wait_idle(c)


def test_crash_under_load_costs_no_get_and_no_post(upstream_fleet: UpstreamFleet) -> None:
    c = create_cluster(upstream_fleet.urls, rotation_interval_sec=0.1)
    statuses: list[int] = []
    errors: list[tuple[str, str, BaseException]] = []
    schedule = upstream_fleet.run_schedule([(0.15, 1, "crash")])
    # One client for all workers: closing a client closes its transport, and with it the
    # connections the other workers are using.
    client = httpx.Client(transport=HuddleTransport(c), base_url="http://backend", timeout=10.0)

    def worker(k: int) -> None:
        for i in range(40):
            method, path = ("POST", f"/orders/{k}-{i}") if i % 2 else ("GET", f"/items/{k}-{i}")
            try:
                statuses.append(client.request(method, path, content=b"x").status_code)
            except BaseException as exc:
                errors.append((method, path, exc))
            time.sleep(0.005)

    with c, client:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30.0)
    schedule.join(5.0)
    # Only a POST already in s1's hands when it crashed may fail (sending it again could
    # charge twice); every GET and every other POST gets its 200.
    for method, path, exc in errors:
        assert method == "POST", (method, path, exc)
        assert isinstance(exc, httpx.TransportError)
        assert upstream_fleet[1].received("POST", path) == 1
    assert len(errors) <= 4  # at most one in flight per worker
    assert statuses == [200] * (160 - len(errors))
    for k in range(4):
        for i in range(1, 40, 2):
            assert upstream_fleet.total_received("POST", f"/orders/{k}-{i}") == 1
    assert upstream_of(c, upstream_fleet, 1) in c.outer_servers()
    wait_idle(c)


def test_fast_failing_upstream_loses_its_share_and_gets_never_see_its_500(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    upstream_fleet[0].error(500)
    with client_for(cluster) as client:
        responses = [client.get(f"/f/{i}") for i in range(60)]
    assert [r.status_code for r in responses] == [200] * 60
    assert upstream_fleet[0].received() <= 6, upstream_fleet[0].counts
    assert {r.json()["server"] for r in responses} == {"s1", "s2"}


def _sync_probe() -> tuple[Any, Callable[[], None]]:
    probe = HTTPProbe(path="/health", timeout=0.5)
    return probe, probe.close


def _async_probe() -> tuple[Any, Callable[[], None]]:
    probe = AsyncHTTPProbe(path="/health", timeout=0.5)
    return probe, lambda: asyncio.run(probe.aclose())


# 20 ms upstreams: AsyncHTTPProbe opens a connection per probe, which on 2 ms upstreams alone
# reads as "several times slower than the traffic" and keeps the server hot.
@pytest.mark.upstream_fleet(n=3, base_latency_ms=20.0, jitter_ms=1.0)
@pytest.mark.parametrize("make_probe", [_sync_probe, _async_probe], ids=["sync", "async"])
def test_healed_upstream_wins_its_share_back_through_probes(
    upstream_fleet: UpstreamFleet, make_probe: Callable[[], tuple[Any, Callable[[], None]]]
) -> None:
    probe, close_probe = make_probe()
    c = create_cluster(
        upstream_fleet.urls,
        probe=probe,
        min_outer_dwell_sec=0.5,
        rotation_cooldown_sec=0.2,
        rotation_interval_sec=0.1,
        probe_interval_sec=0.1,
    )
    crashed = upstream_of(c, upstream_fleet, 0)
    try:
        with c, client_for(c) as client:
            upstream_fleet[0].crash()
            for i in range(6):
                assert client.get(f"/before/{i}").status_code == 200
            assert crashed in c.outer_servers() and not crashed.healthy
            time.sleep(0.5)  # failed probes while it is down keep it out
            assert crashed in c.outer_servers()
            upstream_fleet[0].recover()
            wait_until(
                lambda: crashed in c.inner_servers(),
                15.0,
                lambda: (
                    f"the healed server's return; now {crashed!r}, healthy={crashed.healthy},"
                    f" probes answered {upstream_fleet[0].received('GET', '/health')}"
                ),
            )
            upstream_fleet[0].reset_counts()
            servers = Counter(client.get(f"/after/{i}").json()["server"] for i in range(30))
        assert servers["s0"] >= 5, servers
    finally:
        close_probe()
    wait_idle(c)


# -- streaming -----------------------------------------------------------------------------


def test_streamed_response_head_is_latency_and_body_end_releases(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    with client_for(cluster) as client:
        with client.stream("GET", "/stream?bytes=60000&chunk=6000&delay_ms=20") as response:
            up = cluster.server(response.extensions["huddle"]["upstream"])
            assert up.in_flight == 1
            assert up.avg_latency_ms > 0
            head_ms = up.avg_latency_ms
            size = sum(len(chunk) for chunk in response.iter_raw())
            assert up.in_flight == 0  # released at body end, before the close
        assert size == 60000
        # Nine 20 ms pauses between ten chunks: the duration covers the body, the latency
        # only the head.
        assert up.duration_ms >= 150.0
        assert head_ms < up.duration_ms
    wait_idle(cluster)


def test_partially_read_stream_closed_early_releases(cluster: HuddleCluster) -> None:
    with client_for(cluster) as client:
        with client.stream("GET", "/stream?bytes=1000000&chunk=1000&delay_ms=5") as response:
            next(response.iter_raw())
            assert sum(up.in_flight for up in cluster.all_servers()) == 1
        assert sum(up.in_flight for up in cluster.all_servers()) == 0
        assert client.get("/after").status_code == 200


def test_closing_a_stream_early_drops_its_connection(upstream_fleet: UpstreamFleet) -> None:
    # Checklist 26 from the client's side: a body abandoned midway is not read to its end,
    # and its connection is not handed to the next call.
    c = create_cluster(upstream_fleet.urls[:1])
    with c, client_for(c) as client:
        with client.stream("GET", "/stream?bytes=1000000&chunk=1000&delay_ms=5") as response:
            first = response.extensions["network_stream"].get_extra_info("client_addr")
            chunks = response.iter_raw()
            next(chunks)
        after = client.get("/after")
        second = after.extensions["network_stream"].get_extra_info("client_addr")
        again = client.get("/again").extensions["network_stream"].get_extra_info("client_addr")
    assert after.status_code == 200
    assert first != second  # a fresh connection
    assert second == again  # while a completed call's connection is reused
    wait_idle(c)


def test_stream_never_closed_is_released_by_garbage_collection(cluster: HuddleCluster) -> None:
    client = client_for(cluster)
    request = client.build_request("GET", "/stream?bytes=100000&chunk=1000&delay_ms=5")
    response = client.send(request, stream=True)
    next(response.iter_raw())
    assert sum(up.in_flight for up in cluster.all_servers()) == 1
    del response
    gc.collect()
    wait_idle(cluster)
    client.close()


def test_body_failing_midway_is_reported_as_a_failure(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    with client_for(cluster) as client:
        with client.stream("GET", "/stream?bytes=1000000&chunk=1000&delay_ms=10") as response:
            up = cluster.server(response.extensions["huddle"]["upstream"])
            chunks = response.iter_raw()
            next(chunks)
            failures = up.failures
            upstream_fleet.server_for(up.url).crash()
            with pytest.raises(httpx.TransportError):
                for _ in chunks:
                    pass
        assert up.failures == failures + 1
    wait_idle(cluster)


def test_async_stream_partial_read_then_close_releases(cluster: HuddleCluster) -> None:
    async def main() -> None:
        transport = AsyncHuddleTransport(cluster)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
            async with client.stream("GET", "/stream?bytes=100000&chunk=1000&delay_ms=5") as r:
                async for _ in r.aiter_raw():
                    break
                assert sum(up.in_flight for up in cluster.all_servers()) == 1
            assert sum(up.in_flight for up in cluster.all_servers()) == 0
            full = await client.get("/stream?bytes=5000&chunk=1000")
            assert len(full.content) == 5000

    asyncio.run(asyncio.wait_for(main(), 30.0))
    wait_idle(cluster)


# -- concurrency ---------------------------------------------------------------------------


@pytest.mark.upstream_fleet(n=3, base_latency_ms=1.0, jitter_ms=0.1)
def test_a_thousand_concurrent_async_requests_all_succeed(upstream_fleet: UpstreamFleet) -> None:
    c = create_cluster(upstream_fleet.urls)

    async def main() -> list[httpx.Response]:
        # httpx's default pool (100 connections) queues the other 900 calls, and its queue
        # handling alone times them out on a loaded 2-core machine, with or without us.
        inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1000))
        transport = AsyncHuddleTransport(c, transport=inner)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://backend", timeout=30.0
        ) as client:
            return await asyncio.gather(*(client.get(f"/c/{i}") for i in range(1000)))

    with c:
        responses = asyncio.run(asyncio.wait_for(main(), 90.0))
    assert [r.status_code for r in responses] == [200] * 1000
    servers = Counter(r.json()["server"] for r in responses)
    assert set(servers) == {"s0", "s1", "s2"}
    assert all(up.in_flight == 0 for up in c.all_servers())
    assert upstream_fleet.total_received("GET") == 1000


def test_one_transport_shared_by_threads(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    transport = HuddleTransport(cluster)
    client = httpx.Client(transport=transport, base_url="http://backend", timeout=10.0)
    statuses: list[int] = []

    def worker(k: int) -> None:
        for i in range(40):
            statuses.append(client.get(f"/t/{k}/{i}").status_code)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30.0)
    client.close()
    assert statuses == [200] * 320
    assert upstream_fleet.total_received("GET") == 320
    wait_idle(cluster)


# -- options and overrides -----------------------------------------------------------------


def test_extension_disables_failover_for_one_call(
    upstream_fleet: UpstreamFleet,
) -> None:
    upstream_fleet[0].crash()
    c = create_cluster(upstream_fleet.urls)  # fresh: its first pick is s0
    with c, client_for(c) as client:
        with pytest.raises(NoUpstreamError) as info:
            client.get("/once", extensions={"huddle": {"failover": False}})
        assert len(info.value.tried) == 1
        assert client.get("/again").status_code == 200  # the transport default still fails over
    wait_idle(c)


def test_extension_caps_tries_and_keeps_host_for_one_call(
    upstream_fleet: UpstreamFleet, cluster: HuddleCluster
) -> None:
    for server in upstream_fleet:
        server.error(503)
    with client_for(cluster) as client:
        capped = client.get("/cap", extensions={"huddle": {"max_tries": 2}})
        assert capped.status_code == 503 and capped.extensions["huddle"]["tries"] == 2
        for server in upstream_fleet:
            server.normal()
        echoed = client.get("/echo", extensions={"huddle": {"keep_host": True}}).json()
    assert dict(echoed["headers"])["host"] == "backend"
    assert upstream_fleet.total_received("GET", "/cap") == 2


def test_bad_extension_is_a_clear_error(cluster: HuddleCluster) -> None:
    with client_for(cluster) as client, pytest.raises(ValueError, match="unknown key.*retries"):
        client.get("/x", extensions={"huddle": {"retries": 2}})


def test_example_runs(upstream_fleet: UpstreamFleet) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "httpx_client.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "s0 crashed:" in result.stdout and "'s0'" in result.stdout.splitlines()[-1]
