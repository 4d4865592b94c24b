"""``huddle bench``: reproduce the reference's benchmark tables on this machine.

Needs the ``bench`` extra (rich, scipy, numpy, matplotlib, httpx, huddle-cluster); nginx
and HAProxy rows run when the binaries are installed and are marked skipped otherwise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

_EXTRA = 'pip install "huddle-client[bench]"'


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to the ``huddle`` parser."""
    parser = subparsers.add_parser(
        "bench",
        help="measure huddle_client against round robin, P2C, nginx, HAProxy, the reference",
        description=(
            "Run the simulated trials, the real-HTTP scenarios on loopback (6 servers, 12 "
            "callers), the overhead and the parameter-sensitivity tables; write Markdown "
            "tables and PNG plots to --out."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="short scenarios, few trials")
    parser.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="directory for tables and plots"
    )
    parser.add_argument(
        "--no-external", action="store_true", help="skip the nginx and HAProxy rows"
    )
    # Shrinks every duration further; for the test suite's smoke run, not for figures.
    parser.add_argument("--duration-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the bench; 0 on success, 2 when the extra is missing or an option is invalid."""
    try:
        from rich.console import Console

        from huddle_client.bench._suite import BenchConfig, run_bench
    except ImportError as exc:
        print(f"huddle bench needs the bench extra ({exc}): {_EXTRA}")
        return 2
    console = Console(stderr=True)
    try:
        config = BenchConfig(
            out=args.out,
            quick=args.quick,
            duration_scale=args.duration_scale,
            external=not args.no_external,
        )
    except ValueError as exc:
        console.print(f"huddle bench: {exc}")
        return 2
    started = time.monotonic()
    results = run_bench(config, console)
    console.print(
        f"wrote {len(results.files)} files to {config.out} in {time.monotonic() - started:.0f} s"
    )
    for verdict in results.targets:
        console.print(f"  {verdict[2]:>12}  {verdict[0]}: {verdict[1]}")
    return 0
