"""The ``huddle`` command (also ``python -m huddle_client``).

Each subcommand lives in a module of its own that exposes ``register(subparsers)``; that
function adds its parser and sets ``func`` to a callable taking the parsed arguments and
returning the exit code. Adding a subcommand (a standalone proxy, say) is one import and
one line in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that register a subcommand, in the order ``huddle --help`` lists them.
_SUBCOMMANDS = ("huddle_client._cli_demo", "huddle_client._cli_bench")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="huddle",
        description="Latency-aware load balancing: see it work (demo) and measure it (bench).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
