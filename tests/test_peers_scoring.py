"""The peers benchmark's scoring (benchmarks/peers/run.py): official EM/F1, recall over the passages
handed to the reader, and the passages actually read (fewer under citeqa's early stop)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from corpus.documents import document_id
from qa.evaluation.datasets import QAExample

PEERS = Path(__file__).resolve().parent.parent / "benchmarks" / "peers"


@pytest.fixture(scope="module")
def peers_run():
    path = list(sys.path)  # run.py puts benchmarks/peers first on sys.path, which other tests must not see
    spec = importlib.util.spec_from_file_location("peers_run", PEERS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path[:] = path
    sys.modules.pop("common", None)


def raw_results(records: list[dict]) -> dict:
    return {"system": "s", "questions": records, "seconds": 2.0, "load_seconds": 0.5, "peak_rss_mb": 100.0,
            "config": {}, "versions": {}, "date": "2026-12-01T00:00:00Z"}


EXAMPLES = [
    QAExample(id="q1", question="Where?", answers=("Paris",), context="It is in Paris."),
    QAExample(id="q2", question="When?", answers=("1990",), context="It was in 1990."),
]
CHUNKS = {
    "0": {"text": "Something else.", "doc_id": "other"},
    "1": {"text": "It is in Paris.", "doc_id": document_id("It is in Paris.")},
    "2": {"text": "It was in 1990.", "doc_id": document_id("It was in 1990.")},
}


def test_scores_predictions_recall_and_passages_read(peers_run):
    raw = raw_results([
        {"id": "q1", "prediction": "Paris", "latency_s": 0.1, "retrieved": ["0", "1"], "passages_read": 1},
        {"id": "q2", "prediction": "", "latency_s": 0.3, "retrieved": ["2", "0"], "passages_read": 2},
    ])
    found = peers_run.score(raw, EXAMPLES, CHUNKS)
    assert found["exact_match"] == pytest.approx(50.0)
    assert found["f1"] == pytest.approx(50.0)
    assert found["recall@1"] == pytest.approx(50.0)
    assert found["recall@5"] == pytest.approx(100.0)
    assert found["passages_read_mean"] == pytest.approx(1.5)
    assert found["abstained"] == 1
    assert found["questions_per_s"] == pytest.approx(1.0)


def test_results_without_passages_read_count_every_retrieved_passage(peers_run):
    raw = raw_results([
        {"id": "q1", "prediction": "Paris", "latency_s": 0.1, "retrieved": ["0", "1", "2"]},
        {"id": "q2", "prediction": "1990", "latency_s": 0.1, "retrieved": ["2"]},
    ])
    assert peers_run.score(raw, EXAMPLES, CHUNKS)["passages_read_mean"] == pytest.approx(2.0)


def test_a_question_without_result_is_an_error(peers_run):
    raw = raw_results([{"id": "q1", "prediction": "Paris", "latency_s": 0.1, "retrieved": ["1"]}])
    with pytest.raises(SystemExit, match="1 questions have no result"):
        peers_run.score(raw, EXAMPLES, CHUNKS)
