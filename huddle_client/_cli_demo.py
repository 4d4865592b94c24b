"""``huddle demo``: watch huddle_client beat plain round robin on a live loopback fleet.

Thin on purpose: parse, validate, hand over to :mod:`huddle_client.demo`. Exit codes: 0 done,
1 a caller thread failed, 2 an invalid option or a missing extra.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_EXTRA = 'pip install "huddle-client[demo]"'


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand to the ``huddle`` parser."""
    parser = subparsers.add_parser(
        "demo",
        help="a 45 s story on 6 loopback servers: huddle_client vs round robin, live",
        description=(
            "Start 6 upstream servers on 127.0.0.1 and send the same load through "
            "huddle_client's HuddleTransport and through plain round robin while a story "
            "plays: normal load, one server turns 5x slow, one crashes, one answers fast "
            "500s, the slow one heals. Shows a live view, then a summary table."
        ),
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=45.0,
        help="length of the story in seconds (its timeline scales with it; default 45)",
    )
    parser.add_argument("--servers", type=int, default=6, help="upstream servers (3-32; default 6)")
    parser.add_argument("--seed", type=int, default=None, help="seed for repeatable runs")
    parser.add_argument(
        "--no-live",
        dest="live",
        action="store_false",
        help="plain progress lines and a Markdown table instead of the live view",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 on success, 1 when a caller failed, 2 on bad options or extras."""
    try:
        from rich.console import Console

        from huddle_client.demo import DemoConfig, print_summary, run_demo
    except ImportError as exc:
        print(
            f"huddle demo needs the httpx, testing and bench extras ({exc}): {_EXTRA}",
            file=sys.stderr,
        )
        return 2
    try:
        config = DemoConfig(
            duration=args.duration, servers=args.servers, seed=args.seed, live=args.live
        )
    except ValueError as exc:
        print(f"huddle demo: error: {exc}", file=sys.stderr)
        return 2
    console = Console(highlight=False) if config.live else _plain_console()
    result = run_demo(config, console)
    print_summary(result, console, markdown=not config.live)
    return 1 if result.errors else 0


def _plain_console() -> Any:
    from rich.console import Console

    probe = Console()
    # Logs and pipes get 80 columns by default, which would wrap the summary table.
    return Console(highlight=False, width=max(probe.width, 140), no_color=not probe.is_terminal)
