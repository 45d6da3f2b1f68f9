"""Runners of the paper's tables and figures (``run_analysis.py experiment NAME``).

One module per table / figure (:mod:`.table1`, :mod:`.fig1_fig3`, :mod:`.fig2`, :mod:`.table3`,
:mod:`.table4`, :mod:`.table5`), each with ``run(ctx, args) -> dict`` of written paths;
:mod:`.common` holds the resumable result store, the model / metric context and the table and
figure writers; :mod:`.cli` registers the subcommand.
"""
EXPERIMENTS = ("table1", "fig1_fig3", "fig2", "table3", "table4", "table5")
