"""Waits shared by the client integrations' tests (imported as ``integration.helpers``).

A call's end reaches the engine from another thread at times (a dropped body released by
the garbage collector, a server that counts a request once its app runs), so tests wait for
the state they expect, boundedly, and say what they saw when the wait runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from huddle_client import HuddleCluster


def in_flight(cluster: HuddleCluster) -> dict[str, int]:
    """Each upstream's count of calls in flight, by id."""
    return {up.id: up.in_flight for up in cluster.all_servers()}


def wait_until(
    condition: Callable[[], bool],
    timeout: float = 5.0,
    what: str | Callable[[], str] = "the condition",
) -> None:
    """Return once ``condition()`` holds; AssertionError naming ``what`` after ``timeout`` s.

    ``what`` may be a callable, so the message describes the state at the end of the wait.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what if isinstance(what, str) else what()}"
            )
        time.sleep(0.005)


def wait_idle(cluster: HuddleCluster, timeout: float = 3.0) -> None:
    """Return once every upstream's in-flight count is back to 0."""
    wait_until(
        lambda: all(n == 0 for n in in_flight(cluster).values()),
        timeout,
        lambda: f"every in-flight count at 0; now {in_flight(cluster)}",
    )
