"""Question sets: SQuAD JSON (v1.1/v2.0), JSONL and CSV, read into plain `QAExample`s."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


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


MAX_LINE_CHARS = 1 << 20  # one JSONL/CSV line: a longer one is refused without being read whole
MAX_SQUAD_BYTES = 1 << 30  # one SQuAD JSON document (v1.1 train is ~30 MB, v2.0 train ~40 MB)


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n:,} bytes"


def squad_articles(path: str | Path, *, max_bytes: int | None = None) -> list[dict]:
    """The `data` list of a SQuAD-format JSON file, with a clear error for anything else (a file over
    `max_bytes`, `MAX_SQUAD_BYTES` by default, is refused before it is read)."""
    path = Path(path)
    max_bytes = MAX_SQUAD_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise QuestionSetError(f"{path} is {_size(size)}: a SQuAD JSON file over {_size(max_bytes)} is refused "
                                   "(it is read whole; SQuAD v1.1 train is ~30 MB); split it or use JSONL")
        with path.open(encoding="utf-8") as fh:
            text = fh.read(max_bytes + 1)  # never more than the cap, even from a file that grew since stat()
        if len(text) > max_bytes:
            raise QuestionSetError(f"{path} is over {_size(max_bytes)}: a SQuAD JSON file that large is refused")
        raw = json.loads(text)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise QuestionSetError(f"cannot read SQuAD file {path}: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise QuestionSetError(f"{path} is not SQuAD JSON: expected a top-level 'data' list")
    return raw["data"]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _answer_start(value, where: str) -> int:
    """An `answer_start` as an int (an integer or a string of one, as some converters write it)."""
    if _is_int(value):
        start = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        start = int(value)
    else:
        raise QuestionSetError(f"{where}: 'answer_start' must be an integer, not {_type_name(value)} {value!r:.40}")
    if start < 0:
        raise QuestionSetError(f"{where}: 'answer_start' is negative ({start})")
    return start


def _field(record: dict, key: str, where: str, kind: type | tuple[type, ...] = str):
    """`record[key]`, or a `QuestionSetError` saying it is missing or not of `kind` (a bool is no int)."""
    if key not in record:
        raise QuestionSetError(f"{where}: missing '{key}'")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise QuestionSetError(f"{where}: '{key}' must be {'a list' if kind is list else 'a string'}, not {_type_name(value)}")
    return value


def _squad_paragraphs(path: Path, articles: list) -> Iterator[tuple[str, str | None, str, dict]]:
    """(where, title, context, paragraph) for each paragraph, checked: every article an object with a
    'paragraphs' list, every paragraph an object with a string 'context'."""
    for a, article in enumerate(articles, start=1):
        if not isinstance(article, dict):
            raise QuestionSetError(f"{path}: article {a} is {_type_name(article)}, not an object")
        title = article.get("title")
        if title is not None and not isinstance(title, str):
            raise QuestionSetError(f"{path}: article {a}: 'title' must be a string, not {_type_name(title)}")
        named = f"{path}: article {a}" + (f" {title!r}" if title else "")
        for p, paragraph in enumerate(_field(article, "paragraphs", named, list), start=1):
            where = f"{named}, paragraph {p}"
            if not isinstance(paragraph, dict):
                raise QuestionSetError(f"{where}: expected an object, not {_type_name(paragraph)}")
            yield where, title, _field(paragraph, "context", where), paragraph


def _squad_example(qa, path: Path, where: str, context: str, title: str | None) -> QAExample:
    """One entry of a paragraph's `qas`, checked; `where` names its paragraph and number until its id is known."""
    if not isinstance(qa, dict):
        raise QuestionSetError(f"{where}: expected an object, not {_type_name(qa)}")
    qid = str(_field(qa, "id", where, (str, int)))  # SQuAD's ids are strings; some converters write numbers
    if not qid:
        raise QuestionSetError(f"{where}: 'id' is empty")
    named = f"{path}: question {qid!r}"
    question = _field(qa, "question", named)
    impossible = qa.get("is_impossible")
    if not (impossible is None or isinstance(impossible, (bool, int, str))):
        raise QuestionSetError(f"{named}: 'is_impossible' must be true or false, not {_type_name(impossible)}")
    impossible = _truthy(impossible)
    answers: list = []
    if not impossible:
        if "answers" not in qa:
            raise QuestionSetError(f"{named}: missing 'answers' (give [] with \"is_impossible\": true if it has none)")
        answers = _field(qa, "answers", named, list)
    texts, starts = [], []
    for n, answer in enumerate(answers, start=1):
        at = f"{named}: answer {n}"
        if not isinstance(answer, dict):
            raise QuestionSetError(f"{at} must be an object with 'text' and 'answer_start', not {_type_name(answer)}")
        if "text" not in answer:
            raise QuestionSetError(f"{at} has no 'text'")
        if not isinstance(answer["text"], str):
            raise QuestionSetError(f"{at}: 'text' must be a string, not {_type_name(answer['text'])}")
        if "answer_start" not in answer:
            raise QuestionSetError(f"{at} has no 'answer_start'")
        texts.append(answer["text"])
        starts.append(_answer_start(answer["answer_start"], at))
    return QAExample(id=qid, question=question, answers=tuple(texts), answer_starts=tuple(starts),
                     context=context, title=title)


def _located_squad(path: Path) -> list[tuple[QAExample, str]]:
    """Each question of a SQuAD file with where it is ("FILE: article 1 'T', paragraph 2, question 1")."""
    located: list[tuple[QAExample, str]] = []
    for where, title, context, paragraph in _squad_paragraphs(path, squad_articles(path)):
        qas = paragraph.get("qas", [])
        if not isinstance(qas, list):
            raise QuestionSetError(f"{where}: 'qas' must be a list, not {_type_name(qas)}")
        for q, qa in enumerate(qas, start=1):
            at = f"{where}, question {q}"
            located.append((_squad_example(qa, path, at, context, title), at))
    return located


def load_squad(path: str | Path) -> list[QAExample]:
    """Read a SQuAD-format JSON file (v1.1 or v2.0) in file order; a missing or mistyped field is a
    `QuestionSetError` naming the field and its article, paragraph or question. (Ids are not checked for
    uniqueness here: `load_questions`, which reads evaluation sets, refuses a repeated one.)"""
    return [example for example, _ in _located_squad(Path(path))]


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _answer_text(answer, where: str) -> str:
    """One answer of a JSONL/CSV record: a string (a number is taken as its text) or an object's 'text'."""
    if isinstance(answer, dict):
        if "text" not in answer:
            raise QuestionSetError(f"{where} has no 'text'")
        answer = answer["text"]
    if isinstance(answer, str):
        return answer
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return str(answer)
    raise QuestionSetError(f"{where} must be a string or an object with a 'text' string, not {_type_name(answer)}")


def _example_from_record(record: dict, where: str) -> QAExample:
    """One JSONL record or CSV row: `question`, optional `id`, `answers`, `context`, `title`, `is_impossible`.

    `answers` is a list of strings or of SQuAD `{"text", "answer_start"}` objects; in CSV a JSON list
    (`["a", "b"]`) or a single answer. Empty (or `is_impossible` true) means unanswerable.
    """
    if not isinstance(record, dict):
        raise QuestionSetError(f"{where}: expected an object with a 'question' field, not {_type_name(record)}")
    if "question" not in record or record["question"] is None:
        raise QuestionSetError(f"{where}: record has no 'question' field")
    if not isinstance(record["question"], str):
        raise QuestionSetError(f"{where}: 'question' must be a string, not {_type_name(record['question'])}")
    for name in ("context", "title"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise QuestionSetError(f"{where}: '{name}' must be a string, not {_type_name(record[name])}")
    record_id = record.get("id")
    if record_id is not None and not (isinstance(record_id, str) or _is_int(record_id)):
        raise QuestionSetError(f"{where}: 'id' must be a string, not {_type_name(record_id)}")
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
        texts, starts = answers["text"], answers.get("answer_start")
        if not isinstance(texts, list) or not (starts is None or (isinstance(starts, list) and len(starts) == len(texts))):
            raise QuestionSetError(f"{where}: 'answers' as an object needs a 'text' list and an 'answer_start' list "
                                   "of the same length")
        answers = [{"text": t, "answer_start": s} for t, s in zip(texts, starts or [None] * len(texts))]
    if not isinstance(answers, list):
        raise QuestionSetError(f"{where}: 'answers' must be a list, not {_type_name(answers)}")
    if _truthy(record.get("is_impossible", False)):
        answers = []
    texts = tuple(_answer_text(a, f"{where}: answer {n}") for n, a in enumerate(answers, start=1))
    starts = tuple(_answer_start(a["answer_start"], f"{where}: answer {n}")
                   if a.get("answer_start") is not None else None
                   for n, a in enumerate(answers, start=1) if isinstance(a, dict))
    return QAExample(
        id=str(record_id) if record_id not in (None, "") else where,
        question=record["question"],
        answers=texts,
        answer_starts=starts if len(starts) == len(texts) and all(s is not None for s in starts) else (),
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
    path = Path(path)
    return [SquadParagraph(title or "", context)
            for _, title, context, _ in _squad_paragraphs(path, squad_articles(path))]


def _lines(fh: TextIO, path: Path, max_chars: int) -> Iterator[str]:
    """The file's lines, each read with at most `max_chars` (+ newline) in memory: a longer line is a
    `QuestionSetError` naming its number, raised before the rest of it is read."""
    number = 0
    while True:
        number += 1
        try:
            line = fh.readline(max_chars + 2)  # the line and its "\r\n"
        except UnicodeDecodeError as err:
            raise QuestionSetError(f"{path}:{number}: not UTF-8 text: {err}") from err
        if not line:
            return
        if len(line) > max_chars and len(line.rstrip("\r\n")) > max_chars:
            raise QuestionSetError(f"{path}:{number}: line longer than {max_chars:,} characters; "
                                   "is this a question file with one question per line?")
        yield line


def _jsonl_examples(path: Path, max_chars: int) -> list[tuple[QAExample, str]]:
    examples = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(_lines(fh, path, max_chars), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise QuestionSetError(f"{path}:{number}: invalid JSON: {err}") from err
            examples.append((_example_from_record(record, f"{path}:{number}"), f"{path}:{number}"))
    return examples


def _csv_examples(path: Path, max_chars: int) -> list[tuple[QAExample, str]]:
    """CSV rows as `csv.DictReader` makes them (blank lines skipped, missing cells None), each named by the
    line it starts on (a quoted field may span lines)."""
    examples: list[tuple[QAExample, str]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:  # utf-8-sig: spreadsheets write a BOM
        reader = csv.reader(_lines(fh, path, max_chars))
        fields: list[str] | None = None
        try:
            while True:
                start = reader.line_num + 1
                row = next(reader, None)
                if row is None:
                    break
                if not row:
                    continue
                if fields is None:
                    fields = row
                    continue
                record = dict(zip(fields, row))
                record.update((name, None) for name in fields[len(row):])
                examples.append((_example_from_record(record, f"{path}:{start}"), f"{path}:{start}"))
        except csv.Error as err:
            raise QuestionSetError(f"{path}:{reader.line_num}: bad CSV: {err}") from err
    return examples


def unique_ids(path: Path, located: Sequence[tuple[QAExample, str]]) -> list[QAExample]:
    """The examples, once every id is known to be used only once: predictions, reports and the official
    scripts key answers by id, so a repeated one would silently replace another question's answer. A
    repeat is a `QuestionSetError` naming the id and both places."""
    first: dict[str, str] = {}
    for example, where in located:
        if example.id in first:
            earlier = first[example.id].removeprefix(str(path)).lstrip(": ")
            earlier = f"line {earlier}" if earlier.isdigit() else earlier
            raise QuestionSetError(f"{where}: question id {example.id!r} is already used by {earlier}; every question "
                                   "needs its own id (answers are keyed by it)")
        first[example.id] = where
    return [example for example, _ in located]


def load_questions(path: str | Path, *, max_line_chars: int | None = None) -> list[QAExample]:
    """Read a question set by its extension: .json (SQuAD), .jsonl or .csv. JSONL and CSV are read line
    by line, a line over `max_line_chars` (`MAX_LINE_CHARS` by default) refused; a SQuAD file over
    `MAX_SQUAD_BYTES` is refused; so is a set that uses one question id twice (`unique_ids`)."""
    path = Path(path)
    if not path.is_file():
        raise QuestionSetError(f"question set not found: {path}")
    max_chars = MAX_LINE_CHARS if max_line_chars is None else max_line_chars
    suffix = path.suffix.lower()
    if suffix == ".json":
        return unique_ids(path, _located_squad(path))
    try:
        if suffix == ".jsonl":
            return unique_ids(path, _jsonl_examples(path, max_chars))
        if suffix == ".csv":
            return unique_ids(path, _csv_examples(path, max_chars))
    except OSError as err:
        raise QuestionSetError(f"cannot read question set {path}: {err}") from err
    raise QuestionSetError(f"unsupported question set {path}: use .json (SQuAD), .jsonl or .csv")


def spread(examples: Sequence[QAExample], limit: int | None) -> list[QAExample]:
    """At most `limit` examples taken at even steps through the list (so every article is represented), in order."""
    if limit is None or len(examples) <= limit:
        return list(examples)
    return [examples[(i * len(examples)) // limit] for i in range(limit)]
