"""Contenders: one row of a table, built fresh for each run so no state carries over.

A :class:`Contender` gives the load generator a transport factory (or a proxy URL), and
collects rotation events on the ``time.perf_counter()`` clock for the ejection columns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ._balancers import (
    LeastConnections,
    Oracle,
    PeakEwmaP2C,
    Picker,
    PickerTransport,
    ReferencePicker,
    RoundRobin,
    Target,
)
from ._external import start_proxy
from ._huddle import HuddleRow

if TYPE_CHECKING:
    from ._scenarios import Scenario

#: The base URL of rows whose transport picks the host itself (it is never contacted).
POOL_URL = "http://pool.invalid"


@dataclass
class Contender:
    """A row under test: how callers reach it, and how to stop it."""

    name: str
    new_transport: Callable[[], httpx.BaseTransport] | None
    base_url: str = POOL_URL
    stop: Callable[[], None] = lambda: None
    on_start: Callable[[float], None] = lambda t0: None
    events: list[tuple[float, str, str]] = field(default_factory=list)

    def started(self, t0: float) -> None:
        self.on_start(t0)

    def close(self) -> None:
        self.stop()

    def record(self, server: str, direction: str) -> None:
        """Called from the balancer's rotation hook, at the moment of the move."""
        self.events.append((time.perf_counter(), server, direction))


def picker_contender(picker: Picker, name: str | None = None) -> Contender:
    """A baseline picker behind one PickerTransport per caller."""
    return Contender(name or picker.name, lambda: PickerTransport(picker), stop=picker.close)


def oracle_contender(targets: Sequence[Target], scenario: Scenario) -> Contender:
    """Round robin over the servers the scenario's schedule says are healthy."""
    origin = [time.perf_counter()]

    def healthy(index: int) -> bool:
        return scenario.healthy(index, time.perf_counter() - origin[0])

    contender = picker_contender(Oracle(targets, healthy))

    def on_start(t0: float) -> None:
        origin[0] = t0

    contender.on_start = on_start
    return contender


def huddle_contender(
    targets: Sequence[Target], name: str = "huddle_client", **options: Any
) -> Contender:
    """The engine behind HuddleTransport (with its HTTPProbe) and ``options``."""
    contender = Contender(name, None)

    def hook(event: Any) -> None:
        contender.record(event.server_id, event.direction)

    row = HuddleRow(targets, on_rotation=hook, **options)
    contender.new_transport = row.new_transport
    contender.stop = row.close
    return contender


def reference_contender(targets: Sequence[Target]) -> Contender:
    """The reference package with its defaults, as its README uses it."""
    contender = Contender(ReferencePicker.name, None)

    def hook(event: Any) -> None:
        contender.record(event.server_id, event.direction)

    picker = ReferencePicker(targets, on_rotation=hook)
    contender.new_transport = lambda: PickerTransport(picker)
    contender.stop = picker.close
    return contender


def proxy_contender(label: str, binary: str, method: str, targets: Sequence[Target]) -> Contender:
    """nginx or HAProxy on loopback (raises FileNotFoundError when it is not installed)."""
    proxy = start_proxy(label, binary, method, targets)
    return Contender(label, None, base_url=proxy.url, stop=proxy.stop)


def builders(
    targets: Sequence[Target], huddle_options: dict[str, Any] | None = None
) -> dict[str, Callable[[Scenario], Contender]]:
    """Every in-process row by name, each a function of the scenario it will run."""
    opts = dict(huddle_options or {})
    return {
        "huddle_client": lambda s: huddle_contender(targets, **opts),
        "round robin": lambda s: picker_contender(RoundRobin(targets)),
        "least connections": lambda s: picker_contender(LeastConnections(targets)),
        "P2C peak-EWMA": lambda s: picker_contender(PeakEwmaP2C(targets)),
        "huddle-cluster 1.3.2": lambda s: reference_contender(targets),
        "oracle (healthy only)": lambda s: oracle_contender(targets, s),
    }
