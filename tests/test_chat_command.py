"""`citeqa chat` on a real index and a real tiny reader, with typed lines coming from a fake stdin."""

import io
import sys

import pytest

from qa.answering import pipeline
from qa.cli import main


@pytest.fixture
def chat(built_index, tiny_reader_dir, embedder, monkeypatch, tmp_path):
    """Runs `citeqa chat` over `lines` (a string, or a stdin-like object); counts the models built."""
    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "cache"))
    built = {"assistants": 0, "readers": 0}
    original_from_config, original_reader = pipeline.Assistant.from_config, pipeline.reader_from_config

    def counting_from_config(config=None, **kwargs):
        built["assistants"] += 1
        return original_from_config(config, **kwargs)

    def counting_reader(config):
        built["readers"] += 1
        return original_reader(config)

    monkeypatch.setattr(pipeline.Assistant, "from_config", counting_from_config)
    monkeypatch.setattr(pipeline, "reader_from_config", counting_reader)

    def run(lines):
        monkeypatch.setattr("sys.stdin", io.StringIO(lines) if isinstance(lines, str) else lines)
        code = main(["chat", "--index", str(built_index), "--reader", str(tiny_reader_dir), "--threshold=-inf"],
                    embedder=embedder)
        return code, built

    return run


def error_lines(err: str) -> list[str]:
    """The chat's own error lines (the reader's loading progress also goes to stderr)."""
    return [line for line in err.splitlines() if line.startswith("citeqa")]


def answer_blocks(out: str) -> int:
    return sum(1 for line in out.splitlines() if line.lstrip("> ").startswith("[1] "))


def test_questions_and_a_followup_in_one_session(chat, capsys):
    code, built = chat("Where is the data center?\nWho funds it?\n\nquit\nWhere did the volcano erupt?\n")
    out, err = capsys.readouterr()
    assert code == 0 and error_lines(err) == []
    assert out.startswith("citeqa chat over 3 documents (")
    assert "Ctrl-D to end" in out.splitlines()[0]
    assert answer_blocks(out) == 2  # the empty line is skipped, nothing after quit is read
    assert out.count("(searched together with: ") == 1
    assert "(searched together with: Where is the data center?)" in out
    assert out.index("(searched together with:") > out.index("[1] ")  # the second question's, not the first's
    assert built == {"assistants": 1, "readers": 1}


def test_end_of_input_ends_the_chat(chat, capsys):
    code, built = chat("What is the prize fund?\n")
    out, _ = capsys.readouterr()
    assert code == 0 and answer_blocks(out) == 1 and "searched together" not in out
    assert built["assistants"] == 1


def test_a_bad_question_is_one_line_and_the_chat_goes_on(chat, capsys):
    code, _ = chat("\x01\x02\nWhere did the volcano erupt?\nexit\n")
    out, err = capsys.readouterr()
    assert code == 0
    assert error_lines(err) == ["citeqa: the question is empty: type a question about the documents"]
    assert answer_blocks(out) == 1


class InterruptedInput(io.StringIO):
    """Typed lines, then Ctrl-C."""

    def readline(self, *args):
        line = super().readline(*args)
        if not line:
            raise KeyboardInterrupt
        return line


def test_ctrl_c_ends_the_chat_quietly(chat, capsys):
    code, _ = chat(InterruptedInput("Where is the data center?\n"))
    out, err = capsys.readouterr()
    assert code == 0 and error_lines(err) == [] and answer_blocks(out) == 1
    assert out.endswith("\n")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_history_is_kept_in_the_cache_on_a_terminal(chat, capsys, tmp_path, monkeypatch):
    pytest.importorskip("readline")
    monkeypatch.setenv("TERM", "dumb")
    code, _ = chat(FakeTerminal("Where is the data center?\n"))
    assert code == 0 and answer_blocks(capsys.readouterr().out) == 1
    assert (tmp_path / "cache" / "chat_history").is_file()


def test_a_missing_readline_never_stops_the_chat(chat, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "readline", None)  # `import readline` raises ImportError
    code, _ = chat(FakeTerminal("Where is the data center?\n"))
    assert code == 0 and answer_blocks(capsys.readouterr().out) == 1
    assert not (tmp_path / "cache" / "chat_history").exists()


# -- what the terminal shows of an answer (citeqa ask and citeqa chat print the same) --------------------------


PASSAGE = "The new entity will start building a data center in Abilene, Texas."
AT = PASSAGE.index("Abilene")


def citation(passage=PASSAGE, start=AT, end=AT + 7, doc_id="d1", title="Stargate"):
    from qa.answering.types import Citation

    return Citation(doc_id, title, "2025-01-24", "a.txt", passage, 100 + start, 100 + end, 100, 3.0)


def test_a_calibrated_answer_shows_how_likely_it_is_right_in_words():
    from qa.answering.types import Answer
    from qa.cli.ask_command import format_answer

    text = format_answer(Answer("Where?", "Abilene", 3.0, (citation(),), passages_read=2, probability=0.82,
                                min_confidence=0.7))
    assert text.splitlines()[:2] == ["Abilene", "  likely right, 82 % (score 3.00, 2 passages read)"]
    assert "confidence" not in text
    uncalibrated = format_answer(Answer("Where?", "Abilene", 3.0, (citation(),)))
    assert uncalibrated.splitlines()[1] == "  confidence 95% (score 3.00)"


def test_a_newer_source_preferred_is_said_under_the_differing_sources():
    from dataclasses import replace

    from qa.answering.types import Answer
    from qa.cli.ask_command import format_answer

    older = replace(citation("It opens in 2026.", 12, 16, "old", "Works begin"), date="2023-05-10")
    old = Answer("When will it open?", "2026", 12.3, (older,))
    new = Answer("When will it open?", "summer 2027", 10.8, (citation("It opens in summer 2027.", 12, 23, "new", "Delayed"),),
                 (old,), newer_preferred=True)
    lines = format_answer(new).splitlines()
    assert lines[2:6] == [
        "Sources differ:",
        "  - summer 2027 — Delayed (2025-01-24)",
        "  - 2026 — Works begin (2023-05-10)",
        "The newer source is preferred for a question about something that changes: summer 2027 (Delayed, 2025-01-24) "
        "over 2026 (Works begin, 2023-05-10).",
    ]
    assert lines[6].startswith("[1] Delayed")
    assert "newer source" not in format_answer(Answer(new.question, new.text, new.score, new.citations, (old,)))


def test_an_unsure_abstention_shows_the_best_guess_as_one():
    from qa.answering.types import Answer
    from qa.cli.ask_command import format_answer

    funding = "Funded by SoftBank and others."
    guess = Answer("Who funds it?", "SoftBank", -0.4, (citation(funding, 10, 18, "d2", "Funding"),), probability=0.35)
    unsure = Answer("Who funds it?", None, -0.4, (citation(start=0, end=0),), (guess,), probability=0.35,
                    min_confidence=0.7, unsure=True)
    assert format_answer(unsure).splitlines() == [
        "Not sure. Best guess, low confidence: SoftBank [1]",
        "  uncertain, 35 % (score -0.40)",
        "[1] Funding (2025-01-24, a.txt, chars 110-118)",
        "    Funded by [[SoftBank]] and others.",
    ]
    sure_nothing = Answer("Who?", None, -3.0, (citation(start=0, end=0),), (guess,), unsure=False)
    assert format_answer(sure_nothing).splitlines()[0] == "The documents don't say. Closest passages:"
    assert "SoftBank" not in format_answer(sure_nothing)


def test_the_chat_prints_the_uncalibrated_confidence_without_a_calibrator(chat, capsys):
    code, _ = chat("Where is the data center?\n")
    out, _ = capsys.readouterr()
    assert code == 0 and "  confidence " in out and " % (score " not in out


def test_a_calibrated_reader_s_chat_prints_words_and_the_best_guess(built_index, tiny_reader_dir, embedder, capsys,
                                                                    tmp_path, monkeypatch):
    from test_ui import with_even_odds_calibrator

    reader = with_even_odds_calibrator(tiny_reader_dir, tmp_path / "reader")  # every answer 50 % likely right
    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("sys.stdin", io.StringIO("Where is the data center?\n"))
    assert main(["chat", "--index", str(built_index), "--reader", str(reader)], embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "Not sure. Best guess, low confidence: " in out and "  possibly right, 50 % (score " in out
    monkeypatch.setattr("sys.stdin", io.StringIO("Where is the data center?\n"))
    assert main(["chat", "--index", str(built_index), "--reader", str(reader), "--min-confidence", "40%"],
                embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "Not sure" not in out and "  possibly right, 50 % (score " in out and answer_blocks(out) == 1
