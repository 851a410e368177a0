"""Argument types shared by the `citeqa` subcommands: each names the bad value in its message."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _checked(text: str, parse: Callable[[str], float], ok: Callable[[float], bool], expected: str):
    """`parse(text)` if it parses and passes `ok` (nan fails every comparison, so it never passes); else an
    argparse error saying what was expected and what came."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    return _checked(text, int, lambda v: v >= 1, "a positive integer")


def dropout_or_base(text: str) -> float | None:
    """argparse type: a dropout probability in [0, 1), or 'base' (None: keep the model's own)."""
    if text == "base":
        return None
    return _checked(text, float, lambda v: 0.0 <= v < 1.0, "a probability in [0, 1) or 'base'")


def share(text: str) -> float:
    """argparse type: a share of the questions, in [0, 1]."""
    return _checked(text, float, lambda v: 0.0 <= v <= 1.0, "a share in [0, 1]")


def positive_float(text: str) -> float:
    """argparse type: a number above 0."""
    return _checked(text, float, lambda v: v > 0.0, "a positive number")


def probability(text: str) -> float:
    """argparse type: a probability, as a fraction in [0, 1] ("0.7") or a percentage ("70%")."""
    stripped = text.strip()
    if stripped.endswith("%"):
        return _checked(stripped[:-1], lambda t: float(t) / 100.0, lambda v: 0.0 <= v <= 1.0, "a percentage in [0%, 100%]")
    return _checked(stripped, float, lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1] or a percentage such as 70%")
