"""HuddleAdapter against real upstream servers on loopback (the UpstreamFleet).

Covers the client-side lines of PROXY_CHECKLIST "Faults and retries" (20-25, 27) and the
adapter's own promises: balancing, URL rewriting, Host handling, body-end reporting,
thread safety. A tiny raw-socket server stands in where the fleet cannot misbehave the way a
test needs (a malformed answer, a look at the exact request line).
"""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from huddle_client.integrations.requests import HuddleAdapter, NoUpstreamError
from integration.helpers import in_flight, wait_until

from huddle_client import HuddleCluster, create_cluster
from huddle_client.testing import UpstreamFleet

pytestmark = [
    pytest.mark.integration,
    pytest.mark.upstream_fleet(n=4, base_latency_ms=2.0, jitter_ms=0.5),
]

LOGICAL = "http://backend"
ROOT = Path(__file__).resolve().parents[2]


def balanced(
    urls: list[str], cluster_options: dict[str, Any] | None = None, **adapter_options: Any
) -> tuple[HuddleCluster, requests.Session]:
    """A cluster over ``urls`` (no rotation thread) and a session balancing LOGICAL on it."""
    cluster = create_cluster(urls, **(cluster_options or {}))
    session = requests.Session()
    session.trust_env = False  # never route loopback calls through an environment proxy
    session.mount(LOGICAL + "/", HuddleAdapter(cluster, **adapter_options))
    return cluster, session


def upstream_id(url: str) -> str:
    return url.removeprefix("http://")


class RawServer:
    """One-thread HTTP-ish server on 127.0.0.1 that answers every request with ``reply``.

    It records each request head it reads, so a test can see the exact request line sent.
    """

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.heads: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                head = b""
                try:
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        data = conn.recv(4096)
                        if not data:
                            break
                        head += data
                    self.heads.append(head)
                    conn.sendall(self.reply)
                except OSError:
                    pass


OK_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


# -- balancing and rewriting ---------------------------------------------------------------


def test_calls_go_round_robin_with_path_query_and_logical_url(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    servers = [session.get(f"{LOGICAL}/users/{i}?x=1&y=%20").json() for i in range(8)]
    assert [s["server"] for s in servers] == ["s0", "s1", "s2", "s3"] * 2
    assert servers[5]["path"] == "/users/5"
    assert servers[5]["query"] == "x=1&y=%20"
    response = session.get(f"{LOGICAL}/users/9")
    assert response.url == f"{LOGICAL}/users/9"  # the name the caller used, not the upstream
    assert response.request.url == f"{LOGICAL}/users/9"
    assert all(n == 0 for n in in_flight(cluster).values())


def test_one_pool_per_upstream_and_connections_are_reused(upstream_fleet: UpstreamFleet) -> None:
    _, session = balanced(upstream_fleet.urls)
    for _ in range(20):
        session.get(f"{LOGICAL}/x")
    adapter = session.get_adapter(LOGICAL + "/")
    container = adapter.poolmanager.pools
    # RecentlyUsedContainer cannot be iterated, only its keys()
    pools = {key.key_port: container[key] for key in container.keys()}  # noqa: SIM118
    assert sorted(pools) == sorted(server.port for server in upstream_fleet)
    assert [(p.num_connections, p.num_requests) for p in pools.values()] == [(1, 5)] * 4


def test_relative_redirect_and_cookies_stay_on_the_logical_name(
    upstream_fleet: UpstreamFleet,
) -> None:
    _, session = balanced(upstream_fleet.urls)
    response = session.get(f"{LOGICAL}/headers?status=302&Location=/target&Set-Cookie=sid%3D42")
    assert response.url == f"{LOGICAL}/target"  # followed through the adapter, balanced
    assert response.json()["path"] == "/target"
    assert [r.status_code for r in response.history] == [302]
    assert session.cookies.get("sid", domain="backend.local") == "42"
    echo = session.get(f"{LOGICAL}/echo").json()
    assert ["cookie", "sid=42"] in echo["headers"]


def test_raw_path_is_kept_byte_for_byte() -> None:
    # The target must be the one a direct call would send: requests' own normalisation of
    # the URL (it decodes %2e, upper-cases escapes) applies, nothing more is decoded.
    paths = ("/a%2Fb/%2e%2e/c?q=%0d%0a", "//evil.com/x", "/..%2f..%2fadmin", "/sp%20ace/%7E")
    with RawServer(OK_REPLY) as raw:
        _, session = balanced([raw.url])
        direct = requests.Session()
        direct.trust_env = False
        for path in paths:
            assert session.get(LOGICAL + path).text == "ok"
            assert direct.get(raw.url + path).text == "ok"
    lines = [head.split(b"\r\n", 1)[0] for head in raw.heads]
    assert lines[0::2] == lines[1::2]
    assert lines[0::2][1:] == [
        b"GET //evil.com/x HTTP/1.1",
        b"GET /..%2F..%2Fadmin HTTP/1.1",
        b"GET /sp%20ace/~ HTTP/1.1",
    ]
    assert lines[0].startswith(b"GET /a%2Fb/")  # the encoded slash stays encoded


def test_base_path_is_joined_by_concatenation(upstream_fleet: UpstreamFleet) -> None:
    _, session = balanced([upstream_fleet[0].url + "/base/v1"])
    body = session.get(f"{LOGICAL}/users/1?q=2").json()
    assert body["path"] == "/base/v1/users/1"
    assert body["query"] == "q=2"
    assert session.get(f"{LOGICAL}").json()["path"] == "/base/v1/"


def _host_header(echo: dict[str, Any]) -> list[str]:
    return [value for name, value in echo["headers"] if name == "host"]


def test_host_is_the_upstreams_unless_keep_host(upstream_fleet: UpstreamFleet) -> None:
    url = upstream_fleet[0].url
    _, plain = balanced([url])
    assert _host_header(plain.get(f"{LOGICAL}/echo").json()) == [url.removeprefix("http://")]
    _, keeping = balanced([url], keep_host=True)
    assert _host_header(keeping.get(f"{LOGICAL}/echo").json()) == ["backend"]
    keeping.mount(f"{LOGICAL}:8080/", HuddleAdapter(create_cluster([url]), keep_host=True))
    assert _host_header(keeping.get(f"{LOGICAL}:8080/echo").json()) == ["backend:8080"]
    explicit = keeping.get(f"{LOGICAL}/echo", headers={"Host": "chosen.example"}).json()
    assert _host_header(explicit) == ["chosen.example"]


def test_method_headers_and_body_reach_the_upstream(upstream_fleet: UpstreamFleet) -> None:
    _, session = balanced(upstream_fleet.urls)
    echo = session.put(f"{LOGICAL}/echo", data=b"payload", headers={"X-Trace": "t1"}).json()
    assert echo["method"] == "PUT"
    assert echo["body"] == "payload"
    assert ["x-trace", "t1"] in echo["headers"]


def test_only_the_mounted_prefix_is_balanced(upstream_fleet: UpstreamFleet) -> None:
    # The prefix is the origin of s0 itself: under /api/ calls go to s1..s3, elsewhere to s0.
    direct = upstream_fleet[0].url
    cluster = create_cluster(upstream_fleet.urls[1:])
    session = requests.Session()
    session.trust_env = False
    session.mount(direct + "/api/", HuddleAdapter(cluster))
    balanced_servers = {session.get(f"{direct}/api/x").json()["server"] for _ in range(6)}
    assert balanced_servers == {"s1", "s2", "s3"}
    assert session.get(f"{direct}/other").json()["server"] == "s0"
    assert upstream_fleet[0].received(path="/api/x") == 0


# -- faults and retries (PROXY_CHECKLIST 20-25, 27) ----------------------------------------


def test_refused_get_is_retried_on_another_upstream(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    upstream_fleet[0].crash()
    response = session.get(f"{LOGICAL}/a")  # round robin starts at s0: refused, then s1
    assert response.status_code == 200
    assert response.json()["server"] in {"s1", "s2", "s3"}
    assert upstream_fleet.total_received("GET", "/a") == 1
    s0 = cluster.server(upstream_id(upstream_fleet[0].url))
    assert s0 not in cluster.inner_servers()  # a refused connection ejects at once


def test_refused_post_is_retried_and_seen_by_exactly_one_upstream(
    upstream_fleet: UpstreamFleet,
) -> None:
    _, session = balanced(upstream_fleet.urls)
    upstream_fleet[0].crash()
    response = session.post(f"{LOGICAL}/orders", json={"id": 1})
    assert response.status_code == 200
    assert upstream_fleet.total_received("POST", "/orders") == 1


def test_post_reset_after_sending_raises_and_is_not_replayed(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    upstream_fleet[0].hang()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(session.post, f"{LOGICAL}/orders", json={"id": 2}, timeout=10)
        wait_until(lambda: upstream_fleet[0].received("POST", "/orders") == 1)
        upstream_fleet[0].crash()  # RST on the open connection, after the request arrived
        with pytest.raises(requests.ConnectionError) as info:
            future.result(timeout=10)
    assert not isinstance(info.value, NoUpstreamError)
    if sys.version_info >= (3, 11):
        assert "POST is not idempotent" in " ".join(info.value.__notes__)
    assert upstream_fleet.total_received("POST", "/orders") == 1
    assert all(n == 0 for n in in_flight(cluster).values())


def test_generator_body_failing_midway_is_not_replayed(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)

    def body() -> Iterator[bytes]:
        yield b"first part"
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        session.put(f"{LOGICAL}/upload", data=body())  # PUT is idempotent, the body is not
    # The head and the first part went out, so one upstream saw the request; none saw a replay.
    wait_until(lambda: upstream_fleet.total_received("PUT") >= 1, 5.0, "the PUT")
    time.sleep(0.2)  # a replay would be counted on arrival
    assert upstream_fleet.total_received("PUT") == 1
    assert all(n == 0 for n in in_flight(cluster).values())


def test_streamed_body_is_not_replayed_after_a_retryable_status(
    upstream_fleet: UpstreamFleet,
) -> None:
    _, session = balanced(upstream_fleet.urls)
    upstream_fleet[0].error(503)
    response = session.put(f"{LOGICAL}/upload", data=iter([b"a", b"b"]))
    assert response.status_code == 503
    assert upstream_fleet.total_received("PUT") == 1


def test_post_answered_500_is_returned_not_retried(upstream_fleet: UpstreamFleet) -> None:
    _, session = balanced(upstream_fleet.urls)
    upstream_fleet[0].error(500)
    assert session.post(f"{LOGICAL}/orders", data=b"x").status_code == 500
    assert upstream_fleet.total_received("POST") == 1


def test_retryable_answer_is_returned_when_no_other_upstream_is_left(
    upstream_fleet: UpstreamFleet,
) -> None:
    _, session = balanced(upstream_fleet.urls[:2])
    upstream_fleet[0].error(503)
    upstream_fleet[1].error(503)
    response = session.get(f"{LOGICAL}/a")
    assert response.status_code == 503  # the last answer, not an exception
    assert response.json()["server"] == "s1"
    assert upstream_fleet.total_received("GET", "/a") == 2


def test_retryable_answer_then_refused_returns_the_held_answer(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls[:2])  # round robin starts at s0
    upstream_fleet[0].error(503)
    upstream_fleet[1].crash()
    response = session.get(f"{LOGICAL}/held")
    # The 503 was held while s1 was tried; s1 refused, so the caller gets the 503, not an error.
    assert response.status_code == 503
    assert response.json()["server"] == "s0"
    assert upstream_fleet.total_received("GET", "/held") == 1
    assert all(n == 0 for n in in_flight(cluster).values())


def test_hang_times_out_per_try_reroutes_get_and_heats_the_server(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    for _ in range(8):  # evidence for everyone, and the round robin back at s0
        session.get(f"{LOGICAL}/warm")
    upstream_fleet[0].hang()
    hung = cluster.server(upstream_id(upstream_fleet[0].url))
    before = hung.temperature
    started = time.monotonic()
    response = session.get(f"{LOGICAL}/a", timeout=(2, 0.3))
    assert time.monotonic() - started >= 0.25  # it waited for the first try's read timeout
    assert response.json()["server"] == "s1"
    assert hung.temperature > before
    assert hung.failures >= 1
    others = [u for u in cluster.all_servers() if u is not hung]
    assert hung.temperature > max(u.temperature for u in others)


def test_everything_hanging_raises_read_timeout_after_max_tries(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls, max_tries=2)
    for server in upstream_fleet:
        server.hang()
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout) as info:
        session.get(f"{LOGICAL}/a", timeout=(2, 0.2))
    assert time.monotonic() - started < 10
    assert upstream_fleet.total_received("GET", "/a") == 2
    if sys.version_info >= (3, 11):
        assert "max_tries=2 reached" in " ".join(info.value.__notes__)
    assert all(n == 0 for n in in_flight(cluster).values())


def test_all_down_raises_no_upstream_error_quickly_with_bounded_attempts(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    for server in upstream_fleet:
        server.crash()
    started = time.monotonic()
    with pytest.raises(NoUpstreamError) as info:
        session.get(f"{LOGICAL}/a", timeout=2)
    assert time.monotonic() - started < 10  # no hang; refusals on loopback take milliseconds
    error = info.value
    assert isinstance(error, requests.ConnectionError)
    assert len(error.tried) == 3
    assert {why for _, why in error.tried} == {"connect_refused"}
    assert all(uid in str(error) for uid, _ in error.tried)

    # A storm of calls: each makes at most max_tries attempts, the budget refuses most retries.
    adapter = session.get_adapter(LOGICAL + "/")
    assert isinstance(adapter, HuddleAdapter)
    calls = 200
    for _ in range(calls):
        with pytest.raises(NoUpstreamError):
            session.get(f"{LOGICAL}/a", timeout=2)
    attempts = sum(u.requests for u in cluster.all_servers())
    assert attempts <= 3 * (calls + 1)
    assert adapter.policy.budget.refused > 0
    assert attempts < 2 * (calls + 1)  # far fewer than the tries cap alone would allow


def test_failover_off_makes_a_single_attempt(upstream_fleet: UpstreamFleet) -> None:
    _, session = balanced(upstream_fleet.urls, failover=False)
    upstream_fleet[0].crash()
    with pytest.raises(NoUpstreamError, match="fail-over is off") as info:
        session.get(f"{LOGICAL}/a")
    assert len(info.value.tried) == 1


def test_malformed_answer_is_an_error_and_a_get_moves_on(upstream_fleet: UpstreamFleet) -> None:
    with RawServer(b"NOT HTTP AT ALL\r\n\r\n") as raw:
        cluster, session = balanced([raw.url, upstream_fleet[1].url])
        response = session.get(f"{LOGICAL}/a", timeout=5)
        assert response.json()["server"] == "s1"
        bad = cluster.server(upstream_id(raw.url))
        assert bad.failures == 1
        _, alone = balanced([raw.url])
        with pytest.raises(requests.ConnectionError) as info:
            alone.get(f"{LOGICAL}/a", timeout=5)
        text = str(info.value) + " ".join(getattr(info.value, "__notes__", []))
        assert "protocol_error" in text


# -- load: shares and losses --------------------------------------------------------------


def _share(fleet: UpstreamFleet, index: int, path: str) -> float:
    total = fleet.total_received(path=path)
    return fleet[index].received(path=path) / total if total else 0.0


def test_slow_server_loses_its_share(upstream_fleet: UpstreamFleet) -> None:
    _, session = balanced(upstream_fleet.urls, {"rotation_cooldown_sec": 0.0})
    # 50 ms against 2 ms: a CPU stall of a loaded machine cannot make the fast ones look slow.
    upstream_fleet[0].slow(25.0)
    for _ in range(60):
        session.get(f"{LOGICAL}/warm")
    for _ in range(100):
        session.get(f"{LOGICAL}/measured")
    assert _share(upstream_fleet, 0, "/measured") < 0.15  # round robin would give 0.25


def test_crashed_server_costs_no_get_and_no_post(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    statuses = []
    for i in range(80):
        if i == 20:
            upstream_fleet[2].crash()
        if i % 2:
            statuses.append(session.post(f"{LOGICAL}/orders", json={"id": i}).status_code)
        else:
            statuses.append(session.get(f"{LOGICAL}/items").status_code)
    assert statuses == [200] * 80
    assert upstream_fleet.total_received("POST", "/orders") == 40  # none twice, none lost
    assert upstream_fleet[2].received() <= 20
    assert all(n == 0 for n in in_flight(cluster).values())


def test_fast_500_server_loses_its_share_and_gets_never_see_it(
    upstream_fleet: UpstreamFleet,
) -> None:
    _, session = balanced(upstream_fleet.urls)
    upstream_fleet[0].error(500)
    statuses = [session.get(f"{LOGICAL}/items").status_code for _ in range(100)]
    assert statuses == [200] * 100
    assert _share(upstream_fleet, 0, "/items") < 0.15


def test_one_adapter_shared_by_eight_threads(upstream_fleet: UpstreamFleet) -> None:
    cluster = create_cluster(upstream_fleet.urls)
    adapter = HuddleAdapter(cluster, pool_maxsize=8)

    def worker(n: int) -> list[int]:
        session = requests.Session()  # one Session per thread, one adapter for all
        session.trust_env = False
        session.mount(LOGICAL + "/", adapter)
        return [session.get(f"{LOGICAL}/t/{n}").status_code for _ in range(50)]

    with cluster, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8), timeout=60))
    assert [s for r in results for s in r] == [200] * 400
    assert upstream_fleet.total_received("GET") == 400
    assert all(n == 0 for n in in_flight(cluster).values())


# -- bodies: the engine learns when they end ----------------------------------------------


def test_stream_read_partly_then_closed_releases_the_call(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    response = session.get(f"{LOGICAL}/stream?bytes=200000&chunk=1000", stream=True)
    chunks = response.iter_content(1000)
    assert len(next(chunks)) == 1000
    assert sum(in_flight(cluster).values()) == 1  # the body is still being read
    response.close()
    assert sum(in_flight(cluster).values()) == 0


def test_stream_read_to_the_end_releases_the_call(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    response = session.get(f"{LOGICAL}/stream?bytes=50000&chunk=4096", stream=True)
    assert sum(len(c) for c in response.iter_content(8192)) == 50000
    assert sum(in_flight(cluster).values()) == 0
    raw_read = session.get(f"{LOGICAL}/stream?bytes=3000", stream=True)
    assert len(raw_read.raw.read()) == 3000  # read from .raw directly, no iter_content
    assert sum(in_flight(cluster).values()) == 0


def test_response_never_closed_is_released_by_garbage_collection(
    upstream_fleet: UpstreamFleet,
) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    response = session.get(f"{LOGICAL}/stream?bytes=200000&chunk=1000", stream=True)
    next(response.iter_content(1000))
    assert sum(in_flight(cluster).values()) == 1
    del response
    gc.collect()
    assert sum(in_flight(cluster).values()) == 0


def test_body_failing_midway_is_reported(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    response = session.get(f"{LOGICAL}/stream?bytes=2000000&chunk=1000&delay_ms=5", stream=True)
    chunks = response.iter_content(1000)
    next(chunks)
    upstream_fleet[0].crash()
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        for _ in chunks:
            pass
    s0 = cluster.server(upstream_id(upstream_fleet[0].url))
    assert s0.failures == 1
    assert sum(in_flight(cluster).values()) == 0


def test_head_and_204_release_the_call(upstream_fleet: UpstreamFleet) -> None:
    cluster, session = balanced(upstream_fleet.urls)
    assert session.head(f"{LOGICAL}/x").status_code == 200
    assert session.get(f"{LOGICAL}/status/204").status_code == 204
    assert sum(in_flight(cluster).values()) == 0


# -- the example ---------------------------------------------------------------------------


def test_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "requests_client.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "GET /users/1 ->" in done.stdout
    assert "all down -> NoUpstreamError" in done.stdout
