"""The citeqa chat: ask the indexed articles in a browser, see each answer's sources, manage the documents.

Run `python ui.py` (or `citeqa serve`) and open http://127.0.0.1:7860. Programs can call the chat:
`gradio_client.Client(url).predict(question, api_name="/chat")` returns the reply text (the answer
and its numbered sources). The app is built around one `Assistant` (models load once); uploads and
removals write into the served index folder and swap in a new `Assistant` over the same models.
"""

from __future__ import annotations

import argparse
import html
import importlib.abc
import logging
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from corpus.loaders import SUPPORTED_SUFFIXES
from qa.answering.citing import (ANSWER, ANSWERED, BEST_GUESS, BEST_GUESS_TEXT, NOT_FOUND, NOT_FOUND_TEXT, PASSAGE,
                                 PLAIN, CitedAnswer, CitedPassage, Highlight, Segment, SourceCard, card_highlights,
                                 cite, copy_text, document_segments, one_line)
from qa.answering.disagreement import NEWER_PREFERRED_TEXT, differing_answers, newer_preferred_over
from qa.answering.followup import anchor_question, retrieval_query
from qa.answering.retrievers import RETRIEVAL_MODES
from qa.answering.types import confidence_words

log = logging.getLogger(__name__)

EXAMPLES = [
    "In which city is the Stargate data center being built?",
    "How much is the initial investment in Stargate?",
    "Which companies stood alongside Trump during the announcement?",
    "Who is the CEO of OpenAI?",
    "Who does Musk call a liar?",
]

ABSTAIN_TEXT = NOT_FOUND_TEXT  # "The documents don't say."
COPY_LABEL = "Copy answer with citations"
CONFIDENCE_LABEL = "Answer when at least N % likely right"
MAX_UPLOAD_BYTES = 20_000_000
UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES  # the chat takes every format the loaders read
MAX_K = 20
# "View document" texts that travel inside a reply, in all (more is fetched from /document when opened): the chat
# sends its history back with every question, so whole long documents are not kept in it.
INLINE_DOCUMENT_CHARS = 40_000
MAX_HIGHLIGHTS = 4 * MAX_K  # a card's passages and answer spans, as a "view document" link carries them
MAX_DOC_ID_CHARS = 200
_HIGHLIGHT = re.compile(r"([ap])([0-9]{1,10})-([0-9]{1,10})")

# Characters that Markdown would act on in the answer line; written as numeric entities, which both
# Markdown and HTML show as the character itself. `html.escape` covers & < > (quotes need no escaping
# outside attributes; every attribute we write is fixed text, but for the "view document" link's, which is
# URL-encoded and then escaped with its quotes).
_MARKDOWN_SPECIALS = {ch: f"&#{ord(ch)};" for ch in "\\`*_[]~|"}


def escape(text: str) -> str:
    """Text from a document or a question, safe to put into a Markdown line of the chat: it shows as typed."""
    return "".join(_MARKDOWN_SPECIALS.get(ch, ch) for ch in escape_html(text))


def escape_html(text: str) -> str:
    """Text from a document, safe inside the reply's HTML blocks (where Markdown is not applied)."""
    return html.escape(text, quote=False)


def _html_lines(escaped: str) -> str:
    """Line breaks (LF, CRLF, a lone CR: each ends a Markdown line) as <br>, so an HTML block in the reply never
    holds a blank line (which would end it)."""
    return escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def passage_html(passage: CitedPassage) -> str:
    """A cited passage, escaped, with the answer span in <mark> (no mark when it has none)."""
    if not passage.answer:
        return _html_lines(escape_html(passage.text))
    return _html_lines(escape_html(passage.before) + "<mark>" + escape_html(passage.answer) + "</mark>"
                       + escape_html(passage.after))


def answer_line(text: str) -> str:
    """The answer on one line (a span may run across a paragraph break), as the reply shows it."""
    return one_line(text)


def markers_html(numbers: Sequence[int]) -> str:
    """The answer's inline markers, one clickable chip per source card: [1][2]."""
    return "".join(f'<span class="cite-ref">[{n}]</span>' for n in numbers)


def card_heading(card: SourceCard) -> str:
    """`[1] Title` and, under it, `date · source · page 3`; escaped."""
    details = [escape_html(d) for d in (card.date, card.source) if d]
    pages = list(dict.fromkeys(p.page for p in card.passages if p.page is not None))
    if pages:
        details.append(("page " if len(pages) == 1 else "pages ") + ", ".join(map(str, pages)))
    heading = f'<span class="cite-n">[{card.number}]</span> <span class="cite-title">{escape_html(card.title)}</span>'
    if details:
        heading += f' <span class="cite-meta">{" · ".join(details)}</span>'
    return heading


def document_html(segments: Sequence[Segment]) -> str:
    """A whole document, escaped: answer spans in <mark>, the passages used shaded, line breaks kept."""
    tags = {ANSWER: ("<mark>", "</mark>"), PASSAGE: ('<span class="cite-doc-passage">', "</span>"), PLAIN: ("", "")}
    return _html_lines("".join(tags[s.kind][0] + escape_html(s.text) + tags[s.kind][1] for s in segments))


def highlights_param(highlights: Sequence[Highlight]) -> str:
    """Highlights as the "view document" link carries them: `p0-60,a22-36` (passage, answer; document offsets)."""
    return ",".join(f"{'a' if h.kind == ANSWER else 'p'}{h.start}-{h.end}" for h in highlights)


def parse_highlights(param, length: int) -> tuple[Highlight, ...]:
    """The highlights a client sent back (untrusted): at most MAX_HIGHLIGHTS ranges `[ap]START-END`, each inside a
    document of `length` characters; anything else is a ValueError."""
    if not isinstance(param, str) or len(param) > 24 * MAX_HIGHLIGHTS:
        raise ValueError("highlights must be a short string like p0-60,a22-36")
    items = param.split(",") if param else []
    if len(items) > MAX_HIGHLIGHTS:
        raise ValueError(f"at most {MAX_HIGHLIGHTS} highlights")
    highlights = []
    for item in items:
        found = _HIGHLIGHT.fullmatch(item)
        if found is None or not int(found[2]) < int(found[3]) <= length:
            raise ValueError("highlights must be ranges like p0-60,a22-36 inside the document")
        highlights.append(Highlight(int(found[2]), int(found[3]), ANSWER if found[1] == "a" else PASSAGE))
    return tuple(highlights)


def document_view_html(card: SourceCard, text: str | None) -> str:
    """The card's "View document": the whole text inside the reply when given (no round trip), else a link the
    page's script follows to the read-only `/document` endpoint; either way scrolled to the highlight when opened."""
    if text is not None:
        body = document_html(document_segments(text, card_highlights(card)))
    else:
        query = urlencode({"id": card.doc_id, "h": highlights_param(card_highlights(card)[:MAX_HIGHLIGHTS])})
        body = f'<a class="cite-doc-load" href="#citeqa-doc?{html.escape(query)}">Load the whole document</a>'
    return (f'<details class="cite-doc"><summary>View document</summary>'
            f'<div class="cite-doc-text" tabindex="0">{body}</div></details>')


def card_html(card: SourceCard, *, opened: bool, text: str | None = None) -> str:
    """One collapsible card per source document: heading, the passages used, then "View document"."""
    passages = "".join(f'<blockquote class="cite-passage">{passage_html(p)}</blockquote>' for p in card.passages)
    return (f'<details class="cite"{" open" if opened else ""}><summary>{card_heading(card)}</summary>'
            f"{passages}{document_view_html(card, text)}</details>")


def copy_block(cited: CitedAnswer) -> str:
    """The "Copy answer with citations" button and, hidden beside it, the plain text it copies (newlines as
    character references, so the HTML block holds no blank line)."""
    text = escape_html(copy_text(cited)).replace("\r", "").replace("\n", "&#10;")
    return (f'<div class="cite-actions"><button type="button" class="cite-copy">{COPY_LABEL}</button>'
            f'<pre class="cite-copy-text" hidden>{text}</pre></div>')


def confidence_label(answer) -> str:
    """"likely right, 82 %" with a calibrated probability; else the uncalibrated "confidence 88%"."""
    if answer.probability is not None:
        return confidence_words(answer.probability)
    return f"confidence {answer.confidence:.0%}"


def answer_heading(answer, cited: CitedAnswer) -> str:
    """The reply's first line: the answer in bold with its markers and confidence; a best guess labelled as one
    (never bold like an answer); or that the documents don't say."""
    if cited.kind == NOT_FOUND:
        return ABSTAIN_TEXT
    if cited.kind == BEST_GUESS:
        guess = answer.best_guess
        note = f" ({confidence_words(guess.probability)})" if guess.probability is not None else ""
        return f"{BEST_GUESS_TEXT} <em>{escape(cited.text)}</em> {markers_html(cited.markers)}{note}"
    return f"**{escape(cited.text)}** {markers_html(cited.markers)} ({confidence_label(answer)})"


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


def newer_preferred_note(answer) -> list[str]:
    """When a time-sensitive question took the newest dated source's answer over a differing one: "The newer source
    is preferred ...: summer 2027 (Bridge delayed, 2025-03-14) over 2026 (Bridge works begin, 2023-05-10)."; escaped.
    Empty otherwise."""
    displaced = newer_preferred_over(answer)
    if displaced is None:
        return []

    def source(item) -> str:
        first = item.citations[0]
        return f"{escape(answer_line(item.text))} ({escape(first.title)}, {escape(first.date or 'undated')})"

    return [f"{NEWER_PREFERRED_TEXT} {source(answer)} over {source(displaced)}."]


def render_answer(answer, *, followup_of: str | None = None, documents: Mapping[str, str] | None = None) -> str:
    """The chat reply: the answer in bold with [n] markers numbering its source documents and its confidence (or
    the best guess, or that the documents don't say), then one collapsible card per document (the first open)
    with the answer highlighted in each passage used, and the copy button. `documents` holds the texts shown
    inside the reply by "View document" (doc id → text; the others are fetched when opened). `followup_of` names
    the earlier question a follow-up was retrieved with."""
    cited = cite(answer)
    parts = [answer_heading(answer, cited)]
    if cited.kind == ANSWERED:
        parts.extend(differing_block(answer))
        parts.extend(newer_preferred_note(answer))
    if cited.cards:
        parts.append("Closest passages found:" if cited.kind == NOT_FOUND else "Sources:")
        texts = documents or {}
        parts.extend(card_html(card, opened=card.number == 1 and cited.kind != NOT_FOUND, text=texts.get(card.doc_id))
                     for card in cited.cards)
        parts.append(copy_block(cited))
    if followup_of:
        parts.append(f"<sub>Searched together with the previous question: “{escape(followup_of)}”</sub>")
    return "\n\n".join(parts)


def shows_whole(text: str, card: SourceCard) -> bool:
    """Whether `text` is the card's document as cited: every passage sits at its offsets (else it is not shown)."""
    return all(text[p.passage_start:p.passage_end] == p.text for p in card.passages)


def checked_percent(value) -> float | None:
    """A client's "answer when at least N % likely right" as a probability: None stays None (the default); else
    a number from 0 to 100, anything else a ValueError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValueError(f"min_confidence must be a number from 0 to 100 (percent likely right), got {value!r:.40}")
    return float(value) / 100


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

    def __init__(self, assistant, *, max_upload_bytes: int = MAX_UPLOAD_BYTES, inline_document_chars: int = INLINE_DOCUMENT_CHARS):
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
        self.inline_document_chars = inline_document_chars
        self.allow_writes = assistant.config.allow_uploads
        self.max_upload_chunks = assistant.config.max_upload_chunks
        self._job: IndexingJob | None = None
        self._reloads = 0  # a count, not id(): an id can be reused by the next assistant once the old one is freed
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._current = assistant
        self._by_mode = {assistant.config.retrieval_mode: assistant}

    @classmethod
    def from_config(cls, config=None, *, embedder=None, prepare: bool = False, **kwargs) -> "ChatService":
        """The service over the index a config names. With `prepare`, what the cache lacks is built first (the ONNX
        graphs, the bundled articles' index), one line per step on stderr; models load on first use either way."""
        from qa.answering.pipeline import Assistant

        reader = None
        if prepare:
            from qa.answering.config import Config, embedder_from_config
            from qa.answering.pipeline import reader_from_config
            from qa.cli.first_run import prepare as build_missing

            config = config if config is not None else Config()
            embedder = embedder if embedder is not None else embedder_from_config(config)
            reader = reader_from_config(config)
            build_missing(config, embedder, reader)
        return cls(Assistant.from_config(config, embedder=embedder, reader=reader), **kwargs)

    # -- asking -----------------------------------------------------------------------------------

    @property
    def default_threshold(self) -> float:
        return float(self.reader.no_answer_threshold)

    @property
    def default_min_confidence(self) -> float | None:
        """The probability an answer needs by default (the answer calibrator's setting), or None when the reader
        has no calibrator (then the score threshold decides)."""
        value = self.assistant().min_confidence
        return None if value is None else float(value)

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
            threshold=None, min_confidence=None):
        """(answer, the earlier question a follow-up was retrieved with or None). `min_confidence` is a percentage
        (0–100) and needs a reader with an answer calibrator."""
        previous = user_questions(history)
        anchor = anchor_question(question, previous) if isinstance(question, str) else None
        retrieval = retrieval_query(question, previous) if anchor else None
        k = None if k is None else max(1, min(int(k), MAX_K))
        threshold = None if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)) else float(threshold)
        options = {"k": k, "threshold": threshold, "retrieval_query": retrieval}
        probability = checked_percent(min_confidence)
        if probability is not None:
            if self.default_min_confidence is None:
                raise ValueError("min_confidence needs a reader with an answer calibrator; this one has none "
                                 "(set threshold instead)")
            options["min_confidence"] = probability
        return self.assistant(mode).answer(question, **options), anchor

    def reply(self, question: str, history: Sequence | None = None, k=None, mode: str | None = None, threshold=None,
              min_confidence=None) -> str:
        """The chat's reply text; an error becomes a message, never an exception."""
        from qa.answering.pipeline import EmptyQuestionError

        try:
            answer, anchor = self.ask(question, history, k=k, mode=mode, threshold=threshold, min_confidence=min_confidence)
            return self.render(answer, followup_of=anchor)
        except EmptyQuestionError as err:
            return str(err).capitalize() + "."
        except Exception as err:  # shown in the chat, never a broken page
            log.exception("chat request failed")
            return f"Sorry, something went wrong: {escape(str(err) or type(err).__name__)}"

    def render(self, answer, *, followup_of: str | None = None) -> str:
        """The reply for an answer, with the texts of its smaller source documents inside it (see `render_answer`)."""
        return render_answer(answer, followup_of=followup_of, documents=self.inline_documents(answer))

    def inline_documents(self, answer) -> dict[str, str]:
        """doc id → text of the source documents whose "View document" needs no round trip: in card order, while
        their texts fit in `inline_document_chars` together, and only texts that hold the cited passages."""
        index, budget, texts = self.assistant().index, self.inline_document_chars, {}
        for card in cite(answer).cards:
            try:
                text = index.document_text(card.doc_id)
            except KeyError:  # removed since the answer was found
                continue
            if len(text) <= budget and shows_whole(text, card):
                texts[card.doc_id] = text
                budget -= len(text)
        return texts

    def document_view(self, doc_id, highlights="") -> dict:
        """A document for the chat's "View document" (read-only): its metadata and whole text cut into segments
        [kind, text] ("answer", "passage" or ""). Only ids of indexed documents and ranges inside the text pass."""
        if not isinstance(doc_id, str) or not 0 < len(doc_id) <= MAX_DOC_ID_CHARS:
            raise ValueError("no such document in this chat's index")
        index = self.assistant().index
        found = index.documents([doc_id])
        if doc_id not in found:
            raise ValueError("no such document in this chat's index")
        text = index.document_text(doc_id)
        document = found[doc_id]
        segments = document_segments(text, parse_highlights(highlights, len(text)))
        return {"doc_id": doc_id, "title": document.title, "date": document.date,
                "source": document.url or document.source, "segments": [[s.kind, s.text] for s in segments]}

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
        if result.chunks_embedded:
            release_indexing_memory(self.embedder)
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


def release_indexing_memory(embedder) -> None:
    """Hand back the memory an upload's embedding left held. ONNX Runtime keeps the buffers of the largest batch a
    session ran in its arena (measured: +300 MB after 600 passages, +360 MB after 1,800) for the life of the
    session, so the embedder gets a freshly loaded session (a fraction of a second, here in the write, not in the
    next question; a question in flight finishes on the old one) and the freed heap goes back to the system."""
    from qa.cli.first_run import release_freed_memory

    embedder.reload_onnx_session()  # the ONNX backend only (torch frees its buffers itself)
    release_freed_memory()


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
.cite-ref { display: inline-block; margin-left: 1px; padding: 0 4px; border-radius: 6px; cursor: pointer;
        font-size: 0.8em; font-weight: 600; line-height: 1.4; vertical-align: 0.15em; color: var(--color-accent);
        background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.cite details.cite-doc { margin: 4px 0 4px 0; }
.cite details.cite-doc > summary { font-size: 0.9em; color: var(--color-accent); }
.cite .cite-doc-text { max-height: 45vh; overflow-y: auto; white-space: pre-wrap; overflow-wrap: anywhere;
        margin-top: 4px; padding: 6px 10px; font-size: 0.92em; line-height: 1.5; border-radius: 6px;
        background: var(--background-fill-primary); border: 1px solid var(--border-color-primary); }
.cite .cite-doc-passage { background: rgba(253, 230, 138, 0.28); }
.cite-actions { margin: 4px 0; }
.cite-actions button.cite-copy { font-size: 0.85em; padding: 2px 10px; border-radius: 6px; cursor: pointer;
        border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
        color: var(--body-text-color); }
.cite-actions pre.cite-copy-text { white-space: pre-wrap; font-size: 0.85em; margin-top: 4px; }
.cite-actions pre.cite-copy-text[hidden] { display: none !important; }  /* the chat's own pre style would show it */
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

  // "Copy answer with citations": the plain text hidden beside the button, through the clipboard API; where that
  // is missing (a page served over plain http to another machine) or refused, a selected copy; failing both, the
  // text is shown selected for Ctrl+C.
  const copyText = async (text) => {
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
    } catch (err) { /* falls back below */ }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    Object.assign(area.style, { position: "fixed", top: "0", left: "0", opacity: "0" });
    document.body.append(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (err) { copied = false; }
    area.remove();
    return copied;
  };
  const copyAnswer = async (button) => {
    const source = button.parentElement && button.parentElement.querySelector(".cite-copy-text");
    if (!source) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    const copied = await copyText(source.textContent);
    if (!copied) {
      source.hidden = false;
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    button.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
    setTimeout(() => { button.textContent = label; }, 2000);
  };

  // "View document": a text that came inside the reply is shown at once; a longer one is fetched from the
  // read-only /document endpoint (the same login and host checks as every call) and built from text nodes, never
  // parsed as HTML. Either way the box scrolls to the answer (or to the passage when there is no answer).
  const apiUrl = (path) => {
    const root = (window.gradio_config && window.gradio_config.root) || document.baseURI;
    return new URL(`gradio_api/call/${path}`, root.endsWith("/") ? root : `${root}/`);
  };
  const callApi = async (name, data) => {
    const started = await fetch(apiUrl(name), { method: "POST", headers: { "Content-Type": "application/json" },
                                                 body: JSON.stringify({ data }) });
    if (!started.ok) throw new Error(`HTTP ${started.status}`);
    const { event_id: eventId } = await started.json();
    const stream = await fetch(apiUrl(`${name}/${eventId}`));
    let event = "";
    for (const line of (await stream.text()).split("\\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:") && (event === "complete" || event === "error")) {
        const payload = JSON.parse(line.slice(5).trim() || "null");
        if (event === "complete") return payload[0];
        const reason = typeof payload === "string" ? payload : payload && (payload.error || payload.message);
        throw new Error(reason || "refused");
      }
    }
    throw new Error("no reply");
  };
  const showSegments = (box, segments) => {
    box.textContent = "";
    for (const [kind, text] of segments) {
      if (!kind) { box.append(text); continue; }
      const part = document.createElement(kind === "answer" ? "mark" : "span");
      if (kind !== "answer") part.className = "cite-doc-passage";
      part.textContent = text;
      box.append(part);
    }
  };
  const loadDocument = async (view) => {
    const box = view.querySelector(".cite-doc-text");
    const link = box && box.querySelector("a.cite-doc-load");
    if (!link || view.dataset.loading) return;
    view.dataset.loading = "1";
    const params = new URLSearchParams(link.getAttribute("href").split("?").slice(1).join("?"));
    link.textContent = "Loading the document…";
    try {
      const found = await callApi("document", [params.get("id") || "", params.get("h") || ""]);
      showSegments(box, found.segments);
    } catch (err) {
      box.textContent = `The document could not be loaded: ${err.message}`;
    }
    delete view.dataset.loading;
  };
  const scrollToHighlight = (view) => {
    const box = view.querySelector(".cite-doc-text");
    const target = box && (box.querySelector("mark") || box.querySelector(".cite-doc-passage"));
    if (!target) return;
    box.scrollTop += target.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
  };
  const openDocument = async (view) => { await loadDocument(view); scrollToHighlight(view); };
  document.addEventListener("toggle", (event) => {
    const view = event.target;
    if (view instanceof HTMLDetailsElement && view.open && view.matches("details.cite-doc")) openDocument(view);
  }, true);

  // Clicks: the copy button, a "load the document" link, and an answer's [n] marker (opens and shows card n).
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const copy = target.closest("button.cite-copy");
    if (copy) { event.preventDefault(); copyAnswer(copy); return; }
    const load = target.closest("a.cite-doc-load");
    if (load) {
      event.preventDefault();
      const view = load.closest("details.cite-doc");
      if (view) openDocument(view);
      return;
    }
    const marker = target.closest(".cite-ref");
    const message = marker && marker.closest(".message-content, .message, .bot");
    if (!message) return;
    const card = [...message.querySelectorAll("details.cite")].find(
      (item) => item.querySelector(".cite-n") && item.querySelector(".cite-n").textContent === marker.textContent);
    if (card) { card.open = true; card.scrollIntoView({ block: "nearest" }); }
  });
}
"""


class _NoStubRewrite(importlib.abc.MetaPathFinder):
    """Loads `gradio.component_meta` as usual, then turns its `create_or_modify_pyi` into a no-op.

    Each time gradio is imported, every component class it defines re-renders its `.pyi` type stub inside the
    installed package (parse the class's source, render the stub, compare with the file): about half of
    `import gradio` (2.5 of 5 s on 2 busy cores) for files only an editor reads. Nothing else changes."""

    def find_spec(self, name, path=None, target=None):
        if name != "gradio.component_meta":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                run = spec.loader.exec_module

                def exec_module(module, run=run):
                    run(module)
                    if callable(getattr(module, "create_or_modify_pyi", None)):
                        module.create_or_modify_pyi = lambda *args, **kwargs: None

                spec.loader.exec_module = exec_module
            return spec
        return None


def import_gradio():
    """`gradio`, imported (the first time) without rewriting its type stubs (see `_NoStubRewrite`)."""
    if "gradio" in sys.modules:
        return sys.modules["gradio"]
    finder = _NoStubRewrite()
    sys.meta_path.insert(0, finder)
    try:
        import gradio
    finally:
        sys.meta_path.remove(finder)
    return gradio


def _theme():
    gr = import_gradio()

    system_fonts = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=system_fonts)


MODE_LABELS = {"hybrid": "Hybrid (dense + BM25)", "dense": "Dense (embeddings)", "bm25": "BM25 (keywords)"}


def build_app(service_or_assistant):
    """The Gradio app over one `ChatService` (or an `Assistant`, wrapped in one). The chat endpoint is `/chat`:
    `(question, k, mode, threshold, min_confidence) -> reply`, every parameter after the question optional."""
    gr = import_gradio()
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
    """The sidebar's k, retrieval mode and when to abstain: the chat's additional inputs (k, mode, threshold,
    min_confidence). With an answer calibrator a slider of how likely right an answer must be replaces the score
    threshold field; the input not shown stays as a hidden empty value, so `/chat` keeps one signature."""
    default_probability = service.default_min_confidence
    with gr.Sidebar(label="Settings", open=True, width=300, elem_id="citeqa-settings"):
        gr.Markdown("### Settings")
        k = gr.Slider(1, MAX_K, value=service.config.k, step=1, label="Passages (k)",
                      info="How many retrieved passages the reader reads.")
        mode = gr.Radio([(MODE_LABELS.get(m, m), m) for m in RETRIEVAL_MODES], value=service.config.retrieval_mode,
                        label="Retrieval")
        if default_probability is None:
            shown_threshold = round(service.default_threshold, 2)  # the field's value: 2.94, not 2.9410853385925293
            threshold = gr.Number(value=shown_threshold, label="Abstention threshold", elem_id="citeqa-threshold",
                                  info=f"Below this score citeqa says the documents don't say. The reader's "
                                       f"calibrated default is {shown_threshold:g}; higher abstains more.")
            min_confidence = gr.Number(value=None, visible=False, label=CONFIDENCE_LABEL)
        else:
            threshold = gr.Number(value=None, visible=False, label="Abstention threshold")
            percent = round(100 * default_probability)
            min_confidence = gr.Slider(0, 100, value=percent, step=5, label=CONFIDENCE_LABEL,
                                       elem_id="citeqa-min-confidence",
                                       info=f"N, in %: below it citeqa says it is not sure and shows its best guess "
                                            f"as one. The calibrated default is {percent} %; higher abstains more.")
        gr.Markdown("Short follow-ups such as *Who funds it?* are searched together with the previous question.")
    return [k, mode, threshold, min_confidence]


def _chat(gr, service: ChatService, settings: list) -> None:
    """The chat tab and its `/chat`, `/ask` and `/document` endpoints; API callers who leave a setting out get the
    service's own value (the reader's exact threshold or calibrated setting, not the rounded one the field shows)."""

    def chat(message: str, history: list, k: float = service.config.k, mode: str = service.config.retrieval_mode,
             threshold: float | None = None, min_confidence: float | None = None) -> str:
        return service.reply(message, history, k=k, mode=mode, threshold=threshold, min_confidence=min_confidence)

    def ask(question: str, k: int = service.config.k, mode: str = service.config.retrieval_mode,
            threshold: float | None = None, min_confidence: float | None = None) -> dict:
        """The answer as data: text (None when the documents don't say), confidence, abstained, citations with
        their character offsets, candidates; the shape of `citeqa ask --json`. `min_confidence` is in % (0–100)."""
        try:
            return service.ask(question, k=k, mode=mode, threshold=threshold, min_confidence=min_confidence)[0].to_dict()
        except ValueError as err:  # an empty question, a bad k, mode or min_confidence: the caller's mistake, said plainly
            raise gr.Error(str(err)) from None

    def document(doc_id: str, highlights: str = "") -> dict:
        """One indexed document for "View document" (read-only): title, date, source and its text as segments
        [kind, text], kind "answer", "passage" (the ranges in `highlights`, e.g. p0-60,a22-36) or ""."""
        try:
            return service.document_view(doc_id, highlights)
        except ValueError as err:
            raise gr.Error(str(err)) from None

    gr.api(ask, api_name="ask", api_description="Answer a question from the indexed documents; returns the Answer as JSON.")
    gr.api(document, api_name="document", api_description="One indexed document's text, for View document (read-only).")
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
    """Build what a first run lacks (said on stderr), load the models and answer one question (so the first user
    does not wait for them) while the page is built, then serve the chat. The `citeqa.chat` entry point: `citeqa
    serve` calls it."""
    from qa.answering.reader import ReaderNotInstalledError
    from qa.cli.options import set_offline_environment

    set_offline_environment()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    refusal = sharing_refusal(host, bool(config is not None and config.allow_uploads), auth)
    if refusal is not None:
        raise SystemExit(f"citeqa: error: {refusal}")
    expected = (ReaderNotInstalledError, OSError, ValueError, RuntimeError)
    try:
        service = ChatService.from_config(config, embedder=embedder, prepare=True)
    except expected as err:
        raise SystemExit(f"citeqa: error: {err}") from None
    warm_up = in_background(service.ask, EXAMPLES[0])  # the models load while gradio is imported and the page built
    app = build_app(service)
    try:
        warm_up()
    except expected as err:
        raise SystemExit(f"citeqa: error: {err}") from None
    launch(app, server_name=host, server_port=port, auth=auth, allowed=allowed_hosts(host, extra_hosts))


def in_background(function, *args) -> Callable[[], object]:
    """Start `function(*args)` in a daemon thread; the returned function waits for it and returns its result or
    raises its error."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = function(*args)
        except Exception as err:  # handed to the waiter
            outcome["error"] = err

    thread = threading.Thread(target=run, name="citeqa-warm-up", daemon=True)
    thread.start()

    def wait():
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    return wait


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
