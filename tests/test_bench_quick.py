"""Smoke test of ``huddle bench --quick``: the real command path, end to end.

It runs the command as a user would (a subprocess of ``python -m huddle_client``), shrunk by
the hidden ``--duration-scale`` knob so the suite stays quick on 2 cores, and checks that
every table and plot was written and can be read back. No assertion is made on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from huddle_client.bench._report import parse_markdown_table, parse_markdown_tables

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.mark.timeout(600)
def test_huddle_bench_quick_writes_tables_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "huddle_client", "bench", "--quick", "--out", str(out)]
        + ["--duration-scale", "0.3"],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    for name in ("simulated.md", "real_http.md", "overhead.md", "sensitivity.md", "targets.md"):
        text = (out / name).read_text()
        assert parse_markdown_table(text), name
    tables = parse_markdown_tables((out / "real_http.md").read_text())
    assert len(tables) == 4  # normal, 5x slow, crash, fast 500
    real = [row for table in tables for row in table]
    names = {row["balancer"] for row in real}
    assert {"huddle_client", "round robin", "P2C peak-EWMA", "oracle (healthy only)"} <= names
    assert "huddle-cluster 1.3.2" in names and "nginx round robin" in names
    for row in real:
        if row["p50 ms"] == "-":  # skipped, or no request started after the fault
            continue
        assert float(row["p50 ms"]) <= float(row["p99 ms"])

    sensitivity = parse_markdown_table((out / "sensitivity.md").read_text())
    assert len(sensitivity) == 9

    results = json.loads((out / "results.json").read_text())
    assert set(results["real_http"]) == {"normal", "5x slow", "crash", "fast 500"}
    huddle = [r for r in results["real_http"]["crash"] if r["balancer"] == "huddle_client"][0]
    assert huddle["requests"] > 0

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    plots = sorted(out.glob("*.png"))
    assert {p.name for p in plots} >= {"p99_per_balancer.png", "latency_over_time_crash.png"}
    for plot in plots:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = mpimg.imread(plot)
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_huddle_bench_rejects_a_bad_duration_scale(tmp_path: Path) -> None:
    from huddle_client.cli import main

    assert main(["bench", "--quick", "--out", str(tmp_path), "--duration-scale", "0"]) == 2
    assert not any(tmp_path.iterdir())
