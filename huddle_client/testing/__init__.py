"""Testing toolkit: real upstream servers whose behaviour can be switched while traffic flows.

``UpstreamFleet`` starts n HTTP/1.1 servers on 127.0.0.1; each ``FleetServer`` can turn slow,
crash, fail, hang or flake at any time, and counts what it received. Importing this package
needs no third-party module (uvicorn is imported when a fleet starts), because the pytest
plugin living here is loaded in every pytest run of anyone who installs huddle-client.
"""

from __future__ import annotations

from ._app import stream_payload
from ._behaviour import Behaviour
from ._factory import FleetFactory
from ._fleet import FleetServer, UpstreamFleet
from ._schedule import FleetEvent, FleetSchedule

__all__ = [
    "Behaviour",
    "FleetEvent",
    "FleetFactory",
    "FleetSchedule",
    "FleetServer",
    "UpstreamFleet",
    "stream_payload",
]
