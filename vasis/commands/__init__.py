"""Subcommands of the model package. Each module defines ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed args; returns an exit code).

This lists only the commands built on :mod:`vasis` itself; the suite's full command line
(these plus the analysis and experiment commands) is assembled one level up, in
:mod:`vasis_suite.cli`, so that the model package never names its consumers.
"""

COMMAND_MODULES = [
    "vasis.commands.classes",
    "vasis.commands.complexity",
    "vasis.commands.train",
    "vasis.commands.generate",
    "vasis.commands.fid",
]
