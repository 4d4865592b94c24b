"""The response body of one attempt: it tells the engine when the body ends, fails or is dropped.

requests returns from ``HTTPAdapter.send`` as soon as the response head has arrived; the body
is read later (by ``Session.send`` itself when ``stream=False``, by the caller otherwise), or
never. The engine counts the call in flight until then, so :class:`TrackedBody` stands in for
``response.raw`` and reports exactly once:

- the body was read to its end, or the caller closed or released it: ``completed``;
- reading it raised (reset midway, read timeout, bad chunking): ``failed(BODY_FAILED)``;
- the response was dropped without either: ``__del__`` completes it when the body object
  is garbage collected (a safety net that costs nothing per call, unlike ``weakref.finalize``,
  which would add about a tenth of the adapter's whole overhead).

Everything else (``headers``, ``status``, ``decode_content = True``, ...) is forwarded to the
urllib3 response, so code written against ``response.raw`` keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import urllib3

from huddle_client import Attempt, FailureKind


class TrackedBody:
    """``response.raw`` for a balanced call: the urllib3 response plus outcome reporting.

    Example::

        response = session.get("http://backend/big", stream=True)
        for chunk in response.iter_content(65536):   # the engine learns when this ends
            sink.write(chunk)
        response.close()                             # or this, whichever comes first
    """

    __slots__ = ("_attempt", "_raw")
    _raw: urllib3.HTTPResponse
    _attempt: Attempt

    def __init__(self, raw: urllib3.HTTPResponse, attempt: Attempt) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_attempt", attempt)

    def __del__(self) -> None:
        # The garbage collector may run this on a thread that holds the cluster's lock:
        # release_later takes none. Most bodies were released already: `done` says so
        # without the engine's answer to a second report, which costs an exception.
        if not self._attempt.done:
            self._attempt.release_later()

    @property
    def attempt(self) -> Attempt:
        """The engine's record of this call (its upstream, whether it is done)."""
        return self._attempt

    @property
    def _original_response(self) -> Any:
        # requests' cookie handling reads this three times per call: a property spares each
        # read the failed lookup that precedes __getattr__.
        return self._raw._original_response

    def _finish(self) -> None:
        if not self._attempt.done:
            self._attempt.completed()

    def _fail(self) -> None:
        self._attempt.failed(FailureKind.BODY_FAILED)

    def _finish_if_ended(self) -> None:
        if self._raw.isclosed():
            self._finish()

    def _track(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
        except GeneratorExit:
            raise  # the consumer stopped early: close() or the finalizer reports it
        except Exception:
            self._fail()
            raise
        self._finish()

    def stream(
        self, amt: int | None = 2**16, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        """urllib3's ``stream``; the body ends when the iterator is exhausted."""
        return self._track(self._raw.stream(amt, decode_content=decode_content))

    def read_chunked(
        self, amt: int | None = None, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        """urllib3's ``read_chunked``, tracked like :meth:`stream`."""
        return self._track(self._raw.read_chunked(amt, decode_content=decode_content))

    def __iter__(self) -> Iterator[bytes]:
        return self._track(iter(self._raw))

    def read(
        self,
        amt: int | None = None,
        decode_content: bool | None = None,
        cache_content: bool = False,
    ) -> bytes:
        """urllib3's ``read``; reports once the wire has nothing more to give."""
        try:
            data = self._raw.read(amt, decode_content=decode_content, cache_content=cache_content)
        except Exception:
            self._fail()
            raise
        self._finish_if_ended()
        return data

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        """urllib3's ``read1``, tracked like :meth:`read`."""
        try:
            data = self._raw.read1(amt, decode_content=decode_content)
        except Exception:
            self._fail()
            raise
        self._finish_if_ended()
        return data

    def readinto(self, b: bytearray) -> int:
        """urllib3's ``readinto``, tracked like :meth:`read` (``io.BufferedReader`` uses it)."""
        try:
            n = self._raw.readinto(b)
        except Exception:
            self._fail()
            raise
        self._finish_if_ended()
        return n

    @property
    def data(self) -> bytes:
        """The whole body, read and cached (urllib3's ``data``)."""
        try:
            data = self._raw.data
        except Exception:
            self._fail()
            raise
        self._finish_if_ended()
        return data

    def close(self) -> None:
        """Close the urllib3 response and release the call."""
        try:
            self._raw.close()
        finally:
            self._finish()

    def release_conn(self) -> None:
        """Give the connection back to the pool and release the call."""
        try:
            self._raw.release_conn()
        finally:
            self._finish()

    def drain_conn(self) -> None:
        """Read and discard the rest of the body, then release the call."""
        try:
            self._raw.drain_conn()
        finally:
            self._finish()

    def __enter__(self) -> TrackedBody:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._raw, name, value)

    def __repr__(self) -> str:
        return f"<TrackedBody {self._raw!r} from {self._attempt.upstream.id}>"
