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
    """A calibrator file that cannot be used: not JSON, another format, or features this code does not compute.
    A calibrator names the features it uses, so one trained before features were added still loads."""


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function of log-odds, clipped so that no exp overflows."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted regression trees on the log-odds: `init` plus `learning_rate` times each tree's leaf.
    Node arrays are (trees × nodes), padded with leaves, so all trees are walked at once."""

    init: float
    learning_rate: float
    feature: np.ndarray  # the feature index of each node (-1 at a leaf)
    threshold: np.ndarray  # go left when value <= threshold
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @classmethod
    def from_lists(cls, init: float, learning_rate: float, trees: Sequence[dict[str, np.ndarray]]) -> "Trees":
        width = max(len(tree["feature"]) for tree in trees)

        def padded(name: str, fill, dtype) -> np.ndarray:
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, tree in enumerate(trees):
                out[i, : len(tree[name])] = tree[name]
            return out

        return cls(init, learning_rate, padded("feature", -1, np.int64), padded("threshold", 0.0, np.float64),
                   padded("left", 0, np.int64), padded("right", 0, np.int64), padded("value", 0.0, np.float64))

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        trees = np.arange(self.feature.shape[0])[None, :]
        rows = np.arange(len(x))[:, None]
        node = np.zeros((len(x), self.feature.shape[0]), dtype=np.int64)
        while True:
            feature = self.feature[trees, node]
            inner = feature >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(feature, 0)] <= self.threshold[trees, node]
            node = np.where(inner, np.where(go_left, self.left[trees, node], self.right[trees, node]), node)
        return self.init + self.learning_rate * self.value[trees, node].sum(axis=1)


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
    columns: tuple[int, ...]  # where each of the model's features sits in a `FEATURE_NAMES` row
    platt_a: float
    platt_b: float
    default_min_confidence: float
    guess_floor: float
    recipe: dict

    def probabilities(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        x = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))[:, list(self.columns)]
        return sigmoid(self.platt_a * self.model.log_odds(x) + self.platt_b)

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "calibrator") -> "AnswerCalibrator":
        try:
            if data.get("format") != CALIBRATOR_FORMAT or data.get("version") != CALIBRATOR_VERSION:
                raise CalibratorError(f"{where} is not a {CALIBRATOR_FORMAT} file of version {CALIBRATOR_VERSION}")
            names = [str(name) for name in data["features"]]
            unknown = [name for name in names if name not in FEATURE_NAMES]
            if unknown or not names or len(set(names)) != len(names):
                problem = f"unknown {', '.join(unknown)}" if unknown else "none or repeated ones"
                raise CalibratorError(f"{where} was trained on features this citeqa does not compute ({problem}): "
                                      "retrain it with `citeqa train-calibrator`")
            model = model_from(data["model"], len(names))
            columns = tuple(FEATURE_NAMES.index(name) for name in names)
            calibrator = cls(model, columns, float(data["platt"]["a"]), float(data["platt"]["b"]),
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


def model_from(data: dict, width: int = len(FEATURE_NAMES)) -> Trees | Logistic:
    """The model of a calibrator file's "model" data, checked (a `CalibratorError` names what is wrong)."""
    if data["kind"] == "logistic":
        arrays = [np.asarray(data[name], dtype=np.float64) for name in ("mean", "scale", "coef")]
        if any(a.shape != (width,) for a in arrays) or not all(np.isfinite(a).all() for a in arrays):
            raise CalibratorError(f"logistic calibrator needs {width} finite values per array")
        return Logistic(*arrays, float(data["intercept"]))
    if data["kind"] == "trees":
        trees = []
        for i, tree in enumerate(data["trees"]):
            parts = {name: np.asarray(tree[name], dtype=np.int64 if name in ("feature", "left", "right") else np.float64)
                     for name in ("feature", "threshold", "left", "right", "value")}
            nodes = len(parts["feature"])
            if nodes == 0 or any(part.shape != (nodes,) for part in parts.values()):
                raise CalibratorError(f"tree {i} has arrays of different lengths")
            if (parts["feature"] >= width).any() or not np.isfinite(parts["value"]).all():
                raise CalibratorError(f"tree {i} uses a feature index beyond the {width} features or a non-finite leaf")
            parents = np.flatnonzero(parts["feature"] >= 0)
            for children in (parts["left"][parents], parts["right"][parents]):
                if (children <= parents).any() or (children >= nodes).any():  # children after parents: walks end
                    raise CalibratorError(f"tree {i} has a child index out of order or out of range")
            trees.append(parts)
        if not trees:
            raise CalibratorError("a trees calibrator needs at least one tree")
        return Trees.from_lists(float(data["init"]), float(data["learning_rate"]), trees)
    raise CalibratorError(f"unknown calibrator model kind {data['kind']!r}: logistic or trees")


def load_calibrator(model_dir: str | Path) -> AnswerCalibrator | None:
    """The calibrator shipped in a reader folder, None when it has none; a clear error when it is unusable."""
    path = Path(model_dir) / CALIBRATOR_FILE
    return read_calibrator(path) if path.is_file() else None


def read_calibrator(path: str | Path) -> AnswerCalibrator:
    """A calibrator file, checked; a `CalibratorError` names what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CalibratorError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise CalibratorError(f"{path} is not a JSON object")
    return AnswerCalibrator.from_dict(data, where=str(path))
