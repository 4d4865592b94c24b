"""Fail-over decisions and the retry budget."""

from __future__ import annotations

import pytest
from engine_helpers import FakeClock, make_cluster

from huddle_client import (
    FailoverPolicy,
    FailoverRun,
    FailureKind,
    NoUpstreamAvailable,
    RetryBudget,
    is_idempotent,
)


def test_idempotent_methods_follow_rfc_9110() -> None:
    for m in ("GET", "head", "OPTIONS", "PUT", "DELETE", "TRACE"):
        assert is_idempotent(m)
    for m in ("POST", "PATCH", "CONNECT"):
        assert not is_idempotent(m)


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
@pytest.mark.parametrize("kind", [FailureKind.CONNECT_REFUSED, FailureKind.CONNECT_TIMEOUT])
def test_nothing_sent_is_retryable_for_every_method(method: str, kind: FailureKind) -> None:
    assert FailoverPolicy().may_retry(method, 1, failure=kind, body_replayable=False)


@pytest.mark.parametrize(
    "kind", [FailureKind.READ_TIMEOUT, FailureKind.RESET, FailureKind.PROTOCOL_ERROR]
)
def test_after_sending_only_idempotent_replayable_requests_retry(kind: FailureKind) -> None:
    p = FailoverPolicy()
    assert p.may_retry("GET", 1, failure=kind)
    assert not p.may_retry("POST", 1, failure=kind)
    assert not p.may_retry("PATCH", 1, failure=kind)
    assert not p.may_retry("PUT", 1, failure=kind, body_replayable=False)


def test_a_body_that_failed_midway_is_never_retried() -> None:
    assert not FailoverPolicy().may_retry("GET", 1, failure=FailureKind.BODY_FAILED)


def test_retryable_statuses_and_the_tries_cap() -> None:
    p = FailoverPolicy(max_tries=3)
    assert p.may_retry("GET", 1, status=503)
    assert p.may_retry("GET", 2, status=500)
    assert not p.may_retry("GET", 3, status=500)
    assert not p.may_retry("GET", 1, status=404)
    assert not p.may_retry("POST", 1, status=503)


def test_policy_options_are_validated() -> None:
    with pytest.raises(ValueError, match=r"max_tries must be in \[1, 100\], got 0"):
        FailoverPolicy(max_tries=0)
    with pytest.raises(ValueError, match=r"retry_statuses must be in \[100, 599\], got 700"):
        FailoverPolicy(retry_statuses=[700])
    with pytest.raises(ValueError, match="retry_budget ratio"):
        RetryBudget(ratio=-0.1)


def test_budget_caps_retries_at_a_share_of_requests() -> None:
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.2, min_per_sec=0.0, clock=clock)
    for _ in range(100):
        budget.deposit()
    granted = sum(budget.try_spend() for _ in range(100))
    assert granted == 20
    assert budget.refused == 80


def test_budget_floor_allows_a_few_retries_per_second_without_traffic() -> None:
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.2, min_per_sec=3.0, clock=clock)
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    clock.advance(1.0)
    assert budget.try_spend()


def test_failover_run_tries_each_upstream_once_and_lists_them() -> None:
    c, _, _ = make_cluster(3)
    policy = FailoverPolicy(max_tries=5, budget=RetryBudget(min_per_sec=100))
    run = FailoverRun(c, policy, "POST")
    seen = []
    while True:
        attempt = run.next_attempt()
        seen.append(attempt.upstream.id)
        if not run.failed(attempt, FailureKind.CONNECT_REFUSED, ConnectionRefusedError()):
            break
    assert sorted(seen) == ["s0", "s1", "s2"]  # the last refusal stops: nobody is left
    with pytest.raises(NoUpstreamAvailable) as info:
        run.next_attempt()
    assert [uid for uid, _ in info.value.tried] == seen
    assert "connect_refused" in str(info.value) and "connect_refused" in run.describe()
    assert all(c.server(s).in_flight == 0 for s in seen)


def test_failover_run_drops_a_retryable_status_only_for_idempotent_requests() -> None:
    c, _, _ = make_cluster(3)
    policy = FailoverPolicy()
    get = FailoverRun(c, policy, "GET")
    a = get.next_attempt()
    assert get.responded(a, 503) is True
    assert a.upstream.in_flight == 0 and a.upstream.failures == 1
    post = FailoverRun(c, policy, "POST")
    b = post.next_attempt()
    assert post.responded(b, 503) is False
    assert b.upstream.in_flight == 1  # the caller reads this answer
    b.completed()


def test_disabled_failover_never_retries() -> None:
    c, _, _ = make_cluster(3)
    run = FailoverRun(c, FailoverPolicy(), "GET", enabled=False)
    a = run.next_attempt()
    assert run.failed(a, FailureKind.CONNECT_REFUSED, None) is False
    assert "s0" in run.describe() or "s1" in run.describe() or "s2" in run.describe()


def test_exhausted_budget_stops_a_retry_storm() -> None:
    c, _, _ = make_cluster(6)
    clock = FakeClock(0.0)
    policy = FailoverPolicy(
        max_tries=3, budget=RetryBudget(ratio=0.2, min_per_sec=0.0, clock=clock)
    )
    attempts = 0
    for _ in range(100):
        run = FailoverRun(c, policy, "GET")
        while True:
            attempt = run.next_attempt()
            attempts += 1
            if not run.failed(attempt, FailureKind.CONNECT_REFUSED, None):
                break
    assert attempts <= 100 + 20


def test_no_budget_is_spent_when_every_upstream_was_tried() -> None:
    c, _, _ = make_cluster(2)
    budget = RetryBudget(ratio=0.0, min_per_sec=10.0)
    run = FailoverRun(c, FailoverPolicy(max_tries=5, budget=budget), "GET")
    first = run.next_attempt()
    assert run.responded(first, 503) is True
    second = run.next_attempt()
    assert run.responded(second, 503) is False  # nobody left to try
    second.completed()
    assert budget.retries == 1


def test_deposits_from_many_threads_are_all_counted() -> None:
    import threading

    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.5, min_per_sec=0.0, clock=clock)
    threads = [
        threading.Thread(target=lambda: [budget.deposit() for _ in range(1000)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    granted = sum(budget.try_spend() for _ in range(5000))
    assert granted == 4000  # 0.5 x 8,000 deposits, none lost
