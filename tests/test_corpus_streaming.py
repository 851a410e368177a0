"""Huge text files stream in parts: same text as a whole-file load, bounded memory, clear skips."""

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from corpus.decoding import decode_text
from corpus.errors import FileSkipped
from corpus.loaders import load_path, stream_path
from corpus.streaming import iter_text_parts


def words(text: str) -> list[str]:
    return text.split()


def paragraphs(n: int, seed: str = "word") -> str:
    return "\n\n".join(" ".join(f"{seed}{i}-{j}." for j in range(40)) for i in range(n))


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=6_000)
    .map(lambda t: t.replace("\x00", "")),
    block=st.integers(1, 50),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
@example(text="0000\x1f\x1f\n", block=1, newline="\r")  # 5 % control characters before "\r\n" became "\n", over after
def test_parts_hold_the_whole_text_in_order(tmp_path_factory, text, block, newline):
    body = "para one ends here.\n\n" + text.replace("\n", newline) + "\n\nlast words"
    path = tmp_path_factory.mktemp("s") / "big.txt"
    path.write_bytes(body.encode("utf-8"))
    try:
        expected = decode_text(body.encode("utf-8"))
    except FileSkipped:
        with pytest.raises(FileSkipped):
            list(iter_text_parts(path, part_chars=1_000, block_bytes=block))
        return
    parts = list(iter_text_parts(path, part_chars=1_000, block_bytes=block))
    assert words(" ".join(p.text for p in parts)) == words(expected)
    assert all(p.text == p.text.strip() and p.text for p in parts)
    assert all(len(p.text) <= 1_000 + block + 4 for p in parts[:-1])
    assert [p.title.rsplit("(part ", 1)[1] for p in parts] == [f"{i})" for i in range(1, len(parts) + 1)]


def test_cuts_fall_on_paragraphs_and_metadata_comes_from_the_head(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text(" title The Big Log\n date 2025-01-22\n\n" + paragraphs(200), encoding="utf-8")
    parts = list(iter_text_parts(path, part_chars=5_000, block_bytes=333))
    assert len(parts) > 10
    assert all(p.title.startswith("The Big Log (part ") and p.date == "2025-01-22" for p in parts)
    assert all(p.text.endswith(".") for p in parts)  # every cut fell at a paragraph end
    assert "The Big Log" not in parts[0].text


def test_legacy_encodings_stream_like_whole_files(tmp_path):
    text = "Caf\u00e9 cr\u00e8me \u2013 na\u00efve r\u00e9sum\u00e9. " * 300
    for encoding in ("cp1252", "utf-16"):
        path = tmp_path / f"{encoding}.txt"
        path.write_bytes(text.encode(encoding))
        parts = list(iter_text_parts(path, part_chars=1_000, block_bytes=101))
        assert words(" ".join(p.text for p in parts)) == words(decode_text(path.read_bytes()))


def test_binary_and_empty_files_are_skipped(tmp_path):
    (tmp_path / "zeros.txt").write_bytes(b"\x00\x01" * 5_000)
    (tmp_path / "blank.txt").write_bytes(b" \n\n \r\n" * 500)
    with pytest.raises(FileSkipped, match="binary"):
        list(iter_text_parts(tmp_path / "zeros.txt", part_chars=1_000))
    with pytest.raises(FileSkipped, match="empty"):
        list(iter_text_parts(tmp_path / "blank.txt", part_chars=1_000))
    stream = stream_path(tmp_path, stream_bytes=100, part_chars=1_000)
    assert list(stream) == []
    assert sorted((s.path.rsplit("/", 1)[1], s.reason) for s in stream.skipped) == [
        ("blank.txt", "empty"), ("zeros.txt", "binary file")]


def test_stream_path_streams_big_text_files_and_loads_the_rest_whole(tmp_path):
    (tmp_path / "a-small.md").write_text("# Small\n\nA short note about ducks.", encoding="utf-8")
    (tmp_path / "b-big.txt").write_text(paragraphs(100), encoding="utf-8")
    (tmp_path / "c-copy.txt").write_text(paragraphs(100), encoding="utf-8")
    stream = stream_path(tmp_path, stream_bytes=10_000, part_chars=2_000)
    titles = [d.title for d in stream]
    assert titles[0] == "Small" and all("(part " in t for t in titles[1:]) and len(titles) > 5
    assert len(stream.duplicates) == len(titles) - 1, "every part of the copy is a duplicate"
    assert stream.origins[1][1].endswith("b-big.txt (part 1)")
    report = load_path(tmp_path)  # below the default stream size: each file is one document
    assert len(report.documents) == 2 and not report.documents[1].title.endswith(")")
    assert report.duplicates[0][0].endswith("c-copy.txt")


@pytest.mark.slow
def test_a_200_mb_text_file_loads_and_chunks_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:  # every paragraph differs, so no part is a duplicate of another
        written, number = 0, 0
        while written < 200_000_000:
            number += 1
            paragraph = " ".join(f"Entry {number}.{i} of the log says value {i * 7} was seen." for i in range(12)) + "\n\n"
            written += fh.write(paragraph.encode())
    script = textwrap.dedent(f"""
        import json
        from corpus.chunking import chunk_document
        from corpus.loaders import stream_path
        parts = chunks = chars = 0
        for document in stream_path({str(path)!r}):
            parts += 1
            chars += len(document.text)
            chunks += len(chunk_document(document))
        # VmHWM is this program's own peak; ru_maxrss would include the parent's, as it survives exec
        peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
        print(json.dumps({{"parts": parts, "chunks": chunks, "chars": chars, "peak_mb": peak_kb / 1024}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    print("200 MB text file:", figures)
    assert figures["chars"] > 199_000_000 and figures["parts"] >= 50
    assert figures["peak_mb"] < 160, f"peak RSS {figures['peak_mb']:.0f} MB for a 200 MB file"
