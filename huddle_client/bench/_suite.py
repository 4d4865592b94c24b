"""The whole ``huddle bench`` run: every table and plot, written to one directory.

Sections, in order: simulated trials, real HTTP on loopback (in-process rows, then nginx
and HAProxy), overhead, parameter sensitivity, and the targets checked side by side.
Every step advances one progress bar; every table is also kept as numbers in
``results.json`` so the Markdown can be checked or re-rendered.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from huddle_client.testing import UpstreamFleet

from . import _report as rp
from ._balancers import Target
from ._contenders import Contender, builders, proxy_contender
from ._external import PROXIES, find_binary, missing_reason
from ._overhead import memory_rows, overhead_rows
from ._plots import plot_latency_over_time, plot_p99
from ._scenarios import REAL_SCENARIOS, Scenario, ScenarioRun, ratio, run_scenario, skipped_run
from ._simulated import SIM_ROWS, SIM_SCENARIOS, TrialResult, run_trial

HUDDLE = "huddle_client"
TUNED = "huddle_client (latency_window=5)"
TUNED_OPTIONS: dict[str, Any] = {"latency_window": 5}
ORACLE = "oracle (healthy only)"
REFERENCE = "huddle-cluster 1.3.2"
HEATS = (0.45, 0.55, 0.65)
ALPHAS = (0.3, 0.6, 0.9)


@dataclass
class BenchConfig:
    """How long and how much: ``quick`` for a smoke run, ``duration_scale`` to shrink more."""

    out: Path
    quick: bool = False
    duration_scale: float = 1.0
    callers: int = 12
    servers: int = 6
    external: bool = True

    def __post_init__(self) -> None:
        if not 0.01 <= self.duration_scale <= 10.0:
            raise ValueError(f"duration_scale must be in [0.01, 10], got {self.duration_scale!r}")
        if not 1 <= self.callers <= 256:
            raise ValueError(f"callers must be in [1, 256], got {self.callers!r}")
        if not 2 <= self.servers <= 64:
            raise ValueError(f"servers must be in [2, 64], got {self.servers!r}")

    @property
    def real_duration(self) -> float:
        return (2.0 if self.quick else 20.0) * self.duration_scale

    @property
    def real_fault_at(self) -> float:
        return (0.7 if self.quick else 5.0) * self.duration_scale

    @property
    def sim_duration(self) -> float:
        return (10.0 if self.quick else 30.0) * self.duration_scale

    @property
    def trials(self) -> int:
        return 3 if self.quick else 10

    @property
    def sensitivity_trials(self) -> int:
        return 1 if self.quick else 3


@dataclass
class BenchResults:
    """Everything measured, as numbers, and the files written."""

    machine: dict[str, str]
    simulated: dict[str, dict[str, list[TrialResult]]] = field(default_factory=dict)
    real: dict[str, list[ScenarioRun]] = field(default_factory=dict)
    overhead: list[tuple[str, float]] = field(default_factory=list)
    memory: list[tuple[str, float]] = field(default_factory=list)
    sensitivity: dict[tuple[float, float], list[TrialResult]] = field(default_factory=dict)
    targets: list[tuple[str, str, str]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _commit() -> str:
    """The checkout's commit, with '+ uncommitted changes' when tracked files differ from it."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} + uncommitted changes" if dirty else head


def load_average() -> str:
    """The 1/5/15-minute load averages: how busy the machine was besides the run."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine_info() -> dict[str, str]:
    """The machine a run measured, for the report's header."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nginx, haproxy = find_binary("nginx"), find_binary("haproxy")
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "os": platform.platform(),
        "python": platform.python_version(),
        "nginx": _version([nginx, "-v"]) if nginx else "absent",
        "haproxy": _version([haproxy, "-v"]) if haproxy else "absent",
        "commit": _commit(),
        "load_before": load_average(),
    }


def _real_rows(config: BenchConfig) -> list[str]:
    rows = [HUDDLE, "round robin", "least connections", "P2C peak-EWMA", REFERENCE, ORACLE]
    if not config.quick:
        rows.insert(1, TUNED)
    if config.external:
        rows += [label for label, _, _ in PROXIES]
    return rows


def run_bench(config: BenchConfig, console: Console | None = None) -> BenchResults:
    """Run every section and write the tables and plots to ``config.out``."""
    console = console or Console(stderr=True)
    config.out.mkdir(parents=True, exist_ok=True)
    results = BenchResults(machine_info())
    grid = len(HEATS) * len(ALPHAS)
    steps = (
        len(SIM_SCENARIOS) * len(SIM_ROWS) * config.trials
        + len(REAL_SCENARIOS) * len(_real_rows(config))
        + 1
        + grid * config.sensitivity_trials
    )
    columns = (
        TextColumn("{task.description:<52}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("huddle bench", total=steps)

        def step(what: str) -> Callable[[], None]:
            progress.update(task, description=what[:52])
            return lambda: progress.advance(task)

        _simulated_section(config, results, step)
        _real_section(config, results, step)
        done = step("overhead")
        count, repeats = (20_000, 3) if config.quick else (200_000, 7)
        results.overhead = overhead_rows(count=count, repeats=repeats)
        results.memory = memory_rows()
        done()
        _sensitivity_section(config, results, step)
        progress.update(task, description="writing tables and plots")
    results.machine["load_after"] = load_average()
    results.targets = check_targets(results)
    _write(config, results)
    return results


def _simulated_section(
    config: BenchConfig, results: BenchResults, step: Callable[[str], Callable[[], None]]
) -> None:
    for scenario in SIM_SCENARIOS:
        per_row: dict[str, list[TrialResult]] = {}
        for row in SIM_ROWS:
            trials = []
            for seed in range(config.trials):
                done = step(f"simulated: {scenario.name}: {row}")
                trials.append(
                    run_trial(
                        row,
                        scenario,
                        seed=seed,
                        duration_s=config.sim_duration,
                        servers=config.servers,
                        callers=config.callers,
                    )
                )
                done()
            per_row[row] = trials
        results.simulated[scenario.name] = per_row


def _real_section(
    config: BenchConfig, results: BenchResults, step: Callable[[str], Callable[[], None]]
) -> None:
    with UpstreamFleet(n=config.servers, base_latency_ms=20.0, jitter_ms=2.0, seed=7) as fleet:
        targets = [Target(s.name, "127.0.0.1", s.port) for s in fleet]
        make = builders(targets)
        make[TUNED] = builders(targets, TUNED_OPTIONS)[HUDDLE]
        for base in REAL_SCENARIOS:
            scenario = base.scaled(config.real_duration, config.real_fault_at)
            runs = []
            for row in _real_rows(config):
                done = step(f"real HTTP: {scenario.name}: {row}")
                runs.append(_run_row(fleet, scenario, row, make, targets, config))
                if row == TUNED:
                    runs[-1].contender = TUNED
                done()
            results.real[scenario.name] = runs


def _run_row(
    fleet: UpstreamFleet,
    scenario: Scenario,
    row: str,
    make: dict[str, Callable[[Scenario], Contender]],
    targets: list[Target],
    config: BenchConfig,
) -> ScenarioRun:
    if row in make:
        contender = make[row](scenario)
    else:
        label, binary, method = next(p for p in PROXIES if p[0] == row)
        reason = missing_reason(binary)
        if reason is not None:
            return skipped_run(scenario, row, reason)
        try:
            contender = proxy_contender(label, binary, method, targets)
        except (OSError, RuntimeError) as exc:
            return skipped_run(scenario, row, f"did not start: {exc}")
    return run_scenario(fleet, scenario, contender, callers=config.callers)


def _sensitivity_section(
    config: BenchConfig, results: BenchResults, step: Callable[[str], Callable[[], None]]
) -> None:
    slow = SIM_SCENARIOS[1]
    for heat in HEATS:
        for alpha in ALPHAS:
            trials = []
            for seed in range(config.sensitivity_trials):
                done = step(f"sensitivity: heat {heat}, alpha {alpha}")
                cool = min(0.30, heat / 2)
                options = {"heat_threshold": heat, "cool_threshold": cool, "ema_alpha": alpha}
                trials.append(
                    run_trial(
                        HUDDLE,
                        slow,
                        seed=seed,
                        duration_s=config.sim_duration,
                        servers=config.servers,
                        callers=config.callers,
                        huddle_options=options,
                    )
                )
                done()
            results.sensitivity[(heat, alpha)] = trials


# -- tables -----------------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return sum(clean) / len(clean) if clean else math.nan


def simulated_tables(results: BenchResults) -> str:
    """One Markdown table per simulated scenario."""
    parts = []
    for name, per_row in results.simulated.items():
        huddle_p95 = [t.p95 for t in per_row[HUDDLE]]
        rows = []
        for row, trials in per_row.items():
            p95 = [t.p95 for t in trials]
            ejections = [t.to_faulty_before_ejection for t in trials]
            seen = [float(e) for e in ejections if e is not None]
            rows.append(
                [
                    row,
                    rp.fmt_mean_std(p95),
                    rp.fmt_mean_std([t.p99 for t in trials]),
                    f"{_mean([float(t.failed) for t in trials]):.1f}",
                    f"{_mean(seen):.1f}" if seen else "-",
                    "-" if row == HUDDLE else rp.fmt_p(rp.welch_p(huddle_p95, p95)),
                ]
            )
        n = len(next(iter(per_row.values())))
        headers = [
            "balancer",
            "p95 ms (mean ± std)",
            "p99 ms (mean ± std)",
            "failed / trial",
            "requests to faulty before ejection",
            "Welch p (p95 vs huddle_client)",
        ]
        parts.append(f"#### Simulated: {name} ({n} trials)\n\n" + rp.markdown_table(headers, rows))
    return "\n".join(parts)


def real_tables(results: BenchResults) -> str:
    """One Markdown table per real-HTTP scenario."""
    parts = []
    for name, runs in results.real.items():
        oracle = next((r for r in runs if r.contender == ORACLE), None)
        oracle_p99 = oracle.latency(99) if oracle is not None else math.nan
        rows = []
        for run in runs:
            if run.skipped:
                rows.append(
                    [run.contender, "-", "-", "-", "-", "-", "-", f"skipped: {run.skipped}"]
                )
                continue
            faulty = f"s{run.scenario.faulty}"
            before = run.to_faulty_before_ejection(faulty) if run.scenario.mode else None
            rows.append(
                [
                    run.contender,
                    rp.fmt_ms(run.latency(50)),
                    rp.fmt_ms(run.latency(95)),
                    rp.fmt_ms(run.latency(99)),
                    f"{run.failed} / {run.requests}",
                    "-" if before is None else str(before),
                    str(run.to_faulty_after_fault(faulty)) if run.scenario.mode else "-",
                    _fmt_ratio(ratio(run.latency(99), oracle_p99)),
                ]
            )
        scenario = runs[0].scenario
        headers = [
            "balancer",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "failed / requests",
            "to faulty before ejection",
            "answered by faulty after fault",
            "p99 / oracle",
        ]
        title = (
            f"#### Real HTTP: {name} (server s{scenario.faulty}, at {scenario.fault_at:g} s "
            f"of {scenario.duration_s:g} s; percentiles from the fault on)"
        )
        parts.append(title + "\n\n" + rp.markdown_table(headers, rows))
    return "\n".join(parts)


def _fmt_ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


def overhead_table(results: BenchResults) -> str:
    rows = [[name, f"{us:.2f}"] for name, us in results.overhead]
    mem = [[name, f"{kb:.1f}"] for name, kb in results.memory]
    return (
        "#### Overhead per call (best of interleaved repeats, as benchmarks/overhead.py)\n\n"
        + rp.markdown_table(["operation", "µs per call"], rows)
        + "\n#### Memory: 20 servers after 10,000 reports (tracemalloc)\n\n"
        + rp.markdown_table(["cluster", "KB"], mem)
    )


def sensitivity_table(results: BenchResults) -> str:
    rows = []
    for (heat, alpha), trials in results.sensitivity.items():
        seen = [float(t.to_faulty_before_ejection) for t in trials if t.to_faulty_before_ejection]
        rows.append(
            [
                f"{heat:.2f}",
                f"{alpha:.1f}",
                f"{_mean(seen):.1f}" if seen else "never",
                rp.fmt_mean_std([t.p99 for t in trials]),
                f"{_mean([float(t.failed) for t in trials]):.1f}",
            ]
        )
    n = len(next(iter(results.sensitivity.values()))) if results.sensitivity else 0
    return f"#### Parameter sensitivity: simulated 5x slow server ({n} trials per cell)\n\n" + (
        rp.markdown_table(
            [
                "heat_threshold",
                "ema_alpha",
                "requests to slow server before ejection",
                "p99 ms",
                "failed / trial",
            ],
            rows,
        )
    )


def check_targets(results: BenchResults) -> list[tuple[str, str, str]]:
    """(target, measured, 'hit' / 'miss' / 'not measured') for every target of issue 5."""
    out: list[tuple[str, str, str]] = []
    for name, runs in results.real.items():
        by = {r.contender: r for r in runs if not r.skipped}
        huddle, oracle = by.get(HUDDLE), by.get(ORACLE)
        if huddle is None or oracle is None:
            continue
        h99, o99 = huddle.latency(99), oracle.latency(99)
        r = ratio(h99, o99)
        out.append(
            (
                f"{name}: huddle_client p99 within 1.25x of the oracle",
                f"{h99:.1f} vs {o99:.1f} ms ({_fmt_ratio(r)})",
                _verdict(not math.isnan(r) and r <= 1.25),
            )
        )
        for other in ("nginx round robin", "nginx least_conn", "P2C peak-EWMA"):
            if other in by:
                x99 = by[other].latency(99)
                out.append(
                    (
                        f"{name}: huddle_client p99 below {other}",
                        f"{h99:.1f} vs {x99:.1f} ms",
                        _verdict(h99 < x99),
                    )
                )
            else:
                out.append((f"{name}: huddle_client p99 below {other}", "-", "not measured"))
        if huddle.scenario.mode in ("crash", "error"):
            out.append(
                (
                    f"{name}: zero failed requests (huddle_client)",
                    f"{huddle.failed} of {huddle.requests}",
                    _verdict(huddle.failed == 0),
                )
            )
        if huddle.scenario.mode == "slow":
            faulty = f"s{huddle.scenario.faulty}"
            n = huddle.to_faulty_before_ejection(faulty)
            ref = by.get(REFERENCE)
            ref_n = ref.to_faulty_before_ejection(faulty) if ref is not None else None
            out.append(
                (
                    f"{name}: slow server ejected after at most 10 of its requests",
                    f"huddle_client {n if n is not None else 'never'}, "
                    f"reference {ref_n if ref_n is not None else 'never'}",
                    _verdict(n is not None and n <= 10),
                )
            )
    return out


def _verdict(ok: bool) -> str:
    return "hit" if ok else "miss"


def targets_table(results: BenchResults) -> str:
    return "#### Targets\n\n" + rp.markdown_table(
        ["target", "measured", "verdict"], [list(t) for t in results.targets]
    )


def machine_header(results: BenchResults) -> str:
    m = results.machine
    after = f", {m['load_after']} at the end" if "load_after" in m else ""
    return (
        f"Measured {m['date']} on {m['cpu']}; {m['os']}; Python {m['python']}; "
        f"{m['nginx']}; {m['haproxy']}; commit {m['commit']}; load average (1/5/15 min) "
        f"{m['load_before']} at the start{after}.\n"
    )


# -- files ------------------------------------------------------------------------------


def _write(config: BenchConfig, results: BenchResults) -> None:
    out = config.out
    sections = {
        "simulated.md": simulated_tables(results),
        "real_http.md": real_tables(results),
        "overhead.md": overhead_table(results),
        "sensitivity.md": sensitivity_table(results),
        "targets.md": targets_table(results),
    }
    header = machine_header(results)
    for filename, text in sections.items():
        path = out / filename
        path.write_text(header + "\n" + text)
        results.files.append(path)
    bench = out / "bench.md"
    mode = "quick" if config.quick else "full"
    bench.write_text(
        f"# huddle bench ({mode} run)\n\n{header}\n"
        + "\n".join(sections[name] for name in sections)
    )
    results.files.append(bench)
    p99: dict[str, dict[str, float]] = {}
    for name, runs in results.real.items():
        p99[name] = {r.contender: r.latency(99) for r in runs if not r.skipped}
        faulty = f"s{runs[0].scenario.faulty}"
        slug = name.replace(" ", "_").replace("/", "_")
        results.files.append(
            plot_latency_over_time(runs, faulty, out / f"latency_over_time_{slug}.png")
        )
    if p99:
        results.files.append(plot_p99(p99, out / "p99_per_balancer.png"))
    data = out / "results.json"
    data.write_text(json.dumps(_as_json(results), indent=1, allow_nan=True))
    results.files.append(data)


def _as_json(results: BenchResults) -> dict[str, Any]:
    real = {
        name: [
            {
                "balancer": r.contender,
                "skipped": r.skipped,
                "requests": r.requests,
                "failed": r.failed,
                "p50_ms": r.latency(50),
                "p95_ms": r.latency(95),
                "p99_ms": r.latency(99),
                "to_faulty_before_ejection": r.to_faulty_before_ejection(f"s{r.scenario.faulty}"),
            }
            for r in runs
        ]
        for name, runs in results.real.items()
    }
    simulated = {
        name: {row: [vars(t) for t in trials] for row, trials in per_row.items()}
        for name, per_row in results.simulated.items()
    }
    return {
        "machine": results.machine,
        "simulated": simulated,
        "real_http": real,
        "overhead_us": dict(results.overhead),
        "memory_kb": dict(results.memory),
        "sensitivity": [
            {"heat_threshold": h, "ema_alpha": a, "trials": [vars(t) for t in trials]}
            for (h, a), trials in results.sensitivity.items()
        ],
        "targets": [list(t) for t in results.targets],
    }
