"""The demo's scripted scenario, as data: when, which server, what happens, what is said.

The story is written once on a 45-second timeline and scaled proportionally to the length
the user asks for, so ``--duration 15`` plays the same five acts three times faster. Server
roles (the one that turns slow, the one that crashes, the one that answers fast 500s) are
picked from the fleet size, so any fleet of three or more servers can play it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: The length the story is written for; ``--duration`` scales every time by duration / this.
STORY_SECONDS = 45.0

#: The smallest fleet the story works with: three servers turn faulty in it.
MIN_SERVERS = 3
MAX_SERVERS = 32
MIN_DURATION = 5.0
MAX_DURATION = 3600.0


@dataclass(frozen=True)
class Step:
    """At ``at`` seconds, server ``server`` switches to ``mode`` (with ``arg``); narrate it.

    ``server`` is None for a step that only narrates. ``phase`` names the stretch of the
    story that starts here; the summary table has one row per phase.

    Example::

        Step(8.0, "5x slow", "s1 turns 5x slow", server=1, mode="slow", arg=5.0)
    """

    at: float
    phase: str
    narration: str
    server: int | None = None
    mode: str | None = None
    arg: float | None = None


@dataclass(frozen=True)
class Story:
    """The steps of one run, in time order, and the run's length in seconds."""

    steps: tuple[Step, ...]
    duration: float

    @property
    def scale(self) -> float:
        """How much faster (below 1) or slower than the written 45 s timeline this runs."""
        return self.duration / STORY_SECONDS

    def phases(self) -> list[tuple[str, float, float]]:
        """Each phase's name with its start and end time, in order."""
        starts = [(s.phase, s.at) for s in self.steps]
        ends = [at for _, at in starts[1:]] + [self.duration]
        return [(name, start, end) for (name, start), end in zip(starts, ends, strict=True)]

    def phase_at(self, t: float) -> str:
        """The name of the phase running ``t`` seconds into the story."""
        current = self.steps[0].phase
        for step in self.steps:
            if step.at > t:
                break
            current = step.phase
        return current

    def faulty(self) -> tuple[int, ...]:
        """The servers some step switches, in the order they first do."""
        seen: list[int] = []
        for step in self.steps:
            if step.server is not None and step.server not in seen:
                seen.append(step.server)
        return tuple(seen)


def check_duration(duration: float) -> float:
    """``duration`` if the story can be played in it, else a ValueError saying the range."""
    if not isinstance(duration, (int, float)) or not (MIN_DURATION <= duration <= MAX_DURATION):
        raise ValueError(
            f"--duration must be in [{MIN_DURATION:g}, {MAX_DURATION:g}] seconds, got "
            f"{duration!r}: the story has five acts and needs a few seconds for each"
        )
    return float(duration)


def check_servers(servers: int) -> int:
    """``servers`` if the story can be played on that many, else a ValueError."""
    if isinstance(servers, bool) or not isinstance(servers, int):
        raise ValueError(f"--servers must be an integer, got {servers!r}")
    if not MIN_SERVERS <= servers <= MAX_SERVERS:
        raise ValueError(
            f"--servers must be in [{MIN_SERVERS}, {MAX_SERVERS}], got {servers}: the story "
            f"turns three servers faulty (slow, crashed, fast 500s)"
        )
    return servers


def default_story(servers: int = 6, duration: float = STORY_SECONDS) -> Story:
    """The five acts: normal load, one 5x slow, one crash, one fast 500s, the slow one heals.

    Times are written for 45 s and scaled to ``duration``. With six servers s1 turns slow,
    s2 crashes and s3 answers 500s, so s0, s4 and s5 stay healthy throughout.
    """
    servers = check_servers(servers)
    duration = check_duration(duration)
    slow, crash, error = (1 % servers, 2 % servers, 3 % servers)
    s = _name
    written = (
        Step(0.0, "normal", f"normal load: {servers} healthy servers, same callers on both sides"),
        Step(8.0, "5x slow", f"{s(slow)} turns 5x slow", server=slow, mode="slow", arg=5.0),
        Step(
            16.0,
            "crash",
            f"{s(crash)} crashes: connections refused",
            server=crash,
            mode="crash",
        ),
        Step(
            24.0,
            "fast 500",
            f"{s(error)} answers fast 500s",
            server=error,
            mode="error",
            arg=500,
        ),
        Step(
            32.0,
            "healed",
            f"{s(slow)} heals: normal speed again; probes should bring it back",
            server=slow,
            mode="normal",
        ),
    )
    return scale_story(written, duration)


def scale_story(steps: tuple[Step, ...], duration: float) -> Story:
    """The steps (written on the 45 s timeline) with every time scaled to ``duration``."""
    factor = check_duration(duration) / STORY_SECONDS
    ordered = sorted(steps, key=lambda step: step.at)
    return Story(tuple(replace(step, at=step.at * factor) for step in ordered), duration)


def _name(index: int) -> str:
    return f"s{index}"
