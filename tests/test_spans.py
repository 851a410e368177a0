"""Span decoding: hand-made logits with known best spans."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answering.spans import decode_spans

# token 0 = CLS, 1-2 = question, 3 = SEP, 4-8 = context, 9 = SEP
OFFSETS = [None, None, None, None, (0, 3), (4, 9), (10, 12), (13, 18), (19, 24), None]


def logits(**values):
    row = np.full(10, -10.0)
    for position, value in values.items():
        row[int(position[1:])] = value
    return row


def test_best_span_minus_null_score():
    starts = logits(t0=1.0, t5=4.0)
    ends = logits(t0=1.0, t6=3.0)
    best = decode_spans(starts, ends, OFFSETS, top_n=1)[0]
    assert (best.start_token, best.end_token) == (5, 6)
    assert (best.start_char, best.end_char) == (4, 12)
    assert best.score == pytest.approx(4.0 + 3.0 - 2.0)


def test_end_before_start_is_never_chosen():
    starts = logits(t7=5.0, t4=0.0)
    ends = logits(t5=5.0, t8=-1.0)
    for span in decode_spans(starts, ends, OFFSETS, top_n=20):
        assert span.end_token >= span.start_token


def test_question_tokens_never_chosen():
    starts = logits(t1=50.0, t4=1.0)
    ends = logits(t2=50.0, t4=1.0)
    spans = decode_spans(starts, ends, OFFSETS, top_n=50)
    assert all(OFFSETS[s.start_token] is not None and OFFSETS[s.end_token] is not None for s in spans)
    assert spans[0].start_token == 4 and spans[0].end_token == 4


def test_length_cap():
    starts = logits(t4=5.0)
    ends = logits(t8=5.0, t5=1.0)
    best = decode_spans(starts, ends, OFFSETS, max_answer_tokens=2, top_n=1)[0]
    assert (best.start_token, best.end_token) == (4, 5)
    assert all(s.end_token - s.start_token < 2 for s in decode_spans(starts, ends, OFFSETS, max_answer_tokens=2, top_n=50))


def test_top_n_is_sorted_and_complete():
    rng = np.random.default_rng(0)
    starts, ends = rng.normal(size=10), rng.normal(size=10)
    spans = decode_spans(starts, ends, OFFSETS, max_answer_tokens=30, top_n=100)
    assert len(spans) == 15  # 5 context tokens: 5 + 4 + 3 + 2 + 1 spans
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_no_context_gives_nothing():
    assert decode_spans(np.zeros(4), np.zeros(4), [None] * 4) == []


def test_zero_width_offsets_are_not_context():
    offsets = [None, (0, 0), (0, 3), None]
    spans = decode_spans(np.array([0, 9, 1, 0.0]), np.array([0, 9, 1, 0.0]), offsets, top_n=5)
    assert [(s.start_token, s.end_token) for s in spans] == [(2, 2)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-20, 20), min_size=10, max_size=10),
    st.lists(st.floats(-20, 20), min_size=10, max_size=10),
    st.integers(1, 6),
)
def test_matches_brute_force(starts, ends, cap):
    null = starts[0] + ends[0]
    context = [i for i, o in enumerate(OFFSETS) if o is not None]
    expected = max(
        starts[i] + ends[j] - null for i, j in itertools.product(context, context) if 0 <= j - i < cap
    )
    best = decode_spans(starts, ends, OFFSETS, max_answer_tokens=cap, top_n=1)[0]
    assert best.score == pytest.approx(expected)
    assert best.start_char == OFFSETS[best.start_token][0] and best.end_char == OFFSETS[best.end_token][1]
