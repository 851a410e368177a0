"""The extractive reader on a real (tiny, random) BertForQuestionAnswering and the real tokenizer."""

import pytest

from corpus.documents import Chunk
from embeddings.passage_index import StoredDocument
from qa.answering.reader import ExtractiveReader, ReaderNotInstalledError, recorded_settings
from qa.answering.types import Passage


def passage(text, rank=1, start=0, doc_id="d1"):
    document = StoredDocument(doc_id, "Title", "2025-01-24", "a.txt", None, (), 1, ("a.txt",))
    return Passage(Chunk(doc_id, rank - 1, text, start, start + len(text)), document, 1.0, rank)


def test_settings_come_from_the_model_folder(tiny_reader_dir):
    reader = ExtractiveReader(tiny_reader_dir)
    assert (reader.max_length, reader.stride, reader.no_answer_threshold) == (64, 16, -100.0)
    assert ExtractiveReader(tiny_reader_dir, threshold=2.5).no_answer_threshold == 2.5
    assert recorded_settings(tiny_reader_dir)["max_length"] == 64


def test_spans_are_exact_substrings_of_their_passages(tiny_reader_dir):
    reader = ExtractiveReader(tiny_reader_dir)
    long_text = " ".join(f"Sentence {i} mentions Zürich and “quotes” — ok." for i in range(40))
    passages = [passage("The data center is in Abilene, Texas.", 1), passage(long_text, 2, start=500)]
    spans = reader.read("Where is the data center?", passages, top_n=3)
    assert spans
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    for span in spans:
        assert span.passage.chunk.text[span.start : span.end] == span.text
        assert span.text.strip() == span.text and span.text
    assert {s.passage.rank for s in spans} == {1, 2}  # every window of the long passage was read


def test_windows_are_capped_and_results_deterministic(tiny_reader_dir):
    text = " ".join(f"word{i}" for i in range(2000))
    few = ExtractiveReader(tiny_reader_dir, max_windows_per_passage=2)
    many = ExtractiveReader(tiny_reader_dir, max_windows_per_passage=100)
    a = few.read("Which word?", [passage(text)], top_n=50)
    b = many.read("Which word?", [passage(text)], top_n=50)
    assert max(s.end for s in a) < max(s.end for s in b)
    assert a == few.read("Which word?", [passage(text)], top_n=50)


def test_long_question_is_cut_not_fatal(tiny_reader_dir):
    reader = ExtractiveReader(tiny_reader_dir)
    question = "why " * 5000
    assert len(reader.clip_question(question)) < 400
    assert reader.read(question, [passage("A short passage about nothing.")])


def test_no_passages_and_missing_model(tiny_reader_dir, tmp_path):
    assert ExtractiveReader(tiny_reader_dir).read("Q?", []) == []
    with pytest.raises(ReaderNotInstalledError, match="no config.json"):
        ExtractiveReader(tmp_path)
