"""Edge cases of the requests adapter that need no server: options, error mapping, body tracking.

The behaviour on real sockets is in tests/integration/test_requests_adapter.py; here mocks
stand in only where a real server cannot produce the case (an interrupt inside send, a
garbage collection while the engine holds its lock).
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from typing import Any
from unittest import mock

import pytest
import requests
import urllib3.exceptions as u3
from huddle_client.integrations._requests_errors import classify
from huddle_client.integrations.requests import HuddleAdapter, NoUpstreamError, TrackedBody
from requests.adapters import HTTPAdapter

from huddle_client import FailureKind, HuddleCluster, HuddleError, create_cluster

# Port 9 (discard) on loopback: nothing in these tests ever connects to it.
UNUSED = "http://127.0.0.1:9"


def cluster() -> HuddleCluster:
    return create_cluster([UNUSED, "http://127.0.0.1:10"])


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_tries", 0, r"max_tries must be in \[1, 100\], got 0"),
        ("max_tries", 2.5, "max_tries must be an integer, got 2.5"),
        ("retry_statuses", 500, "retry_statuses must be a collection"),
        ("retry_statuses", "500", "retry_statuses must be a collection"),
        ("retry_statuses", [503, 700], r"retry_statuses must be in \[100, 599\], got 700"),
        ("retry_budget_ratio", -0.1, r"retry_budget_ratio must be in \[0, 10\], got -0.1"),
        ("retry_budget_ratio", "lots", "retry_budget_ratio must be a number"),
        ("retry_budget_min_per_sec", -1, r"retry_budget_min_per_sec must be in \[0, inf\)"),
        ("failover", "yes", "failover must be True or False, got 'yes'"),
        ("keep_host", 1, "keep_host must be True or False, got 1"),
        ("pool_connections", 0, r"pool_connections must be in \[1, inf\), got 0"),
        ("pool_maxsize", -3, r"pool_maxsize must be in \[1, inf\), got -3"),
        ("pool_block", None, "pool_block must be True or False, got None"),
        ("max_retries", -1, r"max_retries must be in \[0, 100\], got -1"),
    ],
)
def test_invalid_option_names_itself_the_value_and_the_range(
    option: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        HuddleAdapter(cluster(), **{option: value})


def test_cluster_must_be_a_cluster() -> None:
    with pytest.raises(ValueError, match="cluster must be a HuddleCluster"):
        HuddleAdapter(["http://127.0.0.1:9001"])  # type: ignore[arg-type]


def test_options_reach_the_policy_and_http_adapter() -> None:
    adapter = HuddleAdapter(
        cluster(), max_tries=5, retry_statuses={502}, retry_budget_ratio=0.5, pool_maxsize=7
    )
    assert adapter.policy.max_tries == 5
    assert adapter.policy.retry_statuses == frozenset({502})
    assert adapter.policy.budget.ratio == 0.5
    assert adapter._pool_maxsize == 7
    assert adapter.max_retries.total == 0  # urllib3 retries nothing: fail-over sits above


def test_missing_requests_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['requests'] = None\n"
        "try:\n"
        "    import huddle_client.integrations.requests\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert 'pip install "huddle-client[requests]"' in out.stdout, out.stderr


# -- errors --------------------------------------------------------------------------------


def _wrapped(reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(u3.MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_wrapped(u3.NewConnectionError(None, "refused")), FailureKind.CONNECT_REFUSED),  # type: ignore[arg-type]
        (_wrapped(u3.NameResolutionError("h", None, OSError())), FailureKind.CONNECT_REFUSED),  # type: ignore[arg-type]
        (requests.exceptions.ConnectTimeout("slow connect"), FailureKind.CONNECT_TIMEOUT),
        (requests.exceptions.ReadTimeout("slow answer"), FailureKind.READ_TIMEOUT),
        (
            requests.ConnectionError(u3.ProtocolError("aborted", ConnectionResetError())),
            FailureKind.RESET,
        ),
        (
            requests.ConnectionError(
                u3.ProtocolError("aborted", http.client.RemoteDisconnected("closed"))
            ),
            FailureKind.RESET,
        ),
        (
            requests.ConnectionError(u3.ProtocolError("aborted", http.client.BadStatusLine("x"))),
            FailureKind.PROTOCOL_ERROR,
        ),
        (requests.exceptions.SSLError("bad cert"), FailureKind.OTHER),
        (ConnectionResetError(), FailureKind.RESET),
    ],
)
def test_transport_failures_map_to_the_engine_kinds(exc: BaseException, kind: FailureKind) -> None:
    assert classify(exc) is kind


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("the caller's body generator broke"),
        KeyboardInterrupt(),
        requests.exceptions.InvalidHeader("bad header"),
        requests.exceptions.InvalidURL("bad url"),
    ],
)
def test_the_callers_own_failures_are_not_the_upstreams(exc: BaseException) -> None:
    assert classify(exc) is None


def test_no_upstream_error_is_a_requests_connection_error_and_a_huddle_error() -> None:
    error = NoUpstreamError("none left", tried=[("a:1", "connect_refused")])
    assert isinstance(error, requests.ConnectionError)
    assert isinstance(error, HuddleError)
    assert error.tried == (("a:1", "connect_refused"),)
    assert str(error) == "none left"


def test_empty_cluster_raises_no_upstream_error_at_once() -> None:
    c = create_cluster([UNUSED])
    c.remove_server("127.0.0.1:9")
    session = requests.Session()
    session.mount("http://backend/", HuddleAdapter(c))
    with pytest.raises(NoUpstreamError, match="the cluster has none"):
        session.get("http://backend/x")


def test_an_interrupt_inside_send_releases_the_call_without_blame() -> None:
    c = cluster()
    session = requests.Session()
    session.mount("http://backend/", HuddleAdapter(c))
    with (
        mock.patch.object(HTTPAdapter, "send", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        session.get("http://backend/x")
    assert [(u.in_flight, u.requests) for u in c.all_servers()] == [(0, 0), (0, 0)]


# -- body tracking -------------------------------------------------------------------------


def _tracked(raw: Any) -> tuple[TrackedBody, HuddleCluster]:
    c = cluster()
    attempt = c.begin()
    attempt.responded(200)
    return TrackedBody(raw, attempt), c


def test_a_body_read_failure_is_reported_once() -> None:
    raw = mock.Mock()
    raw.read.side_effect = u3.ProtocolError("broken midway")
    body, c = _tracked(raw)
    with pytest.raises(u3.ProtocolError):
        body.read(10)
    body.close()  # a later close adds nothing
    up = body.attempt.upstream
    assert (up.in_flight, up.failures, up.requests) == (0, 1, 2)
    assert sum(u.in_flight for u in c.all_servers()) == 0


def test_close_twice_releases_once_and_attributes_are_forwarded() -> None:
    raw = mock.Mock()
    raw.status = 204
    body, c = _tracked(raw)
    body.decode_content = True  # the shutil.copyfileobj idiom sets this on response.raw
    assert raw.decode_content is True
    assert body.status == 204
    body.close()
    body.close()
    assert sum(u.in_flight for u in c.all_servers()) == 0
    assert raw.close.call_count == 2


def test_a_read_that_ends_the_body_releases_the_call() -> None:
    raw = mock.Mock()
    raw.read.return_value = b"tail"
    raw.isclosed.side_effect = [False, True]
    body, c = _tracked(raw)
    assert body.read(4) == b"tail"
    assert body.attempt.upstream.in_flight == 1
    assert body.read(4) == b"tail"
    assert body.attempt.upstream.in_flight == 0


def test_gc_while_the_engine_holds_its_lock_defers_instead_of_deadlocking() -> None:
    raw = mock.Mock()
    body, c = _tracked(raw)
    attempt = body.attempt
    with c._lock:
        body.__del__()  # what the garbage collector does, here inside a locked section
    assert attempt.upstream.in_flight == 1
    c.begin().cancel()  # the next call settles the count
    assert attempt.upstream.in_flight == 0


def test_a_held_retryable_answer_is_returned_when_the_next_try_times_out() -> None:
    held = requests.Response()
    held.status_code = 503
    held.raw = mock.Mock(_original_response=None)  # no cookies to extract
    c = cluster()
    session = requests.Session()
    session.mount("http://backend/", HuddleAdapter(c))
    answers = [held, requests.exceptions.ReadTimeout("no head")]
    with mock.patch.object(HTTPAdapter, "send", side_effect=answers) as send:
        response = session.get("http://backend/x", stream=True)
    assert response is held and send.call_count == 2
    held.raw.close.assert_not_called()  # returned to the caller, not closed
    assert [u.in_flight for u in c.all_servers()] == [0, 0]


def test_a_held_retryable_answer_is_closed_when_a_better_one_arrives() -> None:
    held, better = requests.Response(), requests.Response()
    held.status_code, better.status_code = 503, 200
    held.raw, better.raw = mock.Mock(_original_response=None), mock.Mock(_original_response=None)
    session = requests.Session()
    session.mount("http://backend/", HuddleAdapter(cluster()))
    with mock.patch.object(HTTPAdapter, "send", side_effect=[held, better]):
        response = session.get("http://backend/x", stream=True)
    assert response is better
    held.raw.close.assert_called_once()
