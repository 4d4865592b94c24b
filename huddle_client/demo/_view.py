"""What the demo shows: a rich live view, or plain lines for logs and CI (``--no-live``).

Both render a :class:`Snapshot`, a frozen picture of the run that the runner builds a few
times a second, so the view holds no state of its own and can be rendered once to a string
in a test without any fleet or traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from huddle_client.bench._report import fmt_ms

from ._summary import Stats

HEAT = 0.55
COOL = 0.30


@dataclass(frozen=True)
class ServerView:
    """One fleet server as both sides see it right now."""

    id: str
    mode: str
    ring: str
    temperature: float
    avg_latency_ms: float
    healthy: bool
    huddle_rps: float
    rr_rps: float


@dataclass(frozen=True)
class Event:
    """Something that happened, ``t`` seconds into the story: a story step or a rotation."""

    t: float
    source: str
    text: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the view shows at one instant."""

    elapsed: float
    duration: float
    phase: str
    narration: str
    seed: int
    servers: tuple[ServerView, ...]
    huddle_total: Stats
    rr_total: Stats
    huddle_recent: Stats
    rr_recent: Stats
    recent_seconds: float
    events: tuple[Event, ...]
    timing_note: str
    callers: int


def _temperature_style(t: float) -> str:
    return "red" if t >= HEAT else ("yellow" if t > COOL else "green")


def _temperature_bar(t: float, width: int = 10) -> Text:
    filled = max(0, min(width, round(t * width)))
    bar = Text("█" * filled, style=_temperature_style(t))
    bar.append("░" * (width - filled), style="grey37")
    bar.append(f" {t:.2f}")
    return bar


def _chip(server: ServerView) -> Text:
    label = f" {server.id} "
    style = f"bold black on {_temperature_style(server.temperature)}"
    if not server.healthy:
        style = "bold white on grey23"
    return Text(label, style=style)


def _ring_line(title: str, servers: Sequence[ServerView]) -> Text:
    line = Text(f"{title:<11}", style="bold")
    if not servers:
        line.append("(empty)", style="grey50")
    for server in servers:
        line.append_text(_chip(server))
        line.append(" ")
    return line


_MODE_STYLE = {"normal": "green", "slow": "yellow", "crash": "bold red", "error": "red"}


def _servers_panel(snapshot: Snapshot, compact: bool) -> Panel:
    inner = [s for s in snapshot.servers if s.ring == "inner"]
    outer = [s for s in snapshot.servers if s.ring != "inner"]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False)
    table.add_column("server")
    table.add_column("fleet mode")
    table.add_column("ring")
    table.add_column("temperature", no_wrap=True)
    table.add_column("avg ms", justify="right")
    table.add_column("huddle/s", justify="right")
    table.add_column("rr/s", justify="right")
    for s in snapshot.servers:
        table.add_row(
            s.id,
            Text(s.mode, style=_MODE_STYLE.get(s.mode, "")),
            Text(s.ring if s.healthy else f"{s.ring} ✗", style="" if s.healthy else "red"),
            _temperature_bar(s.temperature),
            fmt_ms(s.avg_latency_ms) if s.avg_latency_ms > 0 else "-",
            f"{s.huddle_rps:.0f}",
            f"{s.rr_rps:.0f}",
        )
    legend = Text(
        f"temperature: green <= {COOL}, red >= {HEAT} (evicted); "
        "avg ms is the engine's window; req/s are answers per server over the last "
        f"{snapshot.recent_seconds:g} s",
        style="grey62",
    )
    parts: list[RenderableType] = [_ring_line("inner ring", inner), _ring_line("outer ring", outer)]
    parts += [table] if compact else [table, legend]
    return Panel(
        Group(*parts),
        title="huddle_client's two rings",
        border_style="cyan",
    )


def _stats_cells(stats: Stats) -> list[str | Text]:
    failed = Text(str(stats.failed), style="red" if stats.failed else "green")
    return [
        str(stats.requests),
        failed,
        fmt_ms(stats.p50_ms),
        fmt_ms(stats.p95_ms),
        fmt_ms(stats.p99_ms),
    ]


def _comparison_panel(snapshot: Snapshot, compact: bool) -> Panel:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False)
    table.add_column("balancer", no_wrap=True)
    table.add_column("span", no_wrap=True)
    for name in ("req", "failed", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="right", no_wrap=True)
    recent = f"last {snapshot.recent_seconds:g} s"
    rows = (
        ("huddle", "whole run", snapshot.huddle_total),
        ("round robin", "whole run", snapshot.rr_total),
        ("huddle", recent, snapshot.huddle_recent),
        ("round robin", recent, snapshot.rr_recent),
    )
    for i, (name, span, stats) in enumerate(rows):
        style = "bold cyan" if name == "huddle" else "bold magenta"
        table.add_row(
            Text(name, style=style), span, *_stats_cells(stats), end_section=i == 1 and not compact
        )
    note = Text(
        f"{snapshot.callers} callers each, same fleet, same time. huddle: HuddleTransport "
        "with fail-over and probes. round robin: no retry, 1 s timeout.",
        style="grey62",
    )
    body: RenderableType = table if compact else Group(table, note)
    return Panel(body, title="running comparison", border_style="magenta")


def _events_panel(snapshot: Snapshot, rows: int) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="grey62", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    shown = snapshot.events[-rows:]
    for event in shown:
        source_style = "bold yellow" if event.source == "story" else "cyan"
        table.add_row(f"{event.t:5.1f} s", Text(event.source, style=source_style), event.text)
    for _ in range(rows - len(shown)):
        table.add_row("", "", "")
    return Panel(table, title="events (story steps and the cluster's on_rotation hook)")


def _header(snapshot: Snapshot) -> Panel:
    done = min(snapshot.elapsed, snapshot.duration)
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_row(
        Text(f"{done:5.1f} / {snapshot.duration:g} s", style="bold"),
        ProgressBar(total=snapshot.duration, completed=done),
        Text(f"act: {snapshot.phase}", style="bold yellow"),
    )
    narration = Text(snapshot.narration, style="italic")
    return Panel(
        Group(grid, narration),
        title=f"huddle demo: huddle_client vs round robin (seed {snapshot.seed})",
        border_style="bold",
    )


#: Below this width the two middle panels are stacked instead of side by side.
WIDE = 130


class LiveView:
    """The whole live view of one snapshot; it lays itself out for the console's size.

    Wide terminals get the rings and the comparison side by side with their legends; narrow
    ones get them stacked without legends, and the event list shrinks to fit the height.
    """

    def __init__(self, snapshot: Snapshot, event_rows: int | None = None) -> None:
        self.snapshot = snapshot
        self.event_rows = event_rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        snapshot = self.snapshot
        wide = options.max_width >= WIDE
        servers = _servers_panel(snapshot, compact=not wide)
        comparison = _comparison_panel(snapshot, compact=not wide)
        middle: RenderableType
        if wide:
            grid = Table.grid(expand=True, padding=(0, 1))
            grid.add_column(ratio=11)
            grid.add_column(ratio=9)
            grid.add_row(servers, comparison)
            middle = grid
        else:
            middle = Group(servers, comparison)
        header = _header(snapshot)
        footer = Text(f"engine timing: {snapshot.timing_note}", style="grey62")
        rows = self.event_rows
        if rows is None:
            used = sum(
                len(console.render_lines(part, options, pad=False))
                for part in (header, middle, footer)
            )
            rows = max(1, min(10, console.height - used - 2))  # 2: the events panel's border
        yield Group(header, middle, _events_panel(snapshot, rows), footer)


def render_live(snapshot: Snapshot, event_rows: int | None = None) -> LiveView:
    """The live view for one snapshot (``event_rows`` None: as many as the height allows)."""
    return LiveView(snapshot, event_rows)


def event_line(event: Event) -> str:
    """A plain line for one event."""
    return f"[{event.t:6.1f} s] {event.source}: {event.text}"


def _plain_stats(name: str, stats: Stats) -> str:
    return (
        f"{name} {stats.requests} req {stats.failed} failed "
        f"p95 {fmt_ms(stats.p95_ms)} p99 {fmt_ms(stats.p99_ms)} ms"
    )


def progress_line(snapshot: Snapshot) -> str:
    """A plain line with the last window's comparison and the rings, for ``--no-live``."""
    inner = ",".join(s.id for s in snapshot.servers if s.ring == "inner")
    outer = ",".join(s.id for s in snapshot.servers if s.ring != "inner") or "-"
    return (
        f"[{snapshot.elapsed:6.1f} s] last {snapshot.recent_seconds:g} s: "
        f"{_plain_stats('huddle', snapshot.huddle_recent)} | "
        f"{_plain_stats('rr', snapshot.rr_recent)} | rings {inner} / {outer}"
    )
