"""Reader → ONNX: export a question-answering model, fuse its graph and (optionally) quantise it to int8.

The shipped reader stays one fp16 safetensors file; the ONNX artefact is derived from it, reproducibly
(same weights, recipe, settings and library versions → same file), and cached under the key of all of them
(`embeddings.onnx_graph.graph_key`). `citeqa quantize-reader` runs the same function to write it anywhere.
"""

from __future__ import annotations

import logging
from pathlib import Path

from embeddings.cache import cache_root
from embeddings.onnx_graph import export_traced, graph_key, load_eager, narrowing_matmuls, quantize_int8

__all__ = ["ONNX_BACKENDS", "cached_onnx_path", "ensure_onnx", "export_onnx", "narrowing_matmuls", "reader_digest"]

log = logging.getLogger(__name__)

RECIPE_VERSION = 2  # 2: the narrowing MatMuls stay fp32
ONNX_BACKENDS = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}


def reader_digest(model_dir: Path) -> str:
    """The key of a reader's derived ONNX files: weights, recipe, export and int8 settings, library versions."""
    return graph_key(model_dir, f"recipe {RECIPE_VERSION}")


def cached_onnx_path(model_dir: Path, backend: str) -> Path:
    """Where the ONNX file of `backend` for this model lives: in the model folder if shipped, else the cache."""
    name = ONNX_BACKENDS[backend]
    if (model_dir / name).is_file():
        return model_dir / name
    return cache_root() / "onnx" / reader_digest(model_dir)[:16] / name


def export_onnx(model_dir: str | Path, out_file: str | Path, *, quantize: bool = True) -> Path:
    """Write the model as ONNX (fused attention/GELU/LayerNorm; if `quantize`, int8 dynamic per-channel
    weights everywhere except the narrowing MatMuls).

    Written through a temporary file and renamed, so a crash never leaves a half-written model.
    """
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

    model_dir, out_file = Path(model_dir), Path(out_file)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    model = load_eager(AutoModelForQuestionAnswering, model_dir)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["a question?"] * 2, ["a short passage to read"] * 2, padding=True, return_tensors="pt")

    class _Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            output = self.inner(**dict(zip(names, tensors)))
            return output.start_logits, output.end_logits

    outputs = ["start_logits", "end_logits"]
    return export_traced(_Logits(model), [sample[n] for n in names], names, outputs, out_file, config=config,
                         dynamic_outputs={n: {0: "batch", 1: "sequence"} for n in outputs},
                         finish=quantize_int8 if quantize else None)


def ensure_onnx(model_dir: Path, backend: str) -> Path:
    """The ONNX file for `backend`, built into the cache on first use (a few seconds)."""
    path = cached_onnx_path(model_dir, backend)
    if not path.is_file():
        log.warning("building the %s reader for %s (once; cached at %s)", backend, model_dir, path)
        export_onnx(model_dir, path, quantize=backend == "onnx-int8")
    return path
