"""Threshold calibration: fixed article halves, the threshold written where the reader reads it."""

import json
import math
import shutil
from pathlib import Path

import pytest

from qa.calibration import split_by_article
from qa.cli import main
from qa.datasets import load_squad
from qa.reader import ExtractiveReader

V2 = Path(__file__).parent / "fixtures" / "squad_v2_tiny.json"


def test_split_is_by_article_fixed_and_disjoint():
    examples = load_squad(V2)
    fit, held = split_by_article(examples)
    assert {ex.title for ex in fit} == {"Stargate", "Reykjanes volcano"}
    assert {ex.title for ex in held} == {"Chess championship"}
    assert len(fit) + len(held) == len(examples)
    assert split_by_article(examples) == (fit, held)


def test_calibrate_reader_writes_the_threshold(tmp_path, tiny_reader_dir, capsys):
    reader_dir = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, reader_dir)
    report = tmp_path / "calibration.json"
    assert main(["calibrate-reader", str(V2), "--reader", str(reader_dir), "--report", str(report)]) == 0
    summary = json.loads(report.read_text())
    assert math.isfinite(summary["threshold"])
    assert summary["fit"]["articles"] == 2 and summary["held_out"]["articles"] == 1
    for key in ("f1", "exact_match", "HasAns_f1", "NoAns_accuracy"):
        assert 0.0 <= summary["held_out"][key] <= 100.0
    assert ExtractiveReader(reader_dir).no_answer_threshold == summary["threshold"]

    before = (reader_dir / "config.json").read_text()
    assert main(["calibrate-reader", str(V2), "--reader", str(reader_dir), "--dry-run"]) == 0
    assert (reader_dir / "config.json").read_text() == before


@pytest.mark.parametrize("n, limit, expected", [
    (10, None, list(range(10))), (10, 20, list(range(10))), (10, 10, list(range(10))),
    (10, 5, [0, 2, 4, 6, 8]), (10, 3, [0, 3, 6]), (10, 1, [0]), (7, 2, [0, 3]), (0, 3, []),
])
def test_spread_takes_even_steps_in_order(n, limit, expected):
    from qa.datasets import spread

    assert spread(list(range(n)), limit) == expected
