"""Response bodies that tell the engine when they end.

The engine keeps a call in flight from the response head until the body is read to its end
or closed; these wrappers around the inner transport's stream report that moment (and a
body that fails midway) to the call's :class:`~huddle_client.Attempt`.

A caller may also drop a response without reading or closing it. The wrapper's ``__del__``
then hands the attempt to a releaser thread rather than releasing it in place: garbage
collection can run inside any allocation, including one made while the engine holds its
(non-reentrant) lock, and releasing from there would deadlock. ``SimpleQueue.put`` is safe
to call from ``__del__`` and from garbage collection, which is why it carries the hand-off.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator

import httpx

from huddle_client import Attempt, FailureKind

log = logging.getLogger("huddle_client")

_orphans: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
_releaser: threading.Thread | None = None
_releaser_lock = threading.Lock()


def start_releaser() -> None:
    """Make sure the thread that releases dropped responses runs (called by transports)."""
    global _releaser
    with _releaser_lock:
        if _releaser is None or not _releaser.is_alive():
            _releaser = threading.Thread(
                target=_release_forever, name="huddle-httpx-releaser", daemon=True
            )
            _releaser.start()


def _release_forever() -> None:
    while True:
        attempt = _orphans.get()
        try:
            attempt.cancel()
        except Exception:
            log.exception("releasing a dropped response failed")


def _release_later(attempt: Attempt) -> None:
    if not attempt.done:
        _orphans.put(attempt)


class ReleasingStream(httpx.SyncByteStream):
    """The inner response stream, reporting its end, its failure or its close."""

    def __init__(self, inner: httpx.SyncByteStream, attempt: Attempt) -> None:
        self._inner = inner
        self._attempt = attempt

    def __iter__(self) -> Iterator[bytes]:
        attempt = self._attempt
        try:
            yield from self._inner
        except GeneratorExit:
            raise
        except Exception:
            attempt.failed(FailureKind.BODY_FAILED)
            raise
        except BaseException:
            attempt.cancel()
            raise
        attempt.completed()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._attempt.completed()

    def __del__(self) -> None:
        _release_later(self._attempt)


class AsyncReleasingStream(httpx.AsyncByteStream):
    """The async twin of :class:`ReleasingStream`."""

    def __init__(self, inner: httpx.AsyncByteStream, attempt: Attempt) -> None:
        self._inner = inner
        self._attempt = attempt

    async def __aiter__(self) -> AsyncIterator[bytes]:
        attempt = self._attempt
        try:
            async for chunk in self._inner:
                yield chunk
        except GeneratorExit:
            raise
        except Exception:
            attempt.failed(FailureKind.BODY_FAILED)
            raise
        except BaseException:
            attempt.cancel()
            raise
        attempt.completed()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._attempt.completed()

    def __del__(self) -> None:
        _release_later(self._attempt)
