"""The demo's view renders a snapshot, live (rich) or as plain lines, with no fleet running."""

from __future__ import annotations

import io

from rich.console import Console

from huddle_client.demo._summary import Stats
from huddle_client.demo._view import (
    Event,
    ServerView,
    Snapshot,
    event_line,
    progress_line,
    render_live,
)


def _snapshot() -> Snapshot:
    servers = (
        ServerView("s0", "normal", "inner", 0.02, 21.3, True, 40.0, 33.0),
        ServerView("s1", "slow", "outer", 0.71, 104.9, True, 0.0, 8.0),
        ServerView("s2", "crash", "outer", 0.64, 0.0, False, 0.0, 0.0),
        ServerView("s3", "normal", "inner", 0.33, 22.0, True, 41.0, 33.0),
    )
    return Snapshot(
        elapsed=17.25,
        duration=45.0,
        phase="crash",
        narration="s2 crashes: connections refused",
        seed=7,
        servers=servers,
        huddle_total=Stats(1200, 0, 21.0, 24.5, 31.0),
        rr_total=Stats(1100, 37, 21.0, 103.0, 109.9),
        huddle_recent=Stats(300, 0, 21.0, 23.0, 26.0),
        rr_recent=Stats(260, 37, 21.0, 104.0, 108.0),
        recent_seconds=5.0,
        events=(
            Event(8.0, "story", "s1 turns 5x slow"),
            Event(8.4, "huddle", "s1 inner->outer: overheated (temperature 0.61)"),
            Event(16.0, "story", "s2 crashes: connections refused"),
            Event(16.01, "huddle", "s2 inner->outer: connect_failed (temperature 0.20)"),
        ),
        timing_note="dwell 3 s, cooldown 1.5 s, tick 0.5 s (defaults 10 s / 5 s / 1 s)",
        callers=4,
    )


def test_the_live_view_renders_rings_servers_events_and_the_comparison() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, record=True, color_system="truecolor")
    console.print(render_live(_snapshot()))
    text = console.export_text()

    assert "huddle demo" in text and "seed 7" in text
    assert "17.2 / 45 s" in text and "act: crash" in text
    assert "s2 crashes: connections refused" in text
    inner_line = next(line for line in text.splitlines() if "inner ring" in line)
    outer_line = next(line for line in text.splitlines() if "outer ring" in line)
    assert "s0" in inner_line and "s3" in inner_line and "s1" not in inner_line
    assert "s1" in outer_line and "s2" in outer_line
    assert "0.71" in text and "104.9" in text  # s1's temperature and latency
    assert "outer ✗" in text  # the crashed server is marked unhealthy
    assert "s1 inner->outer: overheated" in text and "16.0 s" in text
    rr_rows = [line for line in text.splitlines() if "round robin" in line and "whole run" in line]
    assert rr_rows and "37" in rr_rows[0] and "109.9" in rr_rows[0]
    assert "defaults 10 s / 5 s" in text
    assert "\x1b[" in out.getvalue()  # coloured on a colour terminal


def test_the_live_view_fits_a_small_terminal_by_stacking_and_fewer_events() -> None:
    console = Console(file=io.StringIO(), width=100, height=30, record=True)
    console.print(render_live(_snapshot()))
    lines = console.export_text().splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert len(lines) <= 30
    assert "…" not in "".join(lines)  # no column cut short
    assert any("s2 inner->outer" in line for line in lines)  # the newest event stays
    rings = next(i for i, line in enumerate(lines) if "two rings" in line)
    comparison = next(i for i, line in enumerate(lines) if "running comparison" in line)
    assert comparison > rings + 5  # stacked, not side by side


def test_plain_lines_for_logs() -> None:
    snapshot = _snapshot()
    assert event_line(snapshot.events[0]) == "[   8.0 s] story: s1 turns 5x slow"
    line = progress_line(snapshot)
    assert line.startswith("[  17.2 s] last 5 s: huddle 300 req 0 failed p95 23.0 p99 26.0 ms")
    assert "rr 260 req 37 failed p95 104.0 p99 108.0 ms" in line
    assert line.endswith("rings s0,s3 / s1,s2")
