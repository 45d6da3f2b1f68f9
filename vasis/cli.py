"""The suite's one command line: ``python run_analysis.py [SUBCOMMAND] ...``.

Without a subcommand it runs the main analysis job (see ``analysis.main_job``).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .commands import COMMAND_MODULES


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_analysis.py",
        description="vasis-suite: see, measure and fix class-level mode collapse in semantic "
                    "image synthesis. Run without a subcommand for the main analysis job.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # The bare command is the main analysis job, with its defaults.
        try:
            args = parser.parse_args(["main"])
        except SystemExit:
            parser.print_help()
            return 0
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, FileNotFoundError, KeyError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
