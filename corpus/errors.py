"""Errors of the corpus stage: a path that cannot be used, and a file that holds nothing usable."""

from __future__ import annotations


class CorpusError(ValueError):
    """A corpus path or file that cannot be used; the message names it."""


class FileSkipped(CorpusError):
    """A file that was found but yields no document; `reason` is the short why ("binary file", "empty", ...)."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason if path is None else f"{path}: {reason}")
        self.reason = reason
        self.path = path
