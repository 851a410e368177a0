"""Question sets: SQuAD JSON (v1.1/v2.0), JSONL and CSV, read into plain `QAExample`s."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QAExample:
    """One question with its gold answers; `context` is set when the set carries paragraphs."""

    id: str
    question: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...] = ()
    context: str | None = None
    title: str | None = None

    @property
    def is_impossible(self) -> bool:
        return len(self.answers) == 0


class QuestionSetError(ValueError):
    """A question file that cannot be read; the message names the file and the problem."""


def squad_articles(path: str | Path) -> list[dict]:
    """The `data` list of a SQuAD-format JSON file, with a clear error for anything else."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise QuestionSetError(f"cannot read SQuAD file {path}: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise QuestionSetError(f"{path} is not SQuAD JSON: expected a top-level 'data' list")
    return raw["data"]


def load_squad(path: str | Path) -> list[QAExample]:
    """Read a SQuAD-format JSON file (v1.1 or v2.0) in file order."""
    raw = {"data": squad_articles(path)}
    examples: list[QAExample] = []
    for article in raw["data"]:
        title = article.get("title")
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph.get("qas", []):
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                examples.append(
                    QAExample(
                        id=str(qa["id"]),
                        question=qa["question"],
                        answers=tuple(a["text"] for a in answers),
                        answer_starts=tuple(int(a["answer_start"]) for a in answers),
                        context=context,
                        title=title,
                    )
                )
    return examples


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _example_from_record(record: dict, where: str) -> QAExample:
    """One JSONL record or CSV row: `question`, optional `id`, `answers`, `context`, `title`, `is_impossible`.

    `answers` is a list of strings or of SQuAD `{"text", "answer_start"}` objects; in CSV a JSON list
    (`["a", "b"]`) or a single answer. Empty (or `is_impossible` true) means unanswerable.
    """
    if not isinstance(record, dict):
        raise QuestionSetError(f"{where}: expected an object with a 'question' field")
    if "question" not in record or record["question"] is None:
        raise QuestionSetError(f"{where}: record has no 'question' field")
    answers = record.get("answers") or []
    if isinstance(answers, str):
        text = answers.strip()
        if text.startswith("["):
            try:
                answers = json.loads(text)
            except json.JSONDecodeError as err:
                raise QuestionSetError(f"{where}: 'answers' is not a valid JSON list: {err}") from err
        else:
            answers = [answers] if text else []
    if isinstance(answers, dict) and "text" in answers:  # the HF datasets layout {"text": [...], "answer_start": [...]}
        answers = [{"text": t, "answer_start": s} for t, s in zip(answers["text"], answers.get("answer_start") or [None] * len(answers["text"]))]
    if not isinstance(answers, list):
        raise QuestionSetError(f"{where}: 'answers' must be a list")
    if _truthy(record.get("is_impossible", False)):
        answers = []
    texts = tuple(str(a["text"]) if isinstance(a, dict) else str(a) for a in answers)
    starts = tuple(a.get("answer_start") for a in answers if isinstance(a, dict))
    record_id = record.get("id")
    return QAExample(
        id=str(record_id) if record_id not in (None, "") else where,
        question=str(record["question"]),
        answers=texts,
        answer_starts=tuple(int(s) for s in starts) if len(starts) == len(texts) and all(s is not None for s in starts) else (),
        context=record.get("context") or None,
        title=record.get("title") or None,
    )


@dataclass(frozen=True)
class SquadParagraph:
    """One paragraph of a SQuAD file with its article's title."""

    title: str
    context: str


def load_squad_paragraphs(path: str | Path) -> list[SquadParagraph]:
    """Every paragraph of a SQuAD-format JSON file, in file order (the corpus of an "open SQuAD" run)."""
    raw = {"data": squad_articles(path)}
    return [
        SquadParagraph(str(article.get("title") or ""), paragraph["context"])
        for article in raw["data"]
        for paragraph in article.get("paragraphs", [])
    ]


def load_questions(path: str | Path) -> list[QAExample]:
    """Read a question set by its extension: .json (SQuAD), .jsonl or .csv."""
    path = Path(path)
    if not path.is_file():
        raise QuestionSetError(f"question set not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return load_squad(path)
    if suffix == ".jsonl":
        examples = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise QuestionSetError(f"{path}:{number}: invalid JSON: {err}") from err
                examples.append(_example_from_record(record, f"{path}:{number}"))
        return examples
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:  # utf-8-sig: spreadsheets write a BOM
            return [
                _example_from_record(row, f"{path}:{number}")
                for number, row in enumerate(csv.DictReader(fh), start=2)
            ]
    raise QuestionSetError(f"unsupported question set {path}: use .json (SQuAD), .jsonl or .csv")


def spread(examples: Sequence[QAExample], limit: int | None) -> list[QAExample]:
    """At most `limit` examples taken at even steps through the list (so every article is represented), in order."""
    if limit is None or len(examples) <= limit:
        return list(examples)
    return [examples[(i * len(examples)) // limit] for i in range(limit)]
