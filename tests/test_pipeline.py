"""The assistant: merging spans into cited answers, abstention, threads, and the whole path on a real index."""

import threading

import pytest

from corpus.documents import Chunk
from embeddings.index import DocumentIndex
from embeddings.passage_index import StoredDocument
from qa.answering.config import Config
from qa.answering.pipeline import Assistant, EmptyQuestionError, clean_question, merge_spans
from qa.answering.normalize import normalize_answer
from qa.answering.retrievers import BM25Retriever, DenseRetriever, HybridRetriever, make_retriever
from qa.answering.types import Passage, Span

DOC_TEXT = "Intro. The center is in Abilene, Texas. Later: Abilene again."


def make_passage(doc_id, chunk_id, start, end, rank):
    document = StoredDocument(doc_id, f"Title {doc_id}", "2025-01-24", f"{doc_id}.txt", None, (), 2, (f"{doc_id}.txt",))
    return Passage(Chunk(doc_id, chunk_id, DOC_TEXT[start:end], start, end), document, 1.0 / rank, rank)


P1 = make_passage("a", 0, 0, 39, 1)
P2 = make_passage("a", 1, 40, len(DOC_TEXT), 2)


def span(passage, text, score, occurrence=0):
    start = passage.chunk.text.index(text) if occurrence == 0 else passage.chunk.text.rindex(text)
    return Span(text, score, passage, start, start + len(text))


def test_equal_answers_merge_and_cite_every_passage_strongest_first():
    spans = [span(P1, "Abilene, Texas", 3.0), span(P2, "Abilene", 5.0), span(P1, "Abilene", 4.0), span(P1, "Texas", 1.0)]
    answer = merge_spans("Where?", spans, [P1, P2], threshold=0.0)
    assert answer.text == "Abilene"
    assert answer.score == 5.0
    assert [(c.doc_id, c.passage_start) for c in answer.citations] == [("a", 40), ("a", 0)]
    for citation in answer.citations:
        assert DOC_TEXT[citation.start : citation.end] == "Abilene"
        assert citation.passage[citation.answer_start_in_passage : citation.answer_end_in_passage] == "Abilene"
    assert [c.text for c in answer.candidates] == ["Abilene, Texas", "Texas"]


def test_merging_uses_squad_normalisation():
    spans = [span(P1, "The center", 2.0), span(P1, "center", 1.5)]
    answer = merge_spans("What?", spans, [P1], threshold=0.0)
    assert answer.text == "The center" and len(answer.citations) == 1 and not answer.candidates


def test_abstains_below_threshold_and_shows_closest_passages():
    answer = merge_spans("Who?", [span(P1, "Intro", -1.0)], [P1, P2], threshold=0.0)
    assert answer.abstained and answer.text is None
    assert [c.passage_start for c in answer.citations] == [0, 40]
    assert all(c.start == c.end == c.passage_start for c in answer.citations)
    assert answer.candidates[0].text == "Intro"
    assert str(answer) == "The documents don't say."
    assert merge_spans("Who?", [], [], threshold=0.0).abstained


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_questions_are_rejected(bad):
    with pytest.raises(EmptyQuestionError, match="empty"):
        clean_question(bad, 100)


def test_question_cleaning():
    assert clean_question("  what\x07 is\nthis? ", 100) == "what is this?"
    assert len(clean_question("word " * 1000, 50)) <= 50


@pytest.fixture(scope="module")
def assistant(built_index, embedder, tiny_reader_dir):
    return Assistant.from_config(Config(index_dir=str(built_index), reader_model=str(tiny_reader_dir), k=3), embedder=embedder)


def test_a_200000_character_question_is_cut_with_a_warning_and_answered(assistant, caplog):
    question = "In which city is the Stargate data center being built? " + "and also " * 23_000
    assert len(question) > 200_000
    with caplog.at_level("WARNING"):
        answer = assistant.answer(question, threshold=float("-inf"))
    assert answer.text is not None and answer.citations
    assert any("cut to 2000" in record.getMessage() for record in caplog.records)
    assert len(answer.question) <= 2000


def test_end_to_end_citations_point_into_documents(assistant):
    answer = assistant.answer("Where is the data center being built?", threshold=-1000)
    assert answer.text is not None and answer.citations
    for citation in answer.citations:
        text = assistant.index.document_text(citation.doc_id)
        cited = text[citation.start : citation.end]
        # every citation holds the same answer (merged by SQuAD normalisation), never an empty or other span
        assert cited and normalize_answer(cited) == normalize_answer(answer.text)
        assert text[citation.passage_start : citation.passage_start + len(citation.passage)] == citation.passage
        assert citation.title and citation.date == "2025-01-24"
    best = answer.citations[0]
    assert assistant.index.document_text(best.doc_id)[best.start : best.end] == answer.text


def test_retrieval_modes(built_index, embedder, documents):
    index = DocumentIndex.open(built_index, embedder=embedder)
    for mode in ("dense", "bm25", "hybrid"):
        passages = make_retriever(mode, index, embedder).search("lava flowed towards Grindavik", 2)
        assert passages[0].chunk.doc_id == documents[1].doc_id, mode
        assert [p.rank for p in passages] == list(range(1, len(passages) + 1))
    assert isinstance(make_retriever("hybrid", index, embedder), HybridRetriever)
    assert BM25Retriever(index).search("zzzz qqqq", 3) == []
    assert len(DenseRetriever(index, embedder).search("anything", 100)) == len(index)
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        make_retriever("fuzzy", index, embedder)


def test_threads_get_the_same_answers_as_one_by_one(assistant):
    questions = ["Where is the data center?", "What erupted?", "Who won the final game?", "How big is the prize fund?"] * 5
    expected = [assistant.answer(q) for q in questions]
    results = [None] * len(questions)
    errors = []

    def work(i):
        try:
            results[i] = assistant.answer(questions[i])
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == expected
    assert assistant.answer_many(questions[:8], threads=4) == expected[:8]


@pytest.mark.slow
def test_eight_threads_200_questions_match_one_by_one(assistant):
    subjects = ["data center", "volcano", "lava", "chess game", "prize fund", "investment", "Texas", "Grindavik"]
    templates = ["Where is the {}?", "What happened to the {}?", "Who reported on the {}?", "When was the {} news?", "Why the {}?"]
    questions = [t.format(s) + (" " + "really " * (n % 5)) for n, (t, s) in enumerate(
        (t, s) for t in templates for s in subjects for _ in range(5))][:200]
    assert len(questions) == 200
    one_by_one = [assistant.answer(q) for q in questions]
    assert assistant.answer_many(questions, threads=8) == one_by_one


def test_the_api_cache_reopens_an_index_a_write_has_replaced(tmp_path, embedder, documents, tiny_reader_dir):
    from corpus.chunking import ChunkingSettings
    from embeddings.index import update_index
    from qa.answering.api import AssistantCache

    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=ChunkingSettings(max_words=25))
    cache = AssistantCache(lambda index: Assistant.from_config(
        Config(index_dir=index, reader_model=str(tiny_reader_dir)), embedder=embedder))
    first = cache.get(str(root))
    assert cache.get(str(root)) is first and list(first.index.documents()) == [documents[0].doc_id]
    update_index(root, embedder, add=documents[1:2])
    assert not first.index.is_current()
    second = cache.get(str(root))
    assert second is not first and second.index.is_current()
    assert list(second.index.documents()) == [documents[0].doc_id, documents[1].doc_id]
    assert second.reader is first.reader and second.embedder is first.embedder  # the models are not loaded again
    answer = second.answer("Which town was evacuated?", threshold=float("-inf"))
    assert answer.citations and {c.doc_id for c in answer.citations} <= {documents[0].doc_id, documents[1].doc_id}
