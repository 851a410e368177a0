"""Hypothesis-driven fuzzing of the loaders and the question path; run by hand, not in CI.

    python tests/fuzz/fuzz_inputs.py --examples 3000

Loaders get random bytes under every supported extension (and some mutated real files); the question
path gets random unicode strings. Anything but a clean skip / `CorpusError` / `EmptyQuestionError` is a
finding: hypothesis prints the smallest failing input.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from corpus.chunking import chunk_document  # noqa: E402
from corpus.errors import CorpusError  # noqa: E402
from corpus.loaders import load_path  # noqa: E402
from embeddings.sparse import BM25Index  # noqa: E402
from qa.answering.pipeline import EmptyQuestionError, clean_question  # noqa: E402

SUFFIXES = [".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl"]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "corpus" / "articles").glob("*.txt"))]
HEADERS = [b"%PDF-1.4\n", b"<html><script>", b'{"text": "', b"\xef\xbb\xbf date 2025-01-01\n", b"\xff\xfe", b"[", b""]


@st.composite
def file_bytes(draw):
    kind = draw(st.sampled_from(["random", "mutated", "header"]))
    if kind == "random":
        return draw(st.binary(max_size=4000))
    if kind == "header":
        return draw(st.sampled_from(HEADERS)) + draw(st.binary(max_size=2000))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 20))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    return bytes(data)


def fuzz_loaders(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(file_bytes(), st.sampled_from(SUFFIXES))
    def check(data: bytes, suffix: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"input{suffix}"
            path.write_bytes(data)
            try:
                report = load_path(path)
            except CorpusError:
                return
            for document in report.documents:
                assert document.text == document.text.strip()
                for chunk in chunk_document(document, max_words=40):
                    assert document.text[chunk.start : chunk.end] == chunk.text

    check()


def fuzz_questions(examples: int) -> None:
    index = BM25Index.build([1, 2], ["The data center is in Abilene, Texas.", "Musk loses favor among Trump allies."])

    @settings(max_examples=examples, deadline=None)
    @given(st.text(max_size=3000))
    def check(question: str) -> None:
        try:
            cleaned = clean_question(question, 2000)
        except EmptyQuestionError:
            assert not "".join(ch for ch in question if ch.isprintable()).strip()
            return
        assert cleaned and len(cleaned) <= 2000
        index.search(cleaned, 5)

    check()


def main() -> None:
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its warnings about broken PDFs are expected here
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    fuzz_loaders(args.examples)
    print(f"loaders: {args.examples} inputs, no finding")
    fuzz_questions(args.examples)
    print(f"questions: {args.examples} inputs, no finding")


if __name__ == "__main__":
    main()
