"""argparse ``type=`` helpers shared by the subcommands, so a bad number names its option."""
from __future__ import annotations

import argparse


def int_at_least(lo: int):
    """``type=`` for an integer option that must be >= ``lo``; argparse names the option."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    parse.__name__ = f"integer >= {lo}"
    return parse
