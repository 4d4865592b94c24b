"""FleetFactory: makes fleets for a test session and stops them all at its end.

It also keeps one shared fleet per configuration, so the function-scoped ``upstream_fleet``
fixture resets a running fleet (a millisecond) instead of starting one per test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._fleet import UpstreamFleet

FleetKey = tuple[int, float, float, "int | None"]


class FleetFactory:
    """Callable returning a started :class:`UpstreamFleet`; ``stop_all()`` ends them all.

    Example (the ``upstream_fleet_factory`` fixture is one of these)::

        def test_failover(upstream_fleet_factory):
            fleet = upstream_fleet_factory(n=6, base_latency_ms=0)
    """

    def __init__(self) -> None:
        self._fleets: list[UpstreamFleet] = []
        self._shared: dict[FleetKey, UpstreamFleet] = {}

    def __call__(
        self,
        n: int = 3,
        base_latency_ms: float = 20.0,
        jitter_ms: float = 2.0,
        seed: int | None = None,
    ) -> UpstreamFleet:
        from ._fleet import UpstreamFleet

        fleet = UpstreamFleet(n=n, base_latency_ms=base_latency_ms, jitter_ms=jitter_ms, seed=seed)
        fleet.start()
        self._fleets.append(fleet)
        return fleet

    def shared(
        self,
        n: int = 3,
        base_latency_ms: float = 20.0,
        jitter_ms: float = 2.0,
        seed: int | None = None,
    ) -> UpstreamFleet:
        """The session's fleet for this configuration, reset; started on first use."""
        key: FleetKey = (n, float(base_latency_ms), float(jitter_ms), seed)
        fleet = self._shared.get(key)
        if fleet is None or not fleet.running:
            fleet = self._shared[key] = self(n, base_latency_ms, jitter_ms, seed)
        else:
            fleet.reset()
        return fleet

    def stop_all(self) -> None:
        """Stop every fleet made here, even if stopping one of them fails."""
        errors: list[BaseException] = []
        for fleet in self._fleets:
            try:
                fleet.stop()
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        self._fleets.clear()
        self._shared.clear()
        if errors:
            raise errors[0]
