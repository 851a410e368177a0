"""Early stopping: the fitting of the stop score (pure), the assistant's staged reading, the calibration command."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from qa.answering.config import Config
from qa.training.early_stop import ReadingRecord, choose_early_stop_score, early_stop_outcome
from qa.answering.pipeline import Assistant
from qa.answering.types import Span

FIXTURES = Path(__file__).parent / "fixtures"


def rec(first_score, first_f1, full_f1, passages=5):
    return ReadingRecord(first_score, first_f1, full_f1, passages)


# --- choosing the score (pure) --------------------------------------------------------------------

def test_free_stops_take_the_lowest_score():
    records = [rec(9.0, 1.0, 1.0), rec(5.0, 0.0, 0.0), rec(1.0, 1.0, 1.0)]
    assert choose_early_stop_score(records, 0.0) == 1.0


def test_a_costly_stop_bounds_the_score_from_below():
    # stopping at 5.0 turns a right answer wrong: -1/4 of the questions = 25 F1 points
    records = [rec(9.0, 1.0, 1.0), rec(5.0, 0.0, 1.0), rec(1.0, 1.0, 1.0), rec(-math.inf, 0.0, 1.0)]
    assert choose_early_stop_score(records, 0.0) == 9.0
    assert choose_early_stop_score(records, 24.9) == 9.0
    assert choose_early_stop_score(records, 25.0) == 1.0


def test_a_gain_below_can_not_buy_back_a_loss_above():
    # walking down from the top: the loss at 8.0 exceeds the bound, so 2.0's gain is never reached
    records = [rec(8.0, 0.0, 1.0), rec(2.0, 1.0, 0.0), rec(-math.inf, 1.0, 1.0)]
    assert choose_early_stop_score(records, 10.0) is None
    assert choose_early_stop_score(records, 34.0) == 2.0  # 1/3 lost at 8.0, back to 0 at 2.0


def test_equal_scores_stop_together():
    records = [rec(4.0, 1.0, 1.0), rec(4.0, 0.0, 1.0), rec(3.0, 1.0, 1.0)]
    assert choose_early_stop_score(records, 0.0) is None
    assert choose_early_stop_score(records, 100 / 3) == 3.0


def test_no_finite_scores_never_stop():
    assert choose_early_stop_score([rec(-math.inf, 1.0, 1.0)], 5.0) is None
    assert choose_early_stop_score([], 5.0) is None


def test_outcome_counts_f1_stops_and_passages():
    records = [rec(9.0, 1.0, 0.5, 5), rec(1.0, 0.0, 1.0, 3), rec(-math.inf, 0.2, 0.4, 4)]
    out = early_stop_outcome(records, 5.0, first=2)
    assert out.f1 == pytest.approx(100 * (1.0 + 1.0 + 0.4) / 3)
    assert out.stopped == pytest.approx(1 / 3) and out.passages_read == pytest.approx((2 + 3 + 4) / 3)
    never = early_stop_outcome(records, None, first=2)
    assert never.stopped == 0 and never.passages_read == 4.0 and never.f1 == pytest.approx(100 * 1.9 / 3)
    assert early_stop_outcome([], 1.0, first=2).f1 == 0.0


# --- the assistant's staged reading ----------------------------------------------------------------

class ScriptedReader:
    """Scores one span per passage from a table keyed by rank, and records what it was asked to read."""

    def __init__(self, scores: dict[int, float], threshold: float = 0.0, early_stop_score: float | None = None):
        self.scores, self.no_answer_threshold, self.early_stop_score = scores, threshold, early_stop_score
        self.calls: list[list[int]] = []

    def read(self, question, passages, top_n=5):
        self.calls.append([p.rank for p in passages])
        spans = [Span(p.chunk.text[:5], self.scores[p.rank], p, 0, 5) for p in passages]
        return sorted(spans, key=lambda s: -s.score)


@pytest.fixture(scope="module")
def five_passages():
    from tests.test_pipeline import make_passage

    return [make_passage(f"d{r}", 0, 0, 39, r) for r in range(1, 6)]


@pytest.mark.parametrize("scores, stop, threshold, calls, read, text_rank", [
    ({1: 6.0, 2: 1.0, 3: 9.0, 4: 0.0, 5: 0.0}, 5.0, 0.0, [[1, 2]], 2, 1),  # confident early: stops
    ({1: 4.0, 2: 1.0, 3: 9.0, 4: 0.0, 5: 0.0}, 5.0, 0.0, [[1, 2], [3, 4, 5]], 5, 3),  # not: reads the rest
    ({1: 5.0, 2: 1.0, 3: 9.0, 4: 0.0, 5: 0.0}, 5.0, 0.0, [[1, 2]], 2, 1),  # exactly the score stops
    ({1: 6.0, 2: 1.0, 3: 9.0, 4: 0.0, 5: 0.0}, 5.0, 7.0, [[1, 2], [3, 4, 5]], 5, 3),  # never stops on an abstention
    ({1: 6.0, 2: 1.0, 3: 9.0, 4: 0.0, 5: 0.0}, None, 0.0, [[1, 2, 3, 4, 5]], 5, 3),  # no score: one full read
])
def test_staged_reading(five_passages, scores, stop, threshold, calls, read, text_rank):
    reader = ScriptedReader(scores, threshold, early_stop_score=stop)
    answer = Assistant(None, None, reader, Config()).answer_from_passages("Where?", five_passages)
    assert reader.calls == calls and answer.passages_read == read
    assert answer.citations[0].doc_id == f"d{text_rank}"


def test_config_overrides_the_readers_score(five_passages):
    scores = {1: 6.0, 2: 1.0, 3: 9.0, 4: 0.0, 5: 0.0}
    never = ScriptedReader(scores, early_stop_score=5.0)
    Assistant(None, None, never, Config(early_stop_score=math.inf)).answer_from_passages("Where?", five_passages)
    assert never.calls == [[1, 2, 3, 4, 5]]
    three = ScriptedReader(scores, early_stop_score=None)
    answer = Assistant(None, None, three, Config(early_stop_score=3.0, early_stop_passages=3)).answer_from_passages(
        "Where?", five_passages)
    assert three.calls == [[1, 2, 3]] and answer.passages_read == 3 and answer.citations[0].doc_id == "d3"
    few = ScriptedReader(scores, early_stop_score=0.0)  # no more passages than the first round: one read
    assert Assistant(None, None, few, Config()).answer_from_passages("Where?", five_passages[:2]).passages_read == 2
    assert few.calls == [[1, 2]]


@pytest.mark.parametrize("bad", [float("nan"), "5"])
def test_bad_early_stop_settings_are_named(bad):
    with pytest.raises(ValueError, match="early_stop_score"):
        Config(early_stop_score=bad)
    with pytest.raises(ValueError, match="early_stop_passages"):
        Config(early_stop_passages=0)


def test_a_real_reader_stops_with_the_answer_of_its_first_passages(tiny_reader_dir, built_index, embedder):
    full = Assistant.from_config(Config(index_dir=str(built_index), reader_model=str(tiny_reader_dir), k=3,
                                        early_stop_score=math.inf), embedder=embedder)
    question = "Where will the data center be built?"
    passages = full.retrieve(question, 3)
    assert len(passages) == 3
    read_all = full.answer_from_passages(question, passages)
    first_two = full.answer_from_passages(question, passages[:2])
    early = Assistant(full.index, full.retriever, full.reader, full.config.with_changes(early_stop_score=-1e9))
    stopped = early.answer_from_passages(question, passages)
    assert read_all.passages_read == 3 and stopped.passages_read == 2
    assert (stopped.text, stopped.score, stopped.citations) == (first_two.text, first_two.score, first_two.citations)


def test_the_reader_folder_records_the_score(tiny_reader_dir, tmp_path):
    from qa.answering.reader import ExtractiveReader, record_settings

    folder = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, folder)
    assert ExtractiveReader(folder).early_stop_score is None
    record_settings(folder, early_stop_score=4.5)
    assert ExtractiveReader(folder).early_stop_score == 4.5


# --- calibration end to end ---------------------------------------------------------------------------

def test_calibration_fits_writes_and_reports(tiny_reader_dir, tmp_path, monkeypatch, embedder, capsys):
    from qa.cli import main

    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, folder)
    report = tmp_path / "early.json"
    argv = ["calibrate-early-stop", str(FIXTURES / "squad_v1_tiny.json"), "--reader", str(folder), "--k", "3",
            "--max-f1-loss", "100", "--report", str(report)]
    assert main(argv, embedder=embedder) == 0
    summary = json.loads(report.read_text())
    assert summary == json.loads(capsys.readouterr().out)
    assert summary["fit"]["articles"] == 2 and summary["held_out"]["articles"] == 1
    assert summary["held_out"]["questions"] + summary["fit"]["questions"] == 7
    # a loss bound of 100 points allows any stop: the lowest score seen on the fitting half
    assert math.isfinite(summary["early_stop_score"])
    assert summary["fit"]["stopped_early"] == 1.0
    written = json.loads((folder / "config.json").read_text())["citeqa"]["early_stop_score"]
    assert written == summary["early_stop_score"]


@pytest.mark.parametrize("argv, message", [
    (["calibrate-early-stop", "no/such.json"], "question set not found: no/such.json"),
    (["calibrate-early-stop", str(FIXTURES / "squad_v1_tiny.json"), "--reader", "no/reader"], "not a reader folder"),
    (["calibrate-early-stop", str(FIXTURES / "squad_v1_tiny.json"), "--max-f1-loss", "-1"], "--max-f1-loss must be"),
])
def test_calibration_names_bad_arguments(argv, message, capsys, tiny_reader_dir):
    from qa.cli import main

    if "--max-f1-loss" in argv:
        argv += ["--reader", str(tiny_reader_dir)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
