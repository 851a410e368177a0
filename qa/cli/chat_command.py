"""`citeqa chat`: questions in a loop on the terminal, the models loaded once; short follow-ups ("Who funds
it?") are searched together with the earlier question they lean on, as in the web chat."""

from __future__ import annotations

import sys

from qa.cli.ask_command import format_answer
from qa.cli.options import add_answer_flags, add_index_flags, config_from, terminal_text

EXIT_WORDS = frozenset({"exit", "quit"})
HISTORY_LENGTH = 1000


def add_chat(sub) -> None:
    p = sub.add_parser("chat", help="ask questions one after another on the terminal (follow-ups understood)")
    add_index_flags(p)
    add_answer_flags(p)


def _history_file():
    from embeddings.cache import cache_root

    return cache_root() / "chat_history"


def _start_history():
    """Line editing and history when the terminal allows (readline present, stdin a TTY); returns the module
    or None. A missing or unreadable history never stops the chat."""
    try:
        if not sys.stdin.isatty():
            return None
        import readline
    except (ImportError, AttributeError, ValueError, OSError):
        return None
    try:
        readline.set_history_length(HISTORY_LENGTH)
        path = _history_file()
        if path.is_file():
            readline.read_history_file(str(path))
    except OSError:
        pass
    return readline


def _save_history(readline) -> None:
    if readline is None:
        return
    try:
        path = _history_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(str(path))
    except OSError:
        pass


def _questions():
    """The lines typed, stripped, until EOF or an exit word; empty lines skipped."""
    while True:
        try:
            line = input("> ")
        except EOFError:
            print()
            return
        question = line.strip()
        if not question:
            continue
        if question.lower() in EXIT_WORDS:
            return
        yield question


def run_chat(args, models) -> int:
    from qa.answering.followup import anchor_question, retrieval_query
    from qa.answering.pipeline import Assistant

    config = config_from(args)
    assistant = Assistant.from_config(config, embedder=models.embedder(config))
    documents = len(assistant.index.documents())
    print(f"citeqa chat over {documents} document{'' if documents == 1 else 's'} "
          f"({terminal_text(assistant.index.location)}); Ctrl-D to end", flush=True)
    readline = _start_history()
    previous: list[str] = []
    try:
        for question in _questions():
            if not assistant.index.is_current():  # a write replaced the index: same models, its new version
                assistant = assistant.reopened()
            anchor = anchor_question(question, previous)
            try:
                answer = assistant.answer(question, retrieval_query=retrieval_query(question, previous) if anchor else None)
            except ValueError as err:
                print(f"citeqa: {err}", file=sys.stderr, flush=True)
                continue
            previous.append(question)
            if anchor:
                print(f"(searched together with: {terminal_text(anchor)})")
            print(format_answer(answer))
            print(flush=True)
    except KeyboardInterrupt:
        print()
    finally:
        _save_history(readline)
    return 0
