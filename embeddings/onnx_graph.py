"""Transformer models → ONNX files: trace, fuse, quantise, write atomically, cache by what made them.

Shared by the sentence encoder (here) and the reader (`qa.answering.onnx_export`): derived artefacts are rebuilt
from the model folder, never shipped, and a crash never leaves a half-written file. A cached graph is keyed by
the weights, the recipe, the export and quantisation settings and the versions of the libraries that write it
(`graph_key`), so a graph built by other versions or settings is never reused.

int8 graphs compute exactly on every x86 CPU: ONNX Runtime's default u8 x s8 kernel on CPUs without VNNI
(AVX2, AVX-512 before Cascade Lake, AMD before Zen 4) adds pairs of products in saturating 16 bits (under an
emulated AVX2 CPU it changed 36 of 80 close TyDi answers of the shipped reader; benchmarks/README.md,
2026-12-03); `inference_session` turns on ONNX Runtime's exact u8 x u8 path there (`session.x64quantprecision`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

FUSABLE_TYPES = {"bert", "roberta", "distilbert", "electra", "xlm-roberta"}
OPSET = 17
FUSION_LEVEL = 1
# Dynamic int8 quantisation (onnxruntime.quantization.quantize_dynamic): weights QInt8 per output channel,
# full 8-bit range, every supported op type, the narrowing MatMuls left fp32 (`narrowing_matmuls`).
INT8_SETTINGS = {"weight_type": "QInt8", "per_channel": True, "reduce_range": False, "op_types": "all",
                 "exclude": "narrowing MatMuls"}
GRAPH_LIBRARIES = ("torch", "transformers", "onnx", "onnxruntime")  # what writes the graph's bytes
VNNI_FLAGS = {"avx512_vnni", "avx_vnni", "amx_int8"}  # x86 CPU flags of an exact u8 x s8 int8 dot product
X86_MACHINES = {"x86_64", "amd64", "i386", "i686", "x86"}


GRAPH_INDEPENDENT_FILES = {"calibrator.json"}  # the reader's answer calibrator: read beside the graph, not in it
CITEQA_SETTINGS = "citeqa"  # config.json's block of fitted settings (threshold, early stop, backend): not in the graph


def _graph_shaping_bytes(path: Path) -> Iterator[bytes]:
    """A file's bytes as the graph sees them: config.json without citeqa's fitted settings (refitting a threshold
    must not rebuild the graphs), any other file whole."""
    if path.name == "config.json":
        config = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(config, dict):
            config.pop(CITEQA_SETTINGS, None)
        yield json.dumps(config, sort_keys=True).encode()
        return
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(1 << 20), b"")


def weights_digest(model_dir: Path, recipe: str) -> str:
    """sha256 over a recipe name and the folder's weight and config files: the key of a derived artefact."""
    digest = hashlib.sha256(recipe.encode())
    names = sorted(p.name for p in model_dir.iterdir()
                   if p.suffix in {".safetensors", ".bin", ".json"} and p.name not in GRAPH_INDEPENDENT_FILES)
    for name in names:
        digest.update(name.encode() + b"\0")
        for block in _graph_shaping_bytes(model_dir / name):
            digest.update(block)
    return digest.hexdigest()


def library_versions(names: Sequence[str] = GRAPH_LIBRARIES) -> dict[str, str | None]:
    """Installed versions of the named distributions (default: those that write an ONNX graph); None if missing."""
    from importlib import metadata

    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def export_settings() -> str:
    """The export and quantisation settings a cached graph depends on, as one stable string."""
    int8 = " ".join(f"{k}={v}" for k, v in sorted(INT8_SETTINGS.items()))
    return f"opset {OPSET} fusion opt_level {FUSION_LEVEL} int8 {int8}"


def graph_key(model_dir: Path, recipe: str) -> str:
    """The cache key of a model's derived graphs: its weights, the recipe, the export settings and the versions
    of the libraries that write the graph (`weights_digest`, 64 hex digits)."""
    toolchain = " ".join(f"{name} {version}" for name, version in library_versions().items())
    return weights_digest(model_dir, f"{recipe} | {export_settings()} | {toolchain}")


def narrowing_matmuls(model) -> list[str]:
    """Names of the MatMul nodes whose constant weight narrows its input (more rows than columns): the
    feed-forward down-projections and the span head. Their inputs carry the GELU's outliers, which one
    dynamic int8 scale per tensor resolves badly, so int8 leaves them fp32 (measured: +0.39 F1 on SQuAD
    v1.1 dev for reader-v1, against int8 everywhere; docs/reader.md)."""
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and len(dims := shapes.get(n.input[1], ())) == 2 and dims[0] > dims[1]]


def quantize_int8(fused: Path, final: Path) -> None:
    """`fused` with int8 weights (`INT8_SETTINGS`) into `final`; the same input gives the same bytes."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fused))  # read once: for the node choice and for the quantiser
    quantize_dynamic(graph, str(final), weight_type=QuantType.QInt8, per_channel=INT8_SETTINGS["per_channel"],
                     reduce_range=INT8_SETTINGS["reduce_range"], nodes_to_exclude=narrowing_matmuls(graph),
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


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
                              output_names=list(output_names), dynamic_axes=axes, opset_version=OPSET, dynamo=False)
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
                                         hidden_size=int(config.hidden_size), opt_level=FUSION_LEVEL)
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


def cpu_flags() -> set[str] | None:
    """This CPU's feature flags (Linux `/proc/cpuinfo`), or None where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return None


def this_cpu() -> tuple[str, set[str] | None]:
    """(architecture, feature flags or None) of this machine, the arguments of `needs_exact_int8` and `int8_path`."""
    return platform.machine(), cpu_flags()


def needs_exact_int8(machine: str, flags: set[str] | None) -> bool:
    """Whether int8 matrix products need ONNX Runtime's exact u8 x u8 path on this CPU: x86 without a VNNI dot
    product (flags unknown: assume none). Other architectures multiply int8 exactly already."""
    if machine.lower() not in X86_MACHINES:
        return False
    return flags is None or not (flags & VNNI_FLAGS)


def int8_path(machine: str, flags: set[str] | None) -> str:
    """Which int8 matrix product ONNX Runtime runs on this CPU, for reports: `vnni` (x86 with a VNNI dot
    product), `u8u8-exact` (x86 without: `session.x64quantprecision`), or `native` (another architecture)."""
    if machine.lower() not in X86_MACHINES:
        return "native"
    return "u8u8-exact" if needs_exact_int8(machine, flags) else "vnni"


def inference_session(path: Path, *, exact_int8: bool | None = None):
    """A CPU ONNX Runtime session using as many threads as torch is set to (`--threads` governs both).

    Its threads sleep when idle instead of spinning: the embedder's and the reader's sessions take turns
    on the same cores, and a spinning pool steals them from the other (measured: reading 2 passages
    101 → 71 ms, retrieval 13 → 6.5 ms on 2 cores). `exact_int8` (default: `needs_exact_int8` of this CPU)
    makes int8 products exact on CPUs without VNNI, as they are on a VNNI CPU (no effect on fp32 graphs; on
    a VNNI CPU it gives the same bits 1.4x slower, so it stays off there)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = torch_thread_count()  # torch itself is not imported for this
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if needs_exact_int8(*this_cpu()) if exact_int8 is None else exact_int8:
        options.add_session_config_entry("session.x64quantprecision", "1")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def torch_thread_count() -> int:
    """The threads torch computes with: its own setting once torch is loaded (`--threads` sets it); else what torch
    would start with, without loading it (seconds and hundreds of MB where every model runs in ONNX Runtime):
    $OMP_NUM_THREADS, else $MKL_NUM_THREADS, else the physical cores this process may run on."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        return torch.get_num_threads()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topology / "physical_package_id").read_text().strip(), (topology / "core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))
