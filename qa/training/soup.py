"""Average the weights of readers fine-tuned from one lineage into one reader (a "model soup").

Readers that continue the same run sit in one basin of the loss, so their weighted mean is a model of
its own that often scores above each of them (Wortsman et al. 2022) at no inference cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Settings fitted to one model's scores: a soup must be calibrated anew (`citeqa calibrate-reader`, ...).
CALIBRATED_SETTINGS = ("no_answer_threshold", "threshold_fitted_on", "early_stop_score")


def soup_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """Weights normalised to sum 1 (equal when None); a clear error for a wrong count or a weight <= 0."""
    if count < 2:
        raise ValueError(f"averaging needs at least two readers, got {count}")
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} readers")
    for w in weights:
        if not w > 0:
            raise ValueError(f"weights must be positive, got {w}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def average_readers(folders: Sequence[str | Path], out_dir: str | Path, weights: Sequence[float] | None = None) -> Path:
    """Write the weighted mean of the readers in `folders` to `out_dir` (fp16, atomically).

    The tokenizer and window settings come from the first folder; the calibrated settings are dropped
    and the ingredients recorded under `citeqa.training.soup`.
    """
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.answering.reader import recorded_settings
    from qa.training.train import export_reader

    folders = [Path(f) for f in folders]
    shares = soup_weights(len(folders), weights)
    for folder in folders:
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"not a transformers model folder (no config.json): {folder}")
    def load(folder: Path):
        return AutoModelForQuestionAnswering.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)

    model = load(folders[0])
    mean = {name: tensor.detach().float() * shares[0] for name, tensor in model.state_dict().items()}
    for folder, share in zip(folders[1:], shares[1:]):
        other = load(folder).state_dict()
        if other.keys() != mean.keys() or any(other[k].shape != mean[k].shape for k in mean):
            raise ValueError(f"{folder} does not have the architecture of {folders[0]}: only readers of one lineage average")
        for name, tensor in other.items():
            mean[name] += tensor.float() * share
    model.load_state_dict(mean)
    settings = {k: v for k, v in recorded_settings(folders[0]).items() if k not in CALIBRATED_SETTINGS}
    training = dict(settings.get("training", {}))
    trained = [recorded_settings(folder).get("training", {}) for folder in folders]
    training["soup"] = [
        {"reader": folder.name, "weight": round(share, 6), "run": run.get("run"), "global_step": run.get("global_step"),
         **({"soup": run["soup"]} if "soup" in run else {})}  # an ingredient that is itself a soup keeps its recipe
        for folder, share, run in zip(folders, shares, trained)
    ]
    settings["training"] = training
    tokenizer = AutoTokenizer.from_pretrained(str(folders[0]), local_files_only=True)
    return export_reader(model, tokenizer, out_dir, settings)
