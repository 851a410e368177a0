"""The one-line public API: `answer(question)` over the bundled articles or an index folder."""

from __future__ import annotations

import threading

from qa.config import Config
from qa.pipeline import Assistant
from qa.types import Answer

_assistants: dict[str | None, Assistant] = {}
_assistants_lock = threading.Lock()


def default_assistant(index: str | None = None) -> Assistant:
    """The assistant for an index folder (None: the bundled articles), created once and reused."""
    with _assistants_lock:
        if index not in _assistants:
            _assistants[index] = Assistant.from_config(Config(index_dir=index))
        return _assistants[index]


def answer(question: str, *, k: int = 5, index: str | None = None) -> Answer:
    """Answer `question` from the bundled articles (or the index folder `index`), with citations."""
    return default_assistant(index).answer(question, k=k)
