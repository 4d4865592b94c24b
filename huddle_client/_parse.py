"""Turn what users write for an upstream into an :class:`Upstream`.

Accepted forms:

- a URL, ``"http://10.0.0.1:8080"``, optionally with a base path ``"http://h:8080/api"``;
- the reference package's tuple ``(id, host, port)`` or ``(id, host, port, weight)``;
- an :class:`Upstream` built by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from . import _validate
from ._upstream import Upstream

#: What users may write for an upstream (a URL, a reference tuple, or an Upstream).
UpstreamSpec = str | tuple[str, str, int] | tuple[str, str, int, float] | Upstream

_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_upstream(spec: object, *, window: int = 10) -> Upstream:
    """Build one :class:`Upstream` from a URL, a reference tuple or an Upstream."""
    if isinstance(spec, Upstream):
        if spec.window != window:
            raise ValueError(
                f"upstreams: Upstream {spec.id!r} keeps {spec.window} outcomes but the "
                f"cluster's latency_window is {window}; build it with window={window}"
            )
        return spec
    if isinstance(spec, str):
        return _from_url(spec, window)
    if isinstance(spec, tuple) and len(spec) in (3, 4):
        return _from_tuple(spec, window)
    raise ValueError(
        f"upstreams: cannot read {spec!r}; give a URL such as 'http://10.0.0.1:8080' "
        "or a tuple (id, host, port[, weight])"
    )


def parse_upstreams(specs: Iterable[object], *, window: int = 10) -> list[Upstream]:
    """Parse a whole list, rejecting an empty list and duplicate ids."""
    if isinstance(specs, (str, bytes)):
        raise ValueError("upstreams must be a list of URLs or tuples, not a single string")
    result = [parse_upstream(s, window=window) for s in specs]
    if not result:
        raise ValueError("upstreams must name at least one upstream, got an empty list")
    seen: set[str] = set()
    for up in result:
        if up.id in seen:
            raise ValueError(f"upstreams: duplicate upstream id {up.id!r}")
        seen.add(up.id)
    return result


def _from_url(url: str, window: int) -> Upstream:
    parts = urlsplit(url.strip())
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"upstreams: {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"upstreams: {url!r} has no host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"upstreams: {url!r} may not carry a query, fragment or credentials")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"upstreams: {url!r} has an invalid port") from exc
    if port is None:
        port = _DEFAULT_PORTS[parts.scheme]
    if not 1 <= port <= 65535:
        raise ValueError(f"upstreams: port of {url!r} must be in [1, 65535], got {port}")
    base_path = parts.path.rstrip("/")
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return Upstream(
        f"{shown}:{port}{base_path}",
        host,
        port,
        scheme=parts.scheme,
        base_path=base_path,
        window=window,
    )


def _from_tuple(spec: tuple[object, ...], window: int) -> Upstream:
    uid, host, port = spec[0], spec[1], spec[2]
    if not isinstance(uid, str) or not uid:
        raise ValueError(f"upstreams: id in {spec!r} must be a non-empty string")
    if not isinstance(host, str) or not host:
        raise ValueError(f"upstreams: host in {spec!r} must be a non-empty string")
    port = _validate.integer(f"upstreams: port of {uid!r}", port, low=1, high=65535)
    weight = 1.0
    if len(spec) == 4:
        weight = _validate.number(f"weight of {uid!r}", spec[3], low=0.0, low_open=True)
    return Upstream(uid, host, port, weight, window=window)
