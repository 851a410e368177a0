"""The one-line public API: `answer(question)` over the bundled articles or an index folder."""

from __future__ import annotations

import threading
from collections.abc import Callable

from qa.answering.config import Config
from qa.answering.pipeline import Assistant
from qa.answering.types import Answer


class AssistantCache:
    """One assistant per index, created on first use; reopened (same models) once a write has replaced the
    index it reads, so `answer(index=...)` always answers from the live version."""

    def __init__(self, build: Callable[[str | None], Assistant] | None = None) -> None:
        self._build = build if build is not None else lambda index: Assistant.from_config(Config(index_dir=index))
        self._assistants: dict[str | None, Assistant] = {}
        self._lock = threading.Lock()

    def get(self, index: str | None = None) -> Assistant:
        with self._lock:
            found = self._assistants.get(index)
            if found is None:
                found = self._build(index)
            elif not found.index.is_current():
                found = found.reopened()
            self._assistants[index] = found
            return found


_cache = AssistantCache()


def default_assistant(index: str | None = None) -> Assistant:
    """The assistant for an index folder (None: the bundled articles), created once and kept current."""
    return _cache.get(index)


def answer(question: str, *, k: int = 5, index: str | None = None, min_confidence: float | None = None) -> Answer:
    """Answer `question` from the bundled articles (or the index folder `index`), with citations; it abstains
    below `min_confidence`, the probability of being right it needs (default: the calibrator's)."""
    return default_assistant(index).answer(question, k=k, min_confidence=min_confidence)
