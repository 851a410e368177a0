"""Reader → ONNX: export a question-answering model, fuse its graph and (optionally) quantise it to int8.

The shipped reader stays one fp16 safetensors file; the ONNX artefact is derived from it, reproducibly
(same weights and recipe → same file), and cached by the digest of the weights. `citeqa quantize-reader`
runs the same function to write it anywhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path

from qa.defaults import cache_root

log = logging.getLogger(__name__)

RECIPE_VERSION = 1
ONNX_BACKENDS = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
_FUSABLE_TYPES = {"bert", "roberta", "distilbert", "electra", "xlm-roberta"}


def weights_digest(model_dir: Path) -> str:
    """sha256 over the model folder's weight and config files: the key of every derived artefact."""
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}".encode())
    names = sorted(p.name for p in model_dir.iterdir() if p.suffix in {".safetensors", ".bin", ".json"})
    for name in names:
        digest.update(name.encode() + b"\0")
        with (model_dir / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def cached_onnx_path(model_dir: Path, backend: str) -> Path:
    """Where the ONNX file of `backend` for this model lives: in the model folder if shipped, else the cache."""
    name = ONNX_BACKENDS[backend]
    if (model_dir / name).is_file():
        return model_dir / name
    return cache_root() / "onnx" / weights_digest(model_dir)[:16] / name


def export_onnx(model_dir: str | Path, out_file: str | Path, *, quantize: bool = True) -> Path:
    """Write the model as ONNX (fused attention/GELU/LayerNorm; int8 dynamic per-channel weights if `quantize`).

    Written through a temporary file and renamed, so a crash never leaves a half-written model.
    """
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

    model_dir, out_file = Path(model_dir), Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(
            str(model_dir), local_files_only=True, dtype=torch.float32, attn_implementation="eager")
    except (ValueError, TypeError):
        model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
    model.eval()
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["a question?"] * 2, ["a short passage to read"] * 2, padding=True, return_tensors="pt")
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "start_logits", "end_logits"]}

    with tempfile.TemporaryDirectory(dir=out_file.parent, prefix=".onnx-") as work:
        raw = Path(work) / "raw.onnx"

        class _Logits(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, *tensors):
                output = self.inner(**dict(zip(names, tensors)))
                return output.start_logits, output.end_logits

        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shapes that are constant for this model
            torch.onnx.export(_Logits(model), tuple(sample[n] for n in names), str(raw), input_names=names,
                              output_names=["start_logits", "end_logits"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
        fused = _fuse(raw, Path(work) / "fused.onnx", config)
        final = Path(work) / "final.onnx"
        if quantize:
            from onnx import TensorProto
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fused), str(final), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
        else:
            os.replace(fused, final)
        os.replace(final, out_file)
    return out_file


def _fuse(raw: Path, out: Path, config) -> Path:
    """onnxruntime's transformer fusions (Attention, BiasGelu, SkipLayerNorm); the raw graph if they do not apply."""
    if config.model_type not in _FUSABLE_TYPES:
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


def ensure_onnx(model_dir: Path, backend: str) -> Path:
    """The ONNX file for `backend`, built into the cache on first use (a few seconds)."""
    path = cached_onnx_path(model_dir, backend)
    if not path.is_file():
        log.warning("building the %s reader for %s (once; cached at %s)", backend, model_dir, path)
        export_onnx(model_dir, path, quantize=backend == "onnx-int8")
    return path
