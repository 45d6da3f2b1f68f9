"""Argument types shared by the subcommands: counts and sizes checked while parsing, so a bad
value is refused (argparse's one ``error:`` line, exit code 2) before anything runs."""
from __future__ import annotations

import argparse


def count(minimum: int = 1):
    """An ``int`` type that refuses values below ``minimum`` (``--iters 0``, ``--batch-size -1``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in its messages
    return parse


def size(text: str) -> tuple[int, int]:
    """``HxW`` (or ``N`` for NxN) with positive sides."""
    try:
        parts = text.lower().replace("*", "x").split("x")
        if len(parts) == 1:
            parts = parts * 2
        h, w = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW (e.g. 128x128), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(
            f"expected HxW with positive sides (e.g. 128x128), got {text!r}")
    return h, w
