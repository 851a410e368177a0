"""Where citeqa keeps what it derives and can rebuild: indexes of bundled data, ONNX files, training runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """`$CITEQA_CACHE`, else `~/.cache/citeqa`."""
    configured = os.environ.get("CITEQA_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "citeqa"
