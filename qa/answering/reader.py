"""Extractive readers: pick answer spans out of passages with a transformers question-answering model."""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from corpus.files import write_atomically
from qa.answering.spans import decode_spans
from qa.answering.types import Passage, Span

log = logging.getLogger(__name__)

SHIPPED_READER = Path(__file__).resolve().parents[1] / "models" / "reader"
READER_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


class ReaderNotInstalledError(FileNotFoundError):
    """No reader model at the expected folder."""


def shipped_reader_path() -> Path:
    """The reader shipped as package data; a clear error if it is not there."""
    if not (SHIPPED_READER / "config.json").is_file():
        raise ReaderNotInstalledError(
            f"no reader model is installed at {SHIPPED_READER}: train one with `citeqa train-reader` "
            "or pass a transformers question-answering model folder (--reader DIR / Config.reader_model)"
        )
    return SHIPPED_READER


def recorded_settings(model_dir: Path) -> dict:
    """The `citeqa` block of a model folder's config.json (threshold, window settings); {} if absent."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    settings = config.get("citeqa")
    return settings if isinstance(settings, dict) else {}


def record_settings(model_dir: Path, **settings) -> None:
    """Update keys of the `citeqa` block in a model folder's config.json, atomically."""
    path = Path(model_dir) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.setdefault("citeqa", {}).update(settings)
    write_atomically(path, [json.dumps(config, indent=2, sort_keys=True) + "\n"])


@runtime_checkable
class Reader(Protocol):
    """Reads passages for a question and returns candidate spans, best first."""

    no_answer_threshold: float
    early_stop_score: float | None  # a span scoring this in the first passages ends the reading (None: read all)

    def read(self, question: str, passages: Sequence[Passage], top_n: int = 5) -> list[Span]:
        """Candidate spans, best first; `top_n` per window."""
        ...

    def description(self) -> dict:
        """What an evaluation report records of the reader: its model, window and runtime."""
        ...


class TorchLogits:
    """The model run by PyTorch in fp32: the reference path."""

    def __init__(self, model_dir: Path):
        import torch
        from transformers import AutoModelForQuestionAnswering

        self._model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
        self._model.eval()

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            output = self._model(**{name: torch.from_numpy(array) for name, array in inputs.items()})
        return output.start_logits.float().numpy(), output.end_logits.float().numpy()


class OnnxLogits:
    """The model run by ONNX Runtime (fused graph; int8 weights for `onnx-int8`); sessions are thread-safe."""

    def __init__(self, model_dir: Path, backend: str):
        from embeddings.onnx_graph import inference_session
        from qa.answering.onnx_export import ensure_onnx

        self._session = inference_session(ensure_onnx(model_dir, backend))
        self._names = {i.name for i in self._session.get_inputs()}

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        start, end = self._session.run(None, {k: v for k, v in inputs.items() if k in self._names})
        return start, end


def resolve_backend(model_dir: Path, backend: str) -> str:
    """`auto` is the backend recorded for this model (`citeqa.backend` in config.json, chosen by measurement), else torch."""
    if backend not in READER_BACKENDS:
        raise ValueError(f"unknown reader backend {backend!r}: choose one of {', '.join(READER_BACKENDS)}")
    if backend != "auto":
        return backend
    preferred = recorded_settings(model_dir).get("backend", "torch")
    if preferred != "torch" and importlib.util.find_spec("onnxruntime") is None:
        log.warning("onnxruntime is not installed; the reader runs in PyTorch")
        return "torch"
    return preferred if preferred in READER_BACKENDS[1:] else "torch"


class ExtractiveReader:
    """Any `AutoModelForQuestionAnswering` folder with a fast tokenizer; loads lazily, once; thread-safe.

    Each passage is split into windows of `max_length` tokens overlapping by `stride`; all windows of
    a question go through the model in length-sorted batches; spans are scored against each window's
    no-answer logit so scores compare across passages.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        threshold: float | None = None,
        max_length: int | None = None,
        stride: int | None = None,
        max_answer_tokens: int = 30,
        max_question_tokens: int = 64,
        max_windows_per_passage: int = 8,
        batch_size: int = 16,
        backend: str = "auto",
    ):
        self.model_dir = Path(model_dir) if model_dir is not None else shipped_reader_path()
        if not (self.model_dir / "config.json").is_file():
            raise ReaderNotInstalledError(f"not a transformers model folder (no config.json): {self.model_dir}")
        settings = recorded_settings(self.model_dir)
        self.no_answer_threshold = float(settings.get("no_answer_threshold", 0.0)) if threshold is None else float(threshold)
        recorded_stop = settings.get("early_stop_score")
        self.early_stop_score = float(recorded_stop) if isinstance(recorded_stop, (int, float)) else None
        self.max_length = int(settings.get("max_length", 384)) if max_length is None else int(max_length)
        self.stride = int(settings.get("stride", 128)) if stride is None else int(stride)
        if not 0 <= self.stride < self.max_length:
            raise ValueError(f"the reader's stride ({self.stride}) must be at least 0 and smaller than its window "
                             f"length ({self.max_length}) for {self.model_dir}")
        self.max_answer_tokens = max_answer_tokens
        self.max_question_tokens = max_question_tokens
        self.max_windows_per_passage = max_windows_per_passage
        self.batch_size = batch_size
        self.backend = resolve_backend(self.model_dir, backend)
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()  # fast tokenizers fail ("Already borrowed") when shared unlocked

    def description(self) -> dict:
        return {"reader": str(self.model_dir), "reader_max_length": self.max_length, "reader_stride": self.stride,
                "reader_backend": self.backend}

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from embeddings.fast_tokenizer import load_tokenizer  # no torch for the ONNX backends

                    tokenizer = load_tokenizer(self.model_dir)
                    if not tokenizer.is_fast:
                        raise ValueError(f"the reader at {self.model_dir} needs a fast tokenizer (tokenizer.json)")
                    model = TorchLogits(self.model_dir) if self.backend == "torch" else OnnxLogits(self.model_dir, self.backend)
                    self._tokenizer = tokenizer
                    self._model = model
        return self._model, self._tokenizer

    def clip_question(self, question: str) -> str:
        """The question cut to `max_question_tokens` tokens (with a warning), so the context keeps room."""
        _, tokenizer = self._load()
        with self._tokenizer_lock:
            encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        limit = min(self.max_question_tokens, (self.max_length - 3) // 2, self.max_length - self.stride - 4)
        if len(offsets) <= limit:
            return question
        log.warning("question of %d tokens cut to %d for the reader", len(offsets), limit)
        return question[: offsets[limit - 1][1]]

    def windows(self, question: str, passages: Sequence[Passage]):
        """The tokenised windows the model reads for `passages` (at most `max_windows_per_passage` each),
        shortest first: (the tokenizer's encoding, the indices of the windows kept)."""
        _, tokenizer = self._load()
        question = self.clip_question(question.strip())
        with self._tokenizer_lock:
            encoded = tokenizer(
                [question] * len(passages),
                [p.chunk.text for p in passages],
                truncation="only_second",
                max_length=self.max_length,
                stride=self.stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                padding=False,
            )
        windows: list[int] = []
        per_passage: dict[int, int] = {}
        for w, p in enumerate(encoded["overflow_to_sample_mapping"]):
            if per_passage.get(p, 0) < self.max_windows_per_passage:
                per_passage[p] = per_passage.get(p, 0) + 1
                windows.append(w)
        windows.sort(key=lambda w: len(encoded["input_ids"][w]))
        return encoded, windows

    def read(self, question: str, passages: Sequence[Passage], top_n: int = 5) -> list[Span]:
        if not passages:
            return []
        model, tokenizer = self._load()
        encoded, windows = self.windows(question, passages)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        has_types = "token_type_ids" in encoded
        best: dict[tuple[int, int, int], Span] = {}
        for begin in range(0, len(windows), self.batch_size):
            batch = windows[begin : begin + self.batch_size]
            longest = max(len(encoded["input_ids"][w]) for w in batch)
            ids = np.full((len(batch), longest), pad, dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.int64)
            types = np.zeros((len(batch), longest), dtype=np.int64)
            for row, w in enumerate(batch):
                n = len(encoded["input_ids"][w])
                ids[row, :n] = encoded["input_ids"][w]
                mask[row, :n] = 1
                if has_types:
                    types[row, :n] = encoded["token_type_ids"][w]
            inputs = {"input_ids": ids, "attention_mask": mask}
            if has_types:
                inputs["token_type_ids"] = types
            starts, ends = model(inputs)
            for row, w in enumerate(batch):
                passage_index = encoded["overflow_to_sample_mapping"][w]
                sequence_ids = encoded.sequence_ids(w)
                offsets = [
                    tuple(o) if sequence_ids[t] == 1 else None
                    for t, o in enumerate(encoded["offset_mapping"][w])
                ]
                passage = passages[passage_index]
                for span in decode_spans(starts[row], ends[row], offsets, max_answer_tokens=self.max_answer_tokens, top_n=top_n):
                    key = (passage_index, span.start_char, span.end_char)
                    if key not in best or best[key].score < span.score:
                        best[key] = Span(
                            text=passage.chunk.text[span.start_char : span.end_char],
                            score=span.score,
                            passage=passage,
                            start=span.start_char,
                            end=span.end_char,
                            start_logit=span.start_logit,
                            end_logit=span.end_logit,
                            null_logit=span.null_logit,
                        )
        return sorted(best.values(), key=lambda s: (-s.score, s.passage.rank, s.start))
