"""PNG plots of a bench run (matplotlib, Agg backend: no display needed).

- :func:`plot_latency_over_time`: each row's p99 latency per time bin through one real-HTTP
  scenario, with the fault and every ejection of the faulty server marked;
- :func:`plot_p99`: p99 from the fault on, per row, grouped by scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ._report import percentile  # noqa: E402
from ._scenarios import INNER_TO_OUTER, ScenarioRun  # noqa: E402


def _binned_p99(run: ScenarioRun, bin_s: float) -> tuple[list[float], list[float]]:
    if not run.samples:
        return [], []
    n_bins = max(1, math.ceil(run.scenario.duration_s / bin_s))
    bins: list[list[float]] = [[] for _ in range(n_bins)]
    for s in run.samples:
        k = min(int(s.t / bin_s), n_bins - 1)
        bins[k].append(s.latency_ms)
    xs, ys = [], []
    for k, values in enumerate(bins):
        if values:
            xs.append((k + 0.5) * bin_s)
            ys.append(percentile(values, 99))
    return xs, ys


def plot_latency_over_time(
    runs: Sequence[ScenarioRun], faulty: str, path: Path, bin_s: float = 0.5
) -> Path:
    """Write the latency-over-time plot of one scenario's runs to ``path``."""
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    scenario = runs[0].scenario if runs else None
    for run in runs:
        if run.skipped:
            continue
        xs, ys = _binned_p99(run, bin_s)
        (line,) = ax.plot(xs, ys, label=run.contender, linewidth=1.3)
        for event in run.events:
            if event.server == faulty and event.direction == INNER_TO_OUTER:
                ax.axvline(event.t, color=line.get_color(), linestyle=":", linewidth=1.2)
                ax.plot(
                    [event.t],
                    [0.97],
                    marker="v",
                    color=line.get_color(),
                    markersize=8,
                    transform=ax.get_xaxis_transform(),
                )
    if scenario is not None and scenario.mode is not None:
        ax.axvline(scenario.fault_at, color="black", linestyle="--", linewidth=1, label="fault")
    title = scenario.name if scenario is not None else ""
    ax.set_title(f"p99 latency per {bin_s:g} s, scenario: {title} (dotted: {faulty} ejected)")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_p99(table: dict[str, dict[str, float]], path: Path) -> Path:
    """Write grouped bars: ``table[scenario][row]`` is the p99 in ms (NaN: not run)."""
    scenarios = list(table)
    rows: list[str] = []
    for values in table.values():
        for row in values:
            if row not in rows:
                rows.append(row)
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=100)
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(scenarios))
    for k, row in enumerate(rows):
        ys = [table[s].get(row, math.nan) for s in scenarios]
        ax.bar(x + (k - (len(rows) - 1) / 2) * width, ys, width, label=row)
    ax.set_xticks(x, scenarios)
    ax.set_ylabel("p99 latency from the fault on (ms)")
    ax.set_yscale("log")
    ax.set_title("p99 per balancer, real HTTP on loopback")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
