"""Timed mode switches: a scenario written as data, played on the fleet's own event loop.

Playing it on the loop that serves the requests needs no extra thread (so nothing to leak) and
applies each switch between two requests, never in the middle of one's bookkeeping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ._behaviour import Behaviour, behaviour_for


@dataclass(frozen=True)
class FleetEvent:
    """At ``at`` seconds after the schedule starts, switch server ``server`` to ``mode``.

    ``arg`` is the slow factor, the error status or the flaky probability. Example::

        fleet.run_schedule([FleetEvent(0.5, 1, "slow", 5.0), FleetEvent(2.0, 1, "recover")])
    """

    at: float
    server: int
    mode: str
    arg: float | None = None

    def behaviour(self) -> Behaviour:
        return behaviour_for(self.mode, self.arg)


#: What ``run_schedule`` accepts for one event: a FleetEvent or its fields as a tuple.
EventSpec: TypeAlias = FleetEvent | tuple[float, int, str] | tuple[float, int, str, float | None]


def as_events(
    items: Iterable[EventSpec],
    n_servers: int,
) -> list[FleetEvent]:
    """Normalise tuples to events and validate them all before any is applied."""
    events = []
    for item in items:
        event = item if isinstance(item, FleetEvent) else FleetEvent(*item)
        if event.at < 0:
            raise ValueError(f"event time must be >= 0: {event}")
        if not 0 <= event.server < n_servers:
            raise IndexError(f"no server {event.server} in a fleet of {n_servers}: {event}")
        event.behaviour()
        events.append(event)
    return sorted(events, key=lambda e: e.at)


class FleetSchedule:
    """Handle on a running schedule: ``cancel()`` stops it, ``join()`` waits for its end.

    ``applied`` lists the events already applied, in order.
    """

    def __init__(
        self,
        events: Sequence[FleetEvent],
        apply: Callable[[FleetEvent], Awaitable[None]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.events = tuple(events)
        self.applied: list[FleetEvent] = []
        self._apply = apply
        self._future = asyncio.run_coroutine_threadsafe(self._play(), loop)

    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for event in self.events:
            await asyncio.sleep(max(0.0, start + event.at - loop.time()))
            await self._apply(event)
            self.applied.append(event)

    @property
    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> None:
        """Stop before the next event; events already applied stay in force."""
        self._future.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the last event (or cancellation); False if ``timeout`` ran out first."""
        try:
            self._future.result(timeout)
        except concurrent.futures.CancelledError:
            return True
        except concurrent.futures.TimeoutError:
            return False
        return True
