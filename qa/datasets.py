"""Question sets: SQuAD JSON (v1.1/v2.0), JSONL and CSV, read into plain `QAExample`s."""

from __future__ import annotations

import csv
import json
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


def load_squad(path: str | Path) -> list[QAExample]:
    """Read a SQuAD-format JSON file (v1.1 or v2.0) in file order."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise QuestionSetError(f"cannot read SQuAD file {path}: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise QuestionSetError(f"{path} is not SQuAD JSON: expected a top-level 'data' list")
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


def _example_from_record(record: dict, where: str) -> QAExample:
    if "question" not in record:
        raise QuestionSetError(f"{where}: record has no 'question' field")
    answers = record.get("answers", [])
    if isinstance(answers, str):
        answers = json.loads(answers) if answers.strip().startswith("[") else ([answers] if answers else [])
    texts = tuple(a["text"] if isinstance(a, dict) else str(a) for a in answers)
    return QAExample(
        id=str(record.get("id", where)),
        question=str(record["question"]),
        answers=texts,
        context=record.get("context") or None,
        title=record.get("title") or None,
    )


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
        with path.open(encoding="utf-8", newline="") as fh:
            return [
                _example_from_record(row, f"{path}:{number}")
                for number, row in enumerate(csv.DictReader(fh), start=2)
            ]
    raise QuestionSetError(f"unsupported question set {path}: use .json (SQuAD), .jsonl or .csv")
