"""Does the reader know more about answerability than its logits show? A logistic probe on the reader's final
[CLS] state, fitted on SQuAD v2.0 dev's first half (by article), against the span margin alone, scored by
AUC (answerable vs not) on the second half (articles any set's first half holds left out:
benchmarks/calibration.py's `fitted_articles`):

    python benchmarks/answerability_probe.py [--reader qa/models/reader]

One window per question (the first 384 tokens), fp32 PyTorch; about 10 minutes on 2 cores. Measured
2026-12-05: probe AUC 0.749 (C = 0.01), margin 0.752, both 0.751 (model card, answer calibrator).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "qa-data"


def reader_signals(tokenizer, model, examples, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the final [CLS] state, and (best span score − null score, best span score, null score)
    over the first window, spans up to 30 tokens."""
    import torch

    states, margins = [], []
    for i in range(0, len(examples), batch):
        part = examples[i : i + batch]
        enc = tokenizer([e.question for e in part], [e.context for e in part], truncation="only_second",
                        max_length=384, padding=True, return_tensors="pt")
        with torch.no_grad():
            out = model(**enc, output_hidden_states=True)
        in_context = torch.tensor([[sid == 1 for sid in enc.sequence_ids(j)] for j in range(len(part))])
        start = out.start_logits.masked_fill(~in_context, -1e4)
        end = out.end_logits.masked_fill(~in_context, -1e4)
        length = start.shape[1]
        allowed = torch.triu(torch.ones(length, length)) - torch.triu(torch.ones(length, length), diagonal=30)
        best = (start[:, :, None] + end[:, None, :] + (allowed[None] - 1) * 1e4).flatten(1).max(1).values
        null = out.start_logits[:, 0] + out.end_logits[:, 0]
        states.append(out.hidden_states[-1][:, 0].numpy())
        margins.append(np.stack([(best - null).numpy(), best.numpy(), null.numpy()], 1))
    return np.concatenate(states), np.concatenate(margins)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", type=Path, default=ROOT / "qa" / "models" / "reader")
    args = parser.parse_args()
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from benchmarks.calibration import fitted_articles
    from qa.evaluation.datasets import load_squad
    from qa.training.calibration import split_by_article

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.reader)
    model = AutoModelForQuestionAnswering.from_pretrained(args.reader, dtype=torch.float32).eval()
    fit, held = split_by_article(load_squad(DATA / "squad-v2.0" / "dev-v2.0.json"))
    seen = fitted_articles()
    held = [e for e in held if (e.title or "") not in seen]
    fit_state, fit_margin = reader_signals(tokenizer, model, fit)
    held_state, held_margin = reader_signals(tokenizer, model, held)
    fit_y, held_y = np.array([bool(e.answers) for e in fit]), np.array([bool(e.answers) for e in held])
    result = {"reader": str(args.reader), "fit_questions": len(fit), "held_questions": len(held),
              "held_answerable_share": float(held_y.mean()), "auc_margin": float(roc_auc_score(held_y, held_margin[:, 0]))}
    for name, train, test in (("probe_cls", fit_state, held_state),
                              ("probe_cls_and_margins", np.hstack([fit_state, fit_margin]), np.hstack([held_state, held_margin]))):
        for c in (0.01, 0.1, 1.0):
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000)).fit(train, fit_y)
            result[f"auc_{name}_C{c}"] = float(roc_auc_score(held_y, probe.decision_function(test)))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
