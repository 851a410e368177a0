"""The `citeqa` command line on real files: index, ask, info, and its error handling."""

import json

import pytest

from qa.cli import main


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text(" date 2024-05-01\nThe volcano erupted on Tuesday near Grindavik. Lava reached the road.", encoding="utf-8")
    (docs / "sub" / "b.md").write_text("# Chess\n\nThe challenger won the final game with the black pieces.", encoding="utf-8")
    (docs / "c.html").write_text("<html><head><title>Prize</title><script>alert(1)</script></head><body><p>The prize fund was two million euros.</p></body></html>", encoding="utf-8")
    (docs / "d.bin").write_bytes(b"\x00\x01\x02binary")
    return docs


def test_index_ask_info_remove(folder, tmp_path, tiny_reader_dir, capsys):
    index = str(tmp_path / "idx")
    assert main(["index", str(folder), "--index", index, "--chunk-words", "30"]) == 0
    out, err = capsys.readouterr()
    assert "added 3 documents" in out and "d.bin" in err

    assert main(["info", "--index", index, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["documents"] == 3 and info["chunking"]["max_words"] == 30
    titles = {d["title"] for d in info["document_list"]}
    assert "Prize" in titles and "Chess" in titles

    assert main(["ask", "Where did the volcano erupt?", "--index", index, "--reader", str(tiny_reader_dir),
                 "--threshold", "-1000", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["text"] and answer["citations"][0]["title"]

    assert main(["ask", "Where did the volcano erupt?", "--index", index, "--reader", str(tiny_reader_dir),
                 "--threshold", "1000"]) == 0
    assert "The documents don't say" in capsys.readouterr().out

    victim = next(d["doc_id"] for d in info["document_list"] if d["title"] == "Prize")
    assert main(["index", "--index", index, "--remove", victim]) == 0
    capsys.readouterr()
    assert main(["info", "--index", index, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["index", "/no/such/place", "--index", "IDX"], "no such file or folder"),
        (["index", "--index", "IDX"], "nothing to do"),
        (["ask", "   ", "--index", "IDX"], "no citeqa index"),
        (["info", "--index", "IDX"], "no citeqa index"),
    ],
)
def test_errors_are_one_line_without_traceback(argv, message, tmp_path, capsys):
    argv = [a.replace("IDX", str(tmp_path / "missing-index")) for a in argv]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_folder_with_nothing_readable_fails_and_leaves_index_alone(tmp_path, capsys):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.bin").write_bytes(b"\x00\x00\x00")
    index = tmp_path / "idx"
    assert main(["index", str(junk), "--index", str(index)]) == 2
    assert "nothing could be indexed" in capsys.readouterr().err
    assert not index.exists()


def test_empty_question_is_an_error(built_index, tiny_reader_dir, capsys):
    assert main(["ask", " ", "--index", str(built_index), "--reader", str(tiny_reader_dir)]) != 0
    assert "question is empty" in capsys.readouterr().err


def test_debug_flag_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="no citeqa index"):
        main(["--debug", "info", "--index", str(tmp_path / "missing")])


def test_the_terminal_answer_marks_the_span_and_says_how_much_was_read():
    from qa.cli.ask_command import format_answer
    from qa.answering.types import Answer, Citation

    passage = "The new entity will start building a data center in Abilene, Texas."
    start = passage.index("Abilene")
    citation = Citation("d1", "Stargate", "2025-01-24", "a.txt", passage, 100 + start, 100 + start + 7, 100, 3.0)
    text = format_answer(Answer("Where?", "Abilene", 3.0, (citation,), passages_read=2))
    assert text.splitlines() == [
        "Abilene",
        "  confidence 95% (score 3.00, 2 passages read)",
        f"[1] Stargate (2025-01-24, a.txt, chars {100 + start}-{107 + start})",
        "    The new entity will start building a data center in [[Abilene]], Texas.",
    ]
    one = format_answer(Answer("Where?", "Abilene", 3.0, (citation,), passages_read=1))
    assert "(score 3.00, 1 passage read)" in one
    abstained = format_answer(Answer("Who?", None, -2.0, (Citation("d1", "Stargate", None, "a.txt", passage, 100, 100, 100, 0.5),)))
    assert abstained.splitlines()[0] == "The documents don't say. Closest passages:"
    assert "[[" not in abstained and "chars" not in abstained


@pytest.mark.parametrize("flag, value", [("--negative-ratio", "1.5"), ("--answer-removed-ratio", "-0.1"),
                                          ("--answer-removed-ratio", "half"), ("--perturbed-ratio", "2")])
def test_train_reader_rejects_a_share_outside_0_to_1(tmp_path, capsys, flag, value):
    train = tmp_path / "train.json"
    train.write_text('{"version": "1.1", "data": []}')
    with pytest.raises(SystemExit) as stopped:
        main(["train-reader", str(train), flag, value])
    assert stopped.value.code == 2
    assert f"expected a share in [0, 1], got {value if value == 'half' else float(value)}" in capsys.readouterr().err.replace("'", "")


def test_one_translator_turns_the_same_flags_into_the_same_config_everywhere(tmp_path):
    """`citeqa ask`, `citeqa eval`, `citeqa serve` and `python ui.py` share flags and their translation to Config."""
    import argparse

    from qa.cli.main import build_parser
    from qa.cli.options import config_from
    from qa.cli.serve_command import add_serve_flags

    flags = ["--index", "idx", "--embedding-backend", "torch", "--k", "7", "--mode", "bm25", "--reader", "r",
             "--threshold=-inf", "--reader-backend", "onnx", "--early-stop-score", "inf"]
    parser = build_parser()
    configs = [config_from(parser.parse_args(["ask", "q?", *flags])),
               config_from(parser.parse_args(["eval", "q.json", *flags])),
               config_from(parser.parse_args(["serve", *flags]))]
    ui_parser = argparse.ArgumentParser()
    add_serve_flags(ui_parser)
    configs.append(config_from(ui_parser.parse_args(flags)))
    assert all(c == configs[0] for c in configs)
    c = configs[0]
    assert (c.index_dir, c.embedding_backend, c.k, c.retrieval_mode, c.reader_model) == ("idx", "torch", 7, "bm25", "r")
    assert c.no_answer_threshold == float("-inf") and c.reader_backend == "onnx" and c.early_stop_score == float("inf")


def test_choice_flags_offer_exactly_their_owners_lists():
    from embeddings.embedder import EMBEDDING_BACKENDS
    from embeddings.store import INDEX_TYPES
    from qa.answering.reader import READER_BACKENDS
    from qa.answering.retrievers import RETRIEVAL_MODES
    from qa.cli.main import build_parser
    from qa.indexing.stores import STORES

    index_parser = build_parser()._subparsers._group_actions[0].choices["index"]
    ask_parser = build_parser()._subparsers._group_actions[0].choices["ask"]
    choices = {a.dest: tuple(a.choices) for p in (index_parser, ask_parser) for a in p._actions if a.choices}
    assert choices["mode"] == RETRIEVAL_MODES and choices["reader_backend"] == READER_BACKENDS
    assert choices["store"] == STORES and choices["embedding_backend"] == EMBEDDING_BACKENDS
    assert choices["index_type"] == ("auto", *INDEX_TYPES)


def test_a_title_cannot_reverse_or_recolour_the_terminal(tmp_path, embedder, tiny_reader_dir, capsys):
    """U+202E (right-to-left override) or an escape sequence in a title is shown as \\uXXXX, not obeyed."""
    article = tmp_path / "a.txt"
    article.write_text(" title Evil \u202egnp.exe \x1b[31mred\n date 2025-01-02\nThe harbour master counts the ships at dawn.\n")
    index = str(tmp_path / "idx")
    assert main(["index", str(article), "--index", index], embedder=embedder) == 0
    capsys.readouterr()
    assert main(["info", "--index", index], embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x1b" not in out and "Evil \\u202egnp.exe" in out
    assert main(["ask", "Who counts the ships?", "--index", index, "--reader", str(tiny_reader_dir), "--threshold=-inf"],
                embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "[1] Evil \\u202egnp.exe" in out


@pytest.mark.parametrize("flag", ["--threshold=nan", "--early-stop-score=nan"])
def test_meaningless_numbers_are_refused_by_name(flag, capsys):
    assert main(["ask", "Who?", flag]) == 2
    err = capsys.readouterr().err
    assert err.startswith("citeqa: error: ") and err.count("\n") == 1
    assert "must be a number (inf and -inf allowed) or None, got nan" in err
