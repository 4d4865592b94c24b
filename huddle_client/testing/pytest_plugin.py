"""pytest plugin of huddle_client (registered through the ``pytest11`` entry point).

Fixtures:

- ``upstream_fleet_factory`` (session): a :class:`~huddle_client.testing.FleetFactory`;
  call it for a started fleet, all are stopped when the session ends.
- ``upstream_fleet`` (function): a shared fleet, reset (all normal, counts zeroed, schedules
  cancelled) before and after each test. Size and latency come from the marker
  ``@pytest.mark.upstream_fleet(n=..., base_latency_ms=..., jitter_ms=..., seed=...)``, else
  from the ini options ``upstream_fleet_size``, ``upstream_fleet_latency_ms`` and
  ``upstream_fleet_jitter_ms`` (defaults 3 servers, 20 ms, 2 ms).

This module is imported by every pytest run of anyone who installs huddle-client, with or
without the ``testing`` extra: it imports nothing third-party until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._factory import FleetFactory
    from ._fleet import UpstreamFleet

_MARKER = "upstream_fleet"
_INI = {
    "upstream_fleet_size": ("servers in the upstream_fleet fixture", "3"),
    "upstream_fleet_latency_ms": ("base latency of the upstream_fleet fixture, in ms", "20"),
    "upstream_fleet_jitter_ms": ("latency jitter of the upstream_fleet fixture, in ms", "2"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (help_text, default) in _INI.items():
        parser.addini(name, f"{help_text} (default {default})", default=default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(n=3, base_latency_ms=20.0, jitter_ms=2.0, seed=None): "
        "configure the upstream_fleet fixture for this test",
    )


@pytest.fixture(scope="session")
def upstream_fleet_factory() -> Iterator[FleetFactory]:
    """Make started fleets with ``upstream_fleet_factory(n=..., base_latency_ms=...)``."""
    from ._factory import FleetFactory

    factory = FleetFactory()
    yield factory
    factory.stop_all()


@pytest.fixture
def upstream_fleet(
    request: pytest.FixtureRequest, upstream_fleet_factory: FleetFactory
) -> Iterator[UpstreamFleet]:
    """A running fleet, reset before and after the test, reused across the session."""
    fleet = upstream_fleet_factory.shared(**_options(request))
    yield fleet
    if fleet.running:
        fleet.reset()


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    ini = request.config.getini
    options: dict[str, Any] = {
        "n": int(ini("upstream_fleet_size")),
        "base_latency_ms": float(ini("upstream_fleet_latency_ms")),
        "jitter_ms": float(ini("upstream_fleet_jitter_ms")),
        "seed": None,
    }
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{_MARKER} takes keyword arguments only")
        unknown = set(marker.kwargs) - set(options)
        if unknown:
            raise pytest.UsageError(f"@pytest.mark.{_MARKER}: unknown {sorted(unknown)}")
        options.update(marker.kwargs)
    return options
