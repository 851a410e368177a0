"""The product as shipped: `answer()` with the packaged reader over the bundled articles, out of the box.

Golds were written by hand from the two articles. The floor is set just under what the shipped reader
measured when it was committed, so a reader or pipeline that answers worse fails here.
"""

from __future__ import annotations

import pytest

from qa.evaluation.metrics import SCORING_V1, normalize_answer, question_scores

pytestmark = pytest.mark.slow

ANSWERABLE = [
    ("In which city is the Stargate data center being built?", ["Abilene", "Abilene, Texas"]),
    ("How much is the initial investment in Stargate?", ["$100 billion"]),
    ("How much could be poured into Stargate in the coming years?", ["$500 billion", "up to $500 billion"]),
    ("Who is the CEO of OpenAI?", ["Sam Altman"]),
    ("On what platform did Musk dunk on the deal?", ["X", "social media platform, X"]),
    ("When did Trump speak to reporters at the White House?", ["Tuesday", "on Tuesday"]),
    ("What is the name of the new AI venture?", ["Stargate"]),
    ("What did Musk call Sam Altman?", ["liar", "a liar"]),
    ("How much does SoftBank have secured, according to Musk?", ["well under $10B", "under $10B", "$10B"]),
    ("Where did Musk and Trump watch the sixth Starship test flight?", ["Brownsville, Texas", "Brownsville"]),
    ("In what year did Musk co-found OpenAI with Altman?", ["2015"]),
    ("Which company will take on the venture's financial responsibility?", ["SoftBank"]),
]
UNANSWERABLE = ["Who won the 2018 FIFA World Cup?", "What is the boiling point of mercury?", "Who painted the Mona Lisa?"]
EXACT_FLOOR = 10  # the v3+v5 soup, reader-v3 step 11,000 and reader-v2c step 9,450 measured 10 of 12; reader-v2b step 7,100 and reader-v1 step 4,725 (int8, open-fitted threshold) measured 11 of 12; step 1,179 measured 10


@pytest.fixture(scope="module")
def bundled():
    from corpus.loaders import load_default_corpus
    from qa import answer

    texts = {document.doc_id: document.text for document in load_default_corpus()}
    return answer, texts


def test_bundled_questions_are_answered_and_cited_exactly(bundled):
    answer, texts = bundled
    exact = 0
    for question, golds in ANSWERABLE:
        result = answer(question)
        assert result.text is not None, question
        exact += question_scores(result.text, golds, SCORING_V1)[0]
        assert result.citations and 1 <= result.passages_read <= 5
        for citation in result.citations:
            text = texts[citation.doc_id]
            assert normalize_answer(text[citation.start : citation.end]) == normalize_answer(result.text)
            assert text[citation.passage_start : citation.passage_start + len(citation.passage)] == citation.passage
            assert citation.title and citation.date == "2025-01-24"
    assert exact >= EXACT_FLOOR, f"{exact} of {len(ANSWERABLE)} exact"


def test_questions_the_articles_do_not_answer_get_no_answer(bundled):
    answer, _ = bundled
    for question in UNANSWERABLE:
        result = answer(question)
        assert result.abstained, f"{question} -> {result.text} ({result.score:.2f})"
        assert result.citations and all(c.start == c.end for c in result.citations)
