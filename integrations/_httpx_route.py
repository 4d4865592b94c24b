"""Rewrite a request for the upstream the engine picked.

The caller's URL names a logical host (``http://backend/users/1``); the upstream's origin
replaces its scheme, host and port, and the upstream's base path is put in front of the raw
path by plain concatenation (``urljoin`` would drop the base path for ``/x`` and follow
``//evil.com/x`` to another host). Path and query stay byte for byte what the caller sent,
percent-encoding included.

Parsing a URL costs httpx about 30 us, which is most of the overhead budget of a loopback
call, so each upstream's origin is parsed once and the per-call URL is built from httpx's
parsed form when this httpx version has the layout we checked at import; otherwise through
the public ``URL.copy_with``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import httpx

from huddle_client import Upstream


class Target:
    """One upstream's parsed origin and Host header value, computed once."""

    __slots__ = ("base", "base_path", "host_header")

    def __init__(self, upstream: Upstream) -> None:
        self.base = httpx.URL(upstream.url)
        self.base_path = upstream.base_path.encode("ascii")
        self.host_header = self.base.netloc.decode("ascii")

    def url_for(self, url: httpx.URL) -> httpx.URL:
        """The caller's ``url`` sent to this upstream."""
        return _join(self.base, self.base_path, url)


def _join_public(base: httpx.URL, base_path: bytes, url: httpx.URL) -> httpx.URL:
    return base.copy_with(raw_path=base_path + url.raw_path, fragment=None)


def _join_parsed(base: httpx.URL, base_path: bytes, url: httpx.URL) -> httpx.URL:
    ours = base._uri_reference
    theirs = url._uri_reference
    joined = httpx.URL.__new__(httpx.URL)
    joined._uri_reference = ours._replace(
        path=ours.path + theirs.path, query=theirs.query, fragment=None
    )
    return joined


def _pick_join() -> Callable[[httpx.URL, bytes, httpx.URL], httpx.URL]:
    """Use the fast join only if it gives exactly what the public API gives, here and now."""
    samples = ["/users/1?a=1&b=%20x", "//evil.com/x", "/..%2f..%2fadmin", "/a%0d%0ab?", "/"]
    bases = [("http://127.0.0.1:9001", b""), ("https://[::1]:8443/api", b"/api")]
    try:
        for origin, base_path in bases:
            base = httpx.URL(origin)
            for path in samples:
                url = httpx.URL("http://backend" + path)
                fast = _join_parsed(base, base_path, url)
                slow = _join_public(base, base_path, url)
                if str(fast) != str(slow) or fast.raw_path != slow.raw_path:
                    return _join_public
                if (fast.raw_host, fast.port, fast.scheme) != (
                    slow.raw_host,
                    slow.port,
                    slow.scheme,
                ):
                    return _join_public
    except Exception:
        return _join_public
    return _join_parsed


_join = _pick_join()


class Router:
    """Builds the request each attempt sends; shared by the sync and async transports.

    The parsed origins are cached per upstream, weakly: an upstream removed from the
    cluster drops out of the cache once nothing else holds it, so add/remove churn does not
    grow it.
    """

    def __init__(self) -> None:
        self._targets: weakref.WeakKeyDictionary[Upstream, Target] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many upstreams' targets are cached."""
        return len(self._targets)

    def target(self, upstream: Upstream) -> Target:
        """The parsed origin of ``upstream`` (cached: an upstream's URL never changes)."""
        target = self._targets.get(upstream)
        if target is None:
            target = Target(upstream)
            with self._lock:
                self._targets[upstream] = target
        return target

    def upstream_request(
        self, request: httpx.Request, upstream: Upstream, keep_host: bool
    ) -> httpx.Request:
        """A copy of ``request`` aimed at ``upstream``; method, headers and body unchanged."""
        target = self.target(upstream)
        sent = httpx.Request(
            request.method,
            target.url_for(request.url),
            headers=request.headers,  # copied by Request
            stream=request.stream,
            extensions=request.extensions,
        )
        if not keep_host:
            sent.headers["Host"] = target.host_header
        return sent


def is_replayable(request: httpx.Request) -> bool:
    """True when the body can be sent again: httpx holds it in memory as a ByteStream.

    A generator or file body is a one-shot stream: once a byte of it went to an upstream it
    cannot go to another.
    """
    stream: Any = request.stream
    return isinstance(stream, httpx.ByteStream)
