"""`citeqa eval` and calibrated confidence: each question's confidence and correctness, the calibration figures
and the probability scale of a calibrated run's thresholds, `--details`, output paths checked before the run,
and question sets that repeat an id."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa.answering.config import Config
from qa.answering.types import Answer
from qa.evaluation.datasets import QAExample, QuestionSetError, load_questions, load_squad
from qa.evaluation.metrics import SCORING_V1, SCORING_V2
from qa.evaluation.run import EvalOptions, evaluate, write_details
from qa.evaluation.scoring import (
    PROBABILITY,
    SCORE,
    QuestionResult,
    best_confidence_of,
    build_report,
    calibration_figures,
    detail_record,
    find_best_threshold,
    score_question,
    worst_misses,
)

FIXTURES = Path(__file__).parent / "fixtures"
V2 = FIXTURES / "squad_v2_tiny.json"


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def result(id, *, correct=True, has_answer=True, score=1.0, probability=None, confidence=None, best_text="x",
           prediction=None) -> QuestionResult:
    """A scored question: its best span `best_text` right or wrong, given unless `prediction` says otherwise."""
    prediction = best_text if prediction is None else prediction
    best = 1.0 if correct and has_answer and best_text else (1.0 if not has_answer and not best_text else 0.0)
    given = best if prediction == best_text else (0.0 if has_answer else 1.0)
    if confidence is None:
        confidence = probability if probability is not None else logistic(score)
    return QuestionResult(id=id, question=f"{id}?", golds=("x",) if has_answer else (), has_answer=has_answer,
                          prediction=prediction, best_text=best_text, score=score, exact=given, f1=given,
                          best_exact=best, best_f1=best, latency_s=0.01, confidence=confidence, probability=probability)


# --- Each question: confidence and correctness ----------------------------------------------------


def test_correct_is_an_exact_best_guess_and_never_an_answer_to_an_unanswerable_question():
    assert result("a").correct == 1.0
    assert result("a", correct=False).correct == 0.0
    assert result("a", prediction="").correct == 1.0  # abstained, but the best guess was right
    unanswerable_guess = result("u", has_answer=False, best_text="y")
    assert unanswerable_guess.best_exact == 0.0 and unanswerable_guess.correct == 0.0
    no_span = result("u", has_answer=False, best_text="")
    assert no_span.best_exact == 1.0 and no_span.correct == 0.0  # the empty guess scores 1 in SQuAD, yet is no guess


def _answer(text, score, *, probability=None, candidates=()) -> Answer:
    return Answer("q?", text, score, (), tuple(candidates), probability=probability)


def test_best_confidence_is_the_answers_own_or_its_best_candidates():
    assert best_confidence_of(None) == (0.0, None)
    assert best_confidence_of(_answer("a", 1.5)) == (pytest.approx(logistic(1.5)), None)
    assert best_confidence_of(_answer("a", 1.5, probability=0.3)) == (0.3, 0.3)
    guess = _answer("b", -2.0, probability=0.2)
    abstained = _answer(None, -2.0, probability=0.2, candidates=[guess])
    assert best_confidence_of(abstained) == (0.2, 0.2)
    assert best_confidence_of(_answer(None, -2.0, candidates=[_answer("b", -2.0)]))[0] == pytest.approx(logistic(-2.0))
    assert best_confidence_of(_answer(None, float("-inf"))) == (0.0, None)  # no span at all


def test_score_question_keeps_the_best_spans_confidence_whether_or_not_it_answered():
    example = QAExample("q1", "Where?", ("Abilene",))
    guess = _answer("Abilene", 0.4, probability=0.35)
    r = score_question(example, _answer(None, 0.4, probability=0.35, candidates=[guess]), [], read=1, latency_s=0.0,
                       scoring=SCORING_V1, retrieval=False)
    assert r.abstained and r.best_text == "Abilene" and r.confidence == 0.35 and r.probability == 0.35 and r.correct == 1.0
    r = score_question(example, None, [], read=0, latency_s=0.0, scoring=SCORING_V1, retrieval=False)
    assert r.confidence == 0.0 and r.probability is None and r.correct == 0.0


# --- The report's figures -------------------------------------------------------------------------


def hand_worked(calibrated: bool) -> list[QuestionResult]:
    """Confidences .95 right, .85 wrong, .35 right, .15 unanswerable-and-answered; with a calibrator the
    probabilities rank them differently from the scores."""
    rows = [("a", True, True, 0.5, 0.95), ("b", False, True, 3.0, 0.85), ("c", True, True, 2.0, 0.35),
            ("d", False, False, 4.0, 0.15)]
    return [result(id, correct=ok, has_answer=has, score=score, probability=p if calibrated else None,
                   confidence=p) for id, ok, has, score, p in rows]


def test_calibration_figures_hand_worked():
    figures = calibration_figures(hand_worked(calibrated=True))
    assert figures["ece"] == pytest.approx((0.05 + 0.85 + 0.65 + 0.15) / 4)
    assert [b["count"] for b in figures["reliability"]] == [0, 1, 0, 1, 0, 0, 0, 0, 1, 1]
    assert figures["coverage_at_80"] == 0.25 and figures["coverage_at_90"] == 0.25
    assert figures["accuracy_answering_all"] == 50.0 and figures["mean_confidence"] == pytest.approx(0.575)
    # ranked by score instead (4.0 wrong, 3.0 wrong, 2.0 right, .5 right): wrong first, nothing reaches 80 %
    assert calibration_figures(hand_worked(calibrated=True), scale=SCORE)["coverage_at_80"] == 0.0
    assert calibration_figures([])["ece"] is None and calibration_figures([])["coverage_at_90"] == 0.0


def test_a_calibrated_run_reports_in_probability():
    results = hand_worked(calibrated=True)
    report = build_report(results, k=1, retrieval=False, seconds=1.0, threshold=-3.0, scoring=SCORING_V2,
                          min_confidence=0.6)
    assert report["threshold_scale"] == PROBABILITY and report["threshold"] == 0.6
    probabilities = [r.confidence for r in results]
    best = find_best_threshold(probabilities, [r.best_f1 for r in results], [r.has_answer for r in results],
                               [True] * 4)
    assert (report["best_threshold_f1"], report["best_threshold"]) == best == (75.0, 0.35)
    assert report["best_threshold_exact_match"] == 75.0 and report["best_exact_match_threshold"] == 0.35
    assert [p["threshold"] for p in report["risk_coverage"]] == [0.95, 0.85, 0.35, 0.15]
    assert report["ece"] == pytest.approx(0.425) and report["coverage_at_80"] == 0.25
    assert [m["id"] for m in report["worst_misses"]] == ["b", "d"]  # by probability: .85 before .15
    assert report["worst_misses"][0]["confidence"] == 0.85 and report["worst_misses"][0]["probability"] == 0.85
    json.dumps(report, allow_nan=False)


def test_an_uncalibrated_run_reports_in_score_as_before():
    results = hand_worked(calibrated=False)
    report = build_report(results, k=1, retrieval=False, seconds=1.0, threshold=-3.0, scoring=SCORING_V2,
                          min_confidence=0.6)
    assert report["threshold_scale"] == SCORE and report["threshold"] == -3.0
    scores = [r.score for r in results]
    assert (report["best_threshold_f1"], report["best_threshold"]) == find_best_threshold(
        scores, [r.best_f1 for r in results], [r.has_answer for r in results], [True] * 4)
    assert [p["threshold"] for p in report["risk_coverage"]] == [4.0, 3.0, 2.0, 0.5]
    assert (report["best_threshold_f1"], report["best_threshold"]) == (50.0, 0.5)
    assert [m["id"] for m in report["worst_misses"]] == ["d", "b"]  # by score: 4.0 before 3.0
    assert [r.id for r in worst_misses(hand_worked(calibrated=True), scale=SCORE)] == ["d", "b"]
    assert [r.id for r in worst_misses(hand_worked(calibrated=True), scale=PROBABILITY)] == ["b", "d"]
    # a calibrated run can still be scored in score (to fit a score threshold)
    forced = build_report(hand_worked(calibrated=True), k=1, retrieval=False, seconds=1.0, threshold=-3.0,
                          scoring=SCORING_V2, threshold_scale=SCORE)
    assert forced["threshold_scale"] == SCORE and forced["best_threshold"] == report["best_threshold"]


def test_the_terminal_table_and_page_show_the_calibration(tmp_path):
    from qa.evaluation.report import format_table, html_page

    report = build_report(hand_worked(calibrated=True), k=1, retrieval=False, seconds=1.0, threshold=0.0,
                          scoring=SCORING_V2, min_confidence=0.6)
    table = format_table(report)
    assert "at min confidence 0.60" in table and "best min confidence  0.35" in table
    assert "ECE 0.425 (calibrated probability)" in table and "25.0 % of questions at 80 % right" in table
    page = html_page(report, hand_worked(calibrated=True))
    assert page.count("data:image/png;base64,") == 3 and 'alt="reliability diagram"' in page
    assert "<h2>Calibration</h2>" in page and "<th>min confidence</th>" in page
    uncalibrated = format_table(build_report(hand_worked(calibrated=False), k=1, retrieval=False, seconds=1.0,
                                             threshold=0.0, scoring=SCORING_V2))
    assert "at threshold 0.00" in uncalibrated and "not calibrated" in uncalibrated


def test_detail_record_gives_the_best_guess_and_scores_what_was_predicted():
    abstained = result("q", prediction="", probability=0.3)
    assert detail_record(abstained) == {"id": "q", "prediction": "x", "confidence": 0.3, "abstained": True,
                                        "exact_match": 0.0, "f1": 0.0}
    answered = result("u", has_answer=False, best_text="y", score=2.0)
    assert detail_record(answered)["prediction"] == "y" and detail_record(answered)["exact_match"] == 0.0
    assert detail_record(answered)["confidence"] == pytest.approx(logistic(2.0))


# --- Whole runs with the tiny reader --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_reader(tiny_reader_dir):
    from qa.answering.reader import ExtractiveReader

    return ExtractiveReader(tiny_reader_dir)


def calibrated(score: float) -> float:
    """What the test calibrator makes of a span score: a probability in the same order, on another scale."""
    return logistic(4.0 * score + 1.0)


@pytest.fixture(scope="module")
def calibrated_reader(tiny_reader_dir, tmp_path_factory):
    """The tiny reader with a calibrator.json beside it: logistic on the span score alone (`calibrated`),
    answering from 0.5 by default, showing a best guess from 0.1."""
    import shutil

    from qa.answering.calibrator import CALIBRATOR_FILE, CALIBRATOR_FORMAT, CALIBRATOR_VERSION
    from qa.answering.features import FEATURE_NAMES
    from qa.answering.reader import ExtractiveReader

    folder = tmp_path_factory.mktemp("calibrated") / "reader"
    shutil.copytree(tiny_reader_dir, folder)
    width = len(FEATURE_NAMES)
    coef = [4.0 if name == "score" else 0.0 for name in FEATURE_NAMES]
    data = {"format": CALIBRATOR_FORMAT, "version": CALIBRATOR_VERSION, "features": list(FEATURE_NAMES),
            "model": {"kind": "logistic", "mean": [0.0] * width, "scale": [1.0] * width, "coef": coef, "intercept": 1.0},
            "platt": {"a": 1.0, "b": 0.0}, "default_min_confidence": 0.5, "guess_floor": 0.1}
    (folder / CALIBRATOR_FILE).write_text(json.dumps(data), encoding="utf-8")
    return ExtractiveReader(folder)


def test_an_uncalibrated_run_keeps_its_scores_and_confidence_is_their_logistic(tiny_reader):
    run = evaluate(EvalOptions(str(V2), reader_only=True), Config(), reader=tiny_reader)
    report = run.report
    assert report["threshold_scale"] == SCORE and report["threshold"] == tiny_reader.no_answer_threshold
    assert report["settings"]["calibrator"] is False and report["settings"]["min_confidence"] is None
    for r in run.results:
        assert r.probability is None and r.confidence == pytest.approx(logistic(r.score))
    assert report["ece"] == calibration_figures(run.results)["ece"]
    assert len(report["reliability"]) == 10 and sum(b["count"] for b in report["reliability"]) == 10


def check_calibrated(run, used: float) -> None:
    """A calibrated run: every answer carries its probability and abstains below `used`; the report's
    thresholds are probabilities."""
    report = run.report
    assert report["threshold_scale"] == PROBABILITY and report["threshold"] == used
    assert report["settings"]["calibrator"] is True and report["settings"]["min_confidence"] == used
    for r in run.results:
        assert r.probability is not None and r.confidence == r.probability
        if r.best_text:
            assert r.probability == pytest.approx(calibrated(r.score))
        assert r.abstained == (r.probability < used)
    assert report["abstained"] == sum(1 for r in run.results if r.probability < used)
    probabilities = [r.probability for r in run.results]
    expected = find_best_threshold(probabilities, [r.best_f1 for r in run.results], [r.has_answer for r in run.results],
                                   [bool(r.best_text) for r in run.results])
    assert (report["best_threshold_f1"], report["best_threshold"]) == expected
    assert all(p["threshold"] is None or 0.0 <= p["threshold"] <= 1.0 for p in report["risk_coverage"])
    assert report["ece"] == pytest.approx(calibration_figures(run.results)["ece"])
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize("asked, used", [(None, 0.5), (0.7, 0.7), (0.0, 0.0)])
def test_a_calibrated_reader_only_run_reports_in_probability(calibrated_reader, asked, used):
    run = evaluate(EvalOptions(str(V2), reader_only=True), Config(min_confidence=asked), reader=calibrated_reader)
    check_calibrated(run, used)
    if used == 0.0:
        assert run.report["abstained"] == 0


def test_a_calibrated_open_run_reports_in_probability(calibrated_reader, built_index, embedder):
    run = evaluate(EvalOptions(str(FIXTURES / "questions.jsonl")),
                   Config(index_dir=str(built_index), k=2, retrieval_mode="dense", min_confidence=0.6),
                   embedder=embedder, reader=calibrated_reader)
    check_calibrated(run, 0.6)
    assert run.report["recall@2"] is not None


def test_details_from_the_command_line(tmp_path, tiny_reader_dir):
    from qa.cli import main

    details = tmp_path / "new" / "folder" / "details.jsonl"  # missing folders are made, as for --report
    argv = ["eval", str(V2), "--reader-only", "--reader", str(tiny_reader_dir), "--threshold", "1000", "--no-progress",
            "--details", str(details), "--report", str(tmp_path / "report.json")]
    assert main(argv) == 0
    lines = details.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [ex.id for ex in load_squad(V2)]
    for record in records:
        assert set(record) == {"id", "prediction", "confidence", "abstained", "exact_match", "f1"}
        assert record["abstained"] is True and record["prediction"]  # abstained, yet the best guess is there
        assert 0.0 < record["confidence"] < 1.0
        assert record["exact_match"] == record["f1"] == (1.0 if record["id"].endswith("-x") else 0.0)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert 100.0 * sum(r["exact_match"] for r in records) / len(records) == report["exact_match"] == 30.0

    assert main([*argv[:5], "--threshold=-inf", *argv[7:]]) == 0  # never abstaining: the guesses are the predictions
    again = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [r["prediction"] for r in again] == [r["prediction"] for r in records]
    assert not any(r["abstained"] for r in again)
    assert [r["confidence"] for r in again] == pytest.approx([r["confidence"] for r in records])


def test_details_keep_odd_characters_on_one_valid_utf8_line(tmp_path):
    results = [result("odd-\udc80", best_text="lone \ud800 surrogate"), result("sep\u2028arated\x85", best_text="a\nb")]
    path = tmp_path / "d.jsonl"
    assert write_details(path, results) == 2
    text = path.read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert len(text.splitlines()) == 2  # no U+2028, U+0085 or newline left raw to split a line
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["id"] for r in records] == ["odd-\udc80", "sep\u2028arated\x85"]
    assert [r["prediction"] for r in records] == ["lone \ud800 surrogate", "a\nb"]
    assert not list(tmp_path.glob("*.tmp"))


# --- Output paths are checked before the run starts -----------------------------------------------


@pytest.fixture
def no_run(monkeypatch):
    from qa.evaluation import run as run_module

    def refuse(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(run_module, "evaluate", refuse)


def test_a_details_path_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys, no_run):
    from qa.cli import main

    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    base = ["eval", str(V2), "--reader-only"]
    cases = [
        (["--details", str(tmp_path)], f"--details {tmp_path}: is a folder; give a file name"),
        (["--details", str(tmp_path) + "/"], f"--details {tmp_path}/: names a folder"),
        (["--details", str(a_file / "d.jsonl")], f"--details {a_file / 'd.jsonl'}: {a_file} is not a folder"),
        (["--details", str(a_file / "more" / "d.jsonl")], f"{a_file} is not a folder"),
        (["--details", str(V2)], f"--details {V2}: the same file as the question set"),
        (["--report", str(tmp_path / "r.json"), "--details", str(tmp_path / "r.json")],
         f"--report {tmp_path / 'r.json'}: the same file as --details; give each output its own file"),
        (["--html", str(tmp_path)], f"--html {tmp_path}: is a folder"),
    ]
    for flags, message in cases:
        assert main(base + flags) == 2, flags
        err = capsys.readouterr().err
        assert err.startswith("citeqa: error: ") and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == [a_file]  # nothing written


def test_the_help_says_what_details_score(capsys):
    from qa.cli import main

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--details FILE.jsonl" in out and '"prediction" is the best guess' in out
    assert "score what the run predicted" in out and "--min-confidence" in out


def test_the_recorded_command_keeps_min_confidence():
    import argparse

    from qa.cli.eval_command import command_line

    args = argparse.Namespace(questions="q.json", reader_only=True, limit=None, sample=None, threads=None)
    assert command_line(args, Config(min_confidence=0.7)).endswith("--reader-only --min-confidence 0.7")


# --- Repeated question ids ------------------------------------------------------------------------


def squad_with(ids: list[str]) -> dict:
    paragraphs = [{"context": "It is red.", "qas": [{"id": qid, "question": f"Colour {n}?",
                                                     "answers": [{"text": "red", "answer_start": 6}]}]}
                  for n, qid in enumerate(ids)]
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": paragraphs}]}


def test_a_repeated_id_is_refused_naming_it_and_both_places(tmp_path):
    squad = tmp_path / "dup.json"
    squad.write_text(json.dumps(squad_with(["a", "b", "a"])), encoding="utf-8")
    with pytest.raises(QuestionSetError) as raised:
        load_questions(squad)
    assert str(raised.value) == (f"{squad}: article 1 'T', paragraph 3, question 1: question id 'a' is already used by "
                                 "article 1 'T', paragraph 1, question 1; every question needs its own id "
                                 "(answers are keyed by it)")
    assert [ex.id for ex in load_squad(squad)] == ["a", "b", "a"]  # training reads it; only evaluation sets refuse

    jsonl = tmp_path / "dup.jsonl"
    jsonl.write_text('{"id": "q1", "question": "a?"}\n{"id": 7, "question": "b?"}\n\n{"id": "7", "question": "c?"}\n',
                     encoding="utf-8")
    with pytest.raises(QuestionSetError, match=rf"^{jsonl}:4: question id '7' is already used by line 2;"):
        load_questions(jsonl)

    table = tmp_path / "dup.csv"
    table.write_text('id,question,answers\nx,"two\nlines?",a\ny,q?,b\nx,q?,c\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match=rf"^{table}:5: question id 'x' is already used by line 2;"):
        load_questions(table)


def test_distinct_ids_and_generated_ids_load(tmp_path):
    jsonl = tmp_path / "ok.jsonl"
    jsonl.write_text('{"question": "a?"}\n{"question": "a?"}\n{"id": "a", "question": "a?"}\n', encoding="utf-8")
    assert [ex.id for ex in load_questions(jsonl)] == [f"{jsonl}:1", f"{jsonl}:2", "a"]


def test_eval_of_a_set_with_a_repeated_id_is_one_clear_line(tmp_path, capsys):
    from qa.cli import main

    path = tmp_path / "dup.json"
    path.write_text(json.dumps(squad_with(["a", "a"])), encoding="utf-8")
    from qa.evaluation import run as run_module

    with pytest.raises(QuestionSetError, match="question id 'a' is already used"):
        run_module.selected_examples(EvalOptions(str(path), reader_only=True, limit=1))  # refused whatever the subset
    assert main(["eval", str(path), "--reader-only"]) == 1
    assert capsys.readouterr().err.startswith(f"citeqa: error: {path}: article 1 'T', paragraph 2, question 1: "
                                              "question id 'a' is already used")
