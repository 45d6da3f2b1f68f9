"""``run_analysis.py`` subcommands built on the analysis toolkit (registered in
``vasis.commands.COMMAND_MODULES``)."""
