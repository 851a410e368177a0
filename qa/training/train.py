"""Fine-tune a transformers encoder into the extractive reader, with checkpoints that survive restarts.

A run lives in one folder (default `~/.cache/citeqa/train/<run>`): the tokenised windows
(built once), and `checkpoint.pt` holding model, optimizer, scheduler, RNG states and the
position in the data, rewritten atomically every few minutes. `--resume` continues exactly
from there; when the cache is gone, `warm_start` continues from exported weights and the
step their config records.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus.sentences import sentence_spans
from qa.evaluation.datasets import QAExample, load_squad
from qa.training.labelling import LabelledWindow, label_windows, normalise_answer_span
from qa.training.perturbation import perturbed_question
from qa.answering.reader import recorded_settings

CHECKPOINT_FILE = "checkpoint.pt"
FEATURES_FILE = "features.pt"


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of a reader training run; stored with the checkpoint and in the exported config."""

    base_model: str
    train_files: tuple[str, ...]
    run_dir: str
    max_length: int = 256
    stride: int = 128
    batch_size: int = 32
    learning_rate: float = 1.5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    epochs: float = 2.0
    negative_ratio: float = 0.5
    # Share of questions also paired with their own paragraph minus the sentences holding the answer.
    answer_removed_ratio: float = 0.0
    # Share of questions also rewritten (negated, or a word swapped for its antonym) into a question
    # their own paragraph cannot answer, labelled unanswerable (qa.training.perturbation).
    perturbed_ratio: float = 0.0
    # Dropout on attention probabilities. 0 lets torch run its fused attention kernel on the CPU (a step
    # measured 1.6x faster than at the base model's 0.1); None keeps the base model's value.
    attention_dropout: float | None = 0.0
    seed: int = 13
    checkpoint_minutes: float = 10.0
    max_steps: int | None = None  # stop here (the schedule still spans `epochs`)
    # The step where the learning rate reaches 0, instead of after `epochs`: training in segments that
    # each end annealed, so a segment's weights can ship even if the next one never runs.
    schedule_steps: int | None = None
    limit_questions: int | None = None
    # Reader folders whose mean start/end probabilities the student also learns (qa.training.distillation), with
    # this weight against the gold-span loss, at this softmax temperature. Empty: no distillation.
    teachers: tuple[str, ...] = ()
    distill_weight: float = 0.5
    distill_temperature: float = 2.0

    def data_key(self) -> str:
        """Hash of what determines the tokenised windows, so a stale cache is never reused."""
        parts = [self.base_model, str(self.max_length), str(self.stride), str(self.negative_ratio),
                 str(self.seed), str(self.limit_questions)]
        if self.answer_removed_ratio:  # absent when 0, so runs from before the setting keep their key
            parts.append(f"answer_removed={self.answer_removed_ratio}")
        if self.perturbed_ratio:
            parts.append(f"perturbed={self.perturbed_ratio}")
        for name in self.train_files:
            stat = Path(name).stat()
            parts += [str(Path(name).resolve()), str(stat.st_size)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainingSample:
    """A question paired with a context; `answer_span` is (-1, -1) for a negative pair."""

    question: str
    context: str
    answer_span: tuple[int, int]


def _contains_any(text: str, answers: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(a.strip().lower() in lowered for a in answers if a.strip())


def negative_contexts(examples: list[QAExample], ratio: float, seed: int) -> list[TrainingSample]:
    """Pair a `ratio` share of questions with the most BM25-similar other paragraph of the same article
    that does not contain any of their answers, labelled as unanswerable."""
    import bm25s

    rng = random.Random(seed)
    chosen = [ex for ex in examples if ex.answers and rng.random() < ratio]
    by_title: dict[str | None, list[str]] = {}
    for ex in examples:
        paragraphs = by_title.setdefault(ex.title, [])
        if ex.context is not None and (not paragraphs or paragraphs[-1] != ex.context):
            if ex.context not in paragraphs:
                paragraphs.append(ex.context)
    retrievers: dict[str | None, bm25s.BM25] = {}
    negatives = []
    for ex in chosen:
        paragraphs = by_title[ex.title]
        candidates = [i for i, p in enumerate(paragraphs) if p != ex.context and not _contains_any(p, ex.answers)]
        if not candidates:
            continue
        if ex.title not in retrievers:
            retriever = bm25s.BM25()
            retriever.index(bm25s.tokenize(paragraphs, stopwords="en", show_progress=False), show_progress=False)
            retrievers[ex.title] = retriever
        query = bm25s.tokenize([ex.question], stopwords="en", show_progress=False, return_ids=False)[0]
        # a question without a BM25 term ("Is it?", "?") matches nothing: the first candidate stands in
        scores = retrievers[ex.title].get_scores(query) if query else [0.0] * len(paragraphs)
        best = max(candidates, key=lambda i: (scores[i], -i))
        negatives.append(TrainingSample(ex.question, paragraphs[best], (-1, -1)))
    return negatives


def _own_paragraph_negatives(examples: list[QAExample], ratio: float, rng: random.Random,
                             rewrite: Callable[[QAExample], TrainingSample | None]) -> list[TrainingSample]:
    """`rewrite` applied to a `ratio` share of the answerable questions (one draw per example, in order);
    the questions it declines (None) are skipped."""
    negatives = []
    for ex in examples:
        if rng.random() >= ratio or not ex.answers or ex.context is None:
            continue
        negative = rewrite(ex)
        if negative is not None:
            negatives.append(negative)
    return negatives


def answer_removed_contexts(examples: list[QAExample], ratio: float, seed: int) -> list[TrainingSample]:
    """Pair a `ratio` share of questions with their own paragraph minus every sentence holding one of their
    answers, labelled as unanswerable: the topic and the distractors stay, as in SQuAD 2.0's unanswerable
    questions, which other-paragraph negatives do not teach. Skipped when nothing or an answer would remain."""
    def without_answer_sentences(ex: QAExample) -> TrainingSample | None:
        kept = [ex.context[start:end] for start, end in sentence_spans(ex.context)
                if not _contains_any(ex.context[start:end], ex.answers)]
        context = " ".join(kept)
        if context and not _contains_any(context, ex.answers):
            return TrainingSample(ex.question, context, (-1, -1))
        return None

    return _own_paragraph_negatives(examples, ratio, random.Random(f"{seed}:answer-removed"), without_answer_sentences)


def perturbed_question_contexts(examples: list[QAExample], ratio: float, seed: int) -> list[TrainingSample]:
    """Pair a `ratio` share of questions, rewritten so that their own paragraph cannot answer them
    (`qa.training.perturbation.perturbed_question`), with that paragraph, labelled unanswerable; questions no rule
    rewrites are skipped."""
    def rewritten(ex: QAExample) -> TrainingSample | None:
        question = perturbed_question(ex.question, ex.context)
        return None if question is None else TrainingSample(question, ex.context, (-1, -1))

    return _own_paragraph_negatives(examples, ratio, random.Random(f"{seed}:perturbed"), rewritten)


def training_samples(config: TrainingConfig) -> list[TrainingSample]:
    """Positive samples from every training file (and its questions marked unanswerable, as negatives), then
    the same-article, answer-removed and perturbed-question negatives."""
    examples: list[QAExample] = []
    for name in config.train_files:
        examples.extend(load_squad(name))
    if config.limit_questions is not None:
        examples = examples[: config.limit_questions]
    samples = []
    for ex in examples:
        if ex.context is None:
            continue
        if not ex.answers:  # a SQuAD 2.0 question marked unanswerable: its own paragraph is a negative
            samples.append(TrainingSample(ex.question, ex.context, (-1, -1)))
            continue
        span = normalise_answer_span(ex.context, ex.answers[0], ex.answer_starts[0])
        samples.append(TrainingSample(ex.question, ex.context, span))
    return (samples + negative_contexts(examples, config.negative_ratio, config.seed)
            + answer_removed_contexts(examples, config.answer_removed_ratio, config.seed)
            + perturbed_question_contexts(examples, config.perturbed_ratio, config.seed))


def tokenise_samples(tokenizer, samples: list[TrainingSample], config: TrainingConfig, chunk: int = 2000) -> list[LabelledWindow]:
    from tqdm.auto import tqdm

    windows: list[LabelledWindow] = []
    for begin in tqdm(range(0, len(samples), chunk), desc="tokenising", unit="chunk"):
        part = samples[begin : begin + chunk]
        labelled = label_windows(
            tokenizer,
            [s.question for s in part],
            [s.context for s in part],
            [s.answer_span for s in part],
            max_length=config.max_length,
            stride=config.stride,
        )
        for sample_windows in labelled:
            windows.extend(sample_windows)
    return windows


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int, pool: int = 50) -> list[list[int]]:
    """Deterministic batches for one epoch: shuffle, sort pools of `pool` batches by length (less
    padding), then shuffle the batch order. The same (seed, epoch) always gives the same batches."""
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    span = batch_size * pool
    for begin in range(0, len(order), span):
        group = sorted(order[begin : begin + span], key=lambda i: lengths[i])
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return batches


def collate(windows: list[LabelledWindow], indices: list[int], pad_id: int):
    """Pad one batch to its longest window."""
    import torch

    longest = max(len(windows[i].input_ids) for i in indices)
    ids = torch.full((len(indices), longest), pad_id, dtype=torch.long)
    types = torch.zeros((len(indices), longest), dtype=torch.long)
    mask = torch.zeros((len(indices), longest), dtype=torch.long)
    for row, i in enumerate(indices):
        n = len(windows[i].input_ids)
        ids[row, :n] = torch.tensor(windows[i].input_ids)
        types[row, :n] = torch.tensor(windows[i].token_type_ids)
        mask[row, :n] = 1
    starts = torch.tensor([windows[i].start_position for i in indices])
    ends = torch.tensor([windows[i].end_position for i in indices])
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
            "start_positions": starts, "end_positions": ends}


def _atomic_torch_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class TrainingState:
    """Where a run stands: the next batch to take is `batches[epoch][batch_in_epoch]`."""

    global_step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)


def load_windows(config: TrainingConfig, tokenizer) -> list[LabelledWindow]:
    """Tokenised windows for the run, built once and cached in the run folder."""
    import torch

    run_dir = Path(config.run_dir)
    cache = run_dir / FEATURES_FILE
    key = config.data_key()
    if cache.exists():
        stored = torch.load(cache, weights_only=False)
        if stored.get("key") == key:
            return stored["windows"]
    samples = training_samples(config)
    windows = tokenise_samples(tokenizer, samples, config)
    run_dir.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save({"key": key, "windows": windows, "samples": len(samples)}, cache)
    return windows


def export_reader(model, tokenizer, out_dir: str | Path, citeqa_settings: dict) -> Path:
    """Write a reader folder (fp16 safetensors, tokenizer, config with citeqa settings), atomically."""
    import copy

    import torch

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp-export")
    shutil.rmtree(tmp, ignore_errors=True)
    previous = recorded_settings(out_dir) if out_dir.exists() else {}
    if "backend" in previous and "backend" not in citeqa_settings:  # the measured backend choice carries over
        citeqa_settings = {**citeqa_settings, "backend": previous["backend"]}
    half = copy.deepcopy(model).to(torch.float16)
    half.config.citeqa = citeqa_settings
    half.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if out_dir.exists():
        for keep in ("README.md",):
            if (out_dir / keep).exists() and not (tmp / keep).exists():
                shutil.copy2(out_dir / keep, tmp / keep)
        old = out_dir.with_name(out_dir.name + ".old-export")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)
    return out_dir


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")  # BERT-likes, DistilBERT-likes


def model_for_training(folder: str, attention_dropout: float | None):
    """The QA model of `folder` in fp32, its attention dropout set to `attention_dropout` (unless None)."""
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    model_config = AutoConfig.from_pretrained(folder)
    if attention_dropout is not None:
        for key in ATTENTION_DROPOUT_KEYS:
            if key in model_config.to_dict():
                setattr(model_config, key, attention_dropout)
    return AutoModelForQuestionAnswering.from_pretrained(folder, config=model_config, dtype=torch.float32)


@dataclass
class _Run:
    """What the steps of one `train_reader` run share: the model and its optimizer, the data, the step plan."""

    config: TrainingConfig
    checkpoint_path: Path
    tokenizer: Any
    model: Any
    teachers: Any  # a qa.training.distillation.TeacherEnsemble, or None
    windows: list[LabelledWindow]
    steps_per_epoch: int
    total_steps: int
    stop_at: int
    optimizer: Any
    scheduler: Any
    state: TrainingState = field(default_factory=TrainingState)


def _open_run_folder(config: TrainingConfig, resume: bool) -> tuple[Path, dict | None]:
    """The run folder's checkpoint path and, when resuming, its checkpoint (checked against `config`)."""
    import torch

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / CHECKPOINT_FILE
    checkpoint = None
    if checkpoint_path.exists():
        if not resume:
            raise FileExistsError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, or choose another --run")
        checkpoint = torch.load(checkpoint_path, weights_only=False)
        stored = checkpoint["config"]
        if stored["data_key"] != config.data_key():
            raise ValueError(f"the checkpoint in {run_dir} was made with other data or settings; start a new --run")
    return checkpoint_path, checkpoint


def _load_models(config: TrainingConfig, warm_start: str | None):
    """Seed torch, then load the tokenizer, the model to train and the distillation teachers (None without)."""
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(warm_start or config.base_model)
    model = model_for_training(warm_start or config.base_model, config.attention_dropout)
    model.train()
    teachers = None
    if config.teachers:
        from qa.training.distillation import TeacherEnsemble

        teachers = TeacherEnsemble(config.teachers, tokenizer.get_vocab())
    return tokenizer, model, teachers


def _plan_steps(config: TrainingConfig, windows: int) -> tuple[int, int, int]:
    """Steps per epoch, the step where the learning rate reaches 0, and the step to stop at."""
    steps_per_epoch = math.ceil(windows / config.batch_size)
    total_steps = int(steps_per_epoch * config.epochs) if config.schedule_steps is None else config.schedule_steps
    # max_steps stops early without changing the learning-rate schedule, so a run stopped there and
    # resumed follows the same path as one never stopped.
    stop_at = total_steps if config.max_steps is None else min(total_steps, config.max_steps)
    return steps_per_epoch, total_steps, stop_at


def _optimizer_and_scheduler(model, config: TrainingConfig, total_steps: int):
    """AdamW (no weight decay on biases and norms) and a linear warmup-then-decay schedule over `total_steps`."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight", "layernorm", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": config.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_fraction * total_steps), total_steps)
    return optimizer, scheduler


def _build_run(config: TrainingConfig, checkpoint_path: Path, warm_start: str | None) -> _Run:
    """Models, tokenised windows, step plan, optimizer and scheduler of a run, at step 0."""
    tokenizer, model, teachers = _load_models(config, warm_start)
    windows = load_windows(config, tokenizer)
    steps_per_epoch, total_steps, stop_at = _plan_steps(config, len(windows))
    optimizer, scheduler = _optimizer_and_scheduler(model, config, total_steps)
    return _Run(config, checkpoint_path, tokenizer, model, teachers, windows, steps_per_epoch, total_steps, stop_at,
                optimizer, scheduler)


def _restore_checkpoint(run: _Run, checkpoint: dict, log) -> None:
    """Continue exactly where `checkpoint` left off: weights, optimizer, schedule, position and RNG states."""
    import torch

    run.model.load_state_dict(checkpoint["model"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    run.scheduler.load_state_dict(checkpoint["scheduler"])
    run.state = state = TrainingState(**checkpoint["state"])
    torch.set_rng_state(checkpoint["rng"]["torch"])
    random.setstate(checkpoint["rng"]["python"])
    np.random.set_state(checkpoint["rng"]["numpy"])
    log(f"resumed {Path(run.config.run_dir)} at step {state.global_step}/{run.total_steps} "
        f"(epoch {state.epoch}, batch {state.batch_in_epoch})")


def _continue_warm_start(run: _Run, warm_start: str, log) -> None:
    """Continue from exported weights at the step their config records, with fresh optimizer moments."""
    record = json.loads((Path(warm_start) / "config.json").read_text()).get("citeqa", {}).get("training", {})
    step = int(record.get("global_step", 0))
    run.optimizer.step()  # no gradients yet: only lets the scheduler advance without a warning
    for _ in range(step):
        run.scheduler.step()
    state = run.state
    state.global_step = step
    state.epoch, state.batch_in_epoch = divmod(step, run.steps_per_epoch)
    state.seconds = float(record.get("seconds", 0.0))
    schedule_steps = run.config.schedule_steps
    if schedule_steps is not None and step >= schedule_steps:
        raise ValueError(f"{warm_start} is at step {step}: --schedule-steps {schedule_steps} must lie beyond it")
    log(f"warm start from {warm_start} at step {step}/{run.total_steps} (fresh optimizer moments)")


def _save_checkpoint(run: _Run) -> None:
    """Write `checkpoint.pt` atomically: everything a resumed run needs to continue bit-identically."""
    import torch

    _atomic_torch_save({
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "state": asdict(run.state),
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()},
        "config": {**asdict(run.config), "data_key": run.config.data_key()},
    }, run.checkpoint_path)


def _optimizer_step(run: _Run, batch: dict):
    """One optimizer step on `batch` (gold-span loss, mixed with the teachers' when distilling); returns the loss."""
    import torch

    config = run.config
    outputs = run.model(**batch)
    loss = outputs.loss
    if run.teachers is not None:
        from qa.training.distillation import distillation_loss

        soft = distillation_loss(outputs.start_logits, outputs.end_logits,
                                 *run.teachers.probabilities(batch, config.distill_temperature),
                                 batch["attention_mask"], config.distill_temperature)
        loss = (1 - config.distill_weight) * loss + config.distill_weight * soft
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return loss


def _record_step(state: TrainingState, loss, started: float, progress) -> None:
    """Move the state past one step taken, with its loss and the time so far, and show it on the progress bar."""
    state.global_step += 1
    state.batch_in_epoch += 1
    state.losses.append(round(loss.item(), 4))
    state.seconds = time.monotonic() - started
    progress.update(1)
    progress.set_postfix(loss=f"{np.mean(state.losses[-50:]):.3f}", epoch=state.epoch)


def _train_until_stop(run: _Run) -> None:
    """Take steps epoch by epoch until `stop_at`, saving a checkpoint every `checkpoint_minutes`."""
    from tqdm.auto import tqdm

    config, state = run.config, run.state
    lengths = [len(w.input_ids) for w in run.windows]
    progress = tqdm(total=run.stop_at, initial=state.global_step, desc="training", unit="step")
    last_save = time.monotonic()
    started = time.monotonic() - state.seconds
    pad_id = run.tokenizer.pad_token_id if run.tokenizer.pad_token_id is not None else 0
    while state.global_step < run.stop_at:
        batches = epoch_batches(lengths, config.batch_size, config.seed, state.epoch)
        while state.batch_in_epoch < len(batches) and state.global_step < run.stop_at:
            loss = _optimizer_step(run, collate(run.windows, batches[state.batch_in_epoch], pad_id))
            _record_step(state, loss, started, progress)
            if time.monotonic() - last_save >= config.checkpoint_minutes * 60:
                _save_checkpoint(run)
                last_save = time.monotonic()
        if state.batch_in_epoch >= len(batches):
            state.epoch += 1
            state.batch_in_epoch = 0
    progress.close()


def _finish(run: _Run, export_to: str | None) -> None:
    """Save the final checkpoint, then export the reader when `export_to` is set."""
    _save_checkpoint(run)
    if export_to is not None:
        run.model.eval()
        export_reader(run.model, run.tokenizer, export_to, exported_settings(run.config, run.state))


def train_reader(config: TrainingConfig, *, resume: bool = False, warm_start: str | None = None,
                 export_to: str | None = None, log=print) -> TrainingState:
    """Run (or continue) training; returns the final state. Exports the reader when `export_to` is set."""
    checkpoint_path, checkpoint = _open_run_folder(config, resume)
    run = _build_run(config, checkpoint_path, warm_start)
    if checkpoint is not None:
        _restore_checkpoint(run, checkpoint, log)
    elif warm_start is not None:
        _continue_warm_start(run, warm_start, log)
    _train_until_stop(run)
    _finish(run, export_to)
    return run.state


def exported_settings(config: TrainingConfig, state: TrainingState, no_answer_threshold: float = 0.0) -> dict:
    """The `citeqa` block of an exported reader's config.json."""
    return {
        "max_length": config.max_length,
        "stride": config.stride,
        "no_answer_threshold": no_answer_threshold,
        "training": {
            "base_model": Path(config.base_model).name if os.path.isdir(config.base_model) else config.base_model,
            "train_files": [Path(f).name for f in config.train_files],
            "global_step": state.global_step,
            "epoch": state.epoch,
            "seconds": round(state.seconds, 1),
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "epochs": config.epochs,
            "schedule_steps": config.schedule_steps,
            "negative_ratio": config.negative_ratio,
            "answer_removed_ratio": config.answer_removed_ratio,
            "perturbed_ratio": config.perturbed_ratio,
            "attention_dropout": config.attention_dropout,
            "seed": config.seed,
            **({"teachers": [Path(t).name for t in config.teachers], "distill_weight": config.distill_weight,
                "distill_temperature": config.distill_temperature} if config.teachers else {}),
            "run": Path(config.run_dir).name,
        },
    }


def export_checkpoint(run_dir: str | Path, out_dir: str | Path, no_answer_threshold: float | None = None) -> Path:
    """Export a run's latest checkpoint as a reader folder (mid-run too)."""
    import torch
    from transformers import AutoTokenizer

    checkpoint = torch.load(Path(run_dir) / CHECKPOINT_FILE, weights_only=False)
    stored = {k: v for k, v in checkpoint["config"].items() if k != "data_key"}
    stored["train_files"] = tuple(stored["train_files"])
    stored["teachers"] = tuple(stored.get("teachers", ()))
    config = TrainingConfig(**stored)
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = model_for_training(config.base_model, config.attention_dropout)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    state = TrainingState(**checkpoint["state"])
    threshold = 0.0 if no_answer_threshold is None else no_answer_threshold
    return export_reader(model, tokenizer, out_dir, exported_settings(config, state, threshold))
