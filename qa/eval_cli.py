"""`citeqa eval`: flags in, an evaluation run out (see qa/evaluation.py)."""

from __future__ import annotations


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="score the assistant against a question set (SQuAD JSON, JSONL, CSV)")
    p.add_argument("questions", help="question set file")


def run_eval(args) -> int:
    raise NotImplementedError("citeqa eval is not built yet")
