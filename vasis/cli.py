"""The suite's one command line: ``python run_analysis.py [SUBCOMMAND] ...``.

Without a subcommand it runs the main analysis job (see ``analysis.main_job``).

A :class:`vasis.errors.UserError` (bad input) is printed as one ``error:`` line with exit code
2; any other exception is a bug and keeps its traceback. ``--debug`` (or ``VASIS_DEBUG=1``)
shows the traceback for user errors too.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .commands import COMMAND_MODULES
from .errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_analysis.py",
        description="vasis-suite: see, measure and fix class-level mode collapse in semantic "
                    "image synthesis. Run without a subcommand for the main analysis job.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of user errors too (or set VASIS_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("VASIS_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # The bare command is the main analysis job, with its defaults.
        debug = args.debug
        args = parser.parse_args(["main"])
        args.debug = debug
    try:
        rc = int(args.func(args) or 0)
        # Flush here, so a reader that went away (`... | head`) is handled below and not at
        # interpreter exit, where it would print "Exception ignored ..." and exit 120.
        sys.stdout.flush()
        return rc
    except UserError as err:
        if _debug(args):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error. Point stdout at devnull so the
        # interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
