"""The citeqa chat: ask the indexed articles in a browser, see each answer's sources, manage the documents.

Run `python ui.py` (or `citeqa serve`) and open http://127.0.0.1:7860. Programs can call the chat:
`gradio_client.Client(url).predict(question, api_name="/chat")` returns the reply text (the answer
and its numbered sources). The app is built around one `Assistant` (models load once); uploads and
removals write into the served index folder and swap in a new `Assistant` over the same models.
"""

from __future__ import annotations

import argparse
import html
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.loaders import SUPPORTED_SUFFIXES
from qa.answering.disagreement import differing_answers
from qa.answering.followup import anchor_question, retrieval_query
from qa.answering.retrievers import RETRIEVAL_MODES

log = logging.getLogger(__name__)

EXAMPLES = [
    "In which city is the Stargate data center being built?",
    "How much is the initial investment in Stargate?",
    "Which companies stood alongside Trump during the announcement?",
    "Who is the CEO of OpenAI?",
    "Who does Musk call a liar?",
]

ABSTAIN_TEXT = "The documents don't say."
MAX_UPLOAD_BYTES = 20_000_000
UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES  # the chat takes every format the loaders read
MAX_K = 20

# Characters that Markdown would act on in the answer line; written as numeric entities, which both
# Markdown and HTML show as the character itself. `html.escape` covers & < > (quotes need no escaping
# outside attributes, and every attribute we write is fixed text).
_MARKDOWN_SPECIALS = {ch: f"&#{ord(ch)};" for ch in "\\`*_[]~|"}


def escape(text: str) -> str:
    """Text from a document or a question, safe to put into a Markdown line of the chat: it shows as typed."""
    return "".join(_MARKDOWN_SPECIALS.get(ch, ch) for ch in escape_html(text))


def escape_html(text: str) -> str:
    """Text from a document, safe inside the reply's HTML blocks (where Markdown is not applied)."""
    return html.escape(text, quote=False)


def _html_lines(escaped: str) -> str:
    """Newlines as <br>, so an HTML block in the reply never holds a blank line (which would end it)."""
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def highlight(citation) -> str:
    """The citation's passage, escaped, with the answer span in <mark> (no mark for an empty span)."""
    passage = citation.passage
    a = max(0, min(citation.answer_start_in_passage, len(passage)))
    b = max(a, min(citation.answer_end_in_passage, len(passage)))
    if b == a:
        return _html_lines(escape_html(passage))
    return _html_lines(escape_html(passage[:a]) + "<mark>" + escape_html(passage[a:b]) + "</mark>" + escape_html(passage[b:]))


def answer_line(text: str) -> str:
    """The answer on one line (a span may run across a paragraph break), as the reply shows it."""
    return " ".join(text.split())


def source_heading(number: int, citation) -> str:
    """`[1] Title` and, under it, `date · source · page 3`; escaped."""
    details = [escape_html(d) for d in (citation.date, citation.source) if d]
    if citation.page is not None:
        details.append(f"page {citation.page}")
    heading = f'<span class="cite-n">[{number}]</span> <span class="cite-title">{escape_html(citation.title)}</span>'
    if details:
        heading += f' <span class="cite-meta">{" · ".join(details)}</span>'
    return heading


def differing_block(answer) -> list[str]:
    """When strong answers from different documents differ: "**Sources differ:**" with one line per answer
    (`**answer** — title (date)`, newest first; bold, so an answer opening with "#" or "-" stays text) and,
    when the newest is not the chosen answer, what it says; escaped. Empty otherwise (display only)."""
    differing = differing_answers(answer)
    if not differing:
        return []
    lines = []
    for item in differing:
        first = item.citations[0]
        lines.append(f"- **{escape(answer_line(item.text))}** — {escape(first.title)} ({escape(first.date or 'undated')})")
    parts = ["**Sources differ:**\n\n" + "\n".join(lines)]
    if differing[0] is not answer:
        parts.append(f"The newest source says: {escape(answer_line(differing[0].text))}")
    return parts


def render_answer(answer, *, followup_of: str | None = None) -> str:
    """The chat reply: the answer in bold with its confidence, then numbered collapsible sources (the first
    one open) with the answer span highlighted; or the abstention with the closest passages found.
    `followup_of` names the earlier question a follow-up was retrieved with."""
    parts = []
    if answer.text is None:
        parts.append(ABSTAIN_TEXT)
        if answer.citations:
            parts.append("Closest passages found:")
    else:
        parts.append(f"**{escape(answer_line(answer.text))}** (confidence {answer.confidence:.0%})")
        parts.extend(differing_block(answer))
        if answer.citations:
            parts.append("Sources:")
    for number, citation in enumerate(answer.citations, start=1):
        opened = " open" if number == 1 and answer.text is not None else ""
        parts.append(
            f'<details class="cite"{opened}><summary>{source_heading(number, citation)}</summary>'
            f'<blockquote class="cite-passage">{highlight(citation)}</blockquote></details>'
        )
    if followup_of:
        parts.append(f"<sub>Searched together with the previous question: “{escape(followup_of)}”</sub>")
    return "\n\n".join(parts)


def message_text(message) -> str:
    """The text of a chat message in any of Gradio's history formats (str content, or a list of parts)."""
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text") or "" if content.get("type", "text") == "text" else ""
    if isinstance(content, (list, tuple)):
        texts = (message_text({"content": part}) for part in content if isinstance(part, (str, dict)))
        return " ".join(text for text in texts if text).strip()
    return ""


def user_questions(history: Sequence | None) -> list[str]:
    """The user's earlier questions in a chat history, oldest first."""
    questions = []
    for message in history or []:
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
        if role == "user":
            text = message_text(message).strip()
            if text:
                questions.append(text)
    return questions


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _size_text(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:.3g} MB" if n_bytes >= 1_000_000 else f"{n_bytes / 1_000:.3g} KB"


class ChatService:
    """What the app serves: the current `Assistant` over one index folder, and the writes to that folder.

    Models (embedder, reader) are loaded once; after an upload or a removal a new `Assistant` is opened
    over the new index generation with the same model objects and swapped in under a lock, so a request
    in flight finishes on the assistant it started with. One write runs at a time.
    """

    def __init__(self, assistant, *, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        from qa.indexing.stores import resolved

        if assistant.embedder is None:
            raise ValueError("the chat needs an Assistant built with its embedder (Assistant.from_config)")
        self.embedder = assistant.embedder
        self.reader = assistant.reader
        # Writes go to the index this assistant reads (its folder, or the Milvus collections every replica reads).
        self.target = resolved(assistant.config.index_target, self.embedder)
        self.index_dir = Path(self.target.location) if self.target.store == "faiss" else None
        self.config = assistant.config.with_changes(index_dir=self.target.location, store_uri=self.target.uri)
        self.max_upload_bytes = max_upload_bytes
        self.allow_writes = assistant.config.allow_uploads
        self.max_upload_chunks = assistant.config.max_upload_chunks
        self._job: IndexingJob | None = None
        self._reloads = 0  # a count, not id(): an id can be reused by the next assistant once the old one is freed
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._current = assistant
        self._by_mode = {assistant.config.retrieval_mode: assistant}

    @classmethod
    def from_config(cls, config=None, *, embedder=None, **kwargs) -> "ChatService":
        from qa.answering.pipeline import Assistant

        return cls(Assistant.from_config(config, embedder=embedder), **kwargs)

    # -- asking -----------------------------------------------------------------------------------

    @property
    def default_threshold(self) -> float:
        return float(self.reader.no_answer_threshold)

    def assistant(self, mode: str | None = None):
        """The current assistant, with the retriever of `mode` (built once per index generation)."""
        with self._lock:
            base = self._current
            mode = mode or base.config.retrieval_mode
            found = self._by_mode.get(mode)
            if found is None:
                found = self._by_mode[mode] = base.with_retrieval_mode(mode)
            return found

    def ask(self, question: str, history: Sequence | None = None, *, k=None, mode: str | None = None,
            threshold=None):
        """(answer, the earlier question a follow-up was retrieved with or None)."""
        previous = user_questions(history)
        anchor = anchor_question(question, previous) if isinstance(question, str) else None
        retrieval = retrieval_query(question, previous) if anchor else None
        k = None if k is None else max(1, min(int(k), MAX_K))
        threshold = None if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)) else float(threshold)
        answer = self.assistant(mode).answer(question, k=k, threshold=threshold, retrieval_query=retrieval)
        return answer, anchor

    def reply(self, question: str, history: Sequence | None = None, k=None, mode: str | None = None, threshold=None) -> str:
        """The chat's reply text; an error becomes a message, never an exception."""
        from qa.answering.pipeline import EmptyQuestionError

        try:
            answer, anchor = self.ask(question, history, k=k, mode=mode, threshold=threshold)
        except EmptyQuestionError as err:
            return str(err).capitalize() + "."
        except Exception as err:  # shown in the chat, never a broken page
            log.exception("chat request failed")
            return f"Sorry, something went wrong: {escape(str(err) or type(err).__name__)}"
        return render_answer(answer, followup_of=anchor)

    # -- documents --------------------------------------------------------------------------------

    def generation_label(self) -> int:
        """Changes whenever a write has replaced the served index (so the page knows to list it again)."""
        return self._reloads

    def documents(self) -> list:
        """The indexed documents (StoredDocument), oldest first."""
        return list(self.assistant().index.documents().values())

    def summary(self) -> str:
        docs = self.documents()
        chunks = sum(d.chunks for d in docs)
        return f"{_count(len(docs), 'document')} · {_count(chunks, 'passage')}"

    def _reload(self) -> None:
        from qa.answering.pipeline import Assistant

        fresh = Assistant.from_config(self.config, embedder=self.embedder, reader=self.reader)
        with self._lock:
            self._reloads += 1
            self._current = fresh
            self._by_mode = {fresh.config.retrieval_mode: fresh}

    def _update(self, **changes):
        """One write to the served index: a new FAISS generation, or rows in Milvus."""
        from qa.indexing.stores import write_index

        return write_index(self.target, self.embedder, wait_seconds=30, **changes)[0]

    def check_upload(self, paths: Sequence[str | os.PathLike]) -> list[str]:
        """Problems with the files before reading them (type, size, existence), one line per file."""
        problems = []
        for raw in paths:
            path = Path(raw)
            if path.suffix.lower() not in UPLOAD_SUFFIXES:
                kind = path.suffix or "(no extension)"
                problems.append(f"{path.name}: unsupported type {kind}; upload {', '.join(UPLOAD_SUFFIXES)}")
            elif not path.is_file():
                problems.append(f"{path.name}: cannot be read (not a file)")
            elif path.stat().st_size > self.max_upload_bytes:
                problems.append(f"{path.name}: too large ({_size_text(path.stat().st_size)}; "
                                f"the limit is {_size_text(self.max_upload_bytes)})")
        return problems

    def prepare_upload(self, paths: Sequence[str | os.PathLike]):
        """(the files' documents, None), or (None, a Markdown message saying why nothing will be added): every file
        must be of a supported type, within the size limit and readable, and together within the passage cap."""
        from corpus.chunking import chunk_document
        from corpus.errors import CorpusError
        from corpus.loaders import load_path

        paths = [Path(p) for p in paths or []]
        if not paths:
            return None, "Choose one or more files to add."
        problems = self.check_upload(paths)
        report = None
        if not problems:
            try:
                report = load_path(*paths, max_bytes=self.max_upload_bytes)
            except CorpusError as err:
                problems = [str(err)]
            else:
                problems = [f"{Path(skip.path).name}: cannot be read ({skip.reason})" for skip in report.skipped]
        if not problems:
            chunking = self.assistant().index.chunking
            passages = sum(len(chunk_document(d, max_words=chunking.max_words, overlap_sentences=chunking.overlap_sentences))
                           for d in report.documents)
            if passages > self.max_upload_chunks:
                problems = [f"too large for the chat: {passages:,} passages (the limit is {self.max_upload_chunks:,}); "
                            f"index it with: citeqa index FILE --index {self.target.location}"]
        if problems:
            return None, "**Nothing was added.**\n\n" + "\n".join(f"- {escape(p)}" for p in problems)
        return report, None

    def add_files(self, paths: Sequence[str | os.PathLike], on_progress: Callable[[int, int], None] | None = None) -> str:
        """Index files now (the caller waits). All or nothing: if any file is refused or cannot be read, the message
        names it and the index is left as it was. Returns a Markdown status message (names escaped)."""
        report, answer = self._claim_upload(paths)
        if report is None:
            return answer
        try:
            return self._index(report, on_progress)
        finally:
            self._write_lock.release()

    def _claim_upload(self, paths: Sequence[str | os.PathLike]):
        """(the checked documents, None) with the write lock taken, or (None, the answer why not): read-only,
        refused files, or busy."""
        refused = self.write_refusal()
        if refused is not None:
            return None, refused
        report, problem = self.prepare_upload(paths)
        if problem is not None:
            return None, problem
        if not self._write_lock.acquire(blocking=False):
            return None, self.busy_message()
        return report, None

    def start_adding(self, paths: Sequence[str | os.PathLike]) -> str:
        """Check the files now and index them in a background thread; `indexing_status` tells how far it got.
        Answers at once: a refusal, "busy" while another write runs, or that indexing has started."""
        report, answer = self._claim_upload(paths)
        if report is None:
            return answer
        job = self._job = IndexingJob(_count(len(report.documents), "document"))

        def run() -> None:
            try:
                job.message = self._index(report, job.progress)
            except Exception as err:  # a message in the Documents tab, never a dead thread
                log.exception("indexing an upload failed")
                job.message = f"**Nothing was added:** {escape(str(err) or type(err).__name__)}"
            finally:
                self._write_lock.release()

        threading.Thread(target=run, name="citeqa-upload", daemon=True).start()
        return f"Indexing {job.label} in the background…"

    def indexing_status(self) -> str:
        """The background upload's progress, or its outcome once done ("" before any upload)."""
        job = self._job
        if job is None:
            return ""
        if job.message is not None:
            return job.message
        return f"Indexing {job.label}: {job.done:,} of {job.total:,} passages embedded…" if job.total else f"Indexing {job.label}…"

    def busy_message(self) -> str:
        """The answer to a write asked for while another runs."""
        job = self._job
        if job is None or job.message is not None:
            doing = "another change to the documents is running"
        else:
            doing = f"indexing {job.label}" + (f" ({job.done:,} of {job.total:,} passages embedded)" if job.total else "")
        return f"**Busy:** {doing}. Try again when it has finished."

    def write_refusal(self) -> str | None:
        """Why this chat takes no writes, or None when it does."""
        if self.allow_writes:
            return None
        return "**This chat is read-only:** start it with --allow-uploads (and --auth) to add or remove documents."

    def _index(self, report, on_progress: Callable[[int, int], None] | None) -> str:
        """Write the documents (the write lock is held) and say what happened."""
        result = self._update(add=report.documents, on_progress=on_progress)
        if result.changed:
            self._reload()
        lines = []
        titles = {d.doc_id: d.title for d in report.documents}
        if result.added:
            lines.append(f"**Added {_count(len(result.added), 'document')}** "
                         f"({_count(result.chunks_embedded, 'passage')} indexed in {result.seconds:.1f} s):")
            lines += [f"- {escape(titles.get(doc_id, doc_id))}" for doc_id in result.added]
        skipped_names = [name for name, _ in report.duplicates] + [name for name, _ in result.duplicates]
        if skipped_names:
            lines.append("Already indexed, not added again: " + ", ".join(escape(Path(n).name) for n in skipped_names))
        lines += [f"- {escape(Path(note.path).name)}: {escape(note.note)}" for note in report.notes]
        if not result.added:
            lines.insert(0, "**Nothing new was added.**")
        return "\n".join(lines)

    def remove(self, doc_ids: Sequence[str]) -> str:
        """Remove documents by id; refuses to remove every document (an index needs one). Answers "busy" at once
        while another write runs."""
        refused = self.write_refusal()
        if refused is not None:
            return refused
        doc_ids = [d for d in doc_ids or [] if isinstance(d, str) and d]
        if not doc_ids:
            return "Choose the documents to remove."
        if not self._write_lock.acquire(blocking=False):
            return self.busy_message()
        try:
            known = {d.doc_id: d for d in self.documents()}
            missing = [d for d in doc_ids if d not in known]
            if missing:
                return "**Nothing was removed:** unknown document " + ", ".join(escape(m) for m in missing)
            if set(doc_ids) >= set(known):
                return "**Nothing was removed:** the index needs at least one document."
            result = self._update(remove=doc_ids)
            if result.changed:
                self._reload()
        finally:
            self._write_lock.release()
        names = [escape(known[d].title) for d in result.removed]
        return f"**Removed {_count(len(names), 'document')}:** " + "; ".join(names)


@dataclass
class IndexingJob:
    """An upload being indexed in the background: its label, how many passages are embedded, and its outcome
    (None until it has finished)."""

    label: str
    done: int = 0
    total: int = 0
    message: str | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total


def document_rows(documents) -> list[list]:
    """Rows of the documents table: title, date, passages, source (shown as plain text)."""
    return [[d.title, d.date or "", d.chunks, d.source] for d in documents]


def document_choices(documents) -> list[tuple[str, str]]:
    """(label, doc_id) pairs for the remove list; the label keeps titles apart with a short id."""
    return [(f"{d.title} · {d.date or 'no date'} · {d.doc_id[:8]}", d.doc_id) for d in documents]


CSS = """
.cite { border: 1px solid var(--border-color-primary); border-radius: 8px; margin: 6px 0;
        padding: 4px 10px; background: var(--background-fill-secondary); }
.cite summary { cursor: pointer; padding: 2px 0; }
.cite .cite-n { font-weight: 700; color: var(--color-accent); }
.cite .cite-title { font-weight: 600; }
.cite .cite-meta { display: block; margin-left: 1.35em; color: var(--body-text-color-subdued); font-size: 0.9em; }
.cite blockquote.cite-passage { margin: 6px 0 4px 0; border-left: 3px solid var(--color-accent);
        padding: 2px 10px; font-size: 0.95em; line-height: 1.5; }
.cite mark { background: #fde68a; color: #111827; padding: 0 2px; border-radius: 3px; font-weight: 600; }
#citeqa-docs table, #citeqa-docs th, #citeqa-docs td, #citeqa-docs span { font-family: var(--font) !important; }
#citeqa-header { gap: 0; }
#citeqa-header h1 { margin-bottom: 0; }
#citeqa-header p { margin-top: 2px; color: var(--body-text-color-subdued); }
@media (max-width: 700px) {
  /* A phone: the documents table shows title and date (kept on one line); Passages and Source are hidden.
     Gradio's table is a header <table> (with a hidden sizing body) plus rows of div cells, all sized by inline widths. */
  #citeqa-docs th.header-cell:nth-child(n+3), #citeqa-docs td:nth-child(n+3),
  #citeqa-docs .virtual-row > .body-cell:nth-child(n+3) { display: none !important; }
  #citeqa-docs table.header-table, #citeqa-docs .virtual-body { width: 100% !important; table-layout: fixed; }
  #citeqa-docs th.header-cell:nth-child(1), #citeqa-docs td:nth-child(1),
  #citeqa-docs .virtual-row > .body-cell:nth-child(1) {
    width: auto !important; min-width: 0 !important; max-width: none !important; flex: 1 1 0 !important; }
  #citeqa-docs th.header-cell:nth-child(2), #citeqa-docs td:nth-child(2),
  #citeqa-docs .virtual-row > .body-cell:nth-child(2) { box-sizing: border-box;
    width: 7.5rem !important; min-width: 7.5rem !important; max-width: 7.5rem !important; flex: 0 0 7.5rem !important; }
  #citeqa-docs :is(th.header-cell, td, .virtual-row > .body-cell):nth-child(2) * { white-space: nowrap !important; }
}
"""

# Runs once when the page loads. On a narrow screen (a phone) Gradio's sidebar opens over the whole chat, so it is
# closed with its own toggle (still there to open it). After each reply the chat shows the reply's first line (the
# answer) rather than the end of its last passage: the chatbot's own autoscroll is off (`autoscroll=False`).
JS = """
() => {
  const closeSidebar = (tries) => {
    const toggle = document.querySelector("#citeqa-settings.open > .toggle-button");
    if (toggle) { toggle.click(); return; }
    // Gradio marks the sidebar open only once it has mounted: wait for that (3 s at most).
    if (tries > 0) setTimeout(() => closeSidebar(tries - 1), 100);
  };
  if (window.innerWidth < 700) closeSidebar(30);
  let seen = 0;
  const showLatest = () => {
    const chat = document.querySelector("#citeqa-chat");
    if (!chat) return;
    const messages = chat.querySelectorAll(".message-row");
    if (messages.length === seen) return;
    seen = messages.length;
    const last = messages[messages.length - 1];
    if (!last) return;
    let box = last.parentElement;
    while (box && box !== chat && !(box.scrollHeight > box.clientHeight && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) {
      box = box.parentElement;
    }
    if (!box || box === chat) return;
    const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop = box.scrollTop + top - 40;  // below the chat's toolbar
  };
  new MutationObserver(() => requestAnimationFrame(showLatest)).observe(document.body, { childList: true, subtree: true });
}
"""


def _theme():
    import gradio as gr

    system_fonts = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=system_fonts)


MODE_LABELS = {"hybrid": "Hybrid (dense + BM25)", "dense": "Dense (embeddings)", "bm25": "BM25 (keywords)"}


def build_app(service_or_assistant):
    """The Gradio app over one `ChatService` (or an `Assistant`, wrapped in one). The chat endpoint is `/chat`:
    `(question, k, mode, threshold) -> reply`, every parameter after the question optional."""
    import gradio as gr

    service = service_or_assistant if isinstance(service_or_assistant, ChatService) else ChatService(service_or_assistant)
    with gr.Blocks(title="citeqa", fill_height=True) as app:
        settings = _settings_sidebar(gr, service)
        gr.Markdown("# citeqa\nAnswers copied word for word from your documents, each with its sources. "
                    "When the documents don't hold the answer, citeqa says so.", elem_id="citeqa-header")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                _chat(gr, service, settings)
            with gr.Tab("Documents", id="documents"):
                _documents(gr, app, service)
    app.queue(default_concurrency_limit=4)
    app.citeqa_service = service  # for tests and callers that want to reach the served index
    return app


def _settings_sidebar(gr, service: ChatService) -> list:
    """The sidebar's k, retrieval mode and abstention threshold: the chat's additional inputs."""
    shown_threshold = round(service.default_threshold, 2)  # the field's value: 2.94, not 2.9410853385925293
    with gr.Sidebar(label="Settings", open=True, width=300, elem_id="citeqa-settings"):
        gr.Markdown("### Settings")
        k = gr.Slider(1, MAX_K, value=service.config.k, step=1, label="Passages (k)",
                      info="How many retrieved passages the reader reads.")
        mode = gr.Radio([(MODE_LABELS.get(m, m), m) for m in RETRIEVAL_MODES], value=service.config.retrieval_mode,
                        label="Retrieval")
        threshold = gr.Number(value=shown_threshold, label="Abstention threshold",
                              info=f"Below this score citeqa says the documents don't say. The reader's "
                                   f"calibrated default is {shown_threshold:g}; higher abstains more.")
        gr.Markdown("Short follow-ups such as *Who funds it?* are searched together with the previous question.")
    return [k, mode, threshold]


def _chat(gr, service: ChatService, settings: list) -> None:
    """The chat tab and its `/chat` endpoint; API callers who leave a setting out get the service's own value
    (the reader's exact threshold, not the rounded one the field shows)."""

    def chat(message: str, history: list, k: float = service.config.k, mode: str = service.config.retrieval_mode,
             threshold: float = service.default_threshold) -> str:
        return service.reply(message, history, k=k, mode=mode, threshold=threshold)

    def ask(question: str, k: int = service.config.k, mode: str = service.config.retrieval_mode,
            threshold: float | None = None) -> dict:
        """The answer as data: text (None when the documents don't say), confidence, abstained, citations with
        their character offsets, candidates; the shape of `citeqa ask --json`."""
        try:
            return service.ask(question, k=k, mode=mode, threshold=threshold)[0].to_dict()
        except ValueError as err:  # an empty question, a bad k or mode: the caller's mistake, said plainly
            raise gr.Error(str(err)) from None

    gr.api(ask, api_name="ask", api_description="Answer a question from the indexed documents; returns the Answer as JSON.")
    chatbot = gr.Chatbot(
        label="citeqa", show_label=False, height="72vh", min_height=420, latex_delimiters=[], sanitize_html=True,
        elem_id="citeqa-chat", autoscroll=False,
        placeholder="**Ask the articles.** Every answer is a span copied from a source, with its citation.",
    )
    gr.ChatInterface(
        chat,
        chatbot=chatbot,
        textbox=gr.Textbox(placeholder="Ask a question about the documents…", show_label=False, elem_id="citeqa-question",
                           submit_btn=True, autofocus=True),
        additional_inputs=settings,
        examples=[[q] for q in EXAMPLES],
        api_name="chat",
        api_description="Answer a question from the indexed documents; returns the reply with its sources.",
        fill_height=True,
    )


def _documents(gr, app, service: ChatService) -> None:
    """The documents tab: the table; with writes allowed, also upload (indexed in the background, progress shown
    here) and removal, with their endpoints. A read-only chat registers no write endpoint and lists no ids."""
    summary = gr.Markdown(service.summary())
    table = gr.Dataframe(headers=["Title", "Date", "Passages", "Source"], datatype="str",
                         value=document_rows(service.documents()), interactive=False, wrap=True,
                         label="Indexed documents", max_height=360, elem_id="citeqa-docs",
                         column_widths=["52%", "14%", "10%", "24%"])

    def listing():
        docs = service.documents()
        return service.summary(), document_rows(docs)

    if not service.allow_writes:
        gr.Markdown("This chat is read-only. To add or remove documents, use `citeqa index`, or start the chat with "
                    "`--allow-uploads` (and `--auth USER:PASSWORD` when others can reach it).")
        app.load(listing, None, [summary, table], api_visibility="undocumented", queue=False)
        return
    with gr.Row(equal_height=False):
        with gr.Column():
            upload = gr.File(file_count="multiple", file_types=list(UPLOAD_SUFFIXES), elem_id="citeqa-upload",
                             label=f"Add documents — {', '.join(s[1:] for s in UPLOAD_SUFFIXES)}; "
                                   f"up to {_size_text(service.max_upload_bytes)} each, "
                                   f"{service.max_upload_chunks:,} passages in all")
        with gr.Column():
            chosen = gr.Dropdown(choices=document_choices(service.documents()), value=[], multiselect=True,
                                 allow_custom_value=True, label="Remove documents")
            remove_btn = gr.Button("Remove selected", variant="stop")
    status = gr.Markdown(elem_id="citeqa-doc-status")
    shown = gr.State(None)  # per browser session: the index generation its lists show

    def refresh():
        listed = listing()
        return (*listed, gr.update(choices=document_choices(service.documents()), value=[]))

    def add(paths):
        try:
            message = service.start_adding(paths or [])
        except Exception as err:  # a message, never a broken page
            log.exception("upload failed")
            message = f"**Nothing was added:** {escape(str(err) or type(err).__name__)}"
        finally:
            remove_upload_copies(paths or [])
        return message, None

    def poll(generation):
        """Every second: the upload's progress; the lists again once a write has changed the index."""
        current = service.generation_label()
        if current == generation:
            return (service.indexing_status() or gr.update(), gr.update(), gr.update(), gr.update(), generation)
        return (service.indexing_status() or gr.update(), *refresh(), current)

    def remove(doc_ids):
        try:
            message = service.remove(doc_ids or [])
        except Exception as err:
            log.exception("remove failed")
            message = f"**Nothing was removed:** {escape(str(err) or type(err).__name__)}"
        return (message, *refresh())

    upload.upload(add, [upload], [status, upload], api_name="add_documents", concurrency_limit=4)
    remove_btn.click(remove, [chosen], [status, summary, table, chosen], api_name="remove_documents", concurrency_limit=4)
    gr.Button("Indexing status", visible=False).click(service.indexing_status, None, status, api_name="indexing_status")
    gr.Timer(1.0).tick(poll, shown, [status, summary, table, chosen, shown], api_visibility="private", queue=False)
    app.load(refresh, None, [summary, table, chosen], api_visibility="undocumented", queue=False)


def gradio_upload_folder() -> Path:
    """Where Gradio keeps its copies of uploaded files."""
    import tempfile

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def remove_upload_copies(paths: Sequence[str | os.PathLike]) -> None:
    """Delete Gradio's copies of uploaded files (and their emptied per-upload folders) once read: only files
    inside Gradio's upload folder, never a path from elsewhere."""
    root = gradio_upload_folder()
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_file() and path.is_relative_to(root) and path != root:
            path.unlink(missing_ok=True)
            folder = path.parent
            if folder != root and folder.is_relative_to(root) and not any(folder.iterdir()):
                folder.rmdir()


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(header: str) -> str:
    """The host of a `Host` header, lower case, without port or trailing dot: "[::1]:7860" → "::1"."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") == 1 else header.rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether an address or name can only be reached from this machine."""
    import ipaddress

    name = host_name(host) if host else ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(server_name: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The names a request's `Host` may carry: loopback, the address the chat binds to (unless it binds to every
    address), and `extra` (--allowed-host). Any other name is a DNS-rebinding page or a wrong address."""
    names = [*LOOPBACK_NAMES, *(host_name(h) for h in extra)]
    if server_name not in ("0.0.0.0", "::", ""):
        names.append(host_name(server_name))
    return tuple(dict.fromkeys(n for n in names if n))


class HostCheck:
    """ASGI middleware: answers 400 to a request whose `Host` header names no allowed host (stops DNS rebinding)."""

    def __init__(self, app, allowed: Sequence[str]):
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
            if host_name(host) not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b"citeqa: host not allowed (start the chat with --allowed-host NAME to serve this name)"
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def sharing_refusal(server_name: str, allow_writes: bool, auth) -> str | None:
    """Why the chat must not start as asked, or None: writes open to a network without a login."""
    if allow_writes and auth is None and not is_loopback(server_name):
        return (f"refusing to serve on {server_name} with --allow-uploads and no login: anyone who reaches it could "
                "add and remove documents. Add --auth USER:PASSWORD (or set CITEQA_AUTH), drop --allow-uploads, or "
                "bind to 127.0.0.1")
    return None


def launch(app, *, allowed: Sequence[str] | None = None, **kwargs):
    """`app.launch` with citeqa's look (theme and CSS, which Gradio 6 takes at launch) and the `Host` check
    (`allowed` names; default: loopback and the address it binds to)."""
    from starlette.middleware import Middleware

    kwargs.setdefault("css", CSS)
    kwargs.setdefault("js", JS)
    kwargs.setdefault("theme", _theme())
    kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
    hosts = allowed if allowed is not None else allowed_hosts(kwargs.get("server_name") or "127.0.0.1")
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(HostCheck, allowed=hosts)]
    return app.launch(app_kwargs=app_kwargs, **kwargs)


def serve(config=None, *, host: str = "127.0.0.1", port: int = 7860, embedder=None, auth: tuple[str, str] | None = None,
          extra_hosts: Sequence[str] = ()) -> None:
    """Load the models, answer one question (so the first user does not wait for them) and serve the chat.
    The `citeqa.chat` entry point: `citeqa serve` calls it."""
    from qa.answering.reader import ReaderNotInstalledError
    from qa.cli.options import set_offline_environment

    set_offline_environment()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    refusal = sharing_refusal(host, bool(config is not None and config.allow_uploads), auth)
    if refusal is not None:
        raise SystemExit(f"citeqa: error: {refusal}")
    try:
        service = ChatService.from_config(config, embedder=embedder)
        service.ask(EXAMPLES[0])
    except (ReaderNotInstalledError, OSError, ValueError, RuntimeError) as err:
        raise SystemExit(f"citeqa: error: {err}") from None
    launch(build_app(service), server_name=host, server_port=port, auth=auth, allowed=allowed_hosts(host, extra_hosts))


def main(argv: list[str] | None = None) -> None:
    """`python ui.py [flags]`: the same flags as `citeqa serve`."""
    from qa.cli.options import UsageError, config_from
    from qa.cli.serve_command import add_serve_flags, host_and_port, login_from

    parser = argparse.ArgumentParser(description="citeqa chat in the browser")
    add_serve_flags(parser)
    args = parser.parse_args(argv)
    try:
        host, port = host_and_port(args)
        config = config_from(args)
        auth = login_from(args)
    except UsageError as err:
        parser.error(str(err))
    serve(config, host=host, port=port, auth=auth, extra_hosts=args.allowed_host)


if __name__ == "__main__":
    main()
