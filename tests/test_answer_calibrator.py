"""The answer calibrator: candidate features, the JSON model's evaluator, calibrated ranking and abstention,
and training from saved candidates (scikit-learn, checked against the shipped numpy evaluator)."""

import json
import math
import shutil

import numpy as np
import pytest

from corpus.documents import Chunk
from embeddings.passage_index import StoredDocument
from qa.answering.calibrator import AnswerCalibrator, CalibratorError, load_calibrator
from qa.answering.config import Config
from qa.answering.features import (FAR, FEATURE_NAMES, bigrams, candidate_features, content_words, group_spans, is_negated,
                                   question_names, question_word_distance, sentence_around, wh_class)
from qa.answering.pipeline import PassageAnswerer, calibrated_answer
from qa.answering.reader import ExtractiveReader
from qa.answering.types import Passage, Span, confidence_words
from qa.training.answer_calibration import (Candidate, ModelChoice, QuestionRecord, calibrator_data, candidate_table,
                                            choose_guess_floor, choose_min_confidence, collect, expected_score, fit_model,
                                            raw_log_odds, read_records, set_balance, train_calibrator, write_calibrator)

TEXT_A = "The bridge opened in 2026. It was built by Acme Corp in Springfield."
TEXT_B = "Acme Corp also built the Springfield tower. The tower opened in 2019."


def passage(doc_id, text, rank, **signals):
    document = StoredDocument(doc_id, f"Title {doc_id}", "2025-01-24", f"{doc_id}.txt", None, (), 1, (f"{doc_id}.txt",))
    return Passage(Chunk(doc_id, 0, text, 0, len(text)), document, 1.0 / (60 + rank), rank, **signals)


PA = passage("a", TEXT_A, 1, dense_score=0.8, dense_rank=1, bm25_score=5.0, bm25_rank=2)
PB = passage("b", TEXT_B, 2, dense_score=0.6, dense_rank=3, bm25_score=7.0, bm25_rank=1)


def span(p, text, score, start_logit=1.0, end_logit=1.0):
    start = p.chunk.text.index(text)
    return Span(text, score, p, start, start + len(text), start_logit, end_logit, start_logit + end_logit - score)


def feature(rows, row, name):
    return rows[row][FEATURE_NAMES.index(name)]


def logistic_on(weights: dict[str, float], intercept=0.0, *, min_confidence=0.5, floor=0.2) -> AnswerCalibrator:
    coef = [weights.get(name, 0.0) for name in FEATURE_NAMES]
    model = {"kind": "logistic", "mean": [0.0] * len(FEATURE_NAMES), "scale": [1.0] * len(FEATURE_NAMES), "coef": coef,
             "intercept": intercept}
    return AnswerCalibrator.from_dict(calibrator_data(model, 1.0, 0.0, min_confidence, floor, {}))


# --- Features -------------------------------------------------------------------------------------


@pytest.mark.parametrize("question, expected", [
    ("How many people live there?", "how_many"), ("How much did it cost?", "how_many"), ("Who built it?", "who"),
    ("Whose idea was it?", "who"), ("To whom was it sold?", "who"), ("When did it open?", "when"),
    ("Where is it?", "where"), ("Which firm built it?", "which"), ("What is it?", "what"), ("Why was it late?", "why"),
    ("How was it built?", "how"), ("Name the builder.", "other"), ("In what year, and when exactly?", "what"),
    ("The bridge opened when?", "when"), ("", "other"),
])
def test_wh_class_takes_the_first_wh_word_and_how_many_before_how(question, expected):
    assert wh_class(question) == expected


def test_sentence_around_is_the_sentence_holding_the_span():
    start = TEXT_A.index("Acme")
    assert sentence_around(TEXT_A, start, start + 4).strip() == "It was built by Acme Corp in Springfield."
    assert sentence_around(TEXT_A, 0, 3).strip() == "The bridge opened in 2026."
    assert sentence_around("no end here", 3, 6) == "no end here"


def test_content_words_drop_stopwords_and_single_letters():
    assert content_words("Who built the Springfield tower in 2019, a X?") == {"built", "springfield", "tower", "2019"}


def test_groups_merge_spans_that_normalise_alike_best_first():
    spans = [span(PA, "Acme Corp", 3.0), span(PB, "Acme Corp", 4.0), span(PA, "2026", 5.0), span(PA, "The bridge", 1.0)]
    groups = group_spans(spans)
    assert [g.key for g in groups] == ["2026", "acme corp", "bridge"]
    assert [s.score for s in groups[1].spans] == [4.0, 3.0]


def test_candidate_features_describe_support_retrieval_and_shape():
    spans = [span(PA, "Acme Corp", 3.0), span(PB, "Acme Corp", 4.0), span(PA, "2026", 5.0)]
    groups = group_spans(spans)
    rows = candidate_features("Who built the bridge?", groups, [PA, PB], passages_read=2, retrieved=True)
    assert len(rows) == 2 and all(len(r) == len(FEATURE_NAMES) for r in rows)
    assert [feature(rows, i, "score") for i in (0, 1)] == [5.0, 4.0]
    assert feature(rows, 0, "gap_to_other") == 1.0 and feature(rows, 1, "gap_to_other") == -1.0
    assert feature(rows, 1, "support_passages") == 2.0 and feature(rows, 1, "support_documents") == 2.0
    assert feature(rows, 0, "support_passages") == 1.0
    assert math.isclose(feature(rows, 0, "share_of_mass") + feature(rows, 1, "share_of_mass"), 1.0)
    assert feature(rows, 1, "support_evidence") == pytest.approx(math.log(math.exp(4.0) + math.exp(3.0)))
    assert feature(rows, 1, "passage_rank") == 2.0 and feature(rows, 1, "bm25_rank") == 1.0  # best span is in PB
    assert feature(rows, 0, "answer_has_year") == 1.0 and feature(rows, 0, "answer_is_number") == 1.0
    assert feature(rows, 1, "answer_capitalised") == 1.0 and feature(rows, 1, "who_and_capitalised") == 1.0
    assert feature(rows, 0, "wh_who") == 1.0 and feature(rows, 0, "wh_when") == 0.0
    assert feature(rows, 0, "best_dense_score_read") == 0.8 and feature(rows, 0, "early_stopped") == 0.0
    assert feature(rows, 1, "start_logit") == 1.0 and feature(rows, 1, "null_logit") == -2.0


def test_overlap_features_find_the_sentence_that_matches_the_question():
    spans = [span(PA, "Acme Corp", 3.0), span(PA, "2026", 2.0)]
    rows = candidate_features("Who built the bridge in Springfield?", group_spans(spans), [PA], passages_read=1,
                              retrieved=True)
    # question words: built, bridge, springfield; sentence 1 holds "bridge", sentence 2 "built" and "springfield"
    assert feature(rows, 0, "sentence_overlap") == pytest.approx(2 / 3)
    assert feature(rows, 1, "sentence_overlap") == pytest.approx(1 / 3)
    assert feature(rows, 0, "passage_overlap") == 1.0 and feature(rows, 0, "best_sentence_overlap") == pytest.approx(2 / 3)
    assert feature(rows, 0, "answer_in_best_sentence") == 1.0 and feature(rows, 1, "answer_in_best_sentence") == 0.0
    assert feature(rows, 0, "candidate_groups") == 2.0


def test_features_without_retrieval_are_neutral():
    rows = candidate_features("When did it open?", group_spans([span(PA, "2026", 2.0)]), [PA], passages_read=1,
                              retrieved=False)
    assert feature(rows, 0, "retrieved") == 0.0 and feature(rows, 0, "dense_score") == 0.0
    assert feature(rows, 0, "gap_to_other") == 30.0 and feature(rows, 0, "when_and_date") == 1.0


@pytest.mark.parametrize("question, names", [
    ("Who built the Springfield tower in 2019?", {"springfield", "2019"}),
    ("Springfield built what?", set()),  # the first word is capitalised anyway
    ("When did Acme Corp open it?", {"acme", "corp"}),
    ("How tall is the 3rd tower?", {"3rd"}),
    ("What opened in Springfield? Who built it?", {"springfield"}),  # each question's first word is not a name
    ("", set()),
])
def test_question_names_are_capitalised_words_after_the_first_and_numbers(question, names):
    assert question_names(question) == names


@pytest.mark.parametrize("text, negated", [
    ("Who did not build it?", True), ("Which firm never built a tower?", True), ("It isn't open.", True),
    ("Who built it without help?", True), ("Who built it?", False), ("Nottingham built knots.", False),
])
def test_negation_is_a_whole_negating_word(text, negated):
    assert is_negated(text) is negated


@pytest.mark.parametrize("text, answer, words, distance", [
    ("It was built by Acme Corp in Springfield.", "Acme Corp", {"built"}, 1.0),  # "by" between
    ("It was built by Acme Corp in Springfield.", "Acme Corp", {"springfield"}, 1.0),
    ("It was built by Acme Corp in Springfield.", "Acme Corp", {"built", "springfield"}, 1.0),
    ("Acme built it.", "Acme", {"built"}, 0.0),
    ("Acme built it.", "Acme", {"acme"}, FAR),  # inside the answer only
    ("Acme built it.", "Acme", {"tower"}, FAR),
])
def test_question_word_distance_counts_the_words_to_the_nearest_question_word(text, answer, words, distance):
    start = text.index(answer)
    assert question_word_distance(text, start, start + len(answer), words) == distance


def test_bigrams_are_adjacent_lowercased_word_pairs():
    assert bigrams("The Tower opened.") == {("the", "tower"), ("tower", "opened")}
    assert bigrams("one") == set()


def test_mismatch_features_flag_a_name_or_negation_the_passage_lacks():
    """SQuAD 2.0's unanswerable questions often swap in a name the passage never mentions or add a negation."""
    spans = [span(PA, "Acme Corp", 3.0)]
    fitting = candidate_features("Who built the bridge in Springfield?", group_spans(spans), [PA], passages_read=1,
                                 retrieved=True)
    swapped = candidate_features("Who built the bridge in Shelbyville in 2026?", group_spans(spans), [PA], passages_read=1,
                                 retrieved=True)
    negated = candidate_features("Who did not build the bridge in Springfield?", group_spans(spans), [PA],
                                 passages_read=1, retrieved=True)
    assert feature(fitting, 0, "question_names") == 1.0 and feature(fitting, 0, "names_missing_passage") == 0.0
    assert feature(fitting, 0, "names_missing_sentence") == 0.0 and feature(fitting, 0, "negation_mismatch") == 0.0
    # shelbyville is nowhere; 2026 is in the passage but not in the answer's sentence
    assert feature(swapped, 0, "question_names") == 2.0 and feature(swapped, 0, "names_missing_passage") == 0.5
    assert feature(swapped, 0, "names_missing_sentence") == 1.0
    assert feature(swapped, 0, "longest_missing_word") == len("shelbyville")
    assert feature(negated, 0, "question_negated") == 1.0 and feature(negated, 0, "negation_mismatch") == 1.0
    # question words built, bridge, springfield: "bridge" is not in the answer's sentence
    assert feature(fitting, 0, "words_missing_sentence") == 1.0
    # bigrams of "who built the bridge in springfield": (the, bridge) and (in, springfield) are in the passage
    assert feature(fitting, 0, "bigram_overlap") == pytest.approx(2 / 5)


def test_a_follow_ups_context_lends_its_words_and_names_to_the_text_features():
    spans = [span(PA, "Acme Corp", 3.0)]
    alone = candidate_features("Who built it?", group_spans(spans), [PA], passages_read=1, retrieved=True)
    anchored = candidate_features("Who built it?", group_spans(spans), [PA], passages_read=1, retrieved=True,
                                  context="What opened in Springfield? Who built it?")
    assert feature(alone, 0, "sentence_overlap") == 1.0 and feature(alone, 0, "question_names") == 0.0
    # words now: built, opened, springfield; the answer's sentence holds built and springfield
    assert feature(anchored, 0, "sentence_overlap") == pytest.approx(2 / 3)
    assert feature(anchored, 0, "question_names") == 1.0 and feature(anchored, 0, "names_missing_passage") == 0.0
    assert feature(anchored, 0, "wh_who") == 1.0 and feature(anchored, 0, "score") == feature(alone, 0, "score")


def test_no_groups_no_rows():
    assert candidate_features("Who?", [], [PA], passages_read=1, retrieved=True) == []


# --- The calibrator file --------------------------------------------------------------------------


def test_logistic_calibrator_is_the_logistic_of_its_weighted_features():
    calibrator = logistic_on({"score": 0.5, "support_passages": 1.0}, intercept=-2.0)
    row = [0.0] * len(FEATURE_NAMES)
    row[FEATURE_NAMES.index("score")] = 4.0
    row[FEATURE_NAMES.index("support_passages")] = 1.0
    assert calibrator.probabilities([row])[0] == pytest.approx(1 / (1 + math.exp(-(2.0 + 1.0 - 2.0))))


def test_trees_walk_to_their_leaves():
    tree = {"feature": [FEATURE_NAMES.index("score"), -1, -1], "threshold": [2.0, 0.0, 0.0], "left": [1, -1, -1],
            "right": [2, -1, -1], "value": [0.0, -1.0, 3.0]}
    data = calibrator_data({"kind": "trees", "init": 0.5, "learning_rate": 0.5, "trees": [tree, tree]}, 2.0, -1.0, 0.5, 0.1, {})
    calibrator = AnswerCalibrator.from_dict(data)
    low, high = [0.0] * len(FEATURE_NAMES), [0.0] * len(FEATURE_NAMES)
    high[FEATURE_NAMES.index("score")] = 2.5
    z_low, z_high = 0.5 + 2 * 0.5 * -1.0, 0.5 + 2 * 0.5 * 3.0
    expected = [1 / (1 + math.exp(-(2.0 * z - 1.0))) for z in (z_low, z_high)]
    assert calibrator.probabilities([low, high]) == pytest.approx(expected)


def test_a_calibrator_naming_some_features_reads_just_those_wherever_they_sit():
    """A calibrator trained before features were added names fewer: it must still read its own columns."""
    names = ["support_passages", "score"]  # not in FEATURE_NAMES order
    data = calibrator_data({"kind": "logistic", "mean": [0.0, 0.0], "scale": [1.0, 1.0], "coef": [1.0, 0.5],
                            "intercept": -2.0}, 1.0, 0.0, 0.5, 0.2, {})
    data["features"] = names
    row = [7.0] * len(FEATURE_NAMES)  # every other feature is ignored
    row[FEATURE_NAMES.index("score")] = 4.0
    row[FEATURE_NAMES.index("support_passages")] = 1.0
    probability = AnswerCalibrator.from_dict(data).probabilities([row])[0]
    assert probability == pytest.approx(1 / (1 + math.exp(-(1.0 + 2.0 - 2.0))))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="pickle"), "not a citeqa-answer-calibrator"),
    (lambda d: d["features"].__setitem__(3, "moon_phase"), "does not compute \\(unknown moon_phase\\)"),
    (lambda d: d["features"].__setitem__(3, d["features"][0]), "repeated"),
    (lambda d: d.update(features=d["features"][:-1]), "finite values"),  # the model's width no longer matches
    (lambda d: d.update(default_min_confidence=1.5), "default_min_confidence"),
    (lambda d: d["platt"].update(a=float("inf")), "Platt"),
    (lambda d: d["model"].update(kind="forest"), "unknown calibrator model kind"),
    (lambda d: d["model"].update(coef=[1.0]), "finite values"),
    (lambda d: d.pop("guess_floor"), "malformed"),
])
def test_a_bad_calibrator_file_is_refused_with_its_reason(change, message):
    data = calibrator_data({"kind": "logistic", "mean": [0.0] * len(FEATURE_NAMES), "scale": [1.0] * len(FEATURE_NAMES),
                            "coef": [0.0] * len(FEATURE_NAMES), "intercept": 0.0}, 1.0, 0.0, 0.5, 0.2, {})
    change(data)
    with pytest.raises(CalibratorError, match=message):
        AnswerCalibrator.from_dict(data)


def test_a_tree_whose_child_points_back_is_refused():
    tree = {"feature": [0, -1, -1], "threshold": [0.0] * 3, "left": [0, -1, -1], "right": [2, -1, -1], "value": [0.0] * 3}
    with pytest.raises(CalibratorError, match="child index"):
        AnswerCalibrator.from_dict(calibrator_data({"kind": "trees", "init": 0.0, "learning_rate": 0.1, "trees": [tree]},
                                                   1.0, 0.0, 0.5, 0.2, {}))


def test_load_calibrator_reads_the_folder_and_refuses_broken_json(tmp_path):
    assert load_calibrator(tmp_path) is None
    (tmp_path / "calibrator.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CalibratorError, match="cannot read"):
        load_calibrator(tmp_path)


def test_exported_sklearn_trees_give_sklearn_own_log_odds():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURE_NAMES)))
    y = (x[:, 0] + 0.5 * x[:, 3] * x[:, 5] + rng.normal(scale=0.5, size=400) > 0).astype(float)
    weight = rng.uniform(0.5, 2.0, size=400)
    exported = fit_model(ModelChoice("trees", 30, 3), x, y, weight, seed=1)
    reference = HistGradientBoostingClassifier(max_iter=30, max_depth=3, learning_rate=0.1, min_samples_leaf=40,
                                               l2_regularization=1.0, early_stopping=False,
                                               random_state=1).fit(x, y, sample_weight=weight)
    assert raw_log_odds(exported, x) == pytest.approx(reference.decision_function(x), abs=1e-9)
    fresh = rng.normal(size=(200, len(FEATURE_NAMES)))  # values between the training ones take the same branches
    assert raw_log_odds(exported, fresh) == pytest.approx(reference.decision_function(fresh), abs=1e-9)


# --- Calibrated answers ---------------------------------------------------------------------------


def test_candidates_are_ranked_by_probability_not_by_score():
    spans = [span(PA, "2026", 5.0), span(PA, "Acme Corp", 3.0), span(PB, "Acme Corp", 2.0)]
    calibrator = logistic_on({"support_documents": 3.0, "score": 0.1}, intercept=-4.0)
    answer = calibrated_answer("Who built it?", spans, [PA, PB], calibrator, min_confidence=0.5, threshold=0.0,
                               alternatives=3, passages_read=2, retrieved=True)
    assert answer.text == "Acme Corp" and answer.probability == pytest.approx(1 / (1 + math.exp(-(6.0 + 0.3 - 4.0))))
    assert [c.doc_id for c in answer.citations] == ["a", "b"]
    assert [c.text for c in answer.candidates] == ["2026"]
    assert answer.confidence == answer.probability and answer.min_confidence == 0.5 and not answer.unsure


def test_below_min_confidence_it_abstains_with_a_best_guess_above_the_floor_only():
    spans = [span(PA, "2026", 1.0)]
    calibrator = logistic_on({"score": 1.0}, intercept=-1.5, min_confidence=0.5, floor=0.3)  # p = 0.378
    unsure = calibrated_answer("When?", spans, [PA], calibrator, min_confidence=0.5, threshold=0.0, alternatives=3,
                               passages_read=1, retrieved=True)
    assert unsure.abstained and unsure.unsure and unsure.best_guess.text == "2026"
    assert str(unsure).startswith("Not sure. Best guess, low confidence: 2026")
    assert unsure.probability == pytest.approx(unsure.best_guess.probability)
    lower = logistic_on({"score": 1.0}, intercept=-3.0, floor=0.3)  # p = 0.119
    sure_not = calibrated_answer("When?", spans, [PA], lower, min_confidence=0.5, threshold=0.0, alternatives=3,
                                 passages_read=1, retrieved=True)
    assert sure_not.abstained and not sure_not.unsure and sure_not.best_guess is None
    assert str(sure_not) == "The documents don't say."
    nothing = calibrated_answer("When?", [], [PA], lower, min_confidence=0.5, threshold=0.0, alternatives=3,
                                passages_read=1, retrieved=True)
    assert nothing.abstained and not nothing.unsure and nothing.probability == 0.0


@pytest.mark.parametrize("p, words", [(0.95, "very likely right, 95 %"), (0.82, "likely right, 82 %"),
                                      (0.5, "possibly right, 50 %"), (0.28, "uncertain, 28 %"), (0.1, "unlikely right, 10 %"),
                                      (0.0, "unlikely right, 0 %"), (1.0, "very likely right, 100 %")])
def test_confidence_in_words(p, words):
    assert confidence_words(p) == words


def test_the_reader_folder_calibrator_drives_answers_and_min_confidence(tiny_reader_dir, tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, folder)
    data = calibrator_data({"kind": "logistic", "mean": [0.0] * len(FEATURE_NAMES), "scale": [1.0] * len(FEATURE_NAMES),
                            "coef": [0.0] * len(FEATURE_NAMES), "intercept": 0.0}, 1.0, 0.0, 0.6, 0.2, {})
    write_calibrator(folder, data)
    answerer = PassageAnswerer.from_config(Config(reader_model=str(folder)))
    assert answerer.min_confidence == 0.6
    answer = answerer.answer_from_passages("Who built it?", [PA])
    assert answer.abstained and answer.unsure and answer.probability == pytest.approx(0.5)  # 0.5 < 0.6
    assert answerer.answer_from_passages("Who built it?", [PA], min_confidence=0.4).text is not None
    with pytest.raises(ValueError, match="min_confidence"):
        answerer.answer_from_passages("Who built it?", [PA], min_confidence=1.2)
    assert PassageAnswerer.from_config(Config(reader_model=str(folder), min_confidence=0.3)).min_confidence == 0.3
    assert PassageAnswerer.from_config(Config(reader_model=str(tiny_reader_dir))).min_confidence is None


def test_a_follow_ups_context_reaches_the_calibrator_and_only_it(tiny_reader_dir, tmp_path):
    """The reader reads the question as typed; the calibrator's text features also count the anchor's names."""
    folder = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, folder)
    weights = {"question_names": 2.0}
    data = calibrator_data({"kind": "logistic", "mean": [0.0] * len(FEATURE_NAMES), "scale": [1.0] * len(FEATURE_NAMES),
                            "coef": [weights.get(name, 0.0) for name in FEATURE_NAMES], "intercept": -1.0},
                           1.0, 0.0, 0.6, 0.0, {})
    write_calibrator(folder, data)
    answerer = PassageAnswerer.from_config(Config(reader_model=str(folder)))
    alone = answerer.answer_from_passages("Who built it?", [PA])
    anchored = answerer.answer_from_passages("Who built it?", [PA], context="What opened in Springfield? Who built it?")
    assert alone.probability == pytest.approx(1 / (1 + math.exp(1.0)))  # no names: log-odds -1
    assert anchored.probability == pytest.approx(1 / (1 + math.exp(-1.0)))  # one name: log-odds +1
    assert anchored.best_guess is None and anchored.text == alone.best_guess.text  # the same span, now answered


# --- Training -------------------------------------------------------------------------------------


def test_collect_saves_a_line_per_question_and_resumes_after_a_cut_line(tiny_reader_dir, tmp_path):
    from qa.evaluation.datasets import QAExample

    examples = [QAExample(f"q{i}", "Who built it?", ("Acme Corp",), (), TEXT_A, "A") for i in range(3)]
    answerer = PassageAnswerer(ExtractiveReader(tiny_reader_dir, threshold=-math.inf), Config())
    out = tmp_path / "records.jsonl"
    first = collect(examples[:2], answerer, out, set_name="s", mode="reader-only")
    assert [r.id for r in first] == ["q0", "q1"] and all(r.candidates for r in first)
    assert all(c.right == (c.text.strip() == "Acme Corp") for r in first for c in r.candidates)
    out.write_bytes(out.read_bytes() + b'{"set": "s", "mode"')  # a stop mid-write
    again = collect(examples, answerer, out, set_name="s", mode="reader-only")
    assert [r.id for r in again] == ["q0", "q1", "q2"]
    assert [r.id for r in read_records(out)[0]] == ["q0", "q1", "q2"]
    with pytest.raises(ValueError, match="other questions"):
        collect(examples[1:], answerer, out, set_name="s", mode="reader-only")


def synthetic_records(n_questions: int, seed: int = 0) -> list[QuestionRecord]:
    """Questions whose right candidate tends to have the higher score and more support (a learnable signal)."""
    rng = np.random.default_rng(seed)
    records = []
    for q in range(n_questions):
        has_answer = bool(rng.random() < 0.7)
        mode = "open" if q % 2 else "reader-only"
        candidates = []
        for c in range(3):
            right = has_answer and c == 0
            row = [0.0] * len(FEATURE_NAMES)
            row[FEATURE_NAMES.index("score")] = rng.normal(3.0 if right else 0.0, 1.5)
            row[FEATURE_NAMES.index("support_passages")] = float(rng.integers(1, 4 if right else 2))
            candidates.append(Candidate(f"c{c}", right, tuple(row)))
        records.append(QuestionRecord("set-a" if q % 3 else "set-b", mode, f"q{q}", f"article{q // 10}", has_answer, 1,
                                      tuple(candidates)))
    return records


def test_training_chooses_a_model_that_ranks_and_calibrates_held_out_questions(tmp_path):
    data, report = train_calibrator(synthetic_records(400), choices=(ModelChoice("logistic"), ModelChoice("trees", 30, 2)))
    assert report["model"] in ("logistic", "trees-30x2") and len(report["cross_validation"]) == 2
    calibrator = AnswerCalibrator.from_dict(json.loads(json.dumps(data)))  # plain JSON round trip
    held = synthetic_records(300, seed=1)
    table = candidate_table(held)
    probability = calibrator.probabilities(table.x)
    chosen = [max(range(len(r.candidates)), key=lambda c, base=3 * i: probability[base + c]) for i, r in enumerate(held)]
    right_first = np.mean([r.candidates[c].right for r, c in zip(held, chosen) if r.has_answer])
    assert right_first > 0.9  # the ranking finds the right candidate
    top = np.array([max(probability[3 * i : 3 * i + 3]) for i in range(len(held))])
    right = np.array([r.candidates[c].right for r, c in zip(held, chosen)], dtype=float)
    assert abs(top.mean() - right.mean()) < 0.08  # calibrated on average
    assert 0.05 <= data["default_min_confidence"] <= 0.95 and 0.0 <= data["guess_floor"] <= data["default_min_confidence"]


def test_min_confidence_and_guess_floor_choices():
    probability = np.array([0.9, 0.8, 0.6, 0.3, 0.2])
    right = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    has_answer = np.array([True, True, True, False, False])
    assert expected_score(probability, right, has_answer, 0.7) == pytest.approx(4 / 5)
    threshold, score = choose_min_confidence(probability, right, has_answer)
    assert 0.3 < threshold <= 0.6 and score == pytest.approx(0.8)  # ties: the lowest threshold (answers most)
    assert choose_guess_floor(probability, has_answer, 0.7, share=1.0) == pytest.approx(0.3)
    assert choose_guess_floor(probability, np.ones(5, dtype=bool), 0.7) == 0.7


def test_set_balance_gives_small_sets_more_weight_up_to_a_cap():
    records = synthetic_records(30)
    assert set_balance(records) == {"set-b": pytest.approx(math.sqrt(20 / 10), abs=1e-4), "set-a": 1.0}
    lopsided = [r for r in synthetic_records(300) if r.set_name == "set-a"] + synthetic_records(3)[:1]
    assert max(set_balance(lopsided).values()) == 4.0


def test_model_names_parse_and_bad_ones_are_named():
    from qa.training.answer_calibration import model_choice

    assert model_choice("logistic") == ModelChoice("logistic")
    assert model_choice(" trees-200x3") == ModelChoice("trees", 200, 3)
    assert model_choice("trees-200x3").name == "trees-200x3"
    for bad in ("trees-0x3", "trees-200", "forest", "trees-ax3"):
        with pytest.raises(ValueError, match=bad):
            model_choice(bad)


def test_the_guess_floor_population_is_open_questions_whose_article_is_not_indexed():
    from qa.training.answer_calibration import not_indexed

    def record(set_name, mode, has_answer):
        return QuestionRecord(set_name, mode, "q", "a", has_answer, 1, ())

    records = [record("v1", "open", False), record("v1", "open", True), record("v1", "reader-only", True),
               record("v2", "reader-only", False), record("v2", "open", False), record("v1", "reader-only", True)]
    assert not_indexed(records).tolist() == [True, False, False, False, False, False]
