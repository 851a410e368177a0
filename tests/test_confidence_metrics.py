"""Calibration metrics (qa/evaluation/metrics.py): expected calibration error, reliability bins and coverage at
a target accuracy, on hand-worked cases and against brute force."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.evaluation.metrics import coverage_at_accuracy, expected_calibration_error, reliability_bins

# --- reliability_bins -----------------------------------------------------------------------------


def test_bins_are_equal_width_and_every_one_is_listed():
    table = reliability_bins([], [], bins=4)
    assert [(b["lower"], b["upper"]) for b in table] == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]
    assert all(b["count"] == 0 and b["confidence"] is None and b["accuracy"] is None for b in table)


def test_a_confidence_on_an_edge_goes_to_the_bin_above_and_one_to_the_last_bin():
    table = reliability_bins([0.0, 0.1, 0.3, 0.7, 0.99, 1.0], [1, 0, 1, 1, 0, 1], bins=10)
    counts = [b["count"] for b in table]
    assert counts == [1, 1, 0, 1, 0, 0, 0, 1, 0, 2]
    assert table[9]["confidence"] == pytest.approx((0.99 + 1.0) / 2) and table[9]["accuracy"] == 0.5
    assert table[1]["accuracy"] == 0.0 and table[3]["accuracy"] == 1.0
    assert table[0]["lower"] == 0.0 and table[9]["upper"] == 1.0


def test_bin_means_hand_worked():
    table = reliability_bins([0.2, 0.4, 0.45, 0.9], [0, 1, 0, 1], bins=2)
    assert [b["count"] for b in table] == [3, 1]
    assert table[0]["confidence"] == pytest.approx(0.35) and table[0]["accuracy"] == pytest.approx(1 / 3)
    assert table[1]["confidence"] == pytest.approx(0.9) and table[1]["accuracy"] == 1.0
    one = reliability_bins([0.0, 0.5, 1.0], [1, 1, 0], bins=1)
    assert len(one) == 1 and one[0]["count"] == 3 and one[0]["accuracy"] == pytest.approx(2 / 3)


def test_thirds_use_the_same_edges_they_report():
    table = reliability_bins([1 / 3, 2 / 3, 0.3333], [1, 1, 1], bins=3)
    assert [b["count"] for b in table] == [1, 1, 1]
    for b in table:
        assert b["lower"] <= b["confidence"] < b["upper"] or b["confidence"] == 1.0


# --- expected_calibration_error -------------------------------------------------------------------


def test_ece_hand_worked_weights_bins_by_their_count():
    # bins of 0.1: 0.95 right (|1 - .95| = .05), 0.85 wrong (.85), 0.35 right (.65), 0.15 wrong (.15)
    assert expected_calibration_error([0.95, 0.85, 0.35, 0.15], [1, 0, 1, 0]) == pytest.approx(1.7 / 4)
    # one bin of three (mean .83, 2 of 3 right: |.667 - .833|) and one of one (0.1, right: .9)
    ece = expected_calibration_error([0.8, 0.82, 0.88, 0.1], [1, 1, 0, 1])
    assert ece == pytest.approx((3 * abs(2 / 3 - 2.5 / 3) + 1 * 0.9) / 4)
    # 0.75 and 0.8 are in different bins of 0.1: 0.75 right (.25); 0.8 and 0.85 one right (|.5 - .825|)
    ece = expected_calibration_error([0.75, 0.8, 0.85, 0.1], [1, 1, 0, 1])
    assert ece == pytest.approx((0.25 + 2 * 0.325 + 0.9) / 4)


def test_ece_of_a_calibrated_an_overconfident_and_an_empty_set():
    assert expected_calibration_error([0.8] * 10, [1] * 8 + [0] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([1.0, 1.0], [0, 0]) == 1.0
    assert expected_calibration_error([0.0, 0.0], [0, 0]) == 0.0
    assert expected_calibration_error([], []) == 0.0


def test_ece_depends_on_the_bins():
    # one bin: the mean confidence .5 equals the accuracy .5; ten bins: each question is off by .9
    confidences, correct = [0.1, 0.9], [1, 0]
    assert expected_calibration_error(confidences, correct, bins=1) == pytest.approx(0.0)
    assert expected_calibration_error(confidences, correct, bins=10) == pytest.approx(0.9)


@pytest.mark.parametrize("confidences, correct, bins, message", [
    ([0.5], [1, 0], 10, "1 confidences but 2"),
    ([1.5], [1], 10, r"in \[0, 1\]"),
    ([-0.1], [1], 10, r"in \[0, 1\]"),
    ([math.nan], [1], 10, r"in \[0, 1\]"),
    ([math.inf], [1], 10, r"in \[0, 1\]"),
    ([0.5], [2], 10, "correctness"),
    ([0.5], [1], 0, "bins"),
    ([0.5], [1], True, "bins"),
    ([0.5], [1], 2.0, "bins"),
])
def test_bad_inputs_are_refused(confidences, correct, bins, message):
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(confidences, correct, bins)
    with pytest.raises(ValueError, match=message):
        reliability_bins(confidences, correct, bins)


# --- coverage_at_accuracy -------------------------------------------------------------------------


def test_coverage_hand_worked():
    # most confident first: right, wrong, right, wrong -> 1/1, 1/2, 2/3, 2/4
    confidences, correct = [0.95, 0.85, 0.35, 0.15], [1, 0, 1, 0]
    assert coverage_at_accuracy(confidences, correct, 0.8) == 0.25
    assert coverage_at_accuracy(confidences, correct, 0.6) == 0.75
    assert coverage_at_accuracy(confidences, correct, 0.5) == 1.0
    assert coverage_at_accuracy(confidences, correct, 0.0) == 1.0


def test_coverage_is_the_largest_share_even_after_a_dip():
    # 0/1, 1/2, 2/3, 3/4: only answering everything reaches 75 %
    assert coverage_at_accuracy([0.9, 0.8, 0.7, 0.6], [0, 1, 1, 1], 0.75) == 1.0
    assert coverage_at_accuracy([0.9, 0.8, 0.7, 0.6], [0, 1, 1, 1], 0.8) == 0.0


def test_tied_confidences_are_answered_together_or_not_at_all():
    assert coverage_at_accuracy([0.9, 0.9], [1, 0], 0.5) == 1.0
    assert coverage_at_accuracy([0.9, 0.9], [1, 0], 0.6) == 0.0  # no threshold answers only the right one
    assert coverage_at_accuracy([0.9, 0.9, 0.2], [1, 1, 0], 0.9) == pytest.approx(2 / 3)


def test_coverage_needs_only_an_order_and_is_zero_when_nothing_qualifies():
    assert coverage_at_accuracy([7.5, -2.0, -math.inf], [1, 1, 0], 0.9) == pytest.approx(2 / 3)
    assert coverage_at_accuracy([0.9, 0.5], [0, 0], 0.1) == 0.0
    assert coverage_at_accuracy([], [], 0.8) == 0.0
    assert coverage_at_accuracy([0.3] * 10, [1] * 8 + [0] * 2, 0.8) == 1.0  # exactly 80 % right


@pytest.mark.parametrize("target", [-0.1, 1.5, math.nan, True, "0.8"])
def test_coverage_refuses_a_target_outside_zero_to_one(target):
    with pytest.raises(ValueError, match="target accuracy"):
        coverage_at_accuracy([0.5], [1], target)


def test_coverage_refuses_nan_confidences_and_mismatched_lengths():
    with pytest.raises(ValueError, match="a number"):
        coverage_at_accuracy([math.nan], [1], 0.5)
    with pytest.raises(ValueError, match="2 confidences but 1"):
        coverage_at_accuracy([0.1, 0.2], [1], 0.5)


# --- Against brute force --------------------------------------------------------------------------

LEVELS = [i / 20 for i in range(21)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LEVELS + [-math.inf, 3.0]), st.sampled_from([0.0, 1.0])), max_size=12),
       st.sampled_from([0.0, 0.5, 0.6, 0.75, 0.8, 0.9, 1.0]))
def test_coverage_is_the_best_of_every_threshold(rows, target):
    confidences = [c for c, _ in rows]
    correct = [r for _, r in rows]
    best = 0.0
    for threshold in set(confidences):
        answered = [r for c, r in rows if c >= threshold]
        if sum(answered) >= target * len(answered) - 1e-9:
            best = max(best, len(answered) / len(rows))
    assert coverage_at_accuracy(confidences, correct, target) == pytest.approx(best)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LEVELS), st.sampled_from([0.0, 1.0])), max_size=15),
       st.integers(1, 12))
def test_bins_partition_the_questions_and_ece_is_their_weighted_gap(rows, bins):
    confidences = [c for c, _ in rows]
    correct = [r for _, r in rows]
    table = reliability_bins(confidences, correct, bins)
    assert len(table) == bins and sum(b["count"] for b in table) == len(rows)
    for number, b in enumerate(table):
        members = [(c, r) for c, r in rows if b["lower"] <= c < b["upper"] or (number == bins - 1 and c == 1.0)]
        assert b["count"] == len(members)
        if members:
            assert b["confidence"] == pytest.approx(sum(c for c, _ in members) / len(members))
            assert b["accuracy"] == pytest.approx(sum(r for _, r in members) / len(members))
    ece = expected_calibration_error(confidences, correct, bins)
    expected = sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in table if b["count"]) / len(rows) if rows else 0.0
    assert ece == pytest.approx(expected) and 0.0 <= ece <= 1.0
