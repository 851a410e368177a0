"""Turn (question, context, answer) into token windows labelled with start/end positions.

The standard SQuAD recipe: the fast tokenizer's offset mapping locates the answer's
characters among the context tokens; long contexts are split into overlapping windows,
and a window that does not hold the whole answer is labelled "no answer" (position 0, CLS).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelledWindow:
    """One training window: token ids and the gold start/end token (0, 0 = no answer)."""

    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...]
    start_position: int
    end_position: int


def normalise_answer_span(context: str, answer_text: str, answer_start: int) -> tuple[int, int]:
    """Character span of the answer with surrounding whitespace dropped."""
    stripped = answer_text.strip()
    if not stripped:
        return -1, -1
    start = answer_start + (len(answer_text) - len(answer_text.lstrip()))
    return start, start + len(stripped)


def answer_token_span(
    offsets: list[tuple[int, int]],
    sequence_ids: list[int | None],
    start_char: int,
    end_char: int,
) -> tuple[int, int]:
    """Token positions of a character span inside one window, or (0, 0) if it is not all there."""
    context_tokens = [i for i, sid in enumerate(sequence_ids) if sid == 1]
    if start_char < 0 or not context_tokens:
        return 0, 0
    first, last = context_tokens[0], context_tokens[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return 0, 0
    token_start = next(i for i in context_tokens if offsets[i][1] > start_char)
    token_end = next(i for i in reversed(context_tokens) if offsets[i][0] < end_char)
    if token_end < token_start:
        return 0, 0
    return token_start, token_end


def label_windows(
    tokenizer,
    questions: list[str],
    contexts: list[str],
    answer_spans: list[tuple[int, int]],
    *,
    max_length: int,
    stride: int,
) -> list[list[LabelledWindow]]:
    """Labelled windows for each example; `answer_spans` are character (start, end), (-1, -1) if none."""
    questions = [q.strip() for q in questions]
    encoded = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    windows: list[list[LabelledWindow]] = [[] for _ in questions]
    for w, sample in enumerate(encoded["overflow_to_sample_mapping"]):
        start_char, end_char = answer_spans[sample]
        start, end = answer_token_span(
            encoded["offset_mapping"][w], encoded.sequence_ids(w), start_char, end_char
        )
        token_types = encoded["token_type_ids"][w] if "token_type_ids" in encoded else [0] * len(encoded["input_ids"][w])
        windows[sample].append(
            LabelledWindow(tuple(encoded["input_ids"][w]), tuple(token_types), start, end)
        )
    return windows
