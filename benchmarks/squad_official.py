"""The official SQuAD v1.1 and v2.0 scorers, to check `citeqa eval` against them.

The scoring functions below are faithful copies of the official scripts' logic (evaluate-v1.1.py and
evaluate-v2.0.py from https://rajpurkar.github.io/SQuAD-explorer/), renamed with an `official_` prefix;
`tests/test_evaluation.py` checks citeqa's metrics against them on fixtures.

    python benchmarks/squad_official.py DATASET.json PREDICTIONS.json [--report REPORT.json]

scores a predictions file (`citeqa eval --predictions`) with them over the questions it answers (a
`--limit` run predicts only the first N, and the v1.1 script would count the rest as wrong) and, with
`--report`, prints citeqa's figures from that run's report beside them.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import string
import sys


def official_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_v1_f1_score(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def official_v1_exact_match_score(prediction, ground_truth):
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


def official_v1_metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def official_v1_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                ground_truths = list(map(lambda x: x["text"], qa["answers"]))
                prediction = predictions[qa["id"]]
                exact_match += official_v1_metric_max_over_ground_truths(official_v1_exact_match_score, prediction, ground_truths)
                f1 += official_v1_metric_max_over_ground_truths(official_v1_f1_score, prediction, ground_truths)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {"exact_match": exact_match, "f1": f1}


def official_v2_get_tokens(s):
    if not s:
        return []
    return official_normalize_answer(s).split()


def official_v2_compute_exact(a_gold, a_pred):
    return int(official_normalize_answer(a_gold) == official_normalize_answer(a_pred))


def official_v2_compute_f1(a_gold, a_pred):
    gold_toks = official_v2_get_tokens(a_gold)
    pred_toks = official_v2_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def official_v2_get_raw_scores(dataset, preds):
    exact_scores = {}
    f1_scores = {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qid = qa["id"]
                gold_answers = [a["text"] for a in qa["answers"] if official_normalize_answer(a["text"])]
                if not gold_answers:
                    gold_answers = [""]
                if qid not in preds:
                    continue
                a_pred = preds[qid]
                exact_scores[qid] = max(official_v2_compute_exact(a, a_pred) for a in gold_answers)
                f1_scores[qid] = max(official_v2_compute_f1(a, a_pred) for a in gold_answers)
    return exact_scores, f1_scores


def official_v2_make_eval_dict(exact_scores, f1_scores, qid_list=None):
    if not qid_list:
        total = len(exact_scores)
        return collections.OrderedDict([
            ("exact", 100.0 * sum(exact_scores.values()) / total),
            ("f1", 100.0 * sum(f1_scores.values()) / total),
            ("total", total),
        ])
    total = len(qid_list)
    return collections.OrderedDict([
        ("exact", 100.0 * sum(exact_scores[k] for k in qid_list) / total),
        ("f1", 100.0 * sum(f1_scores[k] for k in qid_list) / total),
        ("total", total),
    ])


def official_v2_find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for i, qid in enumerate(qid_list):
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            if preds[qid]:
                diff = -1
            else:
                diff = 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def official_v2_evaluate(dataset, preds):
    """The v2.0 script's main() without a no-answer probability file (na_prob 0, threshold 1.0)."""
    qid_to_has_ans = {qa["id"]: bool(qa["answers"]) for article in dataset for p in article["paragraphs"] for qa in p["qas"]}
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = official_v2_get_raw_scores(dataset, preds)
    out_eval = official_v2_make_eval_dict(exact_raw, f1_raw)
    if has_ans_qids:
        for k, v in official_v2_make_eval_dict(exact_raw, f1_raw, qid_list=has_ans_qids).items():
            out_eval[f"HasAns_{k}"] = v
    if no_ans_qids:
        for k, v in official_v2_make_eval_dict(exact_raw, f1_raw, qid_list=no_ans_qids).items():
            out_eval[f"NoAns_{k}"] = v
    return out_eval


def is_v2(dataset) -> bool:
    """A set with unanswerable questions is scored by the v2.0 rules, as `citeqa eval` does."""
    return any(qa.get("is_impossible", False) or not qa["answers"]
               for article in dataset for p in article["paragraphs"] for qa in p["qas"])


def restrict(dataset, qids) -> list:
    """The dataset cut down to the questions in `qids`, articles and paragraphs kept in order."""
    kept = []
    for article in dataset:
        paragraphs = []
        for p in article["paragraphs"]:
            qas = [qa for qa in p["qas"] if qa["id"] in qids]
            if qas:
                paragraphs.append({**p, "qas": qas})
        if paragraphs:
            kept.append({**article, "paragraphs": paragraphs})
    return kept


def official_scores(dataset, predictions) -> dict:
    """EM and F1 (and the v2.0 HasAns/NoAns split) by the official script for this kind of set."""
    if is_v2(dataset):
        out = official_v2_evaluate(dataset, predictions)
        scores = {"exact_match": out["exact"], "f1": out["f1"], "questions": out["total"]}
        for name in ("HasAns", "NoAns"):
            if f"{name}_exact" in out:
                scores[f"{name}_exact_match"] = out[f"{name}_exact"]
                scores[f"{name}_f1"] = out[f"{name}_f1"]
        return scores
    out = official_v1_evaluate(dataset, predictions)
    return {**out, "questions": sum(len(p["qas"]) for a in dataset for p in a["paragraphs"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score a citeqa predictions file with the official SQuAD scorer.")
    parser.add_argument("dataset", help="SQuAD v1.1 or v2.0 JSON file")
    parser.add_argument("predictions", help="{question id: answer text} as written by `citeqa eval --predictions`")
    parser.add_argument("--report", default=None, help="the same run's `citeqa eval --report` file, to compare")
    args = parser.parse_args(argv)
    with open(args.dataset, encoding="utf-8") as fh:
        dataset = json.load(fh)["data"]
    with open(args.predictions, encoding="utf-8") as fh:
        predictions = json.load(fh)
    dataset = restrict(dataset, set(predictions))
    official = official_scores(dataset, predictions)
    rows = [("official", official)]
    if args.report is not None:
        with open(args.report, encoding="utf-8") as fh:
            rows.append(("citeqa eval", json.load(fh)))
    keys = [k for k in ("questions", "exact_match", "f1", "HasAns_exact_match", "HasAns_f1", "NoAns_exact_match", "NoAns_f1")
            if k in official]
    print("scorer       " + "  ".join(f"{k:>18}" for k in keys))
    for name, figures in rows:
        print(f"{name:<12} " + "  ".join(f"{figures.get(k, float('nan')):>18.12g}" for k in keys))
    if args.report is not None:
        differs = [k for k in keys if abs(float(rows[1][1].get(k, float("nan"))) - float(official[k])) > 1e-9
                   or rows[1][1].get(k) is None]
        print("agree to 1e-9 on every figure" if not differs else f"DIFFER on: {', '.join(differs)}")
        return 1 if differs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
