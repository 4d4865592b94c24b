"""Helpers for the engine's tests: a clock the test moves, and a cluster built on it."""

from __future__ import annotations

from typing import Any

from huddle_client import HuddleCluster, RotationEvent, create_cluster


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_cluster(
    n: int = 6, clock: FakeClock | None = None, **options: Any
) -> tuple[HuddleCluster, FakeClock, list[RotationEvent]]:
    """A cluster of ``n`` upstreams s0..s{n-1} on a fake clock, with its events collected."""
    clock = clock or FakeClock()
    events: list[RotationEvent] = []
    options.setdefault("auto_rotate", False)
    cluster = create_cluster(
        [(f"s{i}", "127.0.0.1", 9000 + i) for i in range(n)],
        clock=clock,
        on_rotation=events.append,
        **options,
    )
    return cluster, clock, events


def ids(servers: list[Any]) -> list[str]:
    return [s.id for s in servers]


def feed(
    cluster: HuddleCluster, latency_of: dict[str, float], rounds: int, default: float = 20.0
) -> None:
    """Send ``rounds`` picks through the cluster, each reporting its server's latency."""
    for _ in range(rounds):
        up = cluster.get_server()
        cluster.record_latency(up, latency_of.get(up.id, default))


def pin(up: Any, temperature: float, clock: FakeClock) -> None:
    """Set a temperature as if fresh evidence had just produced it, so the next tick keeps it
    (the tick re-heats only upstreams without evidence since the previous tick)."""
    up.temperature = temperature
    up.last_evidence = clock()
