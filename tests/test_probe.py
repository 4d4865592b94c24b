"""The probe runner: resting upstreams are probed on a background thread, sync or async."""

from __future__ import annotations

import asyncio
import threading
import time

from huddle_client import FailureKind, Position, Upstream, create_cluster

FAST = {
    "rotation_interval_sec": 0.02,
    "probe_interval_sec": 0.02,
    "min_outer_dwell_sec": 0.05,
    "rotation_cooldown_sec": 0.05,
}


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _run_recovery(probe: object, down: threading.Event) -> None:
    c = create_cluster(
        [("a", "127.0.0.1", 1), ("b", "127.0.0.1", 2), ("c", "127.0.0.1", 3)],
        max_inner_size=3,
        probe=probe,
        **FAST,
    )
    with c:
        b = c.server("b")
        c.report(b, failure=FailureKind.CONNECT_REFUSED)
        assert b.position is Position.OUTER
        assert _wait_for(lambda: b.failures >= 3), "failing probes were not recorded"
        assert b.position is Position.OUTER and not b.healthy
        down.clear()  # the server heals
        assert _wait_for(lambda: b.position is Position.INNER), "healed server never returned"
        assert b.healthy
    assert not c.running


def test_sync_probe_brings_a_healed_server_back() -> None:
    down = threading.Event()
    down.set()
    seen: list[str] = []

    def probe(up: Upstream) -> bool:
        seen.append(up.id)
        return not down.is_set()

    _run_recovery(probe, down)
    assert set(seen) == {"b"}  # only the resting server is probed


def test_async_probe_runs_on_the_runner_loop() -> None:
    down = threading.Event()
    down.set()

    loops: set[int] = set()

    async def probe(up: Upstream) -> bool:
        loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(0.001)
        return not down.is_set()

    _run_recovery(probe, down)
    assert len(loops) == 1  # one private loop served every probe


def test_a_probe_that_raises_counts_as_a_failure() -> None:
    def probe(up: Upstream) -> bool:
        raise ConnectionRefusedError("down")

    c = create_cluster(
        [("a", "h", 1), ("b", "h", 2), ("c", "h", 3)], max_inner_size=2, probe=probe, **FAST
    )
    with c:
        resting = c.server("c")
        assert _wait_for(lambda: resting.failures >= 2)
        assert not resting.healthy and resting.position is Position.OUTER


def test_a_hung_probe_is_not_piled_up_and_stop_joins_the_threads() -> None:
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def probe(up: Upstream) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(5.0)  # hangs until the test lets it go (bounded, as a probe must be)
        with lock:
            running -= 1
        return True

    before = set(threading.enumerate())
    c = create_cluster(
        [("a", "h", 1), ("b", "h", 2)],
        min_inner_size=1,
        max_inner_size=1,
        probe=probe,
        probe_timeout_sec=1.0,
        **FAST,
    )
    with c:
        assert _wait_for(lambda: running == 1)
        time.sleep(0.5)  # 25 ticks at 20 ms: each would have probed again
        assert most == 1
        release.set()
    leftover = [t for t in set(threading.enumerate()) - before if t.name.startswith("huddle")]
    assert not leftover


def test_an_async_probe_past_its_timeout_is_cancelled() -> None:
    cancelled = threading.Event()

    async def probe(up: Upstream) -> bool:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return True

    c = create_cluster(
        [("a", "h", 1), ("b", "h", 2)],
        min_inner_size=1,
        max_inner_size=1,
        probe=probe,
        probe_timeout_sec=0.1,
        **FAST,
    )
    with c:
        resting = c.server("b")
        assert _wait_for(lambda: resting.failures >= 1)
        assert cancelled.wait(5.0)
        assert not resting.healthy
