"""The chat in a real browser: Playwright driving Debian's Chromium (`apt-get install -y chromium`; never
`playwright install`). Asks the bundled articles a question, checks the answer and its highlighted source,
saves a screenshot, then uploads an HTML-injection article and checks it shows as text and never runs.

The reader is the tiny random one (answers are arbitrary spans); set CITEQA_UI_READER to a model folder
(e.g. qa/models/reader) to take the README screenshot with a trained reader.
"""

from __future__ import annotations

import os
import re
import tempfile
import socket
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
    app = ui.build_app(service)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ui.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", service
    finally:
        app.close()


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_chat_in_the_browser(browser, served, tmp_path):
    from playwright.sync_api import expect

    url, service = served
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    question_box = page.locator("#citeqa-question textarea")
    expect(page.locator("#citeqa-settings")).to_have_class(re.compile(r"\bopen\b"))  # desktop: settings shown

    # Ask; the reply shows the answer in bold and the first source open with the span highlighted.
    question_box.fill(QUESTION)
    question_box.press("Enter")
    expected, _ = service.ask(QUESTION)
    assert expected.text is not None
    reply = page.locator(".bot .message-content").last
    mark = reply.locator("details.cite[open] mark").first
    expect(mark).to_be_visible(timeout=60_000)
    expect(reply.locator("strong").first).to_have_text(ui.answer_line(expected.text))
    first = expected.citations[0]
    span = first.passage[first.answer_start_in_passage:first.answer_end_in_passage]
    assert one_line(mark.inner_text()) == one_line(span)
    expect(reply.locator("details.cite summary").first).to_contain_text(first.title)
    expect(reply).to_contain_text("confidence")
    expect(question_box).to_be_enabled()
    page.wait_for_timeout(300)  # let the last status badge fade before the picture
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # The source is collapsible.
    reply.locator("details.cite summary").first.click()
    expect(mark).to_be_hidden()
    reply.locator("details.cite summary").first.click()
    expect(mark).to_be_visible()

    # Upload an article full of HTML; its title shows as text in the documents table.
    evil = tmp_path / "evil.txt"
    evil.write_text(EVIL, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#citeqa-upload input[type=file]").set_input_files(str(evil))
    expect(page.get_by_text("Added 1 document")).to_be_visible(timeout=60_000)
    expect(page.locator("#citeqa-docs")).to_contain_text("Evil <img src=x onerror=")

    # Ask for it with BM25 and an abstention threshold no answer reaches: the closest passages are shown,
    # the injected markup is visible as text and none of it ran.
    page.get_by_role("tab", name="Chat").click()
    page.get_by_label("BM25 (keywords)").check()
    threshold = page.get_by_label("Abstention threshold")
    expect(threshold).to_have_value(f"{round(service.default_threshold, 2):g}")  # the reader's own, not 0
    threshold.fill("1000000000")
    threshold.press("Tab")
    question_box.fill("zeppelin museum archive")
    question_box.press("Enter")
    reply = page.locator(".bot .message-content").last
    expect(reply).to_contain_text("The documents don't say.", timeout=60_000)
    expect(reply).to_contain_text("Closest passages found:")
    passage = reply.locator("details.cite").first
    expect(passage.locator("summary")).to_contain_text("Evil <img src=x onerror=")
    passage.locator("summary").click()
    expect(passage.locator("blockquote")).to_contain_text("<script>window.__citeqa_xss='script'</script>")
    assert page.locator(".bot img[src=x], .bot script").count() == 0
    assert page.evaluate("window.__citeqa_xss") is None
    assert dialogs == [] and errors == []
    page.close()


# Set CITEQA_UI_SCREENSHOT_PHONE=docs/chat-phone.png to refresh the phone picture.
PHONE_SCREENSHOT = Path(os.environ.get("CITEQA_UI_SCREENSHOT_PHONE", Path(tempfile.gettempdir()) / "citeqa-chat-phone.png"))


def test_chat_on_a_phone(browser, served):
    """At 390×844 the settings sidebar starts closed (it would cover the chat), the reply's answer line stays in
    view, and the documents table keeps its headers and dates on one line."""
    from playwright.sync_api import expect

    url, service = served
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
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
