"""citeqa's question answering: `answer(question)` returns an `Answer` with `Citation`s."""

from __future__ import annotations

__all__ = ["Answer", "Assistant", "Citation", "Config", "answer"]


def __getattr__(name: str):
    # Lazy, so `import qa` (and the CLI's --help) stays fast and torch loads only when needed.
    if name == "answer":
        from qa.answering.api import answer

        return answer
    if name == "Assistant":
        from qa.answering.pipeline import Assistant

        return Assistant
    if name == "Config":
        from qa.answering.config import Config

        return Config
    if name in ("Answer", "Citation"):
        from qa.answering import types

        return getattr(types, name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
