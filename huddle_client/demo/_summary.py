"""Statistics of the demo's samples and the table it ends with.

The table has one row per act of the story and one for the whole run, with each balancer's
requests, p95, p99 and failed requests side by side. Printed with ``box.MARKDOWN`` in
``--no-live`` mode, it reads back with the bench's ``parse_markdown_table``, which the smoke
test uses. Percentiles are the bench's too (``huddle_client.bench._report``, no numpy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.table import Table

from huddle_client.bench._load import Sample
from huddle_client.bench._report import fmt_ms, percentiles

from ._story import Story

WHOLE_RUN = "whole run"


@dataclass(frozen=True)
class Stats:
    """What one balancer's callers saw over some stretch of time."""

    requests: int
    failed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def failed_pct(self) -> float:
        return 100.0 * self.failed / self.requests if self.requests else 0.0


def summarize(samples: Sequence[Sample]) -> Stats:
    """Requests, failed requests and latency percentiles (every request, failed or not)."""
    p50, p95, p99 = percentiles([s.latency_ms for s in samples], (50, 95, 99))
    return Stats(
        requests=len(samples),
        failed=sum(1 for s in samples if not s.ok),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
    )


def window(samples: Sequence[Sample], start: float, end: float) -> list[Sample]:
    """The samples that started in ``[start, end)`` seconds into the story."""
    return [s for s in samples if start <= s.t < end]


@dataclass(frozen=True)
class PhaseRow:
    """One row of the summary: a phase (or the whole run) and both balancers' stats."""

    phase: str
    start: float
    end: float
    huddle: Stats
    round_robin: Stats


def summary_rows(
    story: Story, huddle: Sequence[Sample], round_robin: Sequence[Sample]
) -> list[PhaseRow]:
    """One row per phase of ``story``, then the whole run."""
    rows = [
        PhaseRow(
            name,
            start,
            end,
            summarize(window(huddle, start, end)),
            summarize(window(round_robin, start, end)),
        )
        for name, start, end in story.phases()
    ]
    rows.append(PhaseRow(WHOLE_RUN, 0.0, story.duration, summarize(huddle), summarize(round_robin)))
    return rows


COLUMNS = (
    "phase",
    "from s",
    "huddle req",
    "huddle p95 ms",
    "huddle p99 ms",
    "huddle failed",
    "rr req",
    "rr p95 ms",
    "rr p99 ms",
    "rr failed",
)


def fmt_failed(stats: Stats) -> str:
    return f"{stats.failed} ({stats.failed_pct:.1f}%)"


def summary_table(rows: Sequence[PhaseRow], *, markdown: bool = False) -> Table:
    """The final table; ``markdown`` gives a pipe table for logs (and ``parse_markdown_table``)."""
    table = Table(
        title=None if markdown else "huddle vs round robin, by act of the story",
        box=box.MARKDOWN if markdown else box.ROUNDED,
        show_edge=True,
    )
    for i, name in enumerate(COLUMNS):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        h, r = row.huddle, row.round_robin
        style = "bold" if row.phase == WHOLE_RUN else None
        table.add_row(
            row.phase,
            f"{row.start:.1f}",
            str(h.requests),
            fmt_ms(h.p95_ms),
            fmt_ms(h.p99_ms),
            fmt_failed(h),
            str(r.requests),
            fmt_ms(r.p95_ms),
            fmt_ms(r.p99_ms),
            fmt_failed(r),
            style=style,
        )
    return table
