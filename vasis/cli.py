"""The command-line runner: builds a parser from command modules and runs one command.

:func:`main` runs the model package's own commands (:data:`vasis.commands.COMMAND_MODULES`);
the suite's full command line (``run_analysis.py``, ``vasis-analysis``) is
:func:`vasis_suite.cli.main`, which passes its longer list of modules and its default command.

A :class:`vasis.errors.UserError` (bad input) is printed as one ``error:`` line with exit code
2; any other exception is a bug and keeps its traceback. ``--debug`` (or ``VASIS_DEBUG=1``)
shows the traceback for user errors too.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .allocator import keep_freed_memory
from .commands import COMMAND_MODULES
from .errors import UserError


DESCRIPTION = ("vasis: the models of vasis-suite (SPADE, CLADE, OASIS and their VASIS "
               "versions): train, generate, evaluate.")


def build_parser(modules=COMMAND_MODULES, prog: str = "python -m vasis.cli",
                 description: str = DESCRIPTION) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of user errors too (or set VASIS_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("VASIS_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None, modules=COMMAND_MODULES,
         default: str | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Parse ``argv`` with the commands of ``modules`` (or with ``parser``) and run one;
    ``default``: the command run when none is given (else the help is printed)."""
    parser = parser or build_parser(modules)
    args = parser.parse_args(argv)
    keep_freed_memory()   # faster tensors on glibc; changes no value (vasis.allocator)
    if args.command is None:
        if default is None:
            parser.print_help()
            return 0
        # The bare command is the default one, with its defaults.
        debug = args.debug
        args = parser.parse_args([default])
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
