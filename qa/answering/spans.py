"""Span decoding: from one window's start/end logits to the best answer spans (a pure function)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DecodedSpan:
    """Token span [start_token, end_token] covering characters [start_char, end_char) of the context."""

    start_token: int
    end_token: int
    start_char: int
    end_char: int
    score: float
    start_logit: float = 0.0
    end_logit: float = 0.0
    null_logit: float = 0.0  # start+end logit of the no-answer position: score = start + end - null


def decode_spans(
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    offsets: Sequence[tuple[int, int] | None],
    *,
    max_answer_tokens: int = 30,
    top_n: int = 5,
    null_index: int = 0,
) -> list[DecodedSpan]:
    """The `top_n` spans by start+end logit minus the no-answer logit (position `null_index`, CLS).

    Start and end are decoded jointly: end >= start, at most `max_answer_tokens` tokens, both inside
    the context (tokens whose offset is None are question, special or padding tokens).
    """
    starts = np.asarray(start_logits, dtype=np.float64)
    ends = np.asarray(end_logits, dtype=np.float64)
    n = len(offsets)
    if len(starts) < n or len(ends) < n:
        raise ValueError(f"logits ({len(starts)}, {len(ends)}) are shorter than the offsets ({n})")
    in_context = np.array([o is not None and o[1] > o[0] for o in offsets], dtype=bool)
    if not in_context.any() or top_n <= 0 or max_answer_tokens <= 0:
        return []
    null_score = starts[null_index] + ends[null_index]
    positions = np.flatnonzero(in_context)
    s = starts[positions][:, None]
    e = ends[positions][None, :]
    scores = s + e - null_score
    token_gap = positions[None, :] - positions[:, None]
    allowed = (token_gap >= 0) & (token_gap < max_answer_tokens)
    scores = np.where(allowed, scores, -np.inf)
    flat = scores.ravel()
    count = min(top_n, int(allowed.sum()))
    best = np.argpartition(-flat, count - 1)[:count]
    best = best[np.argsort(-flat[best], kind="stable")]
    spans = []
    for cell in best:
        i, j = divmod(int(cell), len(positions))
        start_token, end_token = int(positions[i]), int(positions[j])
        spans.append(
            DecodedSpan(
                start_token=start_token,
                end_token=end_token,
                start_char=offsets[start_token][0],
                end_char=offsets[end_token][1],
                score=float(flat[cell]),
                start_logit=float(starts[start_token]),
                end_logit=float(ends[end_token]),
                null_logit=float(null_score),
            )
        )
    return spans
