"""The suite's one command line: ``python run_analysis.py [SUBCOMMAND] ...`` (also the
``vasis-analysis`` script).

Without a subcommand it runs the main analysis job (:mod:`analysis.main_job`). Error handling
(one ``error:`` line, exit code 2, for bad input) is :func:`vasis.cli.main`'s.
"""
from __future__ import annotations

import sys

from vasis import cli

# Order here is the order in ``run_analysis.py --help``.
COMMAND_MODULES = [
    "experiments.main_cli",
    "analysis.commands.probe",
    "vasis.commands.classes",
    "analysis.commands.variation",
    "vasis.commands.complexity",
    "vasis.commands.train",
    "vasis.commands.generate",
    "vasis.commands.fid",
    "experiments.cli",
    "experiments.study_cli",
]
DEFAULT = "main"


DESCRIPTION = ("vasis-suite: see, measure and fix class-level mode collapse in semantic image "
               "synthesis. Run without a subcommand for the main analysis job.")


def build_parser():
    return cli.build_parser(COMMAND_MODULES, prog="run_analysis.py", description=DESCRIPTION)


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, default=DEFAULT, parser=build_parser())


if __name__ == "__main__":
    sys.exit(main())
