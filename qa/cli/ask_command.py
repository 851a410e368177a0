"""`citeqa ask`: one question, its answer and citations on the terminal (or as JSON)."""

from __future__ import annotations

import json

from qa.answering.citing import BEST_GUESS_TEXT, NOT_FOUND_TEXT, one_line
from qa.answering.disagreement import NEWER_PREFERRED_TEXT, differing_answers, newer_preferred_over
from qa.answering.types import confidence_words
from qa.cli.options import add_answer_flags, add_index_flags, config_from, terminal_text


def add_ask(sub) -> None:
    p = sub.add_parser("ask", help="answer a question from the indexed documents, with citations")
    p.add_argument("question")
    add_index_flags(p)
    add_answer_flags(p)
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")


def differing_lines(answer) -> list[str]:
    """When strong answers from different documents differ: "Sources differ:", one line per answer
    (`answer — title (date)`, newest first) and, when the newest is not the chosen answer, what it says."""
    differing = differing_answers(answer)
    if not differing:
        return []
    lines = ["Sources differ:"]
    for item in differing:
        first = item.citations[0]
        lines.append(f"  - {terminal_text(one_line(item.text))} — {terminal_text(first.title)} "
                     f"({terminal_text(first.date or 'undated')})")
    if differing[0] is not answer:
        lines.append(f"The newest source says: {terminal_text(one_line(differing[0].text))}")
    return lines


def newer_preferred_lines(answer) -> list[str]:
    """When a time-sensitive question took the newest dated source's answer over a differing one, one line saying
    so: `The newer source is preferred ...: summer 2027 (Bridge delayed, 2025-03-14) over 2026 (...).`"""
    displaced = newer_preferred_over(answer)
    if displaced is None:
        return []

    def source(item) -> str:
        first = item.citations[0]
        return (f"{terminal_text(one_line(item.text))} ({terminal_text(first.title)}, "
                f"{terminal_text(first.date or 'undated')})")

    return [f"{NEWER_PREFERRED_TEXT} {source(answer)} over {source(displaced)}."]


def confidence_line(answer) -> str:
    """`  likely right, 82 % (score 3.00, 2 passages read)` with a calibrated probability; without one, today's
    `  confidence 95% (score 3.00, ...)`."""
    read = f", {answer.passages_read} passage{'s' if answer.passages_read != 1 else ''} read" if answer.passages_read else ""
    label = confidence_words(answer.probability) if answer.probability is not None else f"confidence {answer.confidence:.0%}"
    return f"  {label} (score {answer.score:.2f}{read})"


def citation_lines(citations, *, spans: bool, mark=("[[", "]]")) -> list[str]:
    """Numbered citations, each with its passage on the next line; with `spans`, the answer's offsets and the span
    marked in the passage."""
    lines = []
    for number, citation in enumerate(citations, start=1):
        head = f"[{number}] {terminal_text(citation.title)}"
        details = [terminal_text(d) for d in (citation.date, citation.source, f"page {citation.page}" if citation.page else None) if d]
        if spans:
            details.append(f"chars {citation.start}-{citation.end}")
        lines.append(head + (f" ({', '.join(details)})" if details else ""))
        a, b = citation.answer_start_in_passage, citation.answer_end_in_passage
        passage = citation.passage
        if spans and b > a:
            passage = passage[:a] + mark[0] + passage[a:b] + mark[1] + passage[b:]
        lines.append("    " + terminal_text(one_line(passage)))
    return lines


def format_answer(answer, *, mark=("[[", "]]")) -> str:
    """The terminal rendering of an Answer: the answer and its confidence (in words and % when calibrated), numbered
    citations with the span marked; an unsure abstention shows its best guess labelled as such, with its citations."""
    guess = answer.best_guess
    if guess is not None:
        marker = " [1]" if guess.citations else ""
        lines = [f"{BEST_GUESS_TEXT} {terminal_text(one_line(guess.text))}{marker}", confidence_line(guess)]
        return "\n".join(lines + citation_lines(guess.citations, spans=True, mark=mark))
    if answer.text is None:
        lines = [f"{NOT_FOUND_TEXT} Closest passages:"]
        return "\n".join(lines + citation_lines(answer.citations, spans=False))
    lines = [terminal_text(one_line(answer.text)), confidence_line(answer), *differing_lines(answer),
             *newer_preferred_lines(answer)]
    return "\n".join(lines + citation_lines(answer.citations, spans=True, mark=mark))


def run_ask(args, models) -> int:
    from qa.answering.pipeline import Assistant, reader_from_config
    from qa.cli.first_run import prepare

    config = config_from(args)
    embedder, reader = models.embedder(config), reader_from_config(config)
    prepare(config, embedder, reader)  # a first run: what it builds, one line per step on stderr
    assistant = Assistant.from_config(config, embedder=embedder, reader=reader)
    answer = assistant.answer(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer))
    return 0
