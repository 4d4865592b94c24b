"""``huddle demo``: option errors exit 2 at once, and a short run ends with its table.

The smoke test runs the command as a user would (a subprocess of ``python -m huddle_client``)
on a real loopback fleet, shortened to 15 s. It asserts on what the story guarantees (round
robin sends requests to a crashed server and to one that answers 500s, huddle retries them
elsewhere), never on timings.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from huddle_client.bench._report import parse_markdown_table
from huddle_client.cli import main
from huddle_client.demo import DemoConfig
from huddle_client.demo._summary import COLUMNS, WHOLE_RUN


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--servers", "2"], "--servers must be in [3, 32], got 2"),
        (["--servers", "100"], "--servers must be in [3, 32], got 100"),
        (["--duration", "0"], "--duration must be in [5, 3600] seconds, got 0.0"),
        (["--duration", "-3"], "--duration must be in [5, 3600] seconds, got -3.0"),
        (["--seed", "-1"], "--seed must be an integer in [0, inf), got -1"),
    ],
)
def test_invalid_options_exit_2_with_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert main(["demo", "--no-live", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("huddle demo: error: ") and message in err
    assert time.monotonic() - started < 30  # nothing was started: no fleet, no traffic


def test_a_non_number_is_rejected_by_argparse_with_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--servers", "six"])
    assert info.value.code == 2


def test_demo_config_defaults_are_the_documented_ones() -> None:
    config = DemoConfig()
    assert (config.duration, config.servers, config.seed, config.live) == (45.0, 6, None, True)
    assert config.callers == 4


def test_demo_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    for option in ("--duration", "--servers", "--seed", "--no-live"):
        assert option in out


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(180)
def test_huddle_demo_no_live_runs_the_story_and_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "huddle_client", "demo", "--no-live", "--duration", "15"]
        + ["--seed", "1"],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "seed 1" in out
    for narration in ("s1 turns 5x slow", "s2 crashes", "s3 answers fast 500s", "s1 heals"):
        assert narration in out
    assert "huddle: s2 inner->outer: connect_failed" in out  # from the on_rotation hook

    rows = parse_markdown_table(out)
    assert [r["phase"] for r in rows] == [
        "normal",
        "5x slow",
        "crash",
        "fast 500",
        "healed",
        WHOLE_RUN,
    ]
    assert set(rows[0]) == set(COLUMNS)
    whole = rows[-1]
    huddle_req, rr_req = int(whole["huddle req"]), int(whole["rr req"])
    assert huddle_req > 0 and rr_req > 0
    assert sum(int(r["huddle req"]) for r in rows[:-1]) == huddle_req
    for row in rows:
        for side in ("huddle", "rr"):
            p95, p99 = row[f"{side} p95 ms"], row[f"{side} p99 ms"]
            if p95 != "-":
                assert 0.0 < float(p95) <= float(p99)
    huddle_failed = int(whole["huddle failed"].split()[0])
    rr_failed = int(whole["rr failed"].split()[0])
    # Round robin keeps calling the crashed server and the one answering 500s.
    assert rr_failed > 0
    assert int(rows[3]["rr failed"].split()[0]) > 0
    assert huddle_failed < rr_failed
    assert "s2 crashed at" in out and "out of the inner ring" in out
