"""Sentence embeddings through ONNX Runtime: the same vectors as sentence-transformers, a fraction of the latency.

A one-question query through PyTorch costs ~25 ms here, mostly per-operator overhead; the fused ONNX graph
of the same model takes ~5 ms. Supported: the common layout Transformer → Pooling (mean or CLS) →
optional Normalize; any other model folder stays on sentence-transformers. The int8 variant is the same graph
with dynamically quantised weights (the reader's recipe: `embeddings.onnx_graph.quantize_int8`); its vectors
are close to, not equal to, fp32's, so an index records which variant built it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.cache import cache_root
from embeddings.onnx_graph import export_traced, graph_key, inference_session, load_eager, quantize_int8

log = logging.getLogger(__name__)

RECIPE_VERSION = 1


@dataclass(frozen=True)
class SentenceLayout:
    """What the ONNX graph must reproduce of a sentence-transformers folder."""

    pooling: str  # "mean" or "cls"
    max_seq_length: int
    lower_case: bool


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def sentence_layout(model_dir: Path) -> SentenceLayout | None:
    """The layout of a sentence-transformers folder if the ONNX path reproduces it exactly, else None."""
    modules = _read_json(model_dir / "modules.json")
    if not isinstance(modules, list) or not 2 <= len(modules) <= 3:
        return None
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        return None
    if modules[0].get("path", "") not in ("", "."):
        return None
    pooling = _read_json(model_dir / str(modules[1].get("path", "")) / "config.json")
    if not isinstance(pooling, dict):
        return None
    modes = {k.removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
             for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    if modes not in ({"mean"}, {"cls"}) or pooling.get("include_prompt", True) is not True:
        return None
    settings = _read_json(model_dir / "sentence_bert_config.json")
    settings = settings if isinstance(settings, dict) else {}
    config = _read_json(model_dir / "config.json")
    positions = int(config.get("max_position_embeddings", 512)) if isinstance(config, dict) else 512
    max_seq = settings.get("max_seq_length")
    max_seq = positions if not isinstance(max_seq, int) or max_seq < 1 else min(max_seq, positions)
    return SentenceLayout(modes.pop(), max_seq, bool(settings.get("do_lower_case", False)))


def sentence_onnx_path(model_dir: Path, layout: SentenceLayout, *, quantize: bool = False) -> Path:
    """The cached graph of this model and layout (int8 weights if `quantize`), keyed like the reader's."""
    key = graph_key(model_dir, f"sentence recipe {RECIPE_VERSION} {layout}")
    return cache_root() / "onnx" / key[:16] / ("sentence.int8.onnx" if quantize else "sentence.onnx")


def export_sentence_onnx(model_dir: Path, layout: SentenceLayout, out_file: Path, *, quantize: bool = False) -> Path:
    """Transformer + pooling + L2 normalisation as one fused graph: ids in, unit vectors out (int8 weights
    if `quantize`)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    model = load_eager(AutoModel, model_dir)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["a query", "a longer sentence to embed"], padding=True, return_tensors="pt")
    pooling = layout.pooling

    class _Sentence(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            inputs = dict(zip(names, tensors))
            hidden = self.inner(**inputs).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    return export_traced(_Sentence(model), [sample[n] for n in names], names, ["embedding"], out_file,
                         config=config, dynamic_outputs={"embedding": {0: "batch"}},
                         finish=quantize_int8 if quantize else None)


class OnnxSentenceEncoder:
    """Encodes texts with the ONNX graph of a sentence-transformers folder (built once into the cache; int8
    weights if `quantize`)."""

    def __init__(self, model_dir: Path, layout: SentenceLayout, *, quantize: bool = False):
        from embeddings.fast_tokenizer import load_tokenizer  # without torch where it can

        self.layout = layout
        path = sentence_onnx_path(model_dir, layout, quantize=quantize)
        if not path.is_file():
            log.info("building the %s ONNX sentence encoder for %s (once; cached at %s)",
                     "int8" if quantize else "fp32", model_dir, path)
            export_sentence_onnx(model_dir, layout, path, quantize=quantize)
        self._session = inference_session(path)
        self._names = [i.name for i in self._session.get_inputs()]
        width = self._session.get_outputs()[0].shape[-1]
        if not isinstance(width, int):  # a symbolic axis: the model's hidden size is the pooled width
            width = int(_read_json(model_dir / "config.json")["hidden_size"])
        self.dimension = width
        self._tokenizer = load_tokenizer(model_dir)
        self._tokenizer_lock = threading.Lock()
        self._pad = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0

    def encode(self, texts: list[str], batch_size: int, *, show_progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) unit vectors; batches of similar token length, so little padding."""
        cleaned = [t.strip().lower() if self.layout.lower_case else t.strip() for t in texts]
        with self._tokenizer_lock:
            encoded = self._tokenizer(cleaned, truncation=True, max_length=self.layout.max_seq_length)
        order = sorted(range(len(texts)), key=lambda i: -len(encoded["input_ids"][i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(order), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for begin in starts:
            rows = order[begin : begin + batch_size]
            longest = len(encoded["input_ids"][rows[0]])
            feed = {name: np.full((len(rows), longest), self._pad if name == "input_ids" else 0, dtype=np.int64)
                    for name in self._names}
            for r, i in enumerate(rows):
                n = len(encoded["input_ids"][i])
                for name in self._names:
                    feed[name][r, :n] = encoded[name][i]
            out[rows] = self._session.run(None, feed)[0]
        return out
