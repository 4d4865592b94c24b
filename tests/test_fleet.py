"""UpstreamFleet over real loopback sockets: every mode, counts, endpoints, schedule, shutdown."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import httpx
import pytest

from huddle_client.testing import FleetEvent, FleetServer, UpstreamFleet, stream_payload

# The plugin's own fixture, one fleet for the module: 5 ms latency, no jitter, seeded.
pytestmark = pytest.mark.upstream_fleet(n=3, base_latency_ms=5.0, jitter_ms=0.0, seed=7)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, Future[Any]]:
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, future


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        return False


def test_every_server_answers_json_naming_itself(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    assert len(upstream_fleet) == 3
    assert [s.name for s in upstream_fleet] == ["s0", "s1", "s2"]
    for i, url in enumerate(upstream_fleet.urls):
        assert url == f"http://127.0.0.1:{upstream_fleet[i].port}"
        assert upstream_fleet.server_for(url + "/x") is upstream_fleet[i]
        body = client.get(url + "/users/1", params={"a": "1"}).json()
        assert body == {
            "server": f"s{i}",
            "method": "GET",
            "path": "/users/1",
            "query": "a=1",
            "body_bytes": 0,
        }
        assert client.get(url + "/health").json() == {"server": f"s{i}", "status": "ok"}


def test_counts_per_method_and_path(upstream_fleet: UpstreamFleet, client: httpx.Client) -> None:
    s0, s1 = upstream_fleet[0], upstream_fleet[1]
    client.post(s1.url + "/orders", json={"id": 1})
    client.get(s0.url + "/orders")
    client.get(s0.url + "/orders?page=2")
    assert upstream_fleet.total_received("POST", "/orders") == 1
    assert s1.received("POST", "/orders") == 1
    assert s1.received("post") == 1
    assert s0.counts == {("GET", "/orders"): 2}
    assert s0.received(path="/orders") == 2
    assert upstream_fleet.total_received() == 3
    s0.reset_counts()
    assert s0.received() == 0
    assert s1.received() == 1


def test_slow_takes_at_least_factor_times_base(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    server = upstream_fleet[0]
    server.slow(6.0)
    assert server.mode == "slow"
    assert server.behaviour.factor == 6.0
    started = time.perf_counter()
    client.get(server.url + "/health").raise_for_status()
    assert time.perf_counter() - started >= 0.030 * 0.9


def test_error_answers_the_status_at_once_on_every_path(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    server = upstream_fleet[2]
    server.error(503)
    assert server.mode == "error"
    for path in ("/health", "/anything", "/echo"):
        response = client.get(server.url + path)
        assert response.status_code == 503
        assert response.json()["server"] == "s2"
    server.error()
    assert client.get(server.url + "/x").status_code == 500
    assert server.received() == 4


def test_flaky_fails_a_share_reproducibly_with_a_seed(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    server = upstream_fleet[1]

    def run() -> list[int]:
        server.flaky(0.5, status=502)
        return [client.get(server.url + "/x").status_code for _ in range(30)]

    first = run()
    assert set(first) == {200, 502}
    upstream_fleet.reset()  # restarts the seeded generators
    assert run() == first
    server.flaky(1.0)
    assert client.get(server.url + "/x").status_code == 500
    server.flaky(0.0)
    assert client.get(server.url + "/x").status_code == 200


def test_hang_holds_requests_until_recover(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    server = upstream_fleet[0]
    server.hang()
    assert server.mode == "hang"
    with pytest.raises(httpx.ReadTimeout):
        client.get(server.url + "/health", timeout=0.2)
    thread, answer = in_thread(lambda: httpx.get(server.url + "/held", timeout=5.0))
    wait_until(lambda: server.received(path="/held") == 1)
    assert not answer.done()
    server.recover()
    thread.join(5.0)
    assert answer.result(0).json()["server"] == "s0"


def test_crash_refuses_connections_and_recover_reuses_the_port(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    server = upstream_fleet[1]
    port = server.port
    client.get(server.url + "/warm").raise_for_status()  # leaves a pooled connection
    server.crash()
    assert server.mode == "crash"
    assert refused(port)
    with pytest.raises(httpx.TransportError):
        client.get(server.url + "/x")
    server.recover()
    assert server.mode == "normal"
    assert server.port == port
    assert client.get(server.url + "/x").json()["server"] == "s1"


def test_crash_resets_in_flight_requests(upstream_fleet: UpstreamFleet) -> None:
    server = upstream_fleet[2]
    server.hang()
    thread, answer = in_thread(lambda: httpx.get(server.url + "/inflight", timeout=5.0))
    wait_until(lambda: server.received(path="/inflight") == 1)
    server.crash()
    thread.join(5.0)
    assert isinstance(answer.exception(0), httpx.TransportError)


def test_crash_cuts_a_stream_short(upstream_fleet: UpstreamFleet) -> None:
    server = upstream_fleet[0]
    url = server.url + "/stream?bytes=100000&chunk=1000&delay_ms=5"
    got = 0
    with (
        pytest.raises(httpx.TransportError),
        httpx.stream("GET", url, timeout=5.0) as response,
    ):
        for part in response.iter_raw():
            got += len(part)
            if got >= 3000 and server.mode != "crash":
                server.crash()
    assert 3000 <= got < 100000


def test_any_switch_brings_a_crashed_server_back(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    server = upstream_fleet[0]
    server.crash()
    server.error(502)
    assert client.get(server.url + "/x").status_code == 502
    server.crash()
    server.normal()
    assert client.get(server.url + "/x").status_code == 200


def test_invalid_switches_fail_in_the_caller(upstream_fleet: UpstreamFleet) -> None:
    server: FleetServer = upstream_fleet[0]
    with pytest.raises(ValueError):
        server.slow(-1)
    with pytest.raises(ValueError):
        server.error(200)
    with pytest.raises(ValueError):
        server.flaky(1.5)
    assert server.mode == "normal"


def test_reset_restores_every_server(upstream_fleet: UpstreamFleet, client: httpx.Client) -> None:
    client.get(upstream_fleet.urls[2] + "/x")
    upstream_fleet[0].crash()
    upstream_fleet[1].hang()
    upstream_fleet[2].slow(3)
    upstream_fleet.reset()
    assert [s.mode for s in upstream_fleet] == ["normal"] * 3
    assert upstream_fleet.total_received() == 0
    for url in upstream_fleet.urls:
        client.get(url + "/health").raise_for_status()


def test_echo_returns_method_query_headers_and_body(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    url = upstream_fleet.urls[0] + "/echo?x=1&y=%20"
    body = client.put(url, content="héllo", headers={"X-Trace": "abc"}).json()
    assert (body["method"], body["path"], body["query"]) == ("PUT", "/echo", "x=1&y=%20")
    assert ["x-trace", "abc"] in body["headers"]
    assert (body["body"], body["body_encoding"]) == ("héllo", "utf-8")
    binary = client.post(url, content=b"\xff\x00").json()
    assert (binary["body"], binary["body_encoding"]) == ("/wA=", "base64")


def test_stream_sends_the_pattern_in_chunks(
    upstream_fleet: UpstreamFleet, client: httpx.Client
) -> None:
    url = upstream_fleet.urls[1] + "/stream?bytes=200001&chunk=7000&delay_ms=1"
    with client.stream("GET", url) as response:
        parts = list(response.iter_raw())
    assert response.headers["content-length"] == "200001"
    assert len(parts) > 1
    assert b"".join(parts) == stream_payload(200001)
    assert stream_payload(5, offset=254) == bytes([254, 255, 0, 1, 2])
    assert client.get(upstream_fleet.urls[1] + "/stream?bytes=0").content == b""
    assert client.get(upstream_fleet.urls[1] + "/stream?bytes=x").status_code == 400


def test_large_upload_is_streamed_with_bounded_memory(upstream_fleet: UpstreamFleet) -> None:
    total, block = 50 * 1024 * 1024, b"u" * (256 * 1024)

    def body() -> Iterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    tracemalloc.start()
    try:
        with httpx.Client(timeout=30.0) as client:
            answer = client.post(upstream_fleet.urls[2] + "/upload", content=body()).json()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer == {"server": "s2", "received": total}
    assert peak < 10 * 1024 * 1024


def test_status_and_headers_endpoints(upstream_fleet: UpstreamFleet, client: httpx.Client) -> None:
    url = upstream_fleet.urls[0]
    assert client.get(url + "/status/418").status_code == 418
    empty = client.delete(url + "/status/204")
    assert (empty.status_code, empty.content) == (204, b"")
    assert client.get(url + "/status/99").status_code == 400
    redirect = client.get(url + "/headers", params={"status": "302", "Location": "/elsewhere"})
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "/elsewhere"
    closing = client.get(url + "/headers", params={"Connection": "close", "X-A": "1"})
    assert (closing.headers["connection"], closing.headers["x-a"]) == ("close", "1")


def test_schedule_applies_each_event_at_its_time(upstream_fleet: UpstreamFleet) -> None:
    server = upstream_fleet[1]
    seen: list[str] = []
    plan = upstream_fleet.run_schedule(
        [(0.0, 1, "slow", 3.0), FleetEvent(0.05, 1, "crash"), (0.15, 1, "recover")]
    )
    deadline = time.monotonic() + 3.0
    while not plan.done and time.monotonic() < deadline:
        if not seen or seen[-1] != server.mode:
            seen.append(server.mode)
        time.sleep(0.002)
    assert plan.join(timeout=3.0)
    assert [e.mode for e in plan.applied] == ["slow", "crash", "recover"]
    assert "crash" in seen
    assert server.mode == "normal"
    httpx.get(server.url + "/health", timeout=5.0).raise_for_status()


def test_schedule_validates_up_front_and_can_be_cancelled(upstream_fleet: UpstreamFleet) -> None:
    with pytest.raises(ValueError):
        upstream_fleet.run_schedule([(0.0, 0, "slow", 2.0), (0.1, 0, "explode")])
    with pytest.raises(IndexError):
        upstream_fleet.run_schedule([(0.0, 9, "crash")])
    assert upstream_fleet[0].mode == "normal"
    plan = upstream_fleet.run_schedule([(0.0, 0, "error", 503), (30.0, 0, "crash")])
    wait_until(lambda: upstream_fleet[0].mode == "error")
    plan.cancel()
    assert plan.join(timeout=3.0)
    assert plan.done
    assert [e.mode for e in plan.applied] == ["error"]
    assert not plan.join(timeout=0) or plan.done
    assert upstream_fleet[0].mode == "error"


def test_stop_leaves_no_thread_or_port_behind() -> None:
    before = set(threading.enumerate())
    fleet = UpstreamFleet(n=6, base_latency_ms=0.0, jitter_ms=0.0)
    with pytest.raises(RuntimeError):
        _ = fleet.urls
    with fleet:
        assert fleet.running
        ports = [server.port for server in fleet]
        assert len(set(ports)) == 6
        fleet[3].hang()
        fleet[4].crash()
        with httpx.Client(timeout=5.0) as client:
            for i in (0, 1, 2, 5):
                client.get(fleet.urls[i] + "/x").raise_for_status()
            hung_thread, hung = in_thread(lambda: httpx.get(fleet.urls[3] + "/x", timeout=5.0))
            wait_until(lambda: fleet[3].received() == 1)
            started = time.perf_counter()
    assert time.perf_counter() - started < 2.0
    hung_thread.join(5.0)
    assert isinstance(hung.exception(0), httpx.TransportError)
    assert set(threading.enumerate()) == before
    assert all(refused(port) for port in ports)
    fleet.stop()  # a second stop is harmless
    with pytest.raises(RuntimeError):
        fleet.start()
    with pytest.raises(RuntimeError):
        fleet[0].slow(2)


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        UpstreamFleet(n=0)
    with pytest.raises(ValueError):
        UpstreamFleet(base_latency_ms=-1)


def test_keep_alive_requests_do_not_wait_for_delayed_acks() -> None:
    # Header and body leave in two writes: without TCP_NODELAY each keep-alive request would
    # wait ~40 ms for the client's delayed ACK, so 20 of them would take 0.8 s or more.
    with UpstreamFleet(n=1, base_latency_ms=0.0, jitter_ms=0.0) as fleet, httpx.Client() as c:
        c.get(fleet.urls[0] + "/warm")
        started = time.perf_counter()
        for _ in range(20):
            c.get(fleet.urls[0] + "/x").raise_for_status()
        assert time.perf_counter() - started < 0.6
