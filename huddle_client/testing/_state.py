"""The live state of one fleet server, shared by its ASGI app and the fleet that controls it.

Requests are served on the fleet's event loop thread while tests read counts and switch modes
from theirs: the counter has a lock, the behaviour is one immutable value swapped whole, and
everything that wakes waiting requests runs on the loop.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

from ._behaviour import NORMAL, Behaviour


class ServerState:
    """Mode, request counts and pending waits of one server."""

    def __init__(self, name: str, base_latency_ms: float, jitter_ms: float, seed: int | None):
        self.name = name
        self.base_latency_ms = base_latency_ms
        self.jitter_ms = jitter_ms
        self.behaviour: Behaviour = NORMAL
        self.seed = seed
        # Two generators, so how often jitter is drawn never shifts which requests flaky fails.
        self._jitter_rng = random.Random()
        self._fault_rng = random.Random()
        self.reseed()
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._sleepers: set[asyncio.Future[bool]] = set()
        self._hung: set[asyncio.Future[bool]] = set()

    def reseed(self) -> None:
        """Restart both generators from the seed, so each test of a reused fleet replays."""
        if self.seed is not None:
            self._jitter_rng.seed(f"{self.seed}:{self.name}:jitter")
            self._fault_rng.seed(f"{self.seed}:{self.name}:fault")

    def count(self, method: str, path: str) -> None:
        with self._lock:
            self._counts[(method, path)] += 1

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def received(self, method: str | None = None, path: str | None = None) -> int:
        method = None if method is None else method.upper()
        with self._lock:
            return sum(
                n
                for (m, p), n in self._counts.items()
                if (method is None or m == method) and (path is None or p == path)
            )

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    def latency_s(self, behaviour: Behaviour) -> float:
        """Base latency times the slow factor, plus uniform jitter in +-jitter_ms, never < 0."""
        ms = self.base_latency_ms * behaviour.factor
        if self.jitter_ms:
            ms += self._jitter_rng.uniform(-self.jitter_ms, self.jitter_ms)
        return max(ms, 0.0) / 1000.0

    def fails_now(self, behaviour: Behaviour) -> bool:
        """Draw whether a flaky server fails this request."""
        return self._fault_rng.random() < behaviour.p

    async def pause(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (None: until the hang is released); False if the listener closed.

        A plain future plus ``call_later`` costs no more than ``asyncio.sleep`` and lets a crash
        or stop wake every waiting request at once, so none outlives its connection.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        waiters = self._hung if seconds is None else self._sleepers
        waiters.add(future)
        timer = None if seconds is None else loop.call_later(seconds, _settle, future, True)
        try:
            return await future
        finally:
            waiters.discard(future)
            if timer is not None:
                timer.cancel()

    def release_hung(self) -> None:
        """Let hung requests go on under the current behaviour (loop thread only)."""
        for future in list(self._hung):
            _settle(future, True)

    def wake_all_closed(self) -> None:
        """Tell every waiting request its connection is gone (loop thread only)."""
        for future in list(self._hung | self._sleepers):
            _settle(future, False)


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
