"""Subcommands of ``run_analysis.py``. Each module defines ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed args; returns an exit code)."""

# Order here is the order in ``run_analysis.py --help``.
COMMAND_MODULES = [
    "analysis.commands.main",
    "analysis.commands.probe",
    "vasis.commands.classes",
    "analysis.commands.variation",
    "vasis.commands.complexity",
    "vasis.commands.train",
    "vasis.commands.generate",
    "vasis.commands.fid",
    "experiments.cli",
]
