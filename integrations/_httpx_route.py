"""Rewrite a request for the upstream the engine picked.

The caller's URL names a logical host (``http://backend/users/1``); the upstream's origin
replaces its scheme, host and port, and the upstream's base path is put in front of the raw
path by plain concatenation (``urljoin`` would drop the base path for ``/x`` and follow
``//evil.com/x`` to another host). Path and query stay byte for byte what the caller sent,
percent-encoding included.

Parsing a URL costs httpx about 30 us, which is most of the overhead budget of a loopback
call, so each upstream's origin is parsed once and the per-call URL is built from httpx's
parsed form when this httpx version has the layout we checked at import; otherwise through
the public ``URL.copy_with``. The request itself is copied the same way: a new
``httpx.Request`` plus a headers copy and a ``Host`` change cost about 5 us through the
public API and about 1 us field by field, so the field-by-field copy is used when, checked
at import, it gives exactly what the public one gives.
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
        self.host_header = _host_header(self.base.netloc.decode("ascii"))

    def url_for(self, url: httpx.URL) -> httpx.URL:
        """The caller's ``url`` sent to this upstream."""
        return _join(self.base, self.base_path, url)


def _join_public(base: httpx.URL, base_path: bytes, url: httpx.URL) -> httpx.URL:
    return base.copy_with(raw_path=base_path + url.raw_path, fragment=None)


def _join_parsed(base: httpx.URL, base_path: bytes, url: httpx.URL) -> httpx.URL:
    # httpx's ParseResult is (scheme, userinfo, host, port, path, query, fragment); built
    # positionally it costs half of a NamedTuple._replace.
    ours = base._uri_reference
    theirs = url._uri_reference
    joined = httpx.URL.__new__(httpx.URL)
    joined._uri_reference = type(ours)(
        ours[0], ours[1], ours[2], ours[3], ours[4] + theirs[4], theirs[5], None
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


HostHeader = tuple[bytes, bytes, bytes]


def _host_header(host: str) -> HostHeader:
    """``Host: host`` as httpx stores a header set by ``headers["Host"] = host``."""
    return (b"Host", b"host", host.encode("utf-8"))


def _copy_public(request: httpx.Request, url: httpx.URL, host: HostHeader | None) -> httpx.Request:
    sent = httpx.Request(
        request.method,
        url,
        headers=request.headers,  # copied by Request
        stream=request.stream,
        extensions=request.extensions,
    )
    if host is not None:
        sent.headers["Host"] = host[2].decode("utf-8")
    return sent


def _copy_fields(request: httpx.Request, url: httpx.URL, host: HostHeader | None) -> httpx.Request:
    items = request.headers._list
    if host is None:
        header_list = list(items)
    else:
        # What Headers.__setitem__ does: the first Host replaced in place, later ones dropped.
        header_list = []
        found = False
        for item in items:
            if item[1] != b"host":
                header_list.append(item)
            elif not found:
                header_list.append(host)
                found = True
        if not found:
            header_list.append(host)
    headers = httpx.Headers.__new__(httpx.Headers)
    headers._list = header_list
    headers._encoding = request.headers._encoding
    sent = httpx.Request.__new__(httpx.Request)
    fields = sent.__dict__
    fields.update(request.__dict__)  # method, stream and, once read, the body
    fields["url"] = url
    fields["headers"] = headers
    fields["extensions"] = dict(request.extensions)
    return sent


def _same_request(fast: httpx.Request, slow: httpx.Request, original: httpx.Request) -> bool:
    return (
        fast.method == slow.method
        and fast.url == slow.url
        and fast.url.raw_path == slow.url.raw_path
        and list(fast.headers.raw) == list(slow.headers.raw)
        and fast.headers.encoding == slow.headers.encoding
        and fast.stream is slow.stream is original.stream
        and fast.extensions == slow.extensions
        and fast.extensions is not original.extensions
        and fast.headers is not original.headers
        and set(vars(slow)) <= set(vars(fast)) <= set(vars(original))
    )


def _pick_copy() -> Callable[[httpx.Request, httpx.URL, HostHeader | None], httpx.Request]:
    """Use the field-by-field copy only if it matches the public one, here and now."""
    url = httpx.URL("http://127.0.0.1:9001/x?y=1")
    host = _host_header("127.0.0.1:9001")
    try:
        samples = [
            httpx.Request("GET", "http://backend/x?y=1", extensions={"timeout": {"read": 1.0}}),
            httpx.Request("POST", "http://backend/x", content=b"body", headers={"X-A": "1"}),
            httpx.Request("PUT", "http://backend/x", content=iter([b"a"]), headers={"host": "h"}),
            httpx.Request("GET", "http://backend/", headers=[("Host", "a"), ("X", "1")]),
            httpx.Request("GET", "http://backend/", headers=[("X", "1"), ("HOST", "a")]),
        ]
        samples[3].headers._list.append((b"Host", b"host", b"b"))  # a duplicate Host
        for request in samples:
            before = list(request.headers.raw)
            for host_or_none in (host, None):
                fast = _copy_fields(request, url, host_or_none)
                slow = _copy_public(request, url, host_or_none)
                fast.headers["X-Changed"] = "1"
                slow.headers["X-Changed"] = "1"
                if not _same_request(fast, slow, request) or list(request.headers.raw) != before:
                    return _copy_public
    except Exception:
        return _copy_public
    return _copy_fields


_copy = _pick_copy()


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
        """A copy of ``request`` aimed at ``upstream``; method, headers and body unchanged.

        The copy has its own headers and extensions (the inner transport may change them)
        and shares the body stream.
        """
        target = self.target(upstream)
        return _copy(
            request, target.url_for(request.url), None if keep_host else target.host_header
        )


def is_replayable(request: httpx.Request) -> bool:
    """True when the body can be sent again: httpx holds it in memory as a ByteStream.

    A generator or file body is a one-shot stream: once a byte of it went to an upstream it
    cannot go to another.
    """
    stream: Any = request.stream
    return isinstance(stream, httpx.ByteStream)
