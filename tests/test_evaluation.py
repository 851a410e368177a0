"""`citeqa eval`: the metric and aggregation functions on hand-worked cases, agreement with the official
SQuAD v1.1/v2.0 scorers, every question-set format, and whole runs on tiny fixtures with a tiny reader."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.squad_official import (
    official_v1_evaluate,
    official_v1_exact_match_score,
    official_v1_f1_score,
    official_v1_metric_max_over_ground_truths,
    official_v2_evaluate,
    official_v2_find_best_thresh,
)
from qa.evaluation.datasets import QAExample, QuestionSetError, load_questions, load_squad, load_squad_paragraphs
from qa.evaluation.scoring import READER_MISS, RETRIEVAL_MISS, QuestionResult, build_report, find_best_threshold, first_hit_rank, holds_answer, latency_summary, mean_reciprocal_rank, miss_counts, recall_at, risk_coverage, scoring_for, worst_misses
from qa.answering.config import Config
from qa.evaluation.run import EvalOptions, evaluate, squad_index_dir
from qa.evaluation.metrics import SCORING_V1, SCORING_V2, f1_score_v1, percentage, question_scores

FIXTURES = Path(__file__).parent / "fixtures"


def ours(path: Path, predictions: dict) -> dict:
    """Our EM/F1 (and split) of a predictions file, via the same functions `citeqa eval` uses."""
    examples = load_questions(path)
    scoring = scoring_for(examples)
    scored = [(ex, question_scores(predictions[ex.id], ex.answers, scoring)) for ex in examples]
    out = {"exact_match": percentage([e for _, (e, _) in scored]), "f1": percentage([f for _, (_, f) in scored])}
    for name, keep in (("HasAns", lambda ex: bool(ex.answers)), ("NoAns", lambda ex: not ex.answers)):
        group = [s for ex, s in scored if keep(ex)]
        if group and scoring == SCORING_V2:
            out[f"{name}_exact"] = percentage([e for e, _ in group])
            out[f"{name}_f1"] = percentage([f for _, f in group])
    return out


def test_agrees_with_official_v1_on_tricky_cases():
    dataset = json.loads((FIXTURES / "tricky_v1.json").read_text(encoding="utf-8"))["data"]
    predictions = json.loads((FIXTURES / "tricky_predictions.json").read_text(encoding="utf-8"))
    official = official_v1_evaluate(dataset, predictions)
    mine = ours(FIXTURES / "tricky_v1.json", predictions)
    assert scoring_for(load_questions(FIXTURES / "tricky_v1.json")) == SCORING_V1
    assert mine["exact_match"] == official["exact_match"]
    assert mine["f1"] == official["f1"]
    # and question by question
    for ex in load_squad(FIXTURES / "tricky_v1.json"):
        em, f1 = question_scores(predictions[ex.id], ex.answers, SCORING_V1)
        assert em == official_v1_metric_max_over_ground_truths(official_v1_exact_match_score, predictions[ex.id], ex.answers)
        assert f1 == official_v1_metric_max_over_ground_truths(official_v1_f1_score, predictions[ex.id], ex.answers)


def test_agrees_with_official_v2_on_tricky_cases():
    dataset = json.loads((FIXTURES / "tricky_v2.json").read_text(encoding="utf-8"))["data"]
    predictions = json.loads((FIXTURES / "tricky_predictions.json").read_text(encoding="utf-8"))
    official = official_v2_evaluate(dataset, predictions)
    mine = ours(FIXTURES / "tricky_v2.json", predictions)
    assert scoring_for(load_questions(FIXTURES / "tricky_v2.json")) == SCORING_V2
    assert mine["exact_match"] == official["exact"] and mine["f1"] == official["f1"]
    for name in ("HasAns", "NoAns"):
        assert mine[f"{name}_exact"] == official[f"{name}_exact"]
        assert mine[f"{name}_f1"] == official[f"{name}_f1"]


def test_v1_and_v2_rules_differ_where_the_official_scripts_do():
    # a gold of "." normalises to nothing: v1.1 keeps it (EM 1, F1 0 for an empty prediction), v2.0 drops it
    assert question_scores("", ["."], SCORING_V1) == (1.0, 0.0)
    assert question_scores("", ["."], SCORING_V2) == (1.0, 1.0)
    assert question_scores("x", ["."], SCORING_V2) == (0.0, 0.0)
    assert f1_score_v1("", "") == 0.0
    assert question_scores("Broncos", ["Denver Broncos", "."], SCORING_V1)[1] == pytest.approx(2 / 3)


# --- Pure aggregation functions on hand-worked cases ----------------------------------------------


def test_recall_and_mrr():
    ranks = [1, 3, None, 6]
    assert recall_at(ranks, 1) == 25.0
    assert recall_at(ranks, 5) == 50.0
    assert recall_at(ranks, 10) == 75.0
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 6) / 4)
    assert first_hit_rank([False, False, True, True]) == 3
    assert first_hit_rank([False]) is None


def test_latency_percentiles_in_ms():
    summary = latency_summary([0.1, 0.2, 0.3, 0.4])
    assert summary["p50"] == pytest.approx(250.0)
    assert summary["p95"] == pytest.approx(385.0)  # linear interpolation: 0.3 + 0.85 * 0.1
    assert summary["max"] == pytest.approx(400.0)


def test_holds_answer_compares_normalised_token_sequences():
    text = "The U.S. economy grew in 2015, said the minister."
    assert holds_answer(text, ["U.S"])
    assert holds_answer(text, ["economy grew"])
    assert holds_answer(text, ["the Minister"])
    assert not holds_answer(text, ["2"])
    assert not holds_answer(text, ["."])
    assert not holds_answer(text, [])


def test_holds_answer_splits_at_punctuation_that_normalisation_would_glue():
    # SQuAD normalisation drops punctuation, so "11-year" becomes "11year"; the gold "11" is still in there
    assert holds_answer("an 11-year-old boy", ["11"])
    assert holds_answer("Manning's pass", ["Manning"])
    assert holds_answer("he fled in 1986\u2014when the war began", ["1986"])
    assert holds_answer("called it \u2018often damaging\u2019, he said", ["often damaging"])
    assert holds_answer("Pope John Paul II's visit", ["John Paul II"])
    assert not holds_answer("the fourth time", ["four"])
    assert not holds_answer("an 11-year-old boy", ["1"])


def test_best_threshold_hand_worked():
    # start: abstain on all -> the 2 unanswerable questions score 1 each = 2
    # answer q0 (3.0, answerable, F1 1): 3  <- best
    # answer q1 (2.0, unanswerable, gave text): 2; q2 (1.0, F1 .5): 2.5; q3 (0.0, unanswerable): 1.5
    best, threshold = find_best_threshold([3.0, 2.0, 1.0, 0.0], [1.0, 0.0, 0.5, 0.0], [True, False, True, False], [True] * 4)
    assert best == 75.0 and threshold == 3.0


def test_best_threshold_answers_tied_scores_together_and_can_abstain_on_all():
    best, threshold = find_best_threshold([1.0, 1.0], [1.0, 0.0], [True, False], [True, True])
    assert best == 50.0 and threshold > 1.0  # answering both gains +1 -1: abstaining on both is as good
    best, threshold = find_best_threshold([2.0, 1.0, float("-inf")], [1.0, 1.0, 0.0], [True, True, True], [True, True, False])
    assert best == pytest.approx(200 / 3) and threshold == 1.0
    assert find_best_threshold([], [], [], []) == (0.0, None)


def test_best_threshold_matches_official_find_best_thresh():
    scores = [2.5, -1.0, 0.3, 4.0, 1.7, -0.2, 0.9]
    f1 = [0.4, 1.0, 0.0, 1.0, 0.7, 0.0, 1.0]
    has = [True, True, False, True, False, True, True]
    texts = [True, True, True, True, False, True, True]
    qids = [f"q{i}" for i in range(len(scores))]
    official_best, official_thresh = official_v2_find_best_thresh(
        {q: ("x" if t else "") for q, t in zip(qids, texts)}, dict(zip(qids, f1)),
        {q: -s for q, s in zip(qids, scores)}, dict(zip(qids, has)))
    best, threshold = find_best_threshold(scores, f1, has, texts)
    assert best == pytest.approx(official_best) and threshold == -official_thresh


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, float("-inf")]), st.sampled_from([0.0, 0.5, 1.0]),
                          st.booleans(), st.booleans()), min_size=1, max_size=8))
def test_best_threshold_is_the_best_of_every_possible_threshold(rows):
    scores, values, has, texts = map(list, zip(*rows))

    def realised(threshold):
        return 100.0 * sum((values[i] if has[i] else (0.0 if texts[i] else 1.0)) if scores[i] >= threshold
                           else (0.0 if has[i] else 1.0) for i in range(len(rows))) / len(rows)

    best, threshold = find_best_threshold(scores, values, has, texts)
    candidates = [s for s in scores if math.isfinite(s)] + [math.inf]
    assert best == pytest.approx(max(realised(t) for t in candidates))
    if threshold is not None:
        assert realised(threshold) == pytest.approx(best)


def test_html_highlight_escapes_text_and_marks_spans():
    from qa.evaluation.report import highlight

    text = "Use <b> & the Abilene, Texas site"
    assert highlight(text, ["<b>"], None) == 'Use <mark class="gold">&lt;b&gt;</mark> &amp; the Abilene, Texas site'
    marked = highlight(text, ["Abilene", "abilene, texas"], (4, 7))
    assert '<mark class="gold">Abilene, Texas</mark>' in marked and '<mark class="pred">&lt;b&gt;</mark>' in marked
    # a prediction overlapping a gold answer keeps both visible
    assert highlight("four years, four", ["four"], (0, 10)) == (
        '<mark class="gold pred">four</mark><mark class="pred"> years</mark>, <mark class="gold">four</mark>')
    assert highlight("", ["x"], (0, 0)) == "" and highlight("a&b", [], (1, 1)) == "a&amp;b"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab <&>\u00e9", max_size=30), st.lists(st.text(alphabet="ab<", max_size=3), max_size=3),
       st.tuples(st.integers(0, 30), st.integers(0, 30)))
def test_html_highlight_keeps_the_text(text, golds, pred):
    import html

    from qa.evaluation.report import highlight

    marked = highlight(text, golds, (min(pred[0], len(text)), min(pred[1], len(text))))
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", marked)) == text
    assert "<mark" not in re.sub(r'<mark class="(gold|pred|gold pred)">', "", marked)


def test_risk_coverage_hand_worked():
    curve = risk_coverage([0.9, 0.1, 0.5, 0.7], [1, 0, 0, 1], [1.0, 0.0, 0.5, 1.0], points=4)
    assert [p["answered"] for p in curve] == [1, 2, 3, 4]
    assert [p["threshold"] for p in curve] == [0.9, 0.7, 0.5, 0.1]
    assert [round(p["precision"], 2) for p in curve] == [100.0, 100.0, 66.67, 50.0]
    assert [round(p["f1"], 2) for p in curve] == [100.0, 100.0, 83.33, 62.5]
    assert [p["coverage"] for p in risk_coverage([1.0, 2.0], [1, 1], [1, 1], points=20)] == [0.5, 1.0]


def result(id, *, exact=0.0, has_answer=True, answer_read=True, prediction="x", score=1.0, first_hit=1, latency=0.01):
    return QuestionResult(id=id, question=f"{id}?", golds=("gold",) if has_answer else (), has_answer=has_answer,
                          prediction=prediction, best_text=prediction or "b", score=score, exact=exact, f1=exact,
                          best_exact=exact, best_f1=exact, latency_s=latency, first_hit=first_hit, findable=True,
                          answer_read=answer_read)


def test_miss_attribution():
    results = [
        result("right", exact=1.0),
        result("not-retrieved", answer_read=False, first_hit=None),
        result("wrong-span"),
        result("abstained", prediction=""),
        result("answered-unanswerable", has_answer=False, answer_read=False),
    ]
    assert [r.miss for r in results] == [None, RETRIEVAL_MISS, READER_MISS, READER_MISS, READER_MISS]
    assert miss_counts(results) == {"retrieval_miss": 1, "early_stop_miss": 0, "reader_miss": 3, "wrong": 4, "reader_wrong_span": 1,
                                    "reader_abstained": 1, "reader_answered_unanswerable": 1}


def test_worst_misses_are_the_most_confident_wrong_answers():
    results = [result("a", score=1.0), result("b", score=5.0, exact=1.0), result("c", score=3.0), result("d", score=float("-inf"))]
    assert [r.id for r in worst_misses(results, 2)] == ["c", "a"]
    assert [r.id for r in worst_misses(results)] == ["c", "a", "d"]


def test_build_report_keys_and_figures():
    results = [result("a", exact=1.0, first_hit=1, latency=0.1), result("b", first_hit=4, latency=0.2),
               result("c", first_hit=None, answer_read=False, latency=0.3),
               result("d", has_answer=False, prediction="", exact=1.0, first_hit=None, latency=0.4)]
    report = build_report(results, k=10, retrieval=True, seconds=2.0, threshold=0.0, scoring=SCORING_V2)
    assert report["questions"] == 4 and report["exact_match"] == 50.0 and report["questions_per_s"] == 2.0
    assert report["recall@1"] == 25.0 and report["recall@5"] == 50.0 and report["recall@10"] == 50.0
    assert report["mrr"] == pytest.approx((1 + 0.25) / 4)
    assert report["HasAns_total"] == 3 and report["NoAns_total"] == 1 and report["NoAns_exact_match"] == 100.0
    assert report["misses"]["retrieval_miss"] == 1 and report["misses"]["reader_miss"] == 1
    assert report["latency_ms"]["p50"] == pytest.approx(250.0)


# --- Question-set formats -------------------------------------------------------------------------


def test_squad_v1_fixture():
    examples = load_questions(FIXTURES / "squad_v1_tiny.json")
    assert len(examples) == 7 and not any(ex.is_impossible for ex in examples)
    assert examples[0] == QAExample("sg-1", "Where will the data center be built?", ("Abilene, Texas", "Abilene"),
                                    examples[0].answer_starts, examples[0].context, "Stargate")
    for ex in examples:
        for text, start in zip(ex.answers, ex.answer_starts):
            assert ex.context[start : start + len(text)] == text
    paragraphs = load_squad_paragraphs(FIXTURES / "squad_v1_tiny.json")
    assert len(paragraphs) == 4 and paragraphs[3].title == "Chess championship"


def test_squad_v2_fixture_marks_unanswerable():
    examples = load_questions(FIXTURES / "squad_v2_tiny.json")
    assert len(examples) == 10
    assert [ex.id for ex in examples if ex.is_impossible] == ["sg-x", "vo-x", "ch-x"]
    assert scoring_for(examples) == SCORING_V2


def test_jsonl_fixture():
    path = FIXTURES / "questions.jsonl"
    examples = load_questions(path)
    assert [ex.id for ex in examples] == ["j1", "j2", "j3", f"{path}:4"]
    assert examples[0].answers == ("Abilene, Texas", "Abilene") and examples[0].title == "Stargate"
    assert examples[1].answers == ("Grindavik",) and examples[1].answer_starts == (examples[1].context.index("Grindavik"),)
    assert examples[2].is_impossible and examples[2].context is None
    assert examples[3].answers == ("two million euros",)


def test_csv_fixture():
    examples = load_questions(FIXTURES / "questions.csv")
    assert [ex.id for ex in examples] == ["c1", "c2", "c3"]
    assert examples[0].answers == ("Abilene, Texas", "Abilene") and examples[0].context is None
    assert examples[1].answers == ("two million euros",) and examples[1].title == "Chess championship"
    assert examples[1].context.endswith("two million euros.")
    assert examples[2].is_impossible and examples[2].question == "Who won the women's championship, and when?"


def test_bad_question_files_name_the_problem(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answers": ["a"]}\n{not json\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match="bad.jsonl:2"):
        load_questions(bad)
    no_question = tmp_path / "q.csv"
    no_question.write_text("id,answers\n1,a\n", encoding="utf-8")
    with pytest.raises(QuestionSetError, match="no 'question'"):
        load_questions(no_question)
    text = tmp_path / "x.txt"
    text.write_text("", encoding="utf-8")
    with pytest.raises(QuestionSetError, match="unsupported"):
        load_questions(text)
    bad_answers = tmp_path / "a.csv"
    bad_answers.write_text('question,answers\nq?,"[oops"\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match="a.csv:2: 'answers'"):
        load_questions(bad_answers)


# --- Whole runs with the tiny reader --------------------------------------------------------------

REQUIRED = ["exact_match", "f1", "latency_ms", "recall@1", "recall@5", "mrr", "questions", "questions_per_s",
            "settings", "versions", "best_threshold", "risk_coverage", "misses", "threshold_scale", "ece", "reliability",
            "coverage_at_80", "coverage_at_90", "accuracy_answering_all"]


def test_open_squad_run_from_the_command_line(tmp_path, tiny_reader_dir, embedder, monkeypatch, capsys):
    from corpus.chunking import ChunkingSettings
    from qa.cli import main

    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    argv = ["eval", str(FIXTURES / "squad_v1_tiny.json"), "--reader", str(tiny_reader_dir), "--k", "3", "--mode", "bm25",
            "--threshold", "1000", "--predictions", str(out / "pred.json"), "--report", str(out / "report.json"),
            "--html", str(out / "report.html")]
    assert main(argv, embedder=embedder) == 0  # the session's model, loaded once
    captured = capsys.readouterr()
    assert "7/7" in captured.err  # the progress bar
    assert "exact match" in captured.out and "recall@3" in captured.out and "p95" in captured.out

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for key in REQUIRED + ["recall@3"]:
        assert key in report, key
    assert set(report["latency_ms"]) >= {"p50", "p95"} and report["latency_ms"]["p50"] > 0
    assert set(report["versions"]) >= {"python", "torch", "transformers", "citeqa"}
    assert report["questions"] == 7 and report["questions_per_s"] > 0
    assert report["settings"]["mode"] == "open" and report["settings"]["index_built_from_questions"]
    assert report["settings"]["command"].startswith("citeqa eval ")
    # 4 paragraphs, one chunk each: the gold paragraph is always within the top 5
    assert report["recall@5"] == 100.0 and 0 < report["mrr"] <= 1
    # threshold 1000: every question abstained, and a passage read held each answer: all reader misses
    assert report["exact_match"] == 0.0 and report["abstained"] == 7
    assert report["misses"]["reader_miss"] + report["misses"]["retrieval_miss"] == 7
    assert report["best_threshold"] is not None and report["risk_coverage"][-1]["coverage"] == 1.0
    assert "HasAns_total" not in report

    predictions = json.loads((out / "pred.json").read_text(encoding="utf-8"))
    assert predictions == {ex.id: "" for ex in load_squad(FIXTURES / "squad_v1_tiny.json")}

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") == 3  # risk-coverage, reliability, latency
    assert 'alt="reliability diagram"' in page and "ECE" in page
    for match in re.finditer(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page, re.IGNORECASE):
        assert match.group(1).startswith("data:"), match.group(0)
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
    assert "Where was the &lt;b&gt;match&lt;/b&gt; played?" in page and "<b>match</b>" not in page
    assert "&lt;b&gt;every&lt;/b&gt; game &amp; the commentary" in page and "<b>every</b>" not in page

    # the paragraphs' index was built once into the cache and is reused
    folders = list((tmp_path / "cache" / "eval-indexes").iterdir())
    assert len(folders) == 1 and report["settings"]["index"] == str(folders[0])
    stamp = (folders[0] / "CURRENT").stat().st_mtime_ns
    assert squad_index_dir(FIXTURES / "squad_v1_tiny.json", embedder, ChunkingSettings()) == folders[0]
    assert (folders[0] / "CURRENT").stat().st_mtime_ns == stamp


@pytest.fixture(scope="module")
def tiny_reader(tiny_reader_dir):
    from qa.answering.reader import ExtractiveReader

    return ExtractiveReader(tiny_reader_dir)


@pytest.mark.parametrize("threshold", [None, 1000.0])
def test_reader_only_v2_split_agrees_with_official(tiny_reader, threshold):
    path = FIXTURES / "squad_v2_tiny.json"
    run = evaluate(EvalOptions(str(path), reader_only=True), Config(no_answer_threshold=threshold), reader=tiny_reader)
    report = run.report
    assert report["HasAns_total"] == 7 and report["NoAns_total"] == 3
    assert report["recall@1"] is None and report["mrr"] is None and report["misses"]["retrieval_miss"] == 0
    official = official_v2_evaluate(json.loads(path.read_text(encoding="utf-8"))["data"], run.predictions)
    assert report["exact_match"] == official["exact"] and report["f1"] == official["f1"]
    for name in ("HasAns", "NoAns"):
        assert report[f"{name}_exact_match"] == official[f"{name}_exact"]
        assert report[f"{name}_f1"] == official[f"{name}_f1"]
    if threshold is None:  # the tiny reader's own threshold (-100): it answers everything
        assert report["abstained"] == 0 and report["NoAns_exact_match"] == 0.0
    else:
        assert set(run.predictions.values()) == {""} and report["exact_match"] == 30.0
    assert report["best_threshold_f1"] >= max(report["f1"], 30.0) - 1e-9


def test_sample_takes_questions_at_even_steps(tiny_reader):
    path = FIXTURES / "squad_v2_tiny.json"
    every = [ex.id for ex in load_questions(path)]
    run = evaluate(EvalOptions(str(path), reader_only=True, sample=4), reader=tiny_reader)
    assert list(run.predictions) == [every[i] for i in (0, 2, 5, 7)]
    assert run.report["questions"] == 4 and run.report["settings"]["sample"] == 4


def test_open_runs_on_jsonl_and_csv_over_a_given_index(built_index, embedder, tiny_reader):
    for name in ("questions.jsonl", "questions.csv"):
        run = evaluate(EvalOptions(str(FIXTURES / name), limit=3),
                       Config(index_dir=str(built_index), k=2, retrieval_mode="dense"), embedder=embedder, reader=tiny_reader)
        report = run.report
        assert report["questions"] == 3 and "recall@2" in report and report["settings"]["index"] == str(built_index)
        assert report["HasAns_total"] == 2 and report["NoAns_total"] == 1
        assert report["recall@5"] is not None and report["mrr"] is not None
        assert math.isclose(sum(1 for r in run.results if r.wrong), report["misses"]["wrong"])


def test_reader_only_needs_contexts(tiny_reader):
    with pytest.raises(QuestionSetError, match="no context"):
        evaluate(EvalOptions(str(FIXTURES / "questions.csv"), reader_only=True), reader=tiny_reader)


def test_cli_errors_are_one_line(tmp_path, capsys):
    from qa.cli import main

    assert main(["eval", str(tmp_path / "missing.json")]) == 2
    assert "question set not found" in capsys.readouterr().err
    assert main(["eval", str(FIXTURES / "squad_v1_tiny.json"), "--reader-only", "--index", str(tmp_path)]) == 2
    assert "takes no --index" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(FIXTURES / "squad_v1_tiny.json"), "--limit", "3", "--sample", "3"])
    assert exited.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


# --- Odd characters, huge lines and malformed files -----------------------------------------------


def squad_json(question="What colour is it?", **qa_fields) -> dict:
    qa = {"id": "q1", "question": question, "answers": [{"text": "red", "answer_start": 6}], **qa_fields}
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "It is red.", "qas": [qa]}]}]}


def test_results_are_written_when_a_question_holds_a_lone_surrogate(tiny_reader, tmp_path):
    from qa.evaluation.report import format_table, write_html
    from qa.evaluation.run import write_json

    data = squad_json("What is \ud800?", id="odd-\udc80")  # what json.load makes of the escapes "\ud800", "\udc80"
    data["data"][0]["paragraphs"][0]["qas"].append({"id": "plain", "question": "Which colour?",
                                                    "answers": [{"text": "red", "answer_start": 6}]})
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    run = evaluate(EvalOptions(str(path), reader_only=True), Config(no_answer_threshold=1000.0), reader=tiny_reader)
    assert list(run.predictions) == ["odd-\udc80", "plain"]

    write_json(tmp_path / "out" / "report.json", run.report)
    write_json(tmp_path / "out" / "pred.json", run.predictions)
    write_html(tmp_path / "out" / "report.html", run.report, run.results)
    format_table(run.report).encode("utf-8")  # printable

    predictions = json.loads((tmp_path / "out" / "pred.json").read_text(encoding="utf-8"))
    assert predictions == run.predictions  # the ids exactly, the lone surrogate included
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert "What is \ud800?" in [miss["question"] for miss in report["worst_misses"]]
    assert report["questions"] == 2
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "What is \\ud800?" in page and "id odd-\\udc80" in page
    assert not list((tmp_path / "out").glob("*.tmp"))


@pytest.mark.parametrize("suffix, number", [(".jsonl", 2), (".csv", 3)])
def test_a_line_over_the_limit_is_refused_by_number_without_being_read_whole(tmp_path, monkeypatch, suffix, number):
    import tracemalloc

    from qa.evaluation import datasets

    monkeypatch.setattr(datasets, "MAX_LINE_CHARS", 64 * 1024)
    path = tmp_path / f"long{suffix}"
    if suffix == ".jsonl":
        path.write_text('{"question": "ok?", "answers": ["a"]}\n{"question": "' + "x" * 2_000_000, encoding="utf-8")
    else:
        path.write_text('question,answers\nok?,a\n"' + "x" * 2_000_000, encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(QuestionSetError, match=rf"long{re.escape(suffix)}:{number}: line longer than 65,536 characters"):
            load_questions(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the 2 MB line was never held whole


def test_lines_at_the_limit_are_read(tmp_path):
    question = "q" * 990
    jsonl = tmp_path / "a.jsonl"
    line = json.dumps({"question": question, "answers": ["a"]})
    jsonl.write_text(line + "\n" + line, encoding="utf-8")
    assert [ex.question for ex in load_questions(jsonl, max_line_chars=len(line))] == [question, question]
    with pytest.raises(QuestionSetError, match="a.jsonl:1: line longer than"):
        load_questions(jsonl, max_line_chars=len(line) - 1)
    table = tmp_path / "a.csv"
    table.write_bytes(f"question,answers\r\n{question},a\r\n\r\n{question},b\r\n".encode())
    examples = load_questions(table, max_line_chars=len(question) + 2)
    assert [ex.answers for ex in examples] == [("a",), ("b",)] and examples[1].id.endswith("a.csv:4")


def test_a_squad_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from qa.evaluation import datasets

    path = tmp_path / "big.json"
    path.write_text(json.dumps(squad_json()), encoding="utf-8")
    monkeypatch.setattr(datasets, "MAX_SQUAD_BYTES", 100)
    with pytest.raises(QuestionSetError, match=r"big.json is .* a SQuAD JSON file over 100 bytes is refused"):
        load_questions(path)
    with pytest.raises(QuestionSetError, match="is refused"):
        load_squad_paragraphs(path)


def _without(path_in_data, key):
    def change(data):
        target = data["data"][0]
        for step in path_in_data:
            target = target[step]
        del target[key]
    return change


def _set(path_in_data, key, value):
    def change(data):
        target = data["data"][0]
        for step in path_in_data:
            target = target[step]
        target[key] = value
    return change


QA = ("paragraphs", 0, "qas", 0)


@pytest.mark.parametrize("change, message", [
    (_without(("paragraphs", 0), "context"), "article 1 'T', paragraph 1: missing 'context'"),
    (_set(("paragraphs", 0), "context", 7), "article 1 'T', paragraph 1: 'context' must be a string, not int"),
    (_without((), "paragraphs"), "article 1 'T': missing 'paragraphs'"),
    (_without(QA, "id"), "article 1 'T', paragraph 1, question 1: missing 'id'"),
    (_set(QA, "id", None), "article 1 'T', paragraph 1, question 1: 'id' must be a string, not null"),
    (_without(QA, "question"), "question 'q1': missing 'question'"),
    (_without(QA, "answers"), "question 'q1': missing 'answers'"),
    (_set(QA, "answers", "red"), "question 'q1': 'answers' must be a list, not str"),
    (_without(QA + ("answers", 0), "answer_start"), "question 'q1': answer 1 has no 'answer_start'"),
    (_set(QA + ("answers", 0), "answer_start", "six"), "question 'q1': answer 1: 'answer_start' must be an integer"),
    (_without(QA + ("answers", 0), "text"), "question 'q1': answer 1 has no 'text'"),
    (_set(QA, "answers", ["red"]), "question 'q1': answer 1 must be an object with 'text' and 'answer_start'"),
])
def test_squad_files_missing_a_field_name_it_and_the_question(tmp_path, change, message):
    data = squad_json()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(QuestionSetError) as raised:
        load_questions(path)
    assert str(raised.value).startswith(f"{path}: {message}")
    if "context" in message or "paragraphs" in message:
        with pytest.raises(QuestionSetError, match=re.escape(message)):
            load_squad_paragraphs(path)


def test_eval_of_a_malformed_squad_file_is_one_clear_line(tmp_path, capsys):
    from qa.cli import main

    data = squad_json()
    del data["data"][0]["paragraphs"][0]["context"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["eval", str(path), "--reader-only"]) == 1
    assert capsys.readouterr().err == f"citeqa: error: {path}: article 1 'T', paragraph 1: missing 'context'\n"


@pytest.mark.parametrize("line, message", [
    ('{"answers": ["a"]}', "bad.jsonl:2: record has no 'question' field"),
    ('{"question": ["q?"]}', "bad.jsonl:2: 'question' must be a string, not list"),
    ('{"question": "q?", "answers": 5}', "bad.jsonl:2: 'answers' must be a list, not int"),
    ('{"question": "q?", "answers": [{"answer_start": 0}]}', "bad.jsonl:2: answer 1 has no 'text'"),
    ('{"question": "q?", "answers": [null]}', "bad.jsonl:2: answer 1 must be a string or an object"),
    ('{"question": "q?", "answers": [{"text": "a", "answer_start": "x"}]}',
     "bad.jsonl:2: answer 1: 'answer_start' must be an integer"),
    ('{"question": "q?", "context": {"text": "c"}}', "bad.jsonl:2: 'context' must be a string, not dict"),
    ('["q?"]', "bad.jsonl:2: expected an object with a 'question' field, not list"),
])
def test_jsonl_records_with_a_bad_field_name_the_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok?", "answers": ["a"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(QuestionSetError, match=re.escape(message)):
        load_questions(path)


def test_csv_rows_with_a_bad_field_name_their_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('question,answers\nok?,a\n"two\nlines?",b\n\nq?,"[oops"\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match=re.escape("bad.csv:6: 'answers' is not a valid JSON list")):
        load_questions(path)  # line 6: after a record on two lines and a blank one
    path.write_text('question,answers\nq?,"[{""text"": 1.5}, {""no"": 1}]"\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match=re.escape("bad.csv:2: answer 2 has no 'text'")):
        load_questions(path)
