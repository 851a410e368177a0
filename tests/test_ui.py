"""The Gradio chat: reply rendering and escaping (pure), the service behind the app (uploads, removal,
follow-ups, errors), and the launched app through gradio_client's `/chat`.

The reader is the tiny random one from conftest: its answers are arbitrary spans, so the assertions
are about structure, escaping, citations and abstention, computed against the same assistant.
"""

from __future__ import annotations

import html
import re
import shutil
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ui
from corpus.documents import Document, document_id
from qa.answering.citing import (ANSWER, PASSAGE, Highlight, card_highlights, cite, cited_passage, copy_text,
                                 document_segments)
from qa.answering.types import Answer, Citation

QUESTION = "In which city is the Stargate data center being built?"
INJECTION_TITLE = 'Evil <b onmouseover="alert(3)">title</b> & co'
INJECTION_TEXT = (
    "The zeppelin museum keeps <script>alert(1)</script> and <img src=x onerror=alert(1)> in its archive. "
    "Its **archive** is in [Friedrichshafen](javascript:alert(2)) by the lake."
)


def citation(passage="The data center is in Abilene, Texas.", start=22, end=36, *, title="Stargate", date="2025-01-24",
             source="a.txt", page=None, passage_start=0, doc_id="d1") -> Citation:
    return Citation(doc_id=doc_id, title=title, date=date, source=source, passage=passage, start=passage_start + start,
                    end=passage_start + end, passage_start=passage_start, score=1.0, page=page)


def answer(text="Abilene, Texas", citations=None, score=2.0, **kwargs) -> Answer:
    return Answer("Where?", text, score, tuple([citation()] if citations is None else citations), **kwargs)


# -- pure functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, shown", [
    ("plain text, 100% fine: ok?", "plain text, 100% fine: ok?"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("a & b", "a &amp; b"),
    ('"quoted" \'single\'', '"quoted" \'single\''),
    ("**bold** _it_ `code` [l](javascript:x) ~s~ a|b \\", "&#42;&#42;bold&#42;&#42; &#95;it&#95; &#96;code&#96; "
                                                         "&#91;l&#93;(javascript:x) &#126;s&#126; a&#124;b &#92;"),
    ("", ""),
])
def test_escape(raw, shown):
    assert ui.escape(raw) == shown


def test_escape_html_leaves_markdown_characters():
    assert ui.escape_html("<b>*x*</b> & _y_") == "&lt;b&gt;*x*&lt;/b&gt; &amp; _y_"


@pytest.mark.parametrize("start, end, expected", [
    (22, 36, "The data center is in <mark>Abilene, Texas</mark>."),
    (0, 3, "<mark>The</mark> data center is in Abilene, Texas."),
    (22, 37, "The data center is in <mark>Abilene, Texas.</mark>"),
    (0, 37, "<mark>The data center is in Abilene, Texas.</mark>"),
    (5, 5, "The data center is in Abilene, Texas."),          # empty span: no mark
    (30, 10, "The data center is in Abilene, Texas."),        # reversed: no mark
    (31, 99, "The data center is in Abilene, <mark>Texas.</mark>"),  # clipped to the passage
])
def test_passage_html_marks_exactly_the_span(start, end, expected):
    assert ui.passage_html(cited_passage(citation(start=start, end=end))) == expected


def test_passage_html_uses_offsets_relative_to_the_passage():
    c = citation("in Abilene, Texas", start=3, end=10, passage_start=500)
    assert ui.passage_html(cited_passage(c)) == "in <mark>Abilene</mark>, Texas"


def test_passage_html_escapes_inside_and_around_the_mark():
    c = citation("a <b> c <script>x</script> d", start=8, end=26)
    assert ui.passage_html(cited_passage(c)) == "a &lt;b&gt; c <mark>&lt;script&gt;x&lt;/script&gt;</mark> d"


def test_passage_html_turns_line_breaks_into_br():
    c = citation("First para.\n\nSecond para.\r\nThird.", start=13, end=19)
    assert ui.passage_html(cited_passage(c)) == "First para.<br><br><mark>Second</mark> para.<br>Third."


def blocks(reply: str) -> list[str]:
    return reply.split("\n\n")


def test_render_answer_numbers_source_documents_with_one_card_each():
    second = citation("Texas has a new data center in Abilene, Texas.", start=31, end=45, title="Other", date=None,
                      source="b.html", page=3, doc_id="d2")
    again = citation("Abilene, Texas, again.", start=0, end=14, passage_start=300)
    head, *rest = blocks(ui.render_answer(answer(citations=[citation(), second, again], score=2.0)))
    assert head == ('**Abilene, Texas** <span class="cite-ref">[1]</span><span class="cite-ref">[2]</span> '
                    "(confidence 88%)")
    assert rest[0] == "Sources:"
    assert rest[1].startswith('<details class="cite" open><summary>')
    assert '<span class="cite-n">[1]</span> <span class="cite-title">Stargate</span>' in rest[1]
    assert '<span class="cite-meta">2025-01-24 · a.txt</span>' in rest[1]
    assert rest[1].count('<blockquote class="cite-passage">') == 2  # both passages of document 1 under its card
    assert "in <mark>Abilene, Texas</mark>." in rest[1] and "<mark>Abilene, Texas</mark>, again." in rest[1]
    assert rest[2].startswith('<details class="cite"><summary>')  # only the first card is open
    assert "[2]</span>" in rest[2] and '<span class="cite-meta">b.html · page 3</span>' in rest[2]
    assert rest[3].startswith('<div class="cite-actions"><button type="button" class="cite-copy">Copy answer with citations')
    assert len(rest) == 4
    assert all("\n" not in block for block in rest[1:])  # an HTML block must not be cut by a blank line


def test_render_answer_cards_hold_the_document_or_a_link_to_it():
    text = "Intro line.\n" + " " * 88 + "The data center is in Abilene, Texas. The end."
    c = citation(passage_start=text.index("The data"))
    reply = ui.render_answer(answer(citations=[c]), documents={"d1": text})
    view = reply[reply.index('<details class="cite-doc">'):]
    assert view.startswith('<details class="cite-doc"><summary>View document</summary><div class="cite-doc-text" tabindex="0">'
                           'Intro line.<br>')
    assert '<span class="cite-doc-passage">The data center is in </span><mark>Abilene, Texas</mark>' in view
    assert "cite-doc-load" not in reply
    linked = ui.render_answer(answer(citations=[c]))  # no text given: a link the page's script fetches
    assert ('<a class="cite-doc-load" href="#citeqa-doc?id=d1&amp;h=p100-137%2Ca122-136">Load the whole document</a>'
            in linked)


def test_render_answer_with_a_calibrated_probability_says_it_in_words():
    reply = ui.render_answer(answer(probability=0.82, min_confidence=0.7))
    assert blocks(reply)[0] == '**Abilene, Texas** <span class="cite-ref">[1]</span> (likely right, 82 %)'
    assert "confidence" not in reply


def test_render_answer_says_when_the_newer_source_was_preferred():
    old = answer("2026", [citation("It opens in 2026.", 12, 16, title="Works *begin*", date="2023-05-10", doc_id="old")],
                 score=12.3)
    new = answer("summer\n2027", [citation("It opens in summer\n2027.", 12, 23, title="<b>Delayed</b>", date="2025-03-14",
                                           doc_id="new")], score=10.8, candidates=(old,), newer_preferred=True)
    reply = ui.render_answer(new)
    note = ("The newer source is preferred for a question about something that changes: summer 2027 "
            "(&lt;b&gt;Delayed&lt;/b&gt;, 2025-03-14) over 2026 (Works &#42;begin&#42;, 2023-05-10).")
    assert note in blocks(reply)
    assert reply.index("**Sources differ:**") < reply.index(note) < reply.index("Sources:\n")
    plain = ui.render_answer(answer("summer\n2027", new.citations, score=10.8, candidates=(old,)))
    assert "newer source" not in plain and reply.replace(note + "\n\n", "") == plain


def test_render_unsure_abstention_shows_the_best_guess_never_as_an_answer():
    guess = Answer("Who funds it?", "SoftBank", -0.5, (citation("Funded by SoftBank.", start=10, end=18, doc_id="d7"),),
                   probability=0.45)
    unsure = Answer("Who funds it?", None, -0.5, (citation(start=0, end=0),), (guess,), probability=0.45,
                    min_confidence=0.7, unsure=True)
    head, label, card, actions = blocks(ui.render_answer(unsure))
    assert head == ('Not sure. Best guess, low confidence: <em>SoftBank</em> <span class="cite-ref">[1]</span> '
                    "(possibly right, 45 %)")
    assert "**" not in head and ui.ABSTAIN_TEXT not in head
    assert label == "Sources:" and card.startswith('<details class="cite" open>')
    assert "Funded by <mark>SoftBank</mark>." in card and "Abilene" not in card  # the guess's source, not the closest
    assert "Not sure. Best guess, low confidence: SoftBank [1]&#10;" in actions
    without_probability = Answer("Who?", None, -0.5, (), (Answer("Who?", "SoftBank", -0.5, guess.citations),), unsure=True)
    assert blocks(ui.render_answer(without_probability))[0].endswith('<span class="cite-ref">[1]</span>')


def test_render_answer_escapes_everything_from_documents():
    passage = "<img src=x onerror=alert(1)> <script>alert(1)</script>"
    evil = citation(passage, start=0, end=28, passage_start=13, title="<script>t</script>", date="<i>d</i>",
                    source="<b>s</b>.txt", doc_id='"><script>x</script>')
    evil_answer = answer(text="<img src=x onerror=alert(1)>", citations=[evil])
    inline = ui.render_answer(evil_answer, documents={evil.doc_id: "<p onclick=x>" + passage + "</p>"})
    linked = ui.render_answer(evil_answer)
    for reply in (inline, linked):
        assert "<img" not in reply and "<script" not in reply and "<b>" not in reply and "<i>" not in reply
        assert "&lt;img src=x onerror=alert(1)&gt;" in reply
        assert "&lt;script&gt;t&lt;/script&gt;" in reply and "&lt;i&gt;d&lt;/i&gt;" in reply
    assert "<p " not in inline and '<div class="cite-doc-text" tabindex="0">&lt;p onclick=x&gt;<mark>' in inline
    assert 'href="#citeqa-doc?id=%22%3E%3Cscript%3Ex%3C%2Fscript%3E&amp;h=' in linked


def test_render_answer_puts_a_multiline_answer_on_one_line():
    reply = ui.render_answer(answer(text="Abilene,\n\nTexas"))
    assert reply.startswith("**Abilene, Texas** <span")


def test_render_abstention_shows_the_closest_passages_without_marks():
    closest = [citation(start=0, end=0), citation(start=0, end=0, title="Second", doc_id="d2")]
    parts = blocks(ui.render_answer(Answer("Who?", None, -3.0, tuple(closest))))
    assert parts[0] == ui.ABSTAIN_TEXT == "The documents don't say."
    assert parts[1] == "Closest passages found:"
    assert all("<mark>" not in p and " open>" not in p for p in parts)
    assert "[1]" in parts[2] and "[2]" in parts[3]
    assert "The documents don't say.&#10;&#10;Closest passages:&#10;[1] Stargate" in parts[4]


@pytest.mark.parametrize("unsure", [False, True])
def test_render_abstention_without_passages(unsure):
    assert ui.render_answer(Answer("Who?", None, float("-inf"), (), unsure=unsure)) == ui.ABSTAIN_TEXT


def test_render_followup_note_is_escaped():
    reply = ui.render_answer(answer(), followup_of="What is <b>Stargate</b>?")
    assert reply.endswith("<sub>Searched together with the previous question: “What is &lt;b&gt;Stargate&lt;/b&gt;?”</sub>")


def test_copy_block_holds_the_plain_text_on_one_html_line():
    c = citation("A <b>bold</b> claim:\n\nAbilene, Texas.", start=22, end=36)
    block = ui.copy_block(cite(answer(citations=[c])))
    assert "\n" not in block and "<b>" not in block
    shown = block[block.index("hidden>") + len("hidden>"):block.index("</pre>")]
    assert html.unescape(shown) == copy_text(cite(answer(citations=[c])))


@pytest.mark.parametrize("probability, words", [(0.95, "very likely right, 95 %"), (0.82, "likely right, 82 %"),
                                                (0.5, "possibly right, 50 %"), (0.1, "unlikely right, 10 %")])
def test_confidence_label(probability, words):
    assert ui.confidence_label(answer(probability=probability)) == words
    assert ui.confidence_label(answer(score=2.0)) == "confidence 88%"


def test_highlights_travel_and_come_back_checked():
    highlights = (Highlight(0, 60, PASSAGE), Highlight(22, 36, ANSWER))
    assert ui.highlights_param(highlights) == "p0-60,a22-36"
    assert ui.parse_highlights("p0-60,a22-36", 60) == highlights
    assert ui.parse_highlights("", 10) == ()


@pytest.mark.parametrize("param", ["p0-61", "a5-5", "a6-5", "x0-3", "p0-3,", "p-1-3", "p0-3;a1-2", "p٣-5", "p 0-3",
                                   "a0-1," * 100, 12, None, ["p0-3"], "p0-99999999999"])
def test_bad_highlights_are_refused(param):
    with pytest.raises(ValueError):
        ui.parse_highlights(param, 60)


@pytest.mark.parametrize("value, probability", [(None, None), (0, 0.0), (70, 0.7), (72.5, 0.725), (100, 1.0)])
def test_checked_percent(value, probability):
    assert ui.checked_percent(value) == probability


@pytest.mark.parametrize("value", [-5, 100.5, float("nan"), float("inf"), True, "70", [70]])
def test_checked_percent_refuses_what_is_not_a_percentage(value):
    with pytest.raises(ValueError, match="min_confidence must be a number from 0 to 100"):
        ui.checked_percent(value)


def test_document_html_turns_every_line_break_into_br():
    shown = ui.document_html(document_segments("a\r\nb\rc\n\nd", [Highlight(3, 5, ANSWER)]))
    assert shown == "a<br><mark>b<br></mark>c<br><br>d"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=200),
       st.data())
def test_document_html_shows_the_text_exactly_with_the_answer_marked(text, data):
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    shown = ui.document_html(document_segments(text, [Highlight(a, b, ANSWER)]))
    assert "\n" not in shown and "\r" not in shown
    marked = re.findall(r"<mark>(.*?)</mark>", shown)
    assert [html.unescape(m.replace("<br>", "\n")) for m in marked] == ([text[a:b]] if b > a else [])
    assert html.unescape(re.sub(r"<[^>]+>", "", shown.replace("<br>", "\n"))) == text


@pytest.mark.parametrize("message, text", [
    ({"role": "user", "content": "Who?"}, "Who?"),
    ({"role": "user", "content": [{"type": "text", "text": "Who?"}]}, "Who?"),
    ({"role": "user", "content": [{"type": "text", "text": "Who"}, {"type": "file", "file": {}}, "else?"]}, "Who else?"),
    ({"role": "user", "content": {"type": "text", "text": "Who?"}}, "Who?"),
    ({"role": "user", "content": {"path": "a.png"}}, ""),
    ({"role": "user", "content": None}, ""),
])
def test_message_text(message, text):
    assert ui.message_text(message) == text


def test_user_questions_keeps_only_the_users_non_empty_questions():
    history = [
        {"role": "user", "content": "What is Stargate?"},
        {"role": "assistant", "content": "**A venture** ..."},
        {"role": "user", "content": [{"type": "text", "text": "  "}]},
        {"role": "user", "content": [{"type": "text", "text": "Who funds it?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "The documents don't say."}]},
    ]
    assert ui.user_questions(history) == ["What is Stargate?", "Who funds it?"]
    assert ui.user_questions(None) == [] == ui.user_questions([])


def test_document_rows_and_choices():
    from embeddings.passage_index import StoredDocument

    docs = [StoredDocument("abcdef1234", "<b>T</b>", None, "a.txt", None, (), 3, ("a.txt",))]
    assert ui.document_rows(docs) == [["<b>T</b>", "", 3, "a.txt"]]  # a Dataframe shows str cells as text
    assert ui.document_choices(docs) == [("<b>T</b> · no date · abcdef12", "abcdef1234")]


# -- the service behind the app -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ui_index(tmp_path_factory, embedder, documents) -> Path:
    from corpus.chunking import ChunkingSettings
    from embeddings.index import update_index

    evil = Document(document_id(INJECTION_TEXT), INJECTION_TITLE, "2025-02-01", "evil.html", INJECTION_TEXT)
    folder = tmp_path_factory.mktemp("ui-index") / "idx"
    update_index(folder, embedder, add=[*documents, evil], chunking=ChunkingSettings(max_words=25, overlap_sentences=1))
    return folder


def make_service(index_dir, embedder, reader_dir, *, allow_uploads: bool = False, max_upload_chunks: int = 2000,
                 **kwargs) -> ui.ChatService:
    from qa.answering.config import Config
    from qa.answering.pipeline import Assistant

    config = Config(index_dir=str(index_dir), reader_model=str(reader_dir), allow_uploads=allow_uploads,
                    max_upload_chunks=max_upload_chunks)
    return ui.ChatService(Assistant.from_config(config, embedder=embedder), **kwargs)


@pytest.fixture(scope="module")
def service(ui_index, embedder, tiny_reader_dir) -> ui.ChatService:
    return make_service(ui_index, embedder, tiny_reader_dir)


@pytest.fixture
def writable_service(ui_index, embedder, tiny_reader_dir, tmp_path) -> ui.ChatService:
    copy = tmp_path / "idx"
    shutil.copytree(ui_index, copy)
    return make_service(copy, embedder, tiny_reader_dir, allow_uploads=True, max_upload_bytes=2_000)


def generation(service) -> str:
    return (service.index_dir / "CURRENT").read_text().strip()


@pytest.mark.slow
def test_service_reply_is_the_rendered_answer_with_its_documents_inside(service):
    expected = service.assistant().answer(QUESTION)
    index = service.assistant().index
    texts = {doc_id: index.document_text(doc_id) for doc_id in dict.fromkeys(c.doc_id for c in expected.citations)}
    assert service.inline_documents(expected) == texts  # the fixture's documents are small: all travel in the reply
    reply = service.reply(QUESTION)
    assert reply == service.render(expected) == ui.render_answer(expected, documents=texts)
    assert expected.text is not None  # the tiny reader's threshold is -100
    assert reply.count('<div class="cite-doc-text" tabindex="0">') == len(texts) and "cite-doc-load" not in reply


@pytest.mark.slow
def test_documents_beyond_the_reply_budget_are_linked(service, ui_index, embedder, tiny_reader_dir):
    found = service.assistant().answer(QUESTION)
    cards = cite(found).cards
    first = service.assistant().index.document_text(cards[0].doc_id)
    first_only = make_service(ui_index, embedder, tiny_reader_dir, inline_document_chars=len(first))
    assert list(first_only.inline_documents(found)) == [cards[0].doc_id]
    none = make_service(ui_index, embedder, tiny_reader_dir, inline_document_chars=0)
    assert none.inline_documents(found) == {}
    assert none.render(found).count('<a class="cite-doc-load" href="#citeqa-doc?id=') == len(cards)


@pytest.mark.slow
def test_document_view_returns_the_whole_text_highlighted(service):
    expected = service.assistant().answer(QUESTION)
    card = cite(expected).cards[0]
    text = service.assistant().index.document_text(card.doc_id)
    view = service.document_view(card.doc_id, ui.highlights_param(card_highlights(card)))
    assert (view["doc_id"], view["title"]) == (card.doc_id, card.title)
    assert "".join(t for _, t in view["segments"]) == text
    first = card.passages[0]
    assert next(t for kind, t in view["segments"] if kind == ANSWER) == first.answer == text[first.start:first.end]
    assert service.document_view(card.doc_id)["segments"] == [["", text]]


@pytest.mark.slow
@pytest.mark.parametrize("doc_id, highlights", [
    ("nope", ""), ("", ""), (None, ""), (["x"], ""), ("x" * 500, ""), ("' OR 1=1 --", ""),
    ("GOOD", "p0-999999"), ("GOOD", "a3-1"), ("GOOD", "<script>"), ("GOOD", None),
])
def test_document_view_refuses_unknown_documents_and_bad_highlights(service, doc_id, highlights):
    if doc_id == "GOOD":
        doc_id = service.documents()[0].doc_id
    with pytest.raises(ValueError):
        service.document_view(doc_id, highlights)


@pytest.mark.slow
def test_min_confidence_needs_a_calibrated_reader(service):
    assert service.default_min_confidence is None  # the tiny reader has no answer calibrator
    with pytest.raises(ValueError, match="needs a reader with an answer calibrator"):
        service.ask(QUESTION, min_confidence=70)
    with pytest.raises(ValueError, match="min_confidence must be a number from 0 to 100"):
        service.ask(QUESTION, min_confidence=170)
    assert "needs a reader with an answer calibrator" in service.reply(QUESTION, min_confidence=70)
    assert service.ask(QUESTION, min_confidence=None)[0].text is not None


def with_even_odds_calibrator(reader_dir: Path, folder: Path) -> Path:
    """A copy of a reader folder with an answer calibrator that gives every candidate a probability of 0.5, needs
    0.6 by default and shows a best guess from 0.2: every question gets an unsure abstention with a best guess."""
    from qa.answering.features import FEATURE_NAMES
    from qa.training.answer_calibration import calibrator_data, write_calibrator

    shutil.copytree(reader_dir, folder)
    width = len(FEATURE_NAMES)
    model = {"kind": "logistic", "mean": [0.0] * width, "scale": [1.0] * width, "coef": [0.0] * width, "intercept": 0.0}
    write_calibrator(folder, calibrator_data(model, 1.0, 0.0, 0.6, 0.2, {}))
    return folder


@pytest.fixture(scope="module")
def calibrated_service(ui_index, embedder, tiny_reader_dir, tmp_path_factory) -> ui.ChatService:
    reader = with_even_odds_calibrator(tiny_reader_dir, tmp_path_factory.mktemp("calibrated") / "reader")
    return make_service(ui_index, embedder, reader)


@pytest.mark.slow
def test_a_calibrated_chat_shows_the_best_guess_and_answers_at_a_lower_bar(calibrated_service):
    service = calibrated_service
    assert service.default_min_confidence == 0.6
    unsure, _ = service.ask(QUESTION)
    assert unsure.abstained and unsure.unsure and unsure.probability == pytest.approx(0.5)
    guess = unsure.best_guess
    reply = service.reply(QUESTION)
    assert reply.startswith(f"Not sure. Best guess, low confidence: <em>{ui.escape(ui.answer_line(guess.text))}</em> "
                            '<span class="cite-ref">[1]</span>')
    assert reply.split("\n\n")[0].endswith("(possibly right, 50 %)") and "**" not in reply.split("\n\n")[0]
    assert f"[1]</span> <span class=\"cite-title\">{ui.escape_html(guess.citations[0].title)}</span>" in reply
    answered, _ = service.ask(QUESTION, min_confidence=40)
    assert answered.text == guess.text and answered.min_confidence == pytest.approx(0.4)
    assert service.reply(QUESTION, min_confidence=40).startswith(f"**{ui.escape(ui.answer_line(guess.text))}** <span")
    assert "(possibly right, 50 %)" in service.reply(QUESTION, min_confidence=40).split("\n\n")[0]
    with pytest.raises(ValueError, match="min_confidence must be a number from 0 to 100"):
        service.ask(QUESTION, min_confidence="85")


def sidebar_inputs(app) -> dict:
    """label → (visible, value, type) of the sidebar's inputs in the app's config."""
    labels = ("Abstention threshold", ui.CONFIDENCE_LABEL)
    return {c["props"]["label"]: (c["props"].get("visible"), c["props"].get("value"), c["type"])
            for c in app.get_config_file()["components"] if c["props"].get("label") in labels}


@pytest.mark.slow
def test_the_sidebar_shows_a_probability_slider_only_with_a_calibrator(service, calibrated_service):
    plain = sidebar_inputs(ui.build_app(service))
    assert plain["Abstention threshold"] == (True, round(service.default_threshold, 2), "number")
    assert plain[ui.CONFIDENCE_LABEL][0] is False
    calibrated = sidebar_inputs(ui.build_app(calibrated_service))
    assert calibrated[ui.CONFIDENCE_LABEL] == (True, 60, "slider")
    assert calibrated["Abstention threshold"][:2] == (False, None)


@pytest.mark.slow
def test_service_keeps_one_assistant_per_mode_over_the_same_models(service):
    hybrid, bm25 = service.assistant("hybrid"), service.assistant("bm25")
    assert service.assistant("bm25") is bm25 and service.assistant() is hybrid
    assert bm25.index is hybrid.index and bm25.reader is hybrid.reader
    assert bm25.config.retrieval_mode == "bm25"


@pytest.mark.slow
def test_service_followup_is_retrieved_with_the_previous_question(service, monkeypatch):
    seen = []
    original = service.assistant().answer

    def spy(question, **kwargs):
        seen.append((question, kwargs.get("retrieval_query")))
        return original(question, **kwargs)

    monkeypatch.setattr(service.assistant(), "answer", spy)
    history = [{"role": "user", "content": [{"type": "text", "text": "What is the Stargate venture?"}]},
               {"role": "assistant", "content": "..."}]
    reply = service.reply("Who funds it?", history)
    assert seen == [("Who funds it?", "What is the Stargate venture? Who funds it?")]
    assert "Searched together with the previous question: “What is the Stargate venture?”" in reply
    service.reply("Who is the CEO of OpenAI?", history)
    assert seen[-1] == ("Who is the CEO of OpenAI?", None)


@pytest.mark.slow
def test_service_errors_become_messages(service, monkeypatch):
    assert service.reply("   ") == "The question is empty: type a question about the documents."
    assert service.reply(QUESTION, mode="nonsense").startswith("Sorry, something went wrong: unknown retrieval mode")

    def broken(*args, **kwargs):
        raise RuntimeError("<b>disk</b> on fire")

    monkeypatch.setattr(service.assistant(), "answer", broken)
    assert service.reply(QUESTION) == "Sorry, something went wrong: &lt;b&gt;disk&lt;/b&gt; on fire"


@pytest.mark.slow
def test_upload_adds_documents_searchable_in_the_next_question(writable_service, tmp_path):
    service = writable_service
    before = len(service.documents())
    article = tmp_path / "upload" / "lighthouse.md"
    article.parent.mkdir()
    article.write_text("# The lighthouse keeper\n\nThe lighthouse on Hook Head has guided ships for eight centuries.\n")
    progress = []
    message = service.add_files([article], on_progress=lambda done, total: progress.append((done, total)))
    assert message.startswith("**Added 1 document** (1 passage indexed in")
    assert "- The lighthouse keeper" in message
    assert progress and progress[-1][0] == progress[-1][1]
    assert len(service.documents()) == before + 1
    reply = service.reply("lighthouse Hook Head ships centuries", mode="bm25", threshold=1e9)
    assert reply.startswith(ui.ABSTAIN_TEXT) and "[1]</span> <span class=\"cite-title\">The lighthouse keeper</span>" in reply
    again = service.add_files([article])
    assert again.startswith("**Nothing new was added.**") and "lighthouse.md" in again


@pytest.mark.slow
def test_upload_refuses_bad_files_and_changes_nothing(writable_service, tmp_path):
    service = writable_service
    before, gen = len(service.documents()), generation(service)
    good = tmp_path / "good.txt"
    good.write_text("A perfectly good article about tide pools.")
    (tmp_path / "big.txt").write_text("x " * 2_000)                 # over the 2,000-byte limit of this service
    (tmp_path / "tool.exe").write_bytes(b"MZ\x00")
    (tmp_path / "broken.pdf").write_bytes(b"\x00\x01 not a pdf")
    (tmp_path / "<img src=x onerror=alert(1)>.txt").write_text("   ")  # empty, and a hostile name
    cases = {
        "big.txt": "big.txt: too large (4 KB; the limit is 2 KB)",
        "tool.exe": "tool.exe: unsupported type .exe",
        "broken.pdf": "broken.pdf: cannot be read (",
        "<img src=x onerror=alert(1)>.txt": "&lt;img src=x onerror=alert(1)&gt;.txt: cannot be read (empty)",
    }
    for name, expected in cases.items():
        message = service.add_files([good, tmp_path / name])
        assert message.startswith("**Nothing was added.**"), message
        assert expected in message
        assert "good.txt" not in message
        assert len(service.documents()) == before and generation(service) == gen
    assert service.add_files([]) == "Choose one or more files to add."


@pytest.mark.slow
def test_remove_documents(writable_service):
    service = writable_service
    docs = service.documents()
    gen = generation(service)
    assert service.remove([]) == "Choose the documents to remove."
    assert service.remove(["nope"]).startswith("**Nothing was removed:** unknown document nope")
    assert service.remove([d.doc_id for d in docs]) == "**Nothing was removed:** the index needs at least one document."
    assert generation(service) == gen
    evil = next(d for d in docs if d.source == "evil.html")
    message = service.remove([evil.doc_id])
    assert message == "**Removed 1 document:** Evil &lt;b onmouseover=\"alert(3)\"&gt;title&lt;/b&gt; &amp; co"
    assert [d.doc_id for d in service.documents()] == [d.doc_id for d in docs if d is not evil]
    reply = service.reply("zeppelin museum archive", mode="bm25", threshold=1e9)
    assert "evil.html" not in reply


# -- the launched app through gradio_client -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(service):
    app = ui.build_app(service)
    port = free_port()
    ui.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.mark.slow
def test_chat_endpoint_answers_with_the_answer_and_its_source(client, service):
    reply = client.predict(QUESTION, api_name="/chat")  # only the question: the settings take their defaults
    expected = service.assistant().answer(QUESTION)
    assert reply == service.render(expected)
    assert reply.startswith(f"**{ui.escape(ui.answer_line(expected.text))}** <span class=\"cite-ref\">[1]</span>")
    assert "(confidence " in reply.split("\n")[0]
    first = expected.citations[0]
    assert f'<span class="cite-title">{ui.escape_html(first.title)}</span>' in reply
    assert first.title in {"Stargate plans a data center", "A volcano in Iceland", "A chess final", INJECTION_TITLE}
    assert "<mark>" in reply


@pytest.mark.slow
def test_chat_endpoint_settings(client, service):
    reply = client.predict(QUESTION, 1, "bm25", -100.0, api_name="/chat")
    expected = service.assistant("bm25").answer(QUESTION, k=1, threshold=-100.0)
    assert reply == service.render(expected)
    assert reply.count('<details class="cite"') == 1  # k=1: one passage read, so one source


@pytest.mark.slow
def test_chat_endpoint_abstains(client, service):
    reply = client.predict("What is the airspeed of an unladen swallow?", 5, "hybrid", 1e9, api_name="/chat")
    assert reply.startswith("The documents don't say.\n\nClosest passages found:")
    assert "<mark>" not in reply and reply.count('<details class="cite"') == len(cite(service.assistant().answer(
        "What is the airspeed of an unladen swallow?", threshold=1e9)).cards)


@pytest.mark.slow
def test_chat_endpoint_keeps_an_html_injection_article_inert(client):
    reply = client.predict("zeppelin museum archive", 5, "bm25", 1e9, api_name="/chat")
    assert "evil.html" in reply
    assert "<script" not in reply and "<img" not in reply and "<b " not in reply
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply and "&lt;img src=x onerror=alert(1)&gt;" in reply
    assert "Evil &lt;b onmouseover=\"alert(3)\"&gt;title&lt;/b&gt; &amp; co" in reply


@pytest.mark.slow
def test_chat_endpoint_reports_an_empty_question(client):
    assert client.predict("  ", api_name="/chat") == "The question is empty: type a question about the documents."


@pytest.mark.slow
def test_concurrent_requests_get_their_own_replies(client, service):
    questions = [QUESTION, "zeppelin museum archive", "Where did the volcano erupt?", "Who won the chess final?"]
    jobs = [client.submit(q, 5, "bm25", -100.0, api_name="/chat") for q in questions]
    for question, job in zip(questions, jobs):
        assert job.result(timeout=60) == service.render(service.assistant("bm25").answer(question, threshold=-100.0))


@pytest.fixture
def writable_app(ui_index, embedder, tiny_reader_dir, tmp_path):
    """(url, service) of a launched chat with uploads allowed, over its own copy of the index."""
    copy = tmp_path / "idx"
    shutil.copytree(ui_index, copy)
    service = make_service(copy, embedder, tiny_reader_dir, allow_uploads=True)
    app = ui.build_app(service)
    port = free_port()
    ui.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", service
    finally:
        app.close()


def wait_for_indexing(client, seconds: float = 60.0) -> str:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.predict(api_name="/indexing_status")
        if not status.startswith("Indexing"):
            return status
        time.sleep(0.2)
    raise AssertionError("indexing did not finish")


@pytest.mark.slow
def test_upload_and_remove_through_the_app(writable_app, tmp_path):
    from gradio_client import Client, handle_file

    url, service = writable_app
    client = Client(url, verbose=False)
    article = tmp_path / "okapi.txt"
    article.write_text(" title The okapi\n date 2025-03-01\nThe okapi lives in the rainforests of the Congo basin.\n")
    status, _ = client.predict([handle_file(str(article))], api_name="/add_documents")
    assert status == "Indexing 1 document in the background…"
    status = wait_for_indexing(client)
    assert status.startswith("**Added 1 document**") and "The okapi" in status
    added = next(d for d in service.documents() if d.title == "The okapi")
    reply = client.predict("okapi rainforests Congo", 5, "bm25", 1e9, api_name="/chat")
    assert 'The okapi</span> <span class="cite-meta">2025-03-01 · okapi.txt</span>' in reply
    # a client that connected before the upload can remove a document added after it
    status, summary, rows, _ = Client(url, verbose=False).predict([added.doc_id], api_name="/remove_documents")
    assert status == "**Removed 1 document:** The okapi"
    assert "The okapi" not in [row[0] for row in rows["data"]]
    assert "okapi.txt" not in client.predict("okapi rainforests Congo", 5, "bm25", 1e9, api_name="/chat")


@pytest.mark.slow
def test_a_read_only_chat_offers_no_writes_and_lists_no_ids(app_url, client, service):
    import json
    import urllib.request

    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/chat" in endpoints and not {"/add_documents", "/remove_documents", "/indexing_status"} & set(endpoints)
    page_config = urllib.request.urlopen(app_url + "config").read().decode()
    assert json.loads(page_config) and not any(d.doc_id in page_config for d in service.documents())
    assert service.remove([service.documents()[0].doc_id]).startswith("**This chat is read-only:**")
    assert service.add_files([__file__]).startswith("**This chat is read-only:**")


def http_status(url: str, host: str | None = None, auth: tuple[str, str] | None = None) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        return urllib.request.urlopen(request, timeout=30).status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.slow
def test_requests_naming_another_host_are_refused(app_url):
    port = app_url.rstrip("/").rsplit(":", 1)[1]
    assert http_status(app_url + "config") == 200
    assert http_status(app_url + "config", host=f"localhost:{port}") == 200
    assert http_status(app_url + "config", host=f"rebind.attacker.example:{port}") == 400
    assert http_status(app_url + "gradio_api/info", host="rebind.attacker.example") == 400


@pytest.mark.slow
def test_login_is_required_when_auth_is_set(service):
    app = ui.build_app(service)
    port = free_port()
    ui.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, auth=("ann", "s3cret"))
    try:
        url = f"http://127.0.0.1:{port}/"
        assert http_status(url + "gradio_api/info") == 401
        from gradio_client import Client

        with pytest.raises(Exception):
            Client(url, verbose=False).predict(QUESTION, api_name="/chat")
        assert Client(url, auth=("ann", "s3cret"), verbose=False).predict(QUESTION, api_name="/chat")
    finally:
        app.close()


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:7860", "127.0.0.1"), ("LOCALHOST", "localhost"), ("localhost.:80", "localhost"), ("[::1]:7860", "::1"),
    ("[::1]", "::1"), ("Example.COM", "example.com"), ("", ""), ("[bad", ""), ("a:b:c", "a:b:c"),
])
def test_host_name(header, name):
    assert ui.host_name(header) == name


def test_allowed_hosts_and_loopback():
    assert ui.allowed_hosts("127.0.0.1") == ("localhost", "127.0.0.1", "::1")
    assert ui.allowed_hosts("0.0.0.0", ["Chat.Example.org:443"]) == ("localhost", "127.0.0.1", "::1", "chat.example.org")
    assert ui.allowed_hosts("192.168.1.5") == ("localhost", "127.0.0.1", "::1", "192.168.1.5")
    assert ui.is_loopback("127.0.0.1") and ui.is_loopback("localhost") and ui.is_loopback("::1")
    assert not ui.is_loopback("0.0.0.0") and not ui.is_loopback("192.168.1.5") and not ui.is_loopback("example.com")


def test_writes_open_to_a_network_need_a_login():
    assert ui.sharing_refusal("127.0.0.1", True, None) is None
    assert ui.sharing_refusal("0.0.0.0", False, None) is None
    assert ui.sharing_refusal("0.0.0.0", True, ("a", "b")) is None
    assert "refusing to serve on 0.0.0.0 with --allow-uploads and no login" in ui.sharing_refusal("0.0.0.0", True, None)


def test_main_refuses_shared_writes_without_a_login(fake_start, monkeypatch):
    monkeypatch.delenv("CITEQA_AUTH", raising=False)
    with pytest.raises(SystemExit, match="refusing to serve on 0.0.0.0"):
        ui.main(["--host", "0.0.0.0", "--allow-uploads"])
    assert "launch" not in fake_start
    monkeypatch.setenv("CITEQA_AUTH", "ann:s3cret")
    ui.main(["--host", "0.0.0.0", "--allow-uploads", "--allowed-host", "chat.example.org"])
    assert fake_start["launch"]["auth"] == ("ann", "s3cret") and fake_start["config"].allow_uploads
    assert "chat.example.org" in fake_start["launch"]["allowed"]


@pytest.mark.slow
def test_an_upload_over_the_cap_is_refused_with_the_command_to_use(ui_index, embedder, tiny_reader_dir, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(ui_index, copy)
    service = make_service(copy, embedder, tiny_reader_dir, allow_uploads=True, max_upload_chunks=2)
    article = tmp_path / "long.txt"
    article.write_text(" ".join(f"Sentence number {n} talks about harbours and ships." for n in range(60)))
    message = service.add_files([article])
    assert message.startswith("**Nothing was added.**") and "passages (the limit is 2); index it with: citeqa index" in message
    assert service.start_adding([article]) == message


@pytest.mark.slow
def test_management_answers_busy_at_once_while_an_upload_is_indexing(writable_service, tmp_path):
    import time

    from embeddings.index import write_lock

    service = writable_service
    article = tmp_path / "heron.txt"
    article.write_text("The grey heron waits motionless at the edge of the pond for fish.")
    victim = service.documents()[0].doc_id
    with write_lock(service.index_dir):  # another writer holds the index: the upload's write has to wait for it
        assert service.start_adding([article]) == "Indexing 1 document in the background…"
        began = time.monotonic()
        assert service.remove([victim]).startswith("**Busy:** indexing 1 document")
        assert service.start_adding([article]).startswith("**Busy:**")
        assert service.add_files([article]).startswith("**Busy:**")
        assert time.monotonic() - began < 1.0
    deadline = time.monotonic() + 60
    while service.indexing_status().startswith("Indexing") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.indexing_status().startswith("**Added 1 document**")
    assert any(d.title.startswith("The grey heron") for d in service.documents())
    assert service.remove([victim]).startswith("**Removed 1 document:**")


def test_only_gradio_s_copies_of_uploads_are_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    copy = tmp_path / "gradio" / "0123abcd" / "article.txt"
    copy.parent.mkdir(parents=True)
    copy.write_text("uploaded")
    own = tmp_path / "mine" / "article.txt"
    own.parent.mkdir()
    own.write_text("the user's own file")
    ui.remove_upload_copies([copy, own, tmp_path / "gradio" / "missing.txt"])
    assert not copy.exists() and not copy.parent.exists() and (tmp_path / "gradio").is_dir()
    assert own.read_text() == "the user's own file"


# -- starting the app ------------------------------------------------------------------------------


@pytest.fixture
def fake_start(monkeypatch):
    """ui.main without models or a server: records the config and the launch arguments."""
    calls = {}

    class FakeService:
        def ask(self, question):
            calls["warmed_with"] = question

    def from_config(config=None, **kwargs):
        calls["config"], calls["from_config"] = config, kwargs
        return FakeService()

    monkeypatch.setattr(ui.ChatService, "from_config", staticmethod(from_config))
    monkeypatch.setattr(ui, "build_app", lambda service: "app")
    monkeypatch.setattr(ui, "launch", lambda app, **kwargs: calls.update(app=app, launch=kwargs))
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.delenv("CITEQA_AUTH", raising=False)
    return calls


def test_main_defaults(fake_start):
    ui.main([])
    assert fake_start["launch"] == {"server_name": "127.0.0.1", "server_port": 7860, "auth": None,
                                    "allowed": ("localhost", "127.0.0.1", "::1")}
    assert not fake_start["config"].allow_uploads  # read-only unless asked
    assert fake_start["config"].index_dir is None and fake_start["warmed_with"] == ui.EXAMPLES[0]


def test_main_builds_what_a_first_run_lacks_and_loads_the_models_while_the_page_is_built(fake_start, monkeypatch):
    import threading

    order = []

    class SlowService:
        def ask(self, question):
            order.append(("warm-up", threading.current_thread() is threading.main_thread()))

    monkeypatch.setattr(ui.ChatService, "from_config",
                        staticmethod(lambda config=None, **kwargs: order.append(("service", kwargs)) or SlowService()))
    monkeypatch.setattr(ui, "build_app", lambda service: order.append(("page", None)) or "app")
    ui.main([])
    assert order[0] == ("service", {"embedder": None, "prepare": True})
    assert ("warm-up", False) in order and ("page", None) in order  # the warm-up runs in its own thread
    assert fake_start["launch"]["server_port"] == 7860  # launched once both are done


def test_a_model_that_fails_to_load_stops_the_chat_before_it_serves(fake_start, monkeypatch):
    class Broken:
        def ask(self, question):
            raise RuntimeError("the reader's ONNX file is damaged")

    monkeypatch.setattr(ui.ChatService, "from_config", staticmethod(lambda config=None, **kwargs: Broken()))
    with pytest.raises(SystemExit, match="citeqa: error: the reader's ONNX file is damaged"):
        ui.main([])
    assert "launch" not in fake_start


def test_main_respects_gradio_environment(fake_start, monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    ui.main([])
    assert fake_start["launch"]["server_name"] == "0.0.0.0" and fake_start["launch"]["server_port"] == 7999


def test_flags_override_the_environment_and_citeqa_serve_passes_them(fake_start, monkeypatch):
    from qa.cli import main as cli_main

    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    assert cli_main(["serve", "--host", "127.0.0.2", "--port", "8001", "--index", "my-index"]) == 0
    assert fake_start["launch"]["server_name"] == "127.0.0.2" and fake_start["launch"]["server_port"] == 8001
    assert fake_start["launch"]["allowed"] == ("localhost", "127.0.0.1", "::1", "127.0.0.2")
    assert fake_start["config"].index_dir == "my-index"


@pytest.mark.slow
def test_fifty_concurrent_chat_requests_each_get_their_own_reply(app_url, service):
    """50 users at once (one gradio_client session each): every reply is the one its question gets alone."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    subjects = ["data center", "volcano", "lava", "chess final", "prize fund", "investment", "Abilene", "Grindavik", "museum", "tiebreak"]
    questions = [f"{form} {subject}?" for form in ("Where is the", "Who saw the", "Tell me of the", "What happened to the", "Why the")
                 for subject in subjects]
    assert len(set(questions)) == 50
    expected = {q: service.render(service.assistant().answer(q)) for q in questions}
    clients = [Client(app_url, verbose=False) for _ in questions]

    def ask(pair):
        client, question = pair
        began = time.perf_counter()
        return question, client.predict(question, api_name="/chat"), time.perf_counter() - began

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(ask, zip(clients, questions)))
    total = time.perf_counter() - started
    assert [q for q, _, _ in replies] == questions
    for question, reply, _ in replies:
        assert reply == expected[question], question
    latencies = sorted(seconds for _, _, seconds in replies)
    print(f"50 concurrent /chat requests: p50 {latencies[24]:.2f} s, p95 {latencies[47]:.2f} s, {50 / total:.1f} requests/s")


@pytest.mark.slow
def test_an_upload_into_an_index_that_lost_current_refuses_and_deletes_nothing(writable_service, tmp_path):
    import time

    from embeddings.index import IndexPointerError

    service = writable_service
    live = generation(service)
    before = sorted(p.name for p in service.index_dir.iterdir())
    (service.index_dir / "CURRENT").unlink()  # an interrupted copy or sync tool
    article = tmp_path / "heron.txt"
    article.write_text("The grey heron waits motionless at the edge of the pond for fish.")
    with pytest.raises(IndexPointerError, match=f"still holds generation {live}.*--repair"):
        service.add_files([article])
    assert service.start_adding([article]) == "Indexing 1 document in the background…"
    deadline = time.monotonic() + 60
    while service.indexing_status().startswith("Indexing") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.indexing_status().startswith("**Nothing was added:**") and "--repair" in service.indexing_status()
    with pytest.raises(IndexPointerError):
        service.remove([service.documents()[0].doc_id])
    assert sorted(p.name for p in service.index_dir.iterdir()) == sorted(set(before) - {"CURRENT"})
    assert (service.index_dir / live / "manifest.json").is_file()


@pytest.mark.slow
def test_ask_endpoint_returns_the_answer_as_data_like_citeqa_ask_json(client, service):
    data = client.predict(QUESTION, 3, "bm25", -100.0, api_name="/ask")
    expected = service.assistant("bm25").answer(QUESTION, k=3, threshold=-100.0)
    assert data == expected.to_dict()
    assert data["text"] == expected.text and data["abstained"] is False and 0 <= data["confidence"] <= 1
    first = data["citations"][0]
    text = service.assistant().index.document_text(first["doc_id"])
    assert text[first["start"]:first["end"]] == expected.citations[0].passage[
        first["start"] - first["passage_start"]:first["end"] - first["passage_start"]]
    abstained = client.predict("What is the airspeed of an unladen swallow?", 5, "hybrid", 1e9, api_name="/ask")
    assert abstained["text"] is None and abstained["abstained"] is True and len(abstained["citations"]) == 3
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("   ", api_name="/ask")


@pytest.mark.slow
def test_ask_endpoint_checks_min_confidence(client):
    with pytest.raises(Exception, match="min_confidence must be a number from 0 to 100"):
        client.predict(QUESTION, 5, "hybrid", None, 250, api_name="/ask")
    with pytest.raises(Exception, match="needs a reader with an answer calibrator"):
        client.predict(QUESTION, 5, "hybrid", None, 70, api_name="/ask")


@pytest.mark.slow
def test_document_endpoint_is_read_only_and_checks_its_input(client, service):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in endpoints["/chat"]["parameters"]][-2:] == ["threshold", "min_confidence"]
    doc = service.documents()[0]
    text = service.assistant().index.document_text(doc.doc_id)
    found = client.predict(doc.doc_id, "p0-10,a2-5", api_name="/document")
    assert found["title"] == doc.title and "".join(t for _, t in found["segments"]) == text
    assert found["segments"][:3] == [["passage", text[:2]], ["answer", text[2:5]], ["passage", text[5:10]]]
    with pytest.raises(Exception, match="no such document"):
        client.predict("0000000000000000", "", api_name="/document")
    with pytest.raises(Exception, match="highlights must be ranges"):
        client.predict(doc.doc_id, f"a0-{len(text) + 1}", api_name="/document")
    assert len(service.documents()) == len(service.assistant().index.documents())  # nothing changed
