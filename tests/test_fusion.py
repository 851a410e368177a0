"""Reciprocal rank fusion on known rankings."""

import pytest

from qa.answering.retrievers import reciprocal_rank_fusion


def test_rrf_scores_and_order():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    scores = dict(fused)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[2] == pytest.approx(1 / 62)
    assert scores[4] == pytest.approx(1 / 63)
    assert [i for i, _ in fused] == [1, 3, 2, 4]


def test_rrf_item_in_both_lists_beats_top_of_one():
    fused = reciprocal_rank_fusion([[7, 8], [9, 8]], k=60)
    assert fused[0][0] == 8


def test_rrf_ties_keep_first_seen_order_and_empty_input():
    assert [i for i, _ in reciprocal_rank_fusion([[5], [6]])] == [5, 6]
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_rrf_small_k_favours_top_ranks_more():
    small = dict(reciprocal_rank_fusion([[1, 2]], k=1))
    assert small[1] / small[2] == pytest.approx(3 / 2)
