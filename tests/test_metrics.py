"""SQuAD metrics against hand-worked cases and the official script's definitions."""

import pytest

from qa.evaluation.metrics import best_over_golds, exact_match, f1_score, normalize_answer


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  an   apple, a day!  ", "apple day"),
        ("Theatre", "theatre"),
        ("U.S.A.", "usa"),
        ("the", ""),
        ("", ""),
        ("“Curly” quotes", "“curly” quotes"),
    ],
)
def test_normalize_answer(text, normalised):
    assert normalize_answer(text) == normalised


def test_exact_match_ignores_case_punctuation_articles():
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Denver", "Denver Broncos") == 0.0


def test_f1_partial_overlap():
    # prediction tokens: denver broncos won (3); gold: denver broncos (2); overlap 2
    assert f1_score("Denver Broncos won", "the Denver Broncos") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_f1_counts_repeated_tokens_once_each():
    assert f1_score("a b b", "b") == pytest.approx(2 * (1 / 2) * 1 / (1 / 2 + 1))


def test_f1_no_overlap_and_empty():
    assert f1_score("Paris", "London") == 0.0
    assert f1_score("", "London") == 0.0
    assert f1_score("", "") == 1.0


def test_best_over_several_golds():
    golds = ["Denver Broncos", "Broncos", "the Broncos of Denver"]
    assert best_over_golds(exact_match, "broncos", golds) == 1.0
    assert best_over_golds(f1_score, "Denver", golds) == pytest.approx(2 / 3)


def test_unanswerable_needs_empty_prediction():
    assert best_over_golds(exact_match, "", []) == 1.0
    assert best_over_golds(f1_score, "", []) == 1.0
    assert best_over_golds(f1_score, "something", []) == 0.0
