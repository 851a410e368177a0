"""`differing_answers` (pure, hand-made Answers) and how the chat and `citeqa ask` show it, with the note when a
newer source was preferred; one end-to-end run with the shipped reader over two contradicting articles."""

from __future__ import annotations

import pytest

import ui
from qa.answering.disagreement import differing_answers, newer_preferred_over, prefer_newer
from qa.answering.types import Answer, Citation
from qa.cli.ask_command import format_answer

QUESTION = "When is the new bridge expected to open?"


def cite(doc_id: str, date: str | None, title: str | None = None) -> Citation:
    passage = f"The bridge opens in {doc_id}."
    return Citation(doc_id=doc_id, title=title or f"Article {doc_id}", date=date, source=f"{doc_id}.txt",
                    passage=passage, start=20, end=20 + len(doc_id), passage_start=0, score=1.0)


def alt(text: str, score: float, doc_id: str, date: str | None = "2024-01-01", title: str | None = None) -> Answer:
    return Answer(QUESTION, text, score, (cite(doc_id, date, title),), threshold=0.0)


def chosen(text: str, score: float, doc_id: str, date: str | None, *candidates: Answer,
           threshold: float = 0.0) -> Answer:
    return Answer(QUESTION, text, score, (cite(doc_id, date),), tuple(candidates), threshold)


def texts(answers) -> list[str]:
    return [a.text for a in answers]


# -- differing_answers ------------------------------------------------------------------------------


def test_two_documents_disagreeing_newest_first():
    answer = chosen("2026", 10.0, "old", "2023-05-10", alt("summer 2027", 9.5, "new", "2025-03-14"))
    found = differing_answers(answer)
    assert texts(found) == ["summer 2027", "2026"]
    assert found[1] is answer


def test_no_candidates_or_one_left_gives_nothing():
    assert differing_answers(chosen("2026", 10.0, "a", "2023-01-01")) == []
    assert differing_answers(chosen("2026", 10.0, "a", "2023-01-01", alt("2027", 1.0, "b"))) == []


def test_equal_answers_after_normalisation_are_one():
    answer = chosen("in 2026", 10.0, "a", "2023-01-01", alt("In 2026.", 9.9, "b"), alt("in  the 2026!", 9.8, "c"))
    assert differing_answers(answer) == []


def test_candidates_below_the_threshold_are_ignored():
    answer = chosen("2026", 5.0, "a", "2023-01-01", alt("2027", 4.0, "b"), threshold=4.5)
    assert differing_answers(answer) == []
    assert texts(differing_answers(chosen("2026", 5.0, "a", "2023-01-01", alt("2027", 4.5, "b"), threshold=4.5))) \
        == ["2027", "2026"]  # at the threshold it would answer on its own


def test_candidates_outside_the_margin_are_ignored():
    answer = chosen("2026", 10.0, "a", "2023-01-01", alt("2027", 7.9, "b"))
    assert differing_answers(answer) == []
    assert texts(differing_answers(answer, margin=2.1)) == ["2027", "2026"]
    assert len(differing_answers(chosen("2026", 10.0, "a", "2023-01-01", alt("2027", 8.0, "b")))) == 2  # inclusive


def test_nan_scores_are_ignored():
    assert differing_answers(chosen("2026", 10.0, "a", "2023-01-01", alt("2027", float("nan"), "b"))) == []


def test_same_document_candidates_are_ignored():
    answer = chosen("2026", 10.0, "a", "2023-01-01", alt("spring 2026", 9.9, "a"), alt("2027", 9.0, "b"))
    assert texts(differing_answers(answer)) == ["2027", "2026"]
    # two candidates from one other document: the stronger one stays
    answer = chosen("2026", 10.0, "a", "2023-01-01", alt("2028", 9.0, "b"), alt("2027", 9.5, "b"))
    assert texts(differing_answers(answer)) == ["2027", "2026"]


def test_ordering_by_date_with_undated_last_and_at_most_three():
    answer = chosen("2026", 10.0, "a", "2023-05-10",
                    alt("2029", 9.9, "d", None),
                    alt("2027", 9.8, "b", "2025-03-14"),
                    alt("2028", 9.7, "c", "2024-07-01"),
                    alt("2030", 9.6, "e", None))
    found = differing_answers(answer)
    assert texts(found) == ["2027", "2026", "2029"]  # the three strongest, newest first, undated last
    assert answer in found
    assert texts(differing_answers(chosen("2026", 10.0, "a", None, alt("2027", 9.0, "b", None),
                                          alt("2028", 9.5, "c", "2020-01-01")))) == ["2028", "2026", "2027"]


def test_equal_dates_keep_the_stronger_first():
    answer = chosen("2026", 10.0, "a", "2024-01-01", alt("2027", 9.0, "b", "2024-01-01"))
    assert texts(differing_answers(answer)) == ["2026", "2027"]


def test_abstained_answer_gives_nothing():
    abstained = Answer(QUESTION, None, -1.0, (cite("a", "2023-01-01"),),
                       (alt("2026", -1.0, "a"), alt("2027", -1.5, "b")), threshold=0.0)
    assert differing_answers(abstained) == []


# -- the chat and citeqa ask --------------------------------------------------------------------------


def bridge_answer(old_wins: bool = True) -> Answer:
    old = ("2026", "old", "2023-05-10", "Bridge <b>plans</b>")
    new = ("summer 2027", "new", "2025-03-14", "Bridge_delayed *again*")
    best, other = (old, new) if old_wins else (new, old)
    return Answer(QUESTION, best[0], 10.0, (cite(best[1], best[2], best[3]),),
                  (alt(other[0], 9.5, other[1], other[2], other[3]),), 0.0)


def test_render_answer_lists_differing_sources_newest_first():
    answer = bridge_answer(old_wins=True)
    reply = ui.render_answer(answer)
    block = ("**Sources differ:**\n\n"
             "- **summer 2027** — Bridge&#95;delayed &#42;again&#42; (2025-03-14)\n"
             "- **2026** — Bridge &lt;b&gt;plans&lt;/b&gt; (2023-05-10)\n\n"
             "The newest source says: summer 2027")
    assert block in reply
    heading = '**2026** <span class="cite-ref">[1]</span> (confidence'
    assert reply.index(heading) < reply.index("**Sources differ:**") < reply.index("Sources:\n")
    same = Answer(answer.question, answer.text, answer.score, answer.citations, (), answer.threshold)
    assert reply.replace(block + "\n\n", "") == ui.render_answer(same)  # the rest of the reply is unchanged


def test_render_answer_says_nothing_more_when_the_newest_is_chosen():
    reply = ui.render_answer(bridge_answer(old_wins=False))
    assert "**Sources differ:**" in reply
    assert reply.index("- **summer 2027** — ") < reply.index("- **2026** — ")
    assert "The newest source says" not in reply


def test_format_answer_lists_differing_sources():
    text = format_answer(bridge_answer(old_wins=True))
    assert ("Sources differ:\n"
            "  - summer 2027 — Bridge_delayed *again* (2025-03-14)\n"
            "  - 2026 — Bridge <b>plans</b> (2023-05-10)\n"
            "The newest source says: summer 2027\n[1] ") in text
    assert "The newest source says" not in format_answer(bridge_answer(old_wins=False))


NEWER_NOTE_TERMINAL = ("The newer source is preferred for a question about something that changes: summer 2027 "
                       "(Bridge_delayed *again*, 2025-03-14) over 2026 (Bridge <b>plans</b>, 2023-05-10).")
NEWER_NOTE_CHAT = ("The newer source is preferred for a question about something that changes: summer 2027 "
                   "(Bridge&#95;delayed &#42;again&#42;, 2025-03-14) over 2026 (Bridge &lt;b&gt;plans&lt;/b&gt;, 2023-05-10).")


def test_the_newer_source_preferred_is_said_beside_the_differing_sources():
    answer = prefer_newer(bridge_answer(old_wins=True))  # "expected": time-sensitive, so the 2025 article wins
    assert answer.newer_preferred and answer.text == "summer 2027" and newer_preferred_over(answer).text == "2026"
    reply = ui.render_answer(answer)
    assert NEWER_NOTE_CHAT in reply
    assert reply.index("**Sources differ:**") < reply.index(NEWER_NOTE_CHAT) < reply.index("Sources:\n")
    assert "The newest source says" not in reply  # the newest is the answer now
    printed = format_answer(answer)
    assert ("Sources differ:\n  - summer 2027 — Bridge_delayed *again* (2025-03-14)\n"
            "  - 2026 — Bridge <b>plans</b> (2023-05-10)\n" + NEWER_NOTE_TERMINAL + "\n[1] ") in printed


def test_no_note_unless_the_newer_source_was_preferred():
    for answer in (bridge_answer(old_wins=True), bridge_answer(old_wins=False)):
        assert newer_preferred_over(answer) is None
        assert "newer source is preferred" not in ui.render_answer(answer) + format_answer(answer)
    lone = Answer(QUESTION, "summer 2027", 9.5, (cite("new", "2025-03-14"),), (), 0.0, newer_preferred=True)
    assert newer_preferred_over(lone) is None and "newer source is preferred" not in ui.render_answer(lone)


def test_undated_source_is_shown_as_undated():
    answer = Answer(QUESTION, "2026", 10.0, (cite("a", "2023-01-01"),), (alt("2027", 9.0, "b", None),), 0.0)
    assert "- **2027** — Article b (undated)" in ui.render_answer(answer)
    assert "  - 2027 — Article b (undated)" in format_answer(answer)


# -- end to end, shipped reader -------------------------------------------------------------------------


@pytest.mark.slow
def test_contradicting_articles_with_the_shipped_reader(tmp_path, embedder):
    from corpus.loaders import load_path
    from embeddings.index import update_index
    from qa.answering.config import Config
    from qa.answering.pipeline import Assistant

    from conftest import write_bridge_articles

    folder = write_bridge_articles(tmp_path / "news")
    documents = load_path(folder).documents
    assert sorted((d.title, d.date) for d in documents) == [("Bridge delayed", "2025-03-14"),
                                                           ("Bridge works begin", "2023-05-10")]
    update_index(tmp_path / "idx", embedder, add=documents)
    assistant = Assistant.from_config(Config(index_dir=str(tmp_path / "idx"), reader_model=None), embedder=embedder)

    unpreferred = Assistant.from_config(Config(index_dir=str(tmp_path / "idx"), reader_model=None, prefer_newer=False),
                                        embedder=embedder).answer(QUESTION)
    # the calibrated reader alone: "2026" (72 % likely right), "summer 2027" (55 %) a strong differing candidate
    assert "2026" in unpreferred.text and not unpreferred.newer_preferred
    answer = assistant.answer(QUESTION)  # "expected to open": time-sensitive, so the newer article's answer wins
    assert answer.newer_preferred and "summer 2027" in answer.text
    assert answer.citations[0].title == "Bridge delayed" and "2026" in newer_preferred_over(answer).text
    found = differing_answers(answer)
    assert [a.citations[0].title for a in found] == ["Bridge delayed", "Bridge works begin"]
    assert found[0] is answer and "2026" in found[1].text
    reply = ui.render_answer(answer)
    assert "**Sources differ:**" in reply and "The newest source says" not in reply
    assert reply.index("— Bridge delayed (2025-03-14)") < reply.index("— Bridge works begin (2023-05-10)")
    note = "The newer source is preferred for a question about something that changes: "
    assert note in reply and "(Bridge delayed, 2025-03-14) over " in reply and "(Bridge works begin, 2023-05-10)." in reply
    printed = format_answer(answer)
    assert printed.index("— Bridge delayed (2025-03-14)") < printed.index("— Bridge works begin (2023-05-10)")
    assert printed.splitlines()[0].startswith("summer 2027") and note in printed

