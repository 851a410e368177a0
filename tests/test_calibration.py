"""Threshold calibration: fixed article halves, the threshold written where the reader reads it."""

import json
import math
import shutil
from pathlib import Path

import pytest

from qa.training.calibration import split_by_article
from qa.cli import main
from qa.evaluation.datasets import load_squad
from qa.answering.reader import ExtractiveReader

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
    from qa.evaluation.datasets import spread

    assert spread(list(range(n)), limit) == expected


# --- the open setting: a collection of every other article ---------------------------------------------

ARTICLES = [
    ("Stargate", "The Stargate data center is being built in Abilene, Texas, by OpenAI and Oracle.",
     "Where is the Stargate data center being built?", "Abilene"),
    ("Reykjanes volcano", "The volcano near Grindavik erupted on Tuesday and lava reached the road.",
     "When did the volcano erupt?", "Tuesday"),
    ("Chess championship", "The challenger won the final game of the championship with the black pieces.",
     "Which pieces did the challenger play in the final game?", "the black pieces"),
    ("Mercury", "Mercury boils at 357 degrees Celsius and is liquid at room temperature.",
     "At what temperature does mercury boil?", "357 degrees Celsius"),
    ("Mona Lisa", "Leonardo da Vinci painted the Mona Lisa in Florence in the early sixteenth century.",
     "Who painted the Mona Lisa?", "Leonardo da Vinci"),
]


@pytest.fixture
def five_articles(tmp_path):
    data = [{"title": title, "paragraphs": [{"context": context, "qas": [
        {"id": f"q{n}", "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}]}]}
        for n, (title, context, question, answer) in enumerate(ARTICLES)]
    path = tmp_path / "five.json"
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


def test_collection_split_keeps_every_other_article_and_makes_the_rest_unanswerable(five_articles):
    from qa.training.calibration import collection_split

    examples = load_squad(five_articles)
    present, relabelled = collection_split(examples)
    assert present == {"Stargate", "Chess championship", "Mona Lisa"}
    assert [bool(ex.answers) for ex in relabelled] == [True, False, True, False, True]
    assert [ex.question for ex in relabelled] == [ex.question for ex in examples]
    assert all(ex.answer_starts == () for ex in relabelled if not ex.answers)


def test_outcome_at_scores_abstentions_as_the_official_v2_script():
    from qa.training.calibration import outcome_at
    from qa.evaluation.scoring import QuestionResult

    def r(has_answer, score, best_f1, text="span"):
        return QuestionResult(id="q", question="q?", golds=("g",) if has_answer else (), has_answer=has_answer,
                              prediction=text, best_text=text, score=score, exact=best_f1, f1=best_f1,
                              best_exact=best_f1, best_f1=best_f1, latency_s=0.0)

    results = [r(True, 5.0, 1.0), r(True, 1.0, 0.5), r(False, 4.0, 0.0), r(False, 0.5, 0.0), r(False, 9.0, 0.0, text="")]
    at_3 = outcome_at(results, 3.0)  # answers the first and third; the empty best span counts as abstaining
    assert at_3 == {"questions": 5, "f1": 60.0, "HasAns_f1": 50.0, "NoAns_accuracy": pytest.approx(200 / 3),
                    "answered": 2, "HasAns_total": 2, "NoAns_total": 3}
    assert outcome_at(results, -math.inf)["f1"] == pytest.approx(100 * (1.0 + 0.5 + 0 + 0 + 1) / 5)
    assert outcome_at(results, math.inf)["f1"] == 60.0 and outcome_at(results, math.inf)["answered"] == 0


def test_calibrate_reader_open_fits_on_a_collection_and_writes_the_threshold(five_articles, tmp_path, tiny_reader_dir,
                                                                            monkeypatch, embedder, capsys):
    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "cache"))
    reader_dir = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, reader_dir)
    previous = ExtractiveReader(reader_dir).no_answer_threshold
    report = tmp_path / "open.json"
    argv = ["calibrate-reader", str(five_articles), "--open", "--k", "2", "--reader", str(reader_dir), "--report", str(report)]
    assert main(argv, embedder=embedder) == 0
    summary = json.loads(report.read_text())
    assert summary == json.loads(capsys.readouterr().out)
    assert summary["fitted_on"] == "open" and summary["articles_indexed"] == 3
    assert summary["fit"] == {"articles": 3, "questions": 3, "best_f1": summary["fit"]["best_f1"]}
    held = summary["held_out"]
    assert held["articles"] == 2 and (held["HasAns_total"], held["NoAns_total"]) == (1, 1)
    assert summary["held_out_at_previous_threshold"]["threshold"] == previous
    settings = json.loads((reader_dir / "config.json").read_text())["citeqa"]
    assert settings["no_answer_threshold"] == summary["threshold"] and settings["threshold_fitted_on"] == "open"
    index_folders = list((tmp_path / "cache" / "eval-indexes").iterdir())
    assert len(index_folders) == 1 and "-articles-" in index_folders[0].name

    before = (reader_dir / "config.json").read_text()
    assert main([*argv[:-2], "--dry-run"], embedder=embedder) == 0
    assert (reader_dir / "config.json").read_text() == before


def test_calibrate_reader_open_needs_articles_on_both_sides(tmp_path, tiny_reader_dir, capsys):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "It is red.", "qas": [
        {"id": "a", "question": "What colour?", "answers": [{"text": "red", "answer_start": 6}]}]}]}]}))
    assert main(["calibrate-reader", str(one), "--open", "--reader", str(tiny_reader_dir), "--dry-run"]) == 1
    assert "needs at least four articles with questions" in capsys.readouterr().err
    assert main(["calibrate-reader", str(one), "--open", "--reader", str(tmp_path / "none")]) == 2
    assert "not a reader folder (no config.json)" in capsys.readouterr().err
