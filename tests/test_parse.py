"""Upstreams given as URLs, reference tuples or Upstream objects."""

from __future__ import annotations

import pytest

from huddle_client import Upstream, create_cluster
from huddle_client._parse import parse_upstream, parse_upstreams


def test_url_with_port_and_base_path() -> None:
    up = parse_upstream("http://10.0.0.1:8080/api/")
    assert (up.scheme, up.host, up.port, up.base_path) == ("http", "10.0.0.1", 8080, "/api")
    assert up.id == "10.0.0.1:8080/api"
    assert up.url == "http://10.0.0.1:8080/api"


def test_default_ports_and_ipv6() -> None:
    assert parse_upstream("https://example.internal").port == 443
    assert parse_upstream("http://example.internal").port == 80
    up = parse_upstream("http://[::1]:9000")
    assert up.host == "::1" and up.url == "http://[::1]:9000" and up.id == "[::1]:9000"


def test_reference_tuples_with_and_without_weight() -> None:
    a = parse_upstream(("s1", "10.0.0.1", 8080))
    b = parse_upstream(("s2", "10.0.0.2", 8080, 2.0))
    assert (a.id, a.weight) == ("s1", 1.0)
    assert (b.id, b.weight, b.url) == ("s2", 2.0, "http://10.0.0.2:8080")


def test_upstream_objects_pass_through() -> None:
    up = Upstream("x", "127.0.0.1", 1)
    assert parse_upstream(up) is up


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("10.0.0.1:8080", "must start with http:// or https://"),
        ("ftp://h:1", "must start with http:// or https://"),
        ("http://:8080", "has no host"),
        ("http://h:99999", "invalid port"),
        ("http://h:0", r"port of 'http://h:0' must be in \[1, 65535\]"),
        ("http://h:1/?q=1", "may not carry a query"),
        ("http://user:pw@h:1", "credentials"),
        (("s1", "h", 0), r"port of 's1' must be in \[1, 65535\], got 0"),
        (("s1", "h", "80"), "must be an integer"),
        (("s1", "h", 80, 0.0), r"weight of 's1' must be in \(0, inf\), got 0.0"),
        (("s1", "h", 80, -1), "weight of 's1'"),
        (("", "h", 80), "id in"),
        (("s1", "", 80), "host in"),
        (42, "cannot read 42"),
        (("s1", "h"), "cannot read"),
    ],
)
def test_bad_upstreams_are_rejected_with_the_reason(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_upstream(spec)


def test_empty_and_duplicate_lists_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one upstream"):
        parse_upstreams([])
    with pytest.raises(ValueError, match="duplicate upstream id 'h:1'"):
        parse_upstreams(["http://h:1", "http://h:1/"])
    with pytest.raises(ValueError, match="not a single string"):
        parse_upstreams("http://h:1")


def test_create_cluster_rejects_bad_input_before_building_anything() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        create_cluster([("a", "h", 1), ("a", "h", 2)])


def test_an_upstream_object_must_match_the_cluster_window() -> None:
    up = Upstream("x", "127.0.0.1", 1, window=5)
    assert parse_upstream(up, window=5) is up
    with pytest.raises(ValueError, match=r"keeps 5 outcomes but the cluster's latency_window"):
        create_cluster([up])
