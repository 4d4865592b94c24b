"""Play the demo: start the fleet and both balancers, walk through the story, show it.

The runner owns the clock. Its main loop applies each story step when it is due (a direct
mode switch on the fleet, so the narration and the switch happen together), builds a
:class:`~._view.Snapshot` a few times a second for the view, and stops everything at the
end of the story; then it prints the summary table.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from rich.console import Console
from rich.live import Live
from rich.text import Text

from huddle_client import Position, RotationEvent
from huddle_client.bench._balancers import Target
from huddle_client.bench._huddle import HuddleRow
from huddle_client.testing import FleetServer, UpstreamFleet

from ._story import Step, Story, check_duration, check_servers, default_story
from ._summary import PhaseRow, summarize, summary_rows, summary_table, window
from ._traffic import EngineTiming, LoadLoop, Recorder, huddle_row, round_robin_transports
from ._view import Event, ServerView, Snapshot, event_line, progress_line, render_live

_REFRESH_SEC = 0.25
_JITTER_MS = 2.0


@dataclass(frozen=True)
class DemoConfig:
    """What ``huddle demo`` was asked for; invalid values raise ValueError naming the option.

    Example::

        run_demo(DemoConfig(duration=15, live=False), Console())
    """

    duration: float = 45.0
    servers: int = 6
    seed: int | None = None
    live: bool = True
    callers: int = 4
    base_latency_ms: float = 20.0

    def __post_init__(self) -> None:
        check_duration(self.duration)
        check_servers(self.servers)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ValueError(f"--seed must be an integer in [0, inf), got {self.seed!r}")
        if not 1 <= self.callers <= 64:
            raise ValueError(f"callers must be in [1, 64], got {self.callers!r}")


@dataclass
class DemoResult:
    """What the run measured: the summary rows, the events and any caller errors."""

    story: Story
    seed: int
    rows: list[PhaseRow]
    events: list[Event]
    rotations: list[tuple[float, RotationEvent]]
    errors: list[BaseException]


class EventLog:
    """Story steps and rotation events on the story's clock; written from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self.rotations: list[tuple[float, RotationEvent]] = []
        self._wall0 = time.time()

    def start(self) -> None:
        self._wall0 = time.time()

    def story(self, t: float, text: str) -> None:
        with self._lock:
            self._events.append(Event(t, "story", text))

    def rotation(self, event: RotationEvent) -> None:
        """The cluster's ``on_rotation`` hook."""
        t = max(0.0, event.timestamp - self._wall0)
        text = (
            f"{event.server_id} {event.direction}: {event.reason} "
            f"(temperature {event.temperature:.2f})"
        )
        with self._lock:
            self._events.append(Event(t, "huddle", text))
            self.rotations.append((t, event))

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)


def apply_step(server: FleetServer, step: Step) -> None:
    """Switch one fleet server to the step's mode."""
    if step.mode == "slow":
        server.slow(5.0 if step.arg is None else step.arg)
    elif step.mode == "crash":
        server.crash()
    elif step.mode == "error":
        server.error(500 if step.arg is None else int(step.arg))
    elif step.mode in ("normal", "recover"):
        server.recover()
    else:
        raise ValueError(f"the demo story cannot play mode {step.mode!r}")


class _Scene:
    """The live objects of one run, and how to picture them."""

    def __init__(
        self,
        config: DemoConfig,
        story: Story,
        seed: int,
        fleet: UpstreamFleet,
        huddle: HuddleRow,
        timing: EngineTiming,
        recorders: tuple[Recorder, Recorder],
        log: EventLog,
    ) -> None:
        self.config = config
        self.story = story
        self.seed = seed
        self.fleet = fleet
        self.huddle = huddle
        self.timing = timing
        self.recorders = recorders
        self.log = log
        self.recent = max(2.0, round(5.0 * story.scale))
        self.narration = story.steps[0].narration

    def snapshot(self, elapsed: float) -> Snapshot:
        huddle_samples = self.recorders[0].samples()
        rr_samples = self.recorders[1].samples()
        start = max(0.0, elapsed - self.recent)
        span = max(1e-9, min(self.recent, elapsed))
        recent_h = window(huddle_samples, start, elapsed)
        recent_r = window(rr_samples, start, elapsed)
        servers = []
        by_id = {up.id: up for up in self.huddle.cluster.all_servers()}
        for fleet_server in self.fleet:
            up = by_id[fleet_server.name]
            servers.append(
                ServerView(
                    id=up.id,
                    mode=fleet_server.mode,
                    ring="inner" if up.position is Position.INNER else "outer",
                    temperature=up.temperature,
                    avg_latency_ms=up.avg_latency_ms,
                    healthy=up.healthy,
                    huddle_rps=sum(1 for s in recent_h if s.server == up.id) / span,
                    rr_rps=sum(1 for s in recent_r if s.server == up.id) / span,
                )
            )
        return Snapshot(
            elapsed=elapsed,
            duration=self.story.duration,
            phase=self.story.phase_at(elapsed),
            narration=self.narration,
            seed=self.seed,
            servers=tuple(servers),
            huddle_total=summarize(huddle_samples),
            rr_total=summarize(rr_samples),
            huddle_recent=summarize(recent_h),
            rr_recent=summarize(recent_r),
            recent_seconds=self.recent,
            events=tuple(self.log.events()),
            timing_note=self.timing.describe(),
            callers=self.config.callers,
        )


def run_demo(config: DemoConfig, console: Console) -> DemoResult:
    """Run the whole demo, showing it on ``console``; returns what it measured."""
    story = default_story(config.servers, config.duration)
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(10_000)
    timing = EngineTiming.for_story(story.scale)
    log = EventLog()
    recorders = (Recorder("huddle"), Recorder("round-robin"))
    with UpstreamFleet(
        n=config.servers, base_latency_ms=config.base_latency_ms, jitter_ms=_JITTER_MS, seed=seed
    ) as fleet:
        targets = [Target(s.name, "127.0.0.1", s.port) for s in fleet]
        huddle = huddle_row(targets, timing, on_rotation=log.rotation)
        loops = (
            LoadLoop(huddle.new_transport, recorders[0], callers=config.callers),
            LoadLoop(round_robin_transports(targets), recorders[1], callers=config.callers),
        )
        scene = _Scene(config, story, seed, fleet, huddle, timing, recorders, log)
        if not config.live:
            console.print(
                f"huddle demo: {config.servers} servers on 127.0.0.1 "
                f"({config.base_latency_ms:g} ms base latency, seed {seed}), "
                f"{config.callers} callers per balancer, {story.duration:g} s",
                highlight=False,
            )
            console.print(f"engine timing: {timing.describe()}", highlight=False)
        try:
            with contextlib.ExitStack() as stack:
                show: Callable[[Snapshot], None]
                if config.live:
                    live = stack.enter_context(
                        Live(console=console, auto_refresh=False, transient=False)
                    )
                    show = partial(_show_live, live)
                else:
                    show = _PlainPrinter(console, scene.recent)
                show(scene.snapshot(0.0))  # the first frame costs most: not on the clock
                huddle.start()
                t0 = time.perf_counter()
                log.start()
                for loop in loops:
                    loop.start(t0, story.duration)
                _play(scene, t0, show)
        finally:
            for loop in loops:
                loop.stop()
            for loop in loops:
                loop.join()
            huddle.close()
    rows = summary_rows(story, recorders[0].samples(), recorders[1].samples())
    errors = [e for loop in loops for e in loop.errors]
    return DemoResult(story, seed, rows, log.events(), list(log.rotations), errors)


class _PlainPrinter:
    """Prints each new event as it comes and a progress line every ``every`` seconds."""

    def __init__(self, console: Console, every: float) -> None:
        self.console = console
        self.every = every
        self.next_progress = every
        self.printed = 0

    def __call__(self, snapshot: Snapshot) -> None:
        for event in snapshot.events[self.printed :]:
            self.console.print(event_line(event), markup=False, soft_wrap=True)
        self.printed = len(snapshot.events)
        if snapshot.elapsed + 1e-6 >= self.next_progress:
            self.console.print(progress_line(snapshot), markup=False, soft_wrap=True)
            self.next_progress += self.every


def _show_live(live: Live, snapshot: Snapshot) -> None:
    live.update(render_live(snapshot), refresh=True)


def _play(scene: _Scene, t0: float, show: Callable[[Snapshot], None]) -> None:
    """Apply the steps on time and call ``show(snapshot)`` every refresh, until the end."""
    pending = list(scene.story.steps)
    duration = scene.story.duration
    next_refresh = 0.0
    while True:
        now = time.perf_counter() - t0
        while pending and pending[0].at <= now:
            step = pending.pop(0)
            scene.narration = step.narration
            scene.log.story(now, step.narration)
            if step.server is not None:
                apply_step(scene.fleet[step.server], step)
        if now >= duration:
            show(scene.snapshot(duration))
            return
        if now >= next_refresh:
            show(scene.snapshot(now))
            next_refresh = now + _REFRESH_SEC
        wake = min(next_refresh, duration, pending[0].at if pending else duration)
        time.sleep(max(0.01, min(_REFRESH_SEC, wake - (time.perf_counter() - t0))))


def what_huddle_did(result: DemoResult) -> list[str]:
    """One line per faulty server: how soon huddle took it out, and when it came back."""
    lines = []
    steps = [s for s in result.story.steps if s.server is not None]
    for step in steps:
        name = f"s{step.server}"
        if step.mode == "normal":
            back = _first(result, name, "outer->inner", step.at)
            lines.append(
                f"{name} healed at {step.at:.1f} s: "
                + (
                    f"back in the inner ring at {back:.1f} s ({back - step.at:.1f} s later)"
                    if back is not None
                    else "not back in the inner ring by the end"
                )
            )
            continue
        out = _first(result, name, "inner->outer", step.at)
        what = {"slow": "turned 5x slow", "crash": "crashed", "error": "answered 500s"}
        lines.append(
            f"{name} {what.get(step.mode or '', step.mode)} at {step.at:.1f} s: "
            + (
                f"out of the inner ring {out - step.at:.2f} s later"
                if out is not None
                else "already resting, or not taken out"
            )
        )
    return lines


def _first(result: DemoResult, server: str, direction: str, after: float) -> float | None:
    for t, event in result.rotations:
        if event.server_id == server and event.direction == direction and t >= after - 0.05:
            return t
    return None


def print_summary(result: DemoResult, console: Console, *, markdown: bool) -> None:
    """The final table and what huddle did with each faulty server."""
    console.print()
    table = summary_table(result.rows, markdown=markdown)
    if markdown:
        console.print("summary (latency per client request, failed = error or 5xx):")
        with console.capture() as captured:
            console.print(table)
        # box.MARKDOWN draws its (empty) top and bottom edges as lines of spaces.
        for line in captured.get().splitlines():
            if line.strip():
                console.print(line.rstrip(), markup=False, soft_wrap=True)
    else:
        console.print(table)
    console.print()
    for line in what_huddle_did(result):
        console.print(Text(line))
    for error in result.errors:
        console.print(Text(f"a caller stopped early: {error!r}", style="red"))
