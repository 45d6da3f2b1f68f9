"""The suite's command line, one level above :mod:`vasis`, :mod:`analysis` and :mod:`experiments`.

:mod:`vasis` (the models) never imports :mod:`analysis` or :mod:`experiments`; this package is
the one place that names all three (see :mod:`vasis_suite.cli`).
"""
