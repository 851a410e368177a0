"""A model folder's tokenizer without importing PyTorch, where that gives exactly what `AutoTokenizer` gives.

`transformers.AutoTokenizer` imports the model configuration classes, and they import torch (seconds and ~350 MB)
even when the model itself runs in ONNX Runtime. For a folder whose tokenizer_config.json names `BertTokenizer`
(or `BertTokenizerFast`), without custom code, and whose config.json is a BERT-family model (for which
AutoTokenizer registers that same class), AutoTokenizer ends in `BertTokenizer.from_pretrained`: that is called
directly (the shipped reader and the bundled embedding model are such folders). Any other folder goes through
AutoTokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path

BERT_FAMILY = frozenset({"bert", "distilbert", "electra"})  # model types AutoTokenizer maps to BertTokenizer


def _read_json(path: Path) -> dict | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def loads_without_torch(model_dir: str | Path) -> bool:
    """Whether the folder's tokenizer is a BertTokenizer that AutoTokenizer would pick too (see the module)."""
    model_dir = Path(model_dir)
    tokenizer_config = _read_json(model_dir / "tokenizer_config.json")
    config = _read_json(model_dir / "config.json")
    if tokenizer_config is None or config is None or "auto_map" in tokenizer_config or "auto_map" in config:
        return False
    named = tokenizer_config.get("tokenizer_class")
    return (isinstance(named, str) and named.removesuffix("Fast") == "BertTokenizer"
            and config.get("model_type") in BERT_FAMILY)


def load_tokenizer(model_dir: str | Path):
    """The tokenizer `AutoTokenizer.from_pretrained(model_dir, local_files_only=True)` loads; without torch when
    `loads_without_torch`."""
    if loads_without_torch(model_dir):
        from transformers.models.bert.tokenization_bert import BertTokenizer

        return BertTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
