"""Recovery probes over HTTP: fresh evidence for resting upstreams.

An upstream in the outer ring takes no traffic, so without probes its evidence would only
age. Given as the cluster's ``probe=`` option, a probe is called by the engine's probe runner
for each resting upstream that is due, and a 2xx or 3xx answer on the health path counts as
a healthy call; a crashed server that comes back is then readmitted by the rotation.
"""

from __future__ import annotations

import asyncio

import httpx

from huddle_client import Upstream
from huddle_client._validate import number


def _check_path(path: object) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must be a string starting with '/', got {path!r}")
    return path


def _healthy(status: int) -> bool:
    return 200 <= status < 400


class HTTPProbe:
    """``GET <upstream url><path>`` with a timeout; True on a 2xx or 3xx answer.

    It owns one ``httpx.Client`` (connections pooled per upstream, redirects not followed,
    proxy environment variables ignored: a probe goes straight to the upstream). Keep
    ``timeout`` below the cluster's ``probe_timeout_sec``, which the runner enforces too.

    Example::

        probe = HTTPProbe(path="/health", timeout=1.0)
        cluster = create_cluster(urls, probe=probe)
        with cluster:
            ...
        probe.close()
    """

    def __init__(
        self,
        path: str = "/health",
        timeout: float = 1.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.path = _check_path(path)
        self.timeout = number("timeout", timeout, low=0.0, low_open=True, high=600.0)
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise ValueError(f"transport must be an httpx.BaseTransport or None, got {transport!r}")
        self._client = httpx.Client(
            timeout=self.timeout, transport=transport, follow_redirects=False, trust_env=False
        )

    def __call__(self, upstream: Upstream) -> bool:
        try:
            response = self._client.get(upstream.url + self.path)
        except httpx.HTTPError:
            return False
        return _healthy(response.status_code)

    def close(self) -> None:
        """Close the probe's connections."""
        self._client.close()

    def __enter__(self) -> HTTPProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HTTPProbe(path={self.path!r}, timeout={self.timeout})"


class AsyncHTTPProbe:
    """The coroutine twin of :class:`HTTPProbe`, for clusters whose callers are async.

    Calling it returns a coroutine; the engine's probe runner drives it on an event loop of
    its own. Its client keeps no idle connection, because an asyncio connection belongs to
    the loop that opened it and the runner's loop is not the application's.

    Example::

        probe = AsyncHTTPProbe(path="/health", timeout=1.0)
        cluster = create_cluster(urls, probe=probe)
        async with cluster:
            ...
        await probe.aclose()
    """

    def __init__(
        self,
        path: str = "/health",
        timeout: float = 1.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.path = _check_path(path)
        self.timeout = number("timeout", timeout, low=0.0, low_open=True, high=600.0)
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ValueError(
                f"transport must be an httpx.AsyncBaseTransport or None, got {transport!r}"
            )
        self._client = httpx.AsyncClient(
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def __call__(self, upstream: Upstream) -> bool:
        try:
            response = await self._client.get(upstream.url + self.path)
        except (httpx.HTTPError, asyncio.TimeoutError):
            return False
        return _healthy(response.status_code)

    async def aclose(self) -> None:
        """Close the probe's client."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncHTTPProbe:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncHTTPProbe(path={self.path!r}, timeout={self.timeout})"
