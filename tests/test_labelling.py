"""Span labelling through the offset mapping, on the hard cases: window edges, unicode, spaces."""

import pytest
from transformers import AutoTokenizer

from embeddings.models import default_embedding_model_path
from qa.training.labelling import answer_token_span, label_windows, normalise_answer_span


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(default_embedding_model_path()))


def decoded(tokenizer, window):
    if window.start_position == 0:
        return None
    return tokenizer.decode(window.input_ids[window.start_position : window.end_position + 1])


def label(tokenizer, question, context, answer, start=None, **kw):
    start = context.index(answer) if start is None else start
    span = normalise_answer_span(context, answer, start)
    kw.setdefault("max_length", 384)
    kw.setdefault("stride", 128)
    return label_windows(tokenizer, [question], [context], [span], **kw)[0]


def test_simple_answer(tokenizer):
    windows = label(tokenizer, "Where is it?", "The data center is in Abilene, Texas.", "Abilene, Texas")
    assert len(windows) == 1
    assert decoded(tokenizer, windows[0]) == "abilene, texas"


def test_leading_and_trailing_spaces_in_answer_are_dropped(tokenizer):
    context = "It cost $500 billion in total."
    windows = label(tokenizer, "How much?", context, " $500 billion ", start=context.index("$") - 1)
    assert decoded(tokenizer, windows[0]) == "$ 500 billion"


def test_unicode_answer(tokenizer):
    context = "Il a rencontré José Núñez à Zürich en 2024 — “très” tôt."
    windows = label(tokenizer, "Who?", context, "José Núñez")
    assert decoded(tokenizer, windows[0]) == "jose nunez"
    windows = label(tokenizer, "Where?", context, "Zürich")
    assert decoded(tokenizer, windows[0]) == "zurich"


def test_answer_inside_a_word_piece_covers_the_whole_token(tokenizer):
    context = "The unbelievable happened."
    windows = label(tokenizer, "What?", context, "believ")
    assert windows[0].start_position > 0
    assert "believ" in decoded(tokenizer, windows[0]).replace(" ", "")


def test_long_context_windows_and_edges(tokenizer):
    filler = " ".join(f"word{i}" for i in range(300))
    context = filler + " The answer is Abilene. " + filler
    windows = label(tokenizer, "Where?", context, "Abilene", max_length=64, stride=16)
    assert len(windows) > 5
    answered = [w for w in windows if w.start_position > 0]
    assert answered and all(decoded(tokenizer, w) == "abilene" for w in answered)
    assert any(w.start_position == 0 for w in windows)


def test_answer_cut_by_window_boundary_is_no_answer(tokenizer):
    context = " ".join(f"w{i}" for i in range(200))
    answer = " ".join(f"w{i}" for i in range(20, 60))  # longer than a window's context part
    windows = label(tokenizer, "Q?", context, answer, max_length=48, stride=8)
    assert all(w.start_position == 0 and w.end_position == 0 for w in windows)


def test_answer_at_the_very_end_of_a_window(tokenizer):
    context = " ".join(f"w{i}" for i in range(100))
    for target in ("w0", "w99", "w40", "w41"):
        windows = label(tokenizer, "Q?", context, target, start=context.index(target + " ") if target != "w99" else context.rindex(target), max_length=40, stride=10)
        answered = [w for w in windows if w.start_position > 0]
        assert answered, target
        assert all(decoded(tokenizer, w).replace(" ", "") == target for w in answered)


def test_negative_sample_is_all_cls(tokenizer):
    windows = label_windows(tokenizer, ["Who?"], ["Nobody is named here."], [(-1, -1)], max_length=64, stride=16)[0]
    assert [(w.start_position, w.end_position) for w in windows] == [(0, 0)]


def test_answer_token_span_pure():
    offsets = [(0, 0), (0, 3), (0, 0), (0, 3), (4, 7), (8, 12), (0, 0)]
    sequence_ids = [None, 0, None, 1, 1, 1, None]
    assert answer_token_span(offsets, sequence_ids, 4, 12) == (4, 5)
    assert answer_token_span(offsets, sequence_ids, 5, 6) == (4, 4)
    assert answer_token_span(offsets, sequence_ids, 10, 20) == (0, 0)
    assert answer_token_span(offsets, sequence_ids, -1, -1) == (0, 0)


def test_whitespace_only_answer_is_negative():
    assert normalise_answer_span("abc", "   ", 0) == (-1, -1)
