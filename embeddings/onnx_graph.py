"""Transformer models → ONNX files: trace, fuse, write atomically, cache by the weights' digest.

Shared by the sentence encoder (here) and the reader (`qa.answering.onnx_export`): derived artefacts are rebuilt
from the model folder, never shipped, and a crash never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

FUSABLE_TYPES = {"bert", "roberta", "distilbert", "electra", "xlm-roberta"}


def weights_digest(model_dir: Path, recipe: str) -> str:
    """sha256 over a recipe name and the folder's weight and config files: the key of a derived artefact."""
    digest = hashlib.sha256(recipe.encode())
    names = sorted(p.name for p in model_dir.iterdir() if p.suffix in {".safetensors", ".bin", ".json"})
    for name in names:
        digest.update(name.encode() + b"\0")
        with (model_dir / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def export_traced(module, sample: Sequence, input_names: Sequence[str], output_names: Sequence[str],
                  out_file: Path, *, config, dynamic_outputs: dict[str, dict[int, str]],
                  finish: Callable[[Path, Path], None] | None = None) -> Path:
    """Trace `module` on `sample` into `out_file` with batch/sequence axes dynamic, apply the transformer
    fusions, then `finish(fused, final)` (e.g. quantisation; default: keep the fused graph); atomic."""
    import torch

    out_file.parent.mkdir(parents=True, exist_ok=True)
    axes = {n: {0: "batch", 1: "sequence"} for n in input_names} | dynamic_outputs
    with tempfile.TemporaryDirectory(dir=out_file.parent, prefix=".onnx-") as work:
        raw = Path(work) / "raw.onnx"
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shapes that are constant for this model
            torch.onnx.export(module, tuple(sample), str(raw), input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes=axes, opset_version=17, dynamo=False)
        fused = fuse_transformer(raw, Path(work) / "fused.onnx", config)
        final = Path(work) / "final.onnx"
        if finish is None:
            os.replace(fused, final)
        else:
            finish(fused, final)
        os.replace(final, out_file)
    return out_file


def fuse_transformer(raw: Path, out: Path, config) -> Path:
    """onnxruntime's transformer fusions (Attention, BiasGelu, SkipLayerNorm); the raw graph if they do not apply."""
    if config.model_type not in FUSABLE_TYPES:
        return raw
    from onnxruntime.transformers import optimizer

    try:
        model = optimizer.optimize_model(str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
                                         hidden_size=int(config.hidden_size), opt_level=1)
    except Exception as err:  # a graph the fusions do not know still runs unfused
        log.warning("ONNX fusions skipped: %s", err)
        return raw
    model.save_model_to_file(str(out))
    return out


def load_eager(auto_class, model_dir: Path):
    """A transformers model in fp32 with eager attention (traces to fusable ops); any attention if not offered."""
    import torch

    try:
        model = auto_class.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32,
                                           attn_implementation="eager")
    except (ValueError, TypeError):
        model = auto_class.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
    return model.eval()


def inference_session(path: Path):
    """A CPU ONNX Runtime session using as many threads as torch is set to (`--threads` governs both).

    Its threads sleep when idle instead of spinning: the embedder's and the reader's sessions take turns
    on the same cores, and a spinning pool steals them from the other (measured: reading 2 passages
    101 → 71 ms, retrieval 13 → 6.5 ms on 2 cores)."""
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
