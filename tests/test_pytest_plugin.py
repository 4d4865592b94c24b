"""The pytest plugin: light to import, and its fixtures work in a real (nested) pytest run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest


def test_loading_the_plugin_imports_nothing_third_party() -> None:
    code = (
        "import sys, huddle_client.testing.pytest_plugin, huddle_client.testing;"
        "print(sorted({'uvicorn', 'httptools', 'httpx', 'h11'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


INNER_TESTS = """
import json
import pathlib

import httpx
import pytest

SEEN = {}


def test_default_fleet_comes_from_the_ini(upstream_fleet):
    assert len(upstream_fleet) == 4
    assert upstream_fleet.base_latency_ms == 0.0
    assert httpx.get(upstream_fleet.urls[3] + "/hi").json()["server"] == "s3"
    SEEN["fleet"] = upstream_fleet
    upstream_fleet[1].crash()


def test_the_fleet_is_reused_and_reset(upstream_fleet):
    assert upstream_fleet is SEEN["fleet"]
    assert upstream_fleet.total_received() == 0
    assert [s.mode for s in upstream_fleet] == ["normal"] * 4
    httpx.get(upstream_fleet.urls[1] + "/health").raise_for_status()


@pytest.mark.upstream_fleet(n=2, base_latency_ms=1.0, seed=3)
def test_the_marker_configures_the_fleet(upstream_fleet):
    assert len(upstream_fleet) == 2
    assert upstream_fleet.base_latency_ms == 1.0


def test_the_factory_makes_more_fleets(upstream_fleet_factory, upstream_fleet):
    extra = upstream_fleet_factory(n=1, base_latency_ms=0)
    assert extra.running and extra is not upstream_fleet
    fleets = [extra, upstream_fleet, SEEN["fleet"]]
    ports = [server.port for fleet in fleets for server in fleet]
    pathlib.Path("ports.json").write_text(json.dumps(ports))
"""


def test_fixtures_in_a_nested_pytest_run(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nupstream_fleet_size = 4\nupstream_fleet_latency_ms = 0\n"
        "upstream_fleet_jitter_ms = 0\n"
    )
    pytester.makepyfile(test_inner=INNER_TESTS)
    before = set(threading.enumerate())
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--strict-markers", "--strict-config", "-W", "error"
    )
    result.assert_outcomes(passed=4)
    assert set(threading.enumerate()) == before
    ports = json.loads((pytester.path / "ports.json").read_text())
    for port in ports:
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))
