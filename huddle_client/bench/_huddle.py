"""The Huddle row: huddle_client's engine behind its httpx transport.

The figures are measured through ``huddle_client.integrations.httpx.HuddleTransport`` with
its ``HTTPProbe``. :class:`EngineTransport` is a minimal stand-in with the same fail-over
loop (``FailoverRun``), used only when that integration cannot be imported; the tables say
which one ran (:func:`transport_kind`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import httpx

from huddle_client import (
    FailoverPolicy,
    FailoverRun,
    FailureKind,
    HuddleCluster,
    NoUpstreamAvailable,
    RetryBudget,
    Upstream,
    create_cluster,
)

from ._balancers import Target


def _integration() -> Any | None:
    try:
        return importlib.import_module("huddle_client.integrations.httpx")
    except ImportError:
        return None


def transport_kind() -> str:
    """'HuddleTransport' when the httpx integration is importable, else 'stand-in'."""
    module = _integration()
    return (
        "HuddleTransport"
        if module is not None and hasattr(module, "HuddleTransport")
        else ("stand-in")
    )


def _classify(exc: httpx.TransportError) -> FailureKind:
    if isinstance(exc, httpx.ConnectTimeout):
        return FailureKind.CONNECT_TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return FailureKind.CONNECT_REFUSED
    if isinstance(exc, httpx.ReadTimeout):
        return FailureKind.READ_TIMEOUT
    if isinstance(exc, httpx.WriteTimeout):
        return FailureKind.WRITE_TIMEOUT
    if isinstance(exc, httpx.RemoteProtocolError):
        return FailureKind.RESET
    if isinstance(exc, httpx.ProtocolError):
        return FailureKind.PROTOCOL_ERROR
    return FailureKind.OTHER


class EngineTransport(httpx.BaseTransport):
    """Stand-in for HuddleTransport: the engine's fail-over loop over an httpx transport."""

    def __init__(self, cluster: HuddleCluster, policy: FailoverPolicy | None = None) -> None:
        self.cluster = cluster
        self.policy = policy if policy is not None else FailoverPolicy()
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        run = FailoverRun(self.cluster, self.policy, request.method)
        while True:
            try:
                attempt = run.next_attempt()
            except NoUpstreamAvailable as exc:
                raise httpx.ConnectError(f"no upstream available: {run.describe()}") from exc
            up = attempt.upstream
            request.url = request.url.copy_with(scheme=up.scheme, host=up.host, port=up.port)
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                if run.failed(attempt, _classify(exc), exc):
                    continue
                raise
            if run.responded(attempt, response.status_code):
                response.close()
                continue
            try:
                response.read()
            except httpx.TransportError:
                attempt.failed(FailureKind.BODY_FAILED)
                raise
            attempt.completed()
            return response

    def close(self) -> None:
        self._inner.close()


def _plain_probe(path: str = "/health", timeout: float = 1.0) -> Callable[[Upstream], bool]:
    def probe(up: Upstream) -> bool:
        try:
            return httpx.get(up.url + path, timeout=timeout).status_code < 500
        except httpx.HTTPError:
            return False

    return probe


class HuddleRow:
    """One engine cluster over ``targets`` and a factory of transports sharing it.

    ``options`` go to ``create_cluster``; ``probe`` adds the integration's HTTPProbe so
    resting servers get probed. ``on_rotation`` receives the engine's rotation events.
    """

    name = "huddle_client"

    def __init__(
        self,
        targets: list[Target],
        *,
        probe: bool = True,
        on_rotation: Callable[[Any], None] | None = None,
        start: bool = True,
        **options: Any,
    ) -> None:
        module = _integration()
        self.kind = transport_kind()
        self._probe: Any = None
        if probe and "probe" not in options:
            http_probe = getattr(module, "HTTPProbe", None) if module is not None else None
            self._probe = http_probe() if http_probe is not None else _plain_probe()
            options["probe"] = self._probe
        #: One budget for every caller's transport, as one application's client would share.
        self.budget = RetryBudget()
        self.cluster = create_cluster(
            [(t.name, t.host, t.port) for t in targets], on_rotation=on_rotation, **options
        )
        if start:
            self.cluster.start()

    def new_transport(self) -> httpx.BaseTransport:
        """A transport for one caller thread; every one shares this row's cluster."""
        module = _integration()
        if self.kind == "HuddleTransport" and module is not None:
            transport: httpx.BaseTransport = module.HuddleTransport(
                self.cluster, retry_budget=self.budget
            )
            return transport
        return EngineTransport(self.cluster, FailoverPolicy(budget=self.budget))

    def close(self) -> None:
        self.cluster.stop(timeout=2.0)
        close = getattr(self._probe, "close", None)
        if close is not None:
            close()
