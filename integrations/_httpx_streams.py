"""Response bodies that tell the engine when they end.

The engine keeps a call in flight from the response head until the body is read to its end
or closed; these wrappers around the inner transport's stream report that moment (and a
body that fails midway) to the call's :class:`~huddle_client.Attempt`.

A caller may also drop a response without reading or closing it. The wrapper's ``__del__``
then releases the attempt through :meth:`Attempt.release_later`, never through a call that
waits for the engine's lock: garbage collection can run inside any allocation, including
one made while that (non-reentrant) lock is held, and waiting there would deadlock.

A body read to its end is released there; the ``close()`` and ``__del__`` that follow it
look at ``Attempt.done`` first instead of asking the attempt again (the engine's answer to
a second report is right but costs an exception, twice per call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx

from huddle_client import Attempt, FailureKind


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
            if not self._attempt.done:
                self._attempt.completed()

    def __del__(self) -> None:
        if not self._attempt.done:
            self._attempt.release_later()


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
            if not self._attempt.done:
                self._attempt.completed()

    def __del__(self) -> None:
        if not self._attempt.done:
            self._attempt.release_later()
