"""Argument types shared by the `citeqa` subcommands."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1, with a message naming the bad value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def dropout_or_base(text: str) -> float | None:
    """argparse type: a dropout probability in [0, 1), or 'base' (None: keep the model's own)."""
    if text == "base":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1) or 'base', got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1) or 'base', got {value}")
    return value


def share(text: str) -> float:
    """argparse type: a share of the questions, in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1], got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number above 0, with a message naming the bad value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0.0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value
