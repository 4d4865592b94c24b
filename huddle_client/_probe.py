"""Recovery probes: fresh evidence for resting upstreams.

The reference never sent anything to an evicted server, so its evidence froze and it never
cooled. With a probe configured, the rotation tick marks resting upstreams as due, and this
runner calls the probe for each in a small thread pool, with a timeout, and records the
result. A probe is any callable taking an :class:`Upstream` and returning a truthy value for
"healthy"; it may be a coroutine function, in which case the runner drives it on an event
loop of its own (it never touches the caller's loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._upstream import Upstream

if TYPE_CHECKING:
    from ._cluster import HuddleCluster

log = logging.getLogger("huddle_client")

Probe = Callable[[Upstream], object | Awaitable[object]]


class ProbeRunner:
    """Runs due probes for one cluster: a scheduler thread and a few worker threads.

    An upstream is probed by one worker at a time (the cluster does not schedule it again
    until the result is in, or until the probe overran its timeout twice over). A sync
    probe must bound its own time, as :class:`HTTPProbe` does with its client timeout; an
    async probe is cancelled at the timeout. :meth:`stop` joins every thread it started.
    """

    WORKERS = 4

    def __init__(self, cluster: HuddleCluster, probe: Probe, timeout_sec: float) -> None:
        self._cluster = cluster
        self._probe = probe
        self._timeout = timeout_sec
        self._stop = threading.Event()
        self._queue: queue.SimpleQueue[Upstream | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name="huddle-prober", daemon=True),
            *(
                threading.Thread(target=self._work, name=f"huddle-probe-{i}", daemon=True)
                for i in range(self.WORKERS)
            ),
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Stop scheduling, let running probes end (bounded by ``timeout``), join threads."""
        self._stop.set()
        for _ in range(self.WORKERS):
            self._queue.put(None)
        with self._loop_lock:
            loop, loop_thread = self._loop, self._loop_thread
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if loop is not None and loop_thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            loop_thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        interval = min(self._cluster.probe_interval_sec, self._cluster.rotation_interval_sec)
        while not self._stop.wait(interval / 2.0):
            for up in self._cluster.take_due_probes():
                self._queue.put(up)

    def _work(self) -> None:
        while True:
            up = self._queue.get()
            if up is None or self._stop.is_set():
                return
            self.probe_once(up)

    def probe_once(self, up: Upstream) -> bool:
        """Probe one upstream now, record the result and return it."""
        started = time.perf_counter()
        try:
            result = self._probe(up)
            if inspect.isawaitable(result):
                result = self._await(result)
            ok = bool(result)
        except Exception as exc:
            log.debug("probe of %s failed: %r", up.id, exc)
            ok = False
        elapsed = (time.perf_counter() - started) * 1000.0
        if elapsed > self._timeout * 1000.0:
            ok = False
        if not self._stop.is_set():
            self._cluster.record_probe(up, ok, elapsed)
        return ok

    def _await(self, awaitable: Awaitable[object]) -> object:
        future = asyncio.run_coroutine_threadsafe(_wrap(awaitable), self._event_loop())
        try:
            return future.result(self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # the coroutine (and its connection) must not outlive the probe
            raise

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                runner = threading.Thread(
                    target=_run_until_stopped, args=(loop,), name="huddle-probe-loop", daemon=True
                )
                runner.start()
                self._loop, self._loop_thread = loop, runner
            return self._loop


async def _wrap(awaitable: Awaitable[object]) -> object:
    return await awaitable


def _run_until_stopped(loop: asyncio.AbstractEventLoop) -> None:
    """Run the probe loop until :meth:`ProbeRunner.stop`, then cancel what is left and close
    it: a loop dropped unclosed leaks its self-pipe and warns when it is collected."""
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
