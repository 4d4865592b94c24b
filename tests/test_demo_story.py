"""The demo's story: its timeline scales with --duration, and its options are checked."""

from __future__ import annotations

import pytest

from huddle_client.demo._story import (
    MIN_SERVERS,
    STORY_SECONDS,
    Step,
    check_duration,
    check_servers,
    default_story,
    scale_story,
)
from huddle_client.demo._traffic import EngineTiming


def test_the_written_story_has_five_acts_on_three_faulty_servers() -> None:
    story = default_story(6, STORY_SECONDS)
    assert [s.phase for s in story.steps] == ["normal", "5x slow", "crash", "fast 500", "healed"]
    assert [s.at for s in story.steps] == [0.0, 8.0, 16.0, 24.0, 32.0]
    assert [(s.server, s.mode) for s in story.steps[1:]] == [
        (1, "slow"),
        (2, "crash"),
        (3, "error"),
        (1, "normal"),
    ]
    assert story.faulty() == (1, 2, 3)
    assert story.scale == 1.0


@pytest.mark.parametrize("duration", [5.0, 15.0, 45.0, 90.0, 600.0])
def test_every_time_scales_in_proportion_to_the_duration(duration: float) -> None:
    written = default_story(6, STORY_SECONDS)
    scaled = default_story(6, duration)
    factor = duration / STORY_SECONDS
    assert scaled.duration == duration
    assert scaled.scale == pytest.approx(factor)
    for a, b in zip(written.steps, scaled.steps, strict=True):
        assert b.at == pytest.approx(a.at * factor)
        assert (b.phase, b.server, b.mode, b.arg, b.narration) == (
            a.phase,
            a.server,
            a.mode,
            a.arg,
            a.narration,
        )
    phases = scaled.phases()
    assert phases[0][1] == 0.0 and phases[-1][2] == duration
    for (_, _, end), (_, start, _) in zip(phases, phases[1:], strict=False):
        assert end == start


def test_phase_at_follows_the_scaled_timeline() -> None:
    story = default_story(6, 15.0)  # acts start at 0, 2.67, 5.33, 8, 10.67
    assert story.phase_at(0.0) == "normal"
    assert story.phase_at(2.6) == "normal"
    assert story.phase_at(2.7) == "5x slow"
    assert story.phase_at(8.0) == "fast 500"
    assert story.phase_at(14.9) == "healed"


def test_scale_story_sorts_the_steps() -> None:
    story = scale_story((Step(30.0, "b", "later"), Step(0.0, "a", "first")), 15.0)
    assert [s.phase for s in story.steps] == ["a", "b"]
    assert story.steps[1].at == pytest.approx(10.0)


def test_three_servers_are_enough_and_the_roles_stay_distinct() -> None:
    story = default_story(MIN_SERVERS, 45.0)
    assert sorted(story.faulty()) == [0, 1, 2]
    assert all(0 <= i < MIN_SERVERS for i in story.faulty())


@pytest.mark.parametrize("servers", [2, 0, -1, 33])
def test_too_few_or_too_many_servers_is_a_clear_error(servers: int) -> None:
    with pytest.raises(ValueError, match=r"--servers must be in \[3, 32\], got") as info:
        check_servers(servers)
    assert str(servers) in str(info.value)


@pytest.mark.parametrize("bad", [True, 6.0, "6"])
def test_servers_must_be_an_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="--servers must be an integer"):
        check_servers(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("duration", [0.0, -1.0, 4.9, 3601.0, float("nan"), float("inf")])
def test_a_duration_outside_the_range_is_a_clear_error(duration: float) -> None:
    with pytest.raises(ValueError, match=r"--duration must be in \[5, 3600\] seconds, got"):
        check_duration(duration)


def test_engine_timing_shrinks_with_the_story() -> None:
    full = EngineTiming.for_story(1.0)
    third = EngineTiming.for_story(1 / 3)
    assert (full.min_outer_dwell_sec, full.rotation_cooldown_sec) == (3.0, 1.5)
    assert third.min_outer_dwell_sec == pytest.approx(1.0)
    assert third.rotation_cooldown_sec == pytest.approx(0.5)
    assert third.rotation_interval_sec < full.rotation_interval_sec <= 1.0
    assert EngineTiming.for_story(0.01).rotation_interval_sec == 0.1
    assert "defaults 10 s / 5 s" in full.describe()
