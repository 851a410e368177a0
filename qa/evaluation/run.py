"""The evaluation run: every question through the assistant (or its reader), timed, then scored by
`qa.evaluation.scoring` into one report."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.chunking import ChunkingSettings
from corpus.documents import Chunk, Document, document_id
from corpus.files import sha256_file, write_atomically
from embeddings.cache import cache_root
from qa.answering.config import Config, embedder_from_config
from qa.answering.pipeline import Assistant, EmptyQuestionError, PassageAnswerer
from qa.indexing.bundled import bundled_index_dir
from qa.indexing.stores import ensure_bundled_index
from embeddings.index import CURRENT, FORMAT_VERSION
from embeddings.passage_index import StoredDocument
from qa.answering.types import Passage, json_ready
from qa.evaluation.datasets import QAExample, QuestionSetError, load_questions, load_squad_paragraphs, spread
from qa.evaluation.scoring import (
    QuestionResult,
    build_report,
    detail_record,
    finite_or_none,
    predictions_of,
    score_question,
    scoring_for,
)


def versions() -> dict:
    """Versions of Python, the libraries that shape the figures (ONNX and ONNX Runtime included: they write
    and run the ONNX graphs), citeqa, and which int8 kernel ONNX Runtime runs on this CPU."""
    from embeddings.onnx_graph import int8_path, library_versions, this_cpu

    found = {"python": platform.python_version()}
    names = ("torch", "transformers", "sentence-transformers", "faiss-cpu", "bm25s", "onnx", "onnxruntime", "citeqa")
    found.update((name.replace("-cpu", "").replace("-", "_"), version) for name, version in library_versions(names).items())
    found["int8_matmul"] = int8_path(*this_cpu())  # ONNX Runtime's int8 kernel here: vnni, u8u8-exact or native
    return found


def machine() -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        pass
    return info


# --- The run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalOptions:
    """Which questions to run and how; the assistant's own settings (reader, index, k, ...) are the `Config`."""

    questions: str
    reader_only: bool = False
    limit: int | None = None  # the first N questions
    sample: int | None = None  # N questions at even steps through the set (every article represented)


@dataclass
class EvalRun:
    report: dict
    results: list[QuestionResult]

    @property
    def predictions(self) -> dict[str, str]:
        return predictions_of(self.results)


def context_passage(example: QAExample, source: str = "") -> Passage:
    """A question's own paragraph as the one passage the reader reads (reader-only mode)."""
    text = example.context or ""
    doc_id = document_id(text)
    document = StoredDocument(doc_id, example.title or "", None, source, None, (), 1, (source,) if source else ())
    return Passage(Chunk(doc_id, 0, text, 0, len(text)), document, 1.0, 1)


def paragraph_documents(path: str | Path) -> list[Document]:
    """Each paragraph of a SQuAD file as one document titled by its article (duplicates kept once)."""
    path = Path(path)
    documents, seen = [], set()
    for number, paragraph in enumerate(load_squad_paragraphs(path)):
        doc_id = document_id(paragraph.context)
        if doc_id in seen:
            continue
        seen.add(doc_id)
        documents.append(Document(doc_id, paragraph.title or path.stem, None, f"{path.name}#{number}", paragraph.context))
    return documents


def squad_index_dir(path: str | Path, embedder, chunking: ChunkingSettings, *, titles: Collection[str] | None = None,
                    progress: bool = False) -> Path:
    """The index over a SQuAD file's own paragraphs (only those of the articles in `titles` when given), in
    `cache_root()/eval-indexes/`, keyed by the file's bytes, the articles, the embedding model and the
    chunking; built on first use and reused after."""
    from embeddings.index import update_index

    path = Path(path)
    parts = f"{sha256_file(path)}|{embedder.name}|{chunking.max_words}|{chunking.overlap_sentences}|{FORMAT_VERSION}"
    if titles is not None:
        parts += "|" + "\n".join(sorted(titles))
    key = hashlib.sha256(parts.encode()).hexdigest()[:16]
    folder = cache_root() / "eval-indexes" / f"{path.stem}{'' if titles is None else '-articles'}-{key}"
    if not (folder / CURRENT).exists():
        documents = [d for d in paragraph_documents(path) if titles is None or d.title in titles]
        if progress:
            print(f"indexing the {len(documents)} paragraphs of {path.name} into {folder} (once)", file=sys.stderr)
        update_index(folder, embedder, add=documents, chunking=chunking, wait_seconds=3600, progress=progress)
    return folder


def has_calibrator(answerer) -> bool:
    """Whether an answerer turns its answers' scores into probabilities of being right (an answer calibrator)."""
    return getattr(answerer, "calibrator", None) is not None


def effective_min_confidence(answerer, config: Config) -> float | None:
    """The probability an answer needs in this run: the config's, else the answerer's own (its calibrator's
    measured setting); None when the answerer has no calibrator (then the score threshold decides)."""
    if not has_calibrator(answerer):
        return None
    if config.min_confidence is not None:
        return float(config.min_confidence)
    value = getattr(answerer, "min_confidence", None)
    return None if value is None else float(value)


def answer_passages(answerer, question: str, passages: Sequence[Passage], *, threshold: float | None,
                    min_confidence: float | None = None):
    """`answerer.answer_from_passages`, handing it `min_confidence` only when it has a calibrator (an answerer
    without one decides by the score threshold and may not take the keyword)."""
    if has_calibrator(answerer):
        return answerer.answer_from_passages(question, passages, threshold=threshold, min_confidence=min_confidence)
    return answerer.answer_from_passages(question, passages, threshold=threshold)


def run_questions(examples: Sequence[QAExample], assistant, *, k: int, threshold: float, reader_only: bool,
                  scoring: str, source: str = "", progress: bool = False,
                  clock: Callable[[], float] = time.perf_counter,
                  min_confidence: float | None = None) -> tuple[list[QuestionResult], float]:
    """Each question through the assistant (retrieve max(k, 5) for recall@5, read the top k; or read its
    own paragraph), timed from question to answer. `min_confidence` is the probability an answer needs when
    the assistant has a calibrator (None: its own setting). Returns the results and the loop's wall seconds."""
    depth = max(k, 5)
    iterator: Iterable[QAExample] = examples
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(examples, desc="eval", unit="q", dynamic_ncols=True, file=sys.stderr)
    results = []
    started = clock()
    for example in iterator:
        began = clock()
        answer, passages, read, planned = None, [], 0, None
        try:
            if reader_only:
                passages = [context_passage(example, source)]
                read = 1
                answer = answer_passages(assistant, example.question, passages, threshold=threshold,
                                         min_confidence=min_confidence)
            else:
                passages = assistant.retrieve(example.question, depth)
                read = planned = min(k, len(passages))
                answer = answer_passages(assistant, example.question, passages[:read], threshold=threshold,
                                         min_confidence=min_confidence)
                read = answer.passages_read  # fewer than k when the reader stopped early
        except EmptyQuestionError:
            pass  # an empty question in the set: scored as an abstention
        latency = clock() - began
        results.append(score_question(example, answer, passages, read=read, latency_s=latency, scoring=scoring,
                                      retrieval=not reader_only, planned=planned))
    return results, clock() - started


def selected_examples(options: EvalOptions) -> list[QAExample]:
    """The questions of the run: the file's, cut to `limit` or spread to `sample`; never none."""
    path = Path(options.questions)
    examples = load_questions(path)
    if options.limit is not None:
        examples = examples[: options.limit]
    examples = spread(examples, options.sample)
    if not examples:
        raise QuestionSetError(f"{path} holds no questions")
    if options.reader_only:
        lacking = [ex.id for ex in examples if not ex.context]
        if lacking:
            raise QuestionSetError(
                f"--reader-only reads each question against its own paragraph, but {len(lacking)} question(s) "
                f"have no context (first: {lacking[0]}); give a 'context' field or drop --reader-only"
            )
    return examples


@dataclass(frozen=True)
class OpenSetup:
    """The assistant of an open run and where its index came from."""

    assistant: Assistant
    index_dir: Path
    built_from_questions: bool


def open_setup(options: EvalOptions, config: Config, embedder, reader, progress: bool) -> OpenSetup:
    """The assistant of an open run: over `config.index_dir`, else a SQuAD file's own paragraphs, else the
    bundled articles."""
    path = Path(options.questions)
    embedder = embedder if embedder is not None else embedder_from_config(config)
    from_questions = config.index_dir is None and path.suffix.lower() == ".json"
    if config.index_dir is not None:
        index_dir = Path(config.index_dir)
    elif from_questions:
        index_dir = squad_index_dir(path, embedder, config.chunking, progress=progress)
    else:
        ensure_bundled_index(config.index_target, embedder)
        index_dir = bundled_index_dir(embedder, config.chunking)
    assistant = Assistant.from_config(config.with_changes(index_dir=str(index_dir)), embedder=embedder, reader=reader)
    return OpenSetup(assistant, index_dir, from_questions)


def warm_up(answerer: PassageAnswerer, example: QAExample, *, reader_only: bool, k: int, threshold: float,
            min_confidence: float | None = None) -> None:
    """Load the models before the clock starts: the first question must not pay for it."""
    try:
        passages = [context_passage(example)] if reader_only else answerer.retrieve(example.question, k)
        answer_passages(answerer, example.question, passages, threshold=threshold, min_confidence=min_confidence)
    except ValueError:
        pass


def run_settings(options: EvalOptions, config: Config, answerer: PassageAnswerer, setup: OpenSetup | None,
                 threshold: float, command: str | None, min_confidence: float | None = None) -> dict:
    """What the report records of how the run was made."""
    path = Path(options.questions)
    open_run = setup is not None
    chunking = setup.assistant.index.chunking if open_run else None
    embedder = setup.assistant.embedder if open_run else None
    return {
        "command": command,
        "questions_file": str(path),
        "questions_sha256": sha256_file(path),
        "mode": "open" if open_run else "reader-only",
        "retrieval_mode": config.retrieval_mode if open_run else None,
        "k": config.k if open_run else None,
        "limit": options.limit,
        "sample": options.sample,
        "threshold": threshold,
        "calibrator": has_calibrator(answerer),
        "min_confidence": min_confidence,
        **answerer.reader.description(),
        "early_stop": {"passages": config.early_stop_passages, "score": finite_or_none(answerer.early_stop_score)}
        if open_run else None,
        "embedding_model": embedder.name if open_run else None,
        "embedding_backend": embedder.backend if open_run else None,
        "index": str(setup.index_dir) if open_run else None,
        "index_built_from_questions": setup.built_from_questions if open_run else False,
        "index_chunks": len(setup.assistant.index) if open_run else None,
        "chunking": {"max_words": chunking.max_words, "overlap_sentences": chunking.overlap_sentences} if open_run else None,
    }


def evaluate(options: EvalOptions, config: Config | None = None, *, embedder=None, reader=None, progress: bool = False,
             command: str | None = None) -> EvalRun:
    """Run a question set through the assistant `config` describes and build the report (see `build_report`)."""
    config = config if config is not None else Config()
    examples = selected_examples(options)
    setup = None
    if options.reader_only:
        answerer = PassageAnswerer.from_config(config, reader=reader)
    else:
        setup = open_setup(options, config, embedder, reader, progress)
        answerer = setup.assistant
    threshold = answerer.reader.no_answer_threshold if config.no_answer_threshold is None else float(config.no_answer_threshold)
    min_confidence = effective_min_confidence(answerer, config)
    scoring = scoring_for(examples)
    warm_up(answerer, examples[0], reader_only=options.reader_only, k=config.k, threshold=threshold,
            min_confidence=min_confidence)
    results, seconds = run_questions(examples, answerer, k=config.k, threshold=threshold,
                                     reader_only=options.reader_only, scoring=scoring, source=Path(options.questions).name,
                                     progress=progress, min_confidence=min_confidence)
    settings = run_settings(options, config, answerer, setup, threshold, command, min_confidence)
    report = build_report(results, k=config.k, retrieval=not options.reader_only, seconds=seconds, threshold=threshold,
                          scoring=scoring, settings=settings, versions=versions(), machine=machine(),
                          min_confidence=min_confidence)
    return EvalRun(report, results)


def write_json(path: str | Path, data) -> None:
    """`data` as strict JSON in UTF-8, written whole or not at all. A string holding a lone surrogate (a
    question read from a JSON "\\ud800" escape, a file name that is not UTF-8) cannot be UTF-8: such a
    character is written as its JSON escape, so the file stays valid and loads back to the same strings."""
    text = json.dumps(json_ready(data), ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    # non-ASCII characters occur only inside JSON strings, where backslashreplace's "\\udxxx" is the JSON escape
    # (as with any JSON writer, a lone high surrogate followed by a lone low one loads back as one character)
    write_atomically(path, [text], errors="backslashreplace")


# Characters JSON leaves raw (it escapes only those below U+0020) that line readers such as Python's
# str.splitlines take as line breaks; inside a JSON string their escape means the same.
_LINE_BREAKS = {ord(ch): f"\\u{ord(ch):04x}" for ch in "\x85\u2028\u2029"}


def json_line(record) -> str:
    """`record` as one line of strict JSON (UTF-8 text, no raw line-break character of any kind), newline ended."""
    return json.dumps(json_ready(record), ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKS) + "\n"


def write_details(path: str | Path, results: Sequence[QuestionResult]) -> int:
    """One JSON line per question (`detail_record`), written whole or not at all; a lone surrogate is written
    as its JSON escape, as in `write_json`. Returns the number of lines."""
    return write_atomically(path, (json_line(detail_record(r)) for r in results), errors="backslashreplace")
