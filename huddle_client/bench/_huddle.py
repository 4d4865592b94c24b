"""The Huddle row: huddle_client's engine behind its httpx transport, for the bench and demo.

:class:`HuddleRow` builds one cluster over the fleet with an ``HTTPProbe`` for its resting
servers, and hands out ``HuddleTransport`` instances that share the cluster and one retry
budget, as the callers of one application would. :func:`httpx_integration` is the one place
that imports ``huddle_client.integrations.httpx``: that package is installed from
``integrations/`` through a package-dir mapping mypy cannot follow, so it is imported by name
at run time and typed from the source tree for mypy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from huddle_client import HuddleCluster, RetryBudget, RotationEvent, create_cluster

from ._balancers import Target

if TYPE_CHECKING:  # mypy's name for huddle_client.integrations.httpx
    from integrations.httpx import HTTPProbe, HuddleTransport


def httpx_integration() -> tuple[type[HuddleTransport], type[HTTPProbe]]:
    """``HuddleTransport`` and ``HTTPProbe`` from ``huddle_client.integrations.httpx``."""
    module = importlib.import_module("huddle_client.integrations.httpx")
    return module.HuddleTransport, module.HTTPProbe


class HuddleRow:
    """One engine cluster over ``targets`` and a factory of transports sharing it.

    ``options`` go to ``create_cluster``; the cluster always gets an ``HTTPProbe`` on
    ``/health`` (``probe_timeout_s``), closed by :meth:`close`. ``on_rotation`` receives the
    engine's rotation events; ``start`` starts the rotation thread at once. Example::

        row = HuddleRow(targets, latency_window=5)
        client = httpx.Client(transport=row.new_transport(), base_url="http://pool")
        ...
        row.close()
    """

    name = "huddle_client"

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        probe_timeout_s: float = 1.0,
        on_rotation: Callable[[RotationEvent], None] | None = None,
        start: bool = True,
        **options: Any,
    ) -> None:
        self._transport, probe = httpx_integration()
        self.probe = probe(path="/health", timeout=probe_timeout_s)
        #: One budget for every caller's transport, as one application's client would share.
        self.budget = RetryBudget()
        self.cluster: HuddleCluster = create_cluster(
            [(t.name, t.host, t.port) for t in targets],
            probe=self.probe,
            on_rotation=on_rotation,
            **options,
        )
        if start:
            self.cluster.start()

    def new_transport(self) -> httpx.BaseTransport:
        """A transport for one caller thread; every one shares this row's cluster."""
        return self._transport(self.cluster, retry_budget=self.budget)

    def start(self) -> None:
        """Start the rotation thread (when built with ``start=False``)."""
        self.cluster.start()

    def close(self) -> None:
        self.cluster.stop(timeout=2.0)
        self.probe.close()
