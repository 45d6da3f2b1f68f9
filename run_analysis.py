#!/usr/bin/env python
"""Entry point of vasis-suite; see ``python run_analysis.py --help``."""
import sys

from vasis_suite.cli import main

if __name__ == "__main__":
    sys.exit(main())
