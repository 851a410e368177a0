"""The answer calibrator: candidate features (qa.answering.features) to the probability that the answer is
right. Shipped as plain JSON in the reader's folder (`calibrator.json`: boosted trees or logistic
coefficients, then Platt scaling), evaluated with numpy; never a pickle, which would run code on load."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.features import FEATURE_NAMES

CALIBRATOR_FILE = "calibrator.json"
CALIBRATOR_FORMAT = "citeqa-answer-calibrator"
CALIBRATOR_VERSION = 1


class CalibratorError(ValueError):
    """A calibrator file that cannot be used: not JSON, another format, or features this code does not compute."""


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted regression trees on the log-odds: `init` plus `learning_rate` times each tree's leaf."""

    init: float
    learning_rate: float
    feature: tuple[np.ndarray, ...]  # per tree, per node: the feature index (-1 at a leaf)
    threshold: tuple[np.ndarray, ...]  # go left when value <= threshold
    left: tuple[np.ndarray, ...]
    right: tuple[np.ndarray, ...]
    value: tuple[np.ndarray, ...]

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        total = np.full(len(x), self.init, dtype=np.float64)
        rows = np.arange(len(x))
        for feature, threshold, left, right, value in zip(self.feature, self.threshold, self.left, self.right, self.value):
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                inner = feature[node] >= 0
                if not inner.any():
                    break
                go_left = x[rows, np.maximum(feature[node], 0)] <= threshold[node]
                node = np.where(inner, np.where(go_left, left[node], right[node]), node)
            total += self.learning_rate * value[node]
        return total


@dataclass(frozen=True)
class Logistic:
    """Logistic regression on standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


@dataclass(frozen=True)
class AnswerCalibrator:
    """Probability of being right for each candidate's features; `default_min_confidence` is the measured
    setting below which the assistant abstains, `guess_floor` the probability below which an abstention
    shows no best guess ("the documents don't say")."""

    model: Trees | Logistic
    platt_a: float
    platt_b: float
    default_min_confidence: float
    guess_floor: float
    recipe: dict

    def probabilities(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        x = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        z = self.platt_a * self.model.log_odds(x) + self.platt_b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "calibrator") -> "AnswerCalibrator":
        try:
            if data.get("format") != CALIBRATOR_FORMAT or data.get("version") != CALIBRATOR_VERSION:
                raise CalibratorError(f"{where} is not a {CALIBRATOR_FORMAT} file of version {CALIBRATOR_VERSION}")
            if tuple(data["features"]) != FEATURE_NAMES:
                raise CalibratorError(f"{where} was trained on other features than this citeqa computes: retrain it "
                                      "with `citeqa train-calibrator`")
            model = _model_from(data["model"], len(FEATURE_NAMES))
            calibrator = cls(model, float(data["platt"]["a"]), float(data["platt"]["b"]),
                             float(data["default_min_confidence"]), float(data["guess_floor"]), dict(data.get("recipe", {})))
        except (KeyError, TypeError, ValueError, IndexError) as err:
            if isinstance(err, CalibratorError):
                raise
            raise CalibratorError(f"{where} is malformed ({type(err).__name__}: {err})") from err
        for name in ("default_min_confidence", "guess_floor"):
            value = getattr(calibrator, name)
            if not 0.0 <= value <= 1.0:
                raise CalibratorError(f"{where}: {name} must be a probability in [0, 1], got {value}")
        if not (math.isfinite(calibrator.platt_a) and math.isfinite(calibrator.platt_b)):
            raise CalibratorError(f"{where}: the Platt scaling is not finite")
        return calibrator


def _model_from(data: dict, width: int) -> Trees | Logistic:
    if data["kind"] == "logistic":
        arrays = [np.asarray(data[name], dtype=np.float64) for name in ("mean", "scale", "coef")]
        if any(a.shape != (width,) for a in arrays) or not all(np.isfinite(a).all() for a in arrays):
            raise CalibratorError(f"logistic calibrator needs {width} finite values per array")
        return Logistic(*arrays, float(data["intercept"]))
    if data["kind"] == "trees":
        trees = data["trees"]
        parts = {name: tuple(np.asarray(tree[name], dtype=np.int64 if name in ("feature", "left", "right") else np.float64)
                             for tree in trees) for name in ("feature", "threshold", "left", "right", "value")}
        for i in range(len(trees)):
            nodes = len(parts["feature"][i])
            if nodes == 0 or any(len(parts[name][i]) != nodes for name in parts):
                raise CalibratorError(f"tree {i} has arrays of different lengths")
            inner = parts["feature"][i] >= 0
            if (parts["feature"][i] >= width).any():
                raise CalibratorError(f"tree {i} uses a feature index beyond the {width} features")
            parents = np.flatnonzero(inner)
            for children in (parts["left"][i][parents], parts["right"][i][parents]):
                if (children <= parents).any() or (children >= nodes).any():  # children after parents: walks end
                    raise CalibratorError(f"tree {i} has a child index out of order or out of range")
        return Trees(float(data["init"]), float(data["learning_rate"]), **parts)
    raise CalibratorError(f"unknown calibrator model kind {data['kind']!r}: logistic or trees")


def load_calibrator(model_dir: str | Path) -> AnswerCalibrator | None:
    """The calibrator shipped in a reader folder, None when it has none; a clear error when it is unusable."""
    path = Path(model_dir) / CALIBRATOR_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CalibratorError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise CalibratorError(f"{path} is not a JSON object")
    return AnswerCalibrator.from_dict(data, where=str(path))
