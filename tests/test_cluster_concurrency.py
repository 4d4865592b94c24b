"""Many threads and many asyncio tasks picking and reporting at once: nothing is lost and
the invariants hold."""

from __future__ import annotations

import asyncio
import random
import threading

from huddle_client import FailureKind, HuddleCluster, Position, create_cluster

THREADS = 8
CALLS_PER_THREAD = 3000


def _check_invariants(c: HuddleCluster) -> None:
    inner, outer = c.inner_servers(), c.outer_servers()
    assert len({u.id for u in inner + outer}) == len(inner) + len(outer) == 8
    assert all(u.position is Position.INNER for u in inner)
    assert all(u.position is Position.OUTER for u in outer)
    assert c.min_inner_size <= len(inner) <= c.max_inner_size
    assert all(u.in_flight == 0 and u.waiting == 0 for u in inner + outer)


def test_threads_picking_and_reporting_lose_nothing() -> None:
    c = create_cluster(
        [f"http://127.0.0.1:{9000 + i}" for i in range(8)],
        rotation_interval_sec=0.005,
        rotation_cooldown_sec=0.01,
        min_outer_dwell_sec=0.02,
    )
    slow = {"127.0.0.1:9003"}
    reports = [0] * THREADS
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(k: int) -> None:
        rng = random.Random(k)
        try:
            start.wait()
            for i in range(CALLS_PER_THREAD):
                attempt = c.begin()
                up = attempt.upstream
                roll = rng.random()
                if roll < 0.02:
                    attempt.failed(FailureKind.CONNECT_REFUSED)
                elif roll < 0.05:
                    attempt.responded(503)
                    attempt.completed()
                else:
                    attempt.succeeded(100.0 if up.id in slow else 20.0, status=200)
                reports[k] += 1
                if i % 500 == 0:
                    c.set_healthy(up, True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with c:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
    assert not errors
    for up in c.all_servers():
        c.set_healthy(up, True)
    c.rotate()
    total = sum(u.requests for u in c.all_servers())
    assert total == sum(reports) == THREADS * CALLS_PER_THREAD
    _check_invariants(c)
    assert c.rotation_log, "the rotation thread never moved anything"


def test_asyncio_tasks_share_a_cluster_without_blocking() -> None:
    c = create_cluster(
        [f"http://127.0.0.1:{9000 + i}" for i in range(8)], rotation_interval_sec=0.01
    )

    async def call(k: int) -> None:
        for _ in range(20):
            attempt = c.begin()
            await asyncio.sleep(0)
            if k % 50 == 0:
                attempt.failed(FailureKind.READ_TIMEOUT, 500.0)
            else:
                attempt.succeeded(20.0, status=200)

    async def main() -> None:
        async with c:
            await asyncio.wait_for(asyncio.gather(*(call(k) for k in range(1000))), 60)

    asyncio.run(main())
    assert sum(u.requests for u in c.all_servers()) == 20_000
    assert all(u.in_flight == 0 and u.waiting == 0 for u in c.all_servers())
