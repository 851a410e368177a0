"""Property tests of the offset invariants of the qa records: Span, Citation, and page numbers."""

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.documents import Chunk, page_number
from embeddings.passage_index import StoredDocument
from qa.answering.pipeline import citation_for, merge_spans
from qa.answering.types import Passage, Span


@st.composite
def document_with_spans(draw):
    text = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300))
    chunk_start = draw(st.integers(0, len(text) - 1))
    chunk_end = draw(st.integers(chunk_start + 1, len(text)))
    chunk_text = text[chunk_start:chunk_end]
    spans = []
    for _ in range(draw(st.integers(1, 5))):
        a = draw(st.integers(0, len(chunk_text) - 1))
        b = draw(st.integers(a + 1, len(chunk_text)))
        spans.append((a, b, draw(st.floats(-10, 10))))
    pages = tuple(sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=4)) + [0])))
    return text, chunk_start, chunk_end, spans, pages


@settings(max_examples=300, deadline=None)
@given(document_with_spans())
def test_citations_locate_the_answer_in_the_document(case):
    text, chunk_start, chunk_end, raw_spans, pages = case
    document = StoredDocument("d", "T", None, "s", None, pages, 1, ("s",))
    passage = Passage(Chunk("d", 0, text[chunk_start:chunk_end], chunk_start, chunk_end), document, 1.0, 1)
    spans = [Span(passage.chunk.text[a:b], score, passage, a, b) for a, b, score in raw_spans]
    for span in spans:
        citation = citation_for(span)
        assert text[citation.start : citation.end] == span.text
        assert text[citation.passage_start : citation.passage_start + len(citation.passage)] == citation.passage
        assert citation.passage[citation.answer_start_in_passage : citation.answer_end_in_passage] == span.text
        assert citation.page == page_number(pages, citation.start)
    answer = merge_spans("q", spans, [passage], threshold=-100.0)
    if answer.text is not None:
        for citation in answer.citations:
            assert text[citation.start : citation.end].strip()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=8, unique=True), st.integers(0, 1200))
def test_page_number_is_the_last_page_starting_at_or_before(starts, offset):
    starts = tuple(sorted(set(starts) | {0}))
    page = page_number(starts, offset)
    assert 1 <= page <= len(starts)
    assert starts[page - 1] <= offset
    assert page == len(starts) or starts[page] > offset


def test_no_pages():
    assert page_number((), 5) is None
