"""The demo's statistics and summary table: right figures, and a table that reads back."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from huddle_client import RotationEvent
from huddle_client.bench._load import Sample
from huddle_client.bench._report import parse_markdown_table
from huddle_client.demo._run import DemoResult, print_summary, what_huddle_did
from huddle_client.demo._story import default_story
from huddle_client.demo._summary import (
    COLUMNS,
    WHOLE_RUN,
    summarize,
    summary_rows,
    summary_table,
)


def test_summarize_counts_failed_requests_and_their_latency() -> None:
    samples = [Sample(0.1 * i, 10.0, True, "s0") for i in range(98)]
    samples += [Sample(9.8, 1000.0, False, None), Sample(9.9, 2.0, False, None)]
    stats = summarize(samples)
    assert (stats.requests, stats.failed) == (100, 2)
    assert stats.failed_pct == pytest.approx(2.0)
    assert stats.p50_ms == 10.0
    assert stats.p99_ms > 10.0  # the 1 s failure is in the tail


def _samples(rate_per_s: int, duration: float, fail_from: float | None) -> list[Sample]:
    out = []
    for i in range(int(rate_per_s * duration)):
        t = i / rate_per_s
        failed = fail_from is not None and t >= fail_from and i % 3 == 0
        out.append(Sample(t, 100.0 if failed else 20.0, not failed, None if failed else "s0"))
    return out


def test_summary_rows_split_the_samples_by_act() -> None:
    story = default_story(6, 15.0)
    rows = summary_rows(story, _samples(10, 15.0, None), _samples(10, 15.0, 5.4))
    assert [r.phase for r in rows] == [
        "normal",
        "5x slow",
        "crash",
        "fast 500",
        "healed",
        WHOLE_RUN,
    ]
    assert sum(r.huddle.requests for r in rows[:-1]) == rows[-1].huddle.requests == 150
    assert rows[-1].round_robin.requests == 150
    assert rows[0].round_robin.failed == 0 and rows[-1].round_robin.failed > 0
    assert all(r.huddle.failed == 0 for r in rows)


def test_the_markdown_table_parses_back() -> None:
    story = default_story(6, 15.0)
    rows = summary_rows(story, _samples(10, 15.0, None), _samples(10, 15.0, 5.4))
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(summary_table(rows, markdown=True))
    parsed = parse_markdown_table(console.export_text())
    assert [r["phase"] for r in parsed] == [r.phase for r in rows]
    assert set(parsed[0]) == set(COLUMNS)
    whole = parsed[-1]
    assert int(whole["huddle req"]) == 150
    assert whole["huddle failed"] == "0 (0.0%)"
    assert int(whole["rr failed"].split()[0]) == rows[-1].round_robin.failed
    assert float(whole["huddle p95 ms"]) == pytest.approx(20.0)


def test_print_summary_names_what_huddle_did() -> None:
    story = default_story(6, 45.0)
    rows = summary_rows(story, _samples(10, 45.0, None), _samples(10, 45.0, 16.0))
    rotations = [
        (8.4, RotationEvent(0.0, "s1", "inner->outer", "overheated", 0.6)),
        (16.01, RotationEvent(0.0, "s2", "inner->outer", "connect_failed", 0.2)),
        (36.5, RotationEvent(0.0, "s1", "outer->inner", "cooled", 0.2)),
    ]
    result = DemoResult(story, 1, rows, [], rotations, [])
    lines = what_huddle_did(result)
    assert lines[0] == "s1 turned 5x slow at 8.0 s: out of the inner ring 0.40 s later"
    assert lines[1] == "s2 crashed at 16.0 s: out of the inner ring 0.01 s later"
    assert lines[2] == "s3 answered 500s at 24.0 s: already resting, or not taken out"
    assert lines[3] == "s1 healed at 32.0 s: back in the inner ring at 36.5 s (4.5 s later)"

    console = Console(file=io.StringIO(), width=160, record=True)
    print_summary(result, console, markdown=True)
    text = console.export_text()
    assert len(parse_markdown_table(text)) == 6
    assert "s2 crashed at 16.0 s" in text
    assert all(line == line.rstrip() for line in text.splitlines())
