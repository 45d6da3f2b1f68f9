"""``run_analysis.py`` subcommands built on the analysis toolkit (registered in
``vasis_suite.cli.COMMAND_MODULES``)."""
