"""The chat in a real browser: Playwright driving Debian's Chromium (`apt-get install -y chromium`; never
`playwright install`). Asks the bundled articles a question, checks the answer and its highlighted source,
saves a screenshot, then uploads an HTML-injection article and checks it shows as text and never runs.

The reader is the tiny random one (answers are arbitrary spans); set CITEQA_UI_READER to a model folder
(e.g. qa/models/reader) to take the README screenshot with a trained reader.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path

import pytest

import ui

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = os.environ.get("CITEQA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Set CITEQA_UI_SCREENSHOT=docs/chat.png (with CITEQA_UI_READER=qa/models/reader) to refresh the README picture;
# CITEQA_UI_QUESTION picks the question asked (default: the first example).
SCREENSHOT = Path(os.environ.get("CITEQA_UI_SCREENSHOT", Path(tempfile.gettempdir()) / "citeqa-chat.png"))
QUESTION = os.environ.get("CITEQA_UI_QUESTION", ui.EXAMPLES[0])
EVIL = (" title Evil <img src=x onerror=\"window.__citeqa_xss='img'\"> article\n date 2025-02-01\n"
        "The zeppelin museum archive holds <script>window.__citeqa_xss='script'</script> and "
        "<img src=x onerror=\"window.__citeqa_xss='img'\"> as plain text.\n")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        # CI sets CITEQA_REQUIRE_BROWSER=1 (and installs Chromium), so there a missing browser fails the run.
        reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium, or set CITEQA_CHROMIUM)"
        if os.environ.get("CITEQA_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; CITEQA_REQUIRE_BROWSER=1 makes the browser test mandatory")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def serving(service):
    """Serve the chat of `service` on a free local port: yields (url, service), closes the server after."""
    app = ui.build_app(service)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ui.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", service
    finally:
        app.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder, tiny_reader_dir):
    from corpus.loaders import load_default_corpus
    from embeddings.index import update_index
    from qa.answering.config import Config
    from qa.answering.pipeline import Assistant

    index = tmp_path_factory.mktemp("browser-index") / "idx"
    update_index(index, embedder, add=load_default_corpus())
    reader = os.environ.get("CITEQA_UI_READER") or str(tiny_reader_dir)
    config = Config(index_dir=str(index), reader_model=reader, allow_uploads=True)
    service = ui.ChatService(Assistant.from_config(config, embedder=embedder))
    yield from serving(service)


@pytest.fixture(scope="module")
def served_calibrated(tmp_path_factory, embedder, tiny_reader_dir, built_index):
    """(url, service) of a chat whose reader has an answer calibrator: every candidate 50 % likely right, 60 % needed."""
    from test_ui import make_service, with_even_odds_calibrator

    reader = with_even_odds_calibrator(tiny_reader_dir, tmp_path_factory.mktemp("calibrated") / "reader")
    service = make_service(built_index, embedder, reader)
    yield from serving(service)


def one_line(text: str) -> str:
    return " ".join(text.split())


def opened(page, url: str) -> list[str]:
    """Load `url` in `page`; the list fills with the page's script errors (each test ends asserting none)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return errors


def ask(page, question: str):
    """Type a question, send it, and return the locator of the reply once its answer line is there."""
    from playwright.sync_api import expect

    question_box = page.locator("#citeqa-question textarea")
    before = page.locator(".bot .message-content").count()
    question_box.fill(question)
    question_box.press("Enter")
    expect(page.locator(".bot .message-content")).to_have_count(before + 1, timeout=60_000)
    reply = page.locator(".bot .message-content").last
    expect(reply.locator(".cite-actions, p").first).to_be_visible(timeout=60_000)
    return reply


MARK_IN_VIEW = """box => { const mark = box.querySelector("mark"); if (!mark) return false;
  const a = mark.getBoundingClientRect(), b = box.getBoundingClientRect();
  return a.top >= b.top - 1 && a.bottom <= b.bottom + 1; }"""


def check_document_view(service, reply, card) -> None:
    """Open the card's "View document": the document's whole text is shown, its first answer span marked and
    scrolled into view inside the box."""
    from playwright.sync_api import expect

    text = service.assistant().index.document_text(card.doc_id)
    first = min((p for p in card.passages if p.answer), key=lambda p: p.start)
    shown = reply.locator("details.cite").nth(card.number - 1)
    if shown.get_attribute("open") is None:
        shown.locator("summary").first.click()
    view = shown.locator("details.cite-doc")
    view.locator("summary").click()
    box = view.locator(".cite-doc-text")
    expect(box.locator("mark").first).to_be_attached(timeout=30_000)
    assert one_line(box.inner_text()) == one_line(text)
    assert one_line(box.locator("mark").first.inner_text()) == one_line(text[first.start:first.end])
    reply.page.wait_for_function(MARK_IN_VIEW, arg=box.element_handle(), timeout=5_000)  # scrolled to the answer


def test_chat_in_the_browser(browser, served, tmp_path):
    from playwright.sync_api import expect

    from qa.answering.citing import cite, copy_text

    url, service = served
    context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors = opened(page, url)
    question_box = page.locator("#citeqa-question textarea")
    expect(page.locator("#citeqa-settings")).to_have_class(re.compile(r"\bopen\b"))  # desktop: settings shown

    # Ask; the reply shows the answer in bold with [n] markers, one card per source document (the first open)
    # with the span highlighted.
    reply = ask(page, QUESTION)
    expected, _ = service.ask(QUESTION)
    cited = cite(expected)
    assert expected.text is not None
    mark = reply.locator("details.cite[open] blockquote mark").first
    expect(mark).to_be_visible(timeout=60_000)
    expect(reply.locator("strong").first).to_have_text(ui.answer_line(expected.text))
    expect(reply.locator("p").first.locator(".cite-ref")).to_have_text([f"[{n}]" for n in cited.markers])
    expect(reply.locator("details.cite")).to_have_count(len(cited.cards))
    first = cited.cards[0]
    assert one_line(mark.inner_text()) == one_line(first.passages[0].answer)
    expect(reply.locator("details.cite summary").first).to_contain_text(first.title)
    expect(reply.locator("details.cite").first.locator("blockquote.cite-passage")).to_have_count(len(first.passages))
    expect(reply).to_contain_text("confidence")
    expect(question_box).to_be_enabled()
    page.wait_for_timeout(300)  # let the last status badge fade before the picture
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # The card is collapsible, and its [n] marker opens it again.
    reply.locator("details.cite summary").first.click()
    expect(mark).to_be_hidden()
    reply.locator(".cite-ref").first.click()
    expect(mark).to_be_visible()

    # View document: the whole text (it came inside the reply), the answer marked and scrolled to.
    check_document_view(service, reply, first)

    # Copy answer with citations: the plain-text form (not shown), through the clipboard.
    copy = reply.locator("button.cite-copy")
    expect(copy).to_be_visible()
    expect(reply.locator(".cite-copy-text")).to_be_hidden()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == copy_text(cited)
    expect(copy).to_have_text(ui.COPY_LABEL, timeout=5_000)

    # Upload an article full of HTML; its title shows as text in the documents table.
    evil = tmp_path / "evil.txt"
    evil.write_text(EVIL, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#citeqa-upload input[type=file]").set_input_files(str(evil))
    expect(page.get_by_text("Added 1 document")).to_be_visible(timeout=60_000)
    expect(page.locator("#citeqa-docs")).to_contain_text("Evil <img src=x onerror=")

    # Ask for it with BM25 and an abstention threshold no answer reaches: the closest passages are shown,
    # the injected markup is visible as text (in the passage and in the whole document) and none of it ran.
    page.get_by_role("tab", name="Chat").click()
    page.get_by_label("BM25 (keywords)").check()
    if service.default_min_confidence is None:
        threshold = page.get_by_label("Abstention threshold")
        expect(threshold).to_have_value(f"{round(service.default_threshold, 2):g}")  # the reader's own, not 0
        threshold.fill("1000000000")
    else:  # a reader with an answer calibrator (CITEQA_UI_READER=qa/models/reader): its slider instead
        threshold = page.locator("#citeqa-min-confidence input[type=number]")
        expect(threshold).to_have_value(f"{round(100 * service.default_min_confidence):g}")
        threshold.fill("100")
    threshold.press("Tab")
    reply = ask(page, "zeppelin museum archive")
    if service.default_min_confidence is None:
        expect(reply).to_contain_text("The documents don't say.", timeout=60_000)
        expect(reply).to_contain_text("Closest passages found:")
    else:  # the calibrator finds a plausible span in the one matching document: shown as a guess, never an answer
        expect(reply).to_contain_text("Not sure. Best guess, low confidence:", timeout=60_000)
    passage = reply.locator("details.cite").first
    expect(passage.locator("summary").first).to_contain_text("Evil <img src=x onerror=")
    if passage.get_attribute("open") is None:  # closest passages start closed; a best guess's first card open
        passage.locator("summary").first.click()
    expect(passage.locator("blockquote")).to_contain_text("<script>window.__citeqa_xss='script'</script>")
    passage.locator("details.cite-doc summary").click()
    doc_box = passage.locator(".cite-doc-text")
    expect(doc_box).to_contain_text("<img src=x onerror=\"window.__citeqa_xss='img'\"> as plain text.")
    expect(doc_box.locator(".cite-doc-passage").first).to_be_visible()  # no answer: the passage is shaded
    assert page.locator(".bot img[src=x], .bot script").count() == 0
    assert page.evaluate("window.__citeqa_xss") is None
    assert dialogs == [] and errors == []
    context.close()


def test_view_document_fetches_what_did_not_come_with_the_reply(browser, served):
    """A document over the reply's budget is fetched from the read-only /document endpoint when opened."""
    from playwright.sync_api import expect

    from qa.answering.citing import cite

    url, service = served
    service.inline_document_chars = 0
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = opened(page, url)
        reply = ask(page, QUESTION)
        expected, _ = service.ask(QUESTION)
        cards = cite(expected).cards
        expect(reply.locator("a.cite-doc-load")).to_have_count(len(cards))
        check_document_view(service, reply, cards[-1])
        expect(reply.locator("details.cite").nth(cards[-1].number - 1).locator("a.cite-doc-load")).to_have_count(0)

        # An answer near the end of a long document: the box scrolls down to it. (The reader here is random, so the
        # link of a second reply is pointed at the document's last words.)
        reply = ask(page, QUESTION)
        text = service.assistant().index.document_text(cards[0].doc_id)
        end = len(text.rstrip())
        link = reply.locator("details.cite").first.locator("a.cite-doc-load")
        link.evaluate(f"(a, h) => a.setAttribute('href', `#citeqa-doc?id={cards[0].doc_id}&h=${{h}}`)", f"a{end - 12}-{end}")
        view = reply.locator("details.cite").first.locator("details.cite-doc")
        view.locator("summary").click()
        box = view.locator(".cite-doc-text")
        expect(box.locator("mark")).to_have_text(text[end - 12:end], timeout=30_000)
        page.wait_for_function(MARK_IN_VIEW, arg=box.element_handle(), timeout=5_000)
        assert box.evaluate("b => b.scrollTop") > 0

        # What the endpoint refuses is said in the box, as text.
        reply.locator("details.cite").first.locator("details.cite-doc summary").click()  # closed again
        bad = ask(page, QUESTION).locator("details.cite").first
        bad.locator("a.cite-doc-load").evaluate("a => a.setAttribute('href', '#citeqa-doc?id=<img src=x>&h=')")
        bad.locator("details.cite-doc summary").click()
        expect(bad.locator(".cite-doc-text")).to_have_text(
            "The document could not be loaded: no such document in this chat's index", timeout=30_000)
        assert page.locator(".bot img[src=x]").count() == 0
        assert errors == []
        page.close()
    finally:
        service.inline_document_chars = ui.INLINE_DOCUMENT_CHARS


def test_copy_falls_back_where_the_clipboard_api_is_missing(browser, served):
    """Served over plain http to another machine there is no navigator.clipboard: the copy goes through a selection."""
    from playwright.sync_api import expect

    from qa.answering.citing import cite, copy_text

    url, service = served
    page = browser.new_page()
    page.add_init_script("""
        Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
        document.addEventListener("copy", () => { window.__citeqa_copied = String(window.getSelection()) ||
            (document.activeElement && document.activeElement.value); }, true);
    """)
    page.goto(url)
    reply = ask(page, QUESTION)
    expected, _ = service.ask(QUESTION)
    copy = reply.locator("button.cite-copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("window.__citeqa_copied") == copy_text(cite(expected))
    page.close()


def test_a_calibrated_chat_has_a_probability_slider_and_shows_a_best_guess_as_one(browser, served_calibrated):
    from playwright.sync_api import expect

    url, service = served_calibrated
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = opened(page, url)
    expect(page.get_by_text(ui.CONFIDENCE_LABEL)).to_be_visible()
    expect(page.get_by_label("Abstention threshold")).to_have_count(0)  # the slider replaces the score field
    percent = page.locator("#citeqa-min-confidence input[type=number]")
    expect(percent).to_have_value("60")

    reply = ask(page, QUESTION)
    guess = service.ask(QUESTION)[0].best_guess
    expect(reply.locator("p").first).to_have_text(
        f"Not sure. Best guess, low confidence: {ui.answer_line(guess.text)} [1] (possibly right, 50 %)")
    expect(reply.locator("p").first.locator("em")).to_have_text(ui.answer_line(guess.text))
    expect(reply.locator("strong")).to_have_count(0)  # never shown like an answer
    expect(reply.locator("details.cite[open] > summary")).to_contain_text(guess.citations[0].title)

    percent.fill("40")
    percent.press("Tab")
    reply = ask(page, QUESTION)
    expect(reply.locator("p").first).to_have_text(f"{ui.answer_line(guess.text)} [1] (possibly right, 50 %)")
    expect(reply.locator("strong").first).to_have_text(ui.answer_line(guess.text))
    assert errors == []
    page.close()


# Set CITEQA_UI_SCREENSHOT_PHONE=docs/chat-phone.png to refresh the phone picture.
PHONE_SCREENSHOT = Path(os.environ.get("CITEQA_UI_SCREENSHOT_PHONE", Path(tempfile.gettempdir()) / "citeqa-chat-phone.png"))


def test_chat_on_a_phone(browser, served):
    """At 390×844 the settings sidebar starts closed (it would cover the chat), the reply's answer line stays in
    view, and the documents table keeps its headers and dates on one line."""
    from playwright.sync_api import expect

    url, service = served
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = opened(page, url)
    question_box = page.locator("#citeqa-question textarea")
    expect(question_box).to_be_visible()
    expect(page.locator("#citeqa-settings")).not_to_have_class(re.compile(r"\bopen\b"))
    question_box.click(timeout=5_000)  # not covered by the sidebar

    question_box.fill(QUESTION)
    question_box.press("Enter")
    expected, _ = service.ask(QUESTION)
    reply = page.locator(".bot .message-content").last
    answer = reply.locator("strong").first
    expect(answer).to_have_text(ui.answer_line(expected.text), timeout=60_000)
    page.wait_for_timeout(500)  # the scroll to the reply runs on the next frame
    expect(page.locator("#citeqa-settings")).not_to_have_class(re.compile(r"\bopen\b"))  # still closed, long after load
    chat_box = page.locator("#citeqa-chat .bubble-wrap").bounding_box()
    answer_box = answer.bounding_box()
    assert chat_box["y"] - 1 <= answer_box["y"] < chat_box["y"] + chat_box["height"]  # the answer line is in view
    for part in (reply.locator("details.cite").first, reply.locator("button.cite-copy")):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1  # cards and the copy button fit the screen
    page.wait_for_timeout(300)
    PHONE_SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(PHONE_SCREENSHOT))

    page.get_by_role("tab", name="Documents").click(timeout=5_000)
    docs = page.locator("#citeqa-docs")
    date = docs.locator(".virtual-row .body-cell").filter(has_text="2025-01-24").first
    expect(date).to_be_visible()
    line = docs.locator(".virtual-row .body-cell span").filter(has_text="2025-01-24").first
    line_height = float(line.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 1.5 * parseFloat(getComputedStyle(e).fontSize)"))
    assert line.bounding_box()["height"] < 1.6 * line_height  # "2025-01-24" on one line
    date_box, row_box = date.bounding_box(), docs.bounding_box()
    assert date_box["x"] + date_box["width"] <= row_box["x"] + row_box["width"] + 1  # not cut off at the right
    for header in docs.locator("th.header-cell").all():
        if header.is_visible():
            assert header.bounding_box()["height"] < 2.6 * line_height, header.inner_text()
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def served_news(tmp_path_factory, embedder):
    """(url, service) of a chat over two articles that contradict each other, with the shipped reader."""
    from corpus.loaders import load_path
    from embeddings.index import update_index
    from qa.answering.config import Config
    from qa.answering.pipeline import Assistant

    from conftest import write_bridge_articles

    folder = write_bridge_articles(tmp_path_factory.mktemp("news"))
    index = folder / "idx"
    update_index(index, embedder, add=load_path(folder).documents)
    service = ui.ChatService(Assistant.from_config(Config(index_dir=str(index)), embedder=embedder))
    yield from serving(service)


def test_sources_that_differ_are_shown_newest_first_and_the_newer_preferred(browser, served_news):
    from playwright.sync_api import expect

    url, _ = served_news
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = opened(page, url)
    reply = ask(page, "When is the new bridge expected to open?")
    expect(reply.locator("p").first).to_contain_text("summer 2027")
    expect(reply).to_contain_text("Sources differ:")
    text = one_line(reply.inner_text())
    assert text.index("Bridge delayed (2025-03-14)") < text.index("Bridge works begin (2023-05-10)")
    assert "newer source is preferred" in text
    assert errors == []
