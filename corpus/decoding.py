"""Bytes of a text file to a str: UTF-8 first, BOM-marked UTF-16/32, then cp1252 for text-looking legacy files."""

from __future__ import annotations

import codecs
import re

from corpus.errors import FileSkipped

# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Control characters other than tab, newline, vertical tab, form feed and carriage return; C1 included.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SAMPLE_CHARS = 65_536
_MAX_CONTROL_SHARE = 0.05


def decode_text(data: bytes) -> str:
    """Decode a text file's bytes, newlines normalised to "\\n".

    UTF-8 with a few invalid bytes stays UTF-8 (the bad bytes become U+FFFD); otherwise cp1252 is tried.

    Raises FileSkipped("binary file") for NUL bytes outside UTF-16/32, or text that is mostly control characters.
    """
    text = normalise_newlines(_decode(data))
    if looks_binary(text):  # judged on the normalised text, as the streaming reader judges its first blocks
        raise FileSkipped("binary file")
    return text


def looks_binary(text: str) -> bool:
    """Whether more than 5% of the first 64K characters of decoded text are control characters."""
    sample = text[:_SAMPLE_CHARS]
    return bool(sample) and len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample)


def normalise_newlines(text: str) -> str:
    """Windows and old-Mac line endings to "\\n"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def sniff_encoding(data: bytes, *, final: bool = True) -> str:
    """The codec for a file's bytes: its BOM's, else UTF-8 (even with a few broken bytes), else cp1252.

    `final` False: `data` is the first block of a longer file, so it may end inside a UTF-8 character.
    Raises FileSkipped("binary file") for NUL bytes without a UTF-16/32 BOM.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if b"\x00" in data:
        raise FileSkipped("binary file")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    damaged = lenient.count("\ufffd")
    if len(_NON_ASCII.findall(lenient)) - damaged > damaged:
        return "utf-8"  # UTF-8 with a few broken bytes: cp1252 would garble all the good characters
    return "cp1252"


def _decode(data: bytes) -> str:
    """A whole file's bytes as text in the codec `sniff_encoding` picks (cp1252 falling back to latin-1)."""
    encoding = sniff_encoding(data)
    if encoding == "utf-8":
        return data.decode("utf-8", errors="replace")  # the bad bytes of nearly-UTF-8 become U+FFFD
    if encoding != "cp1252":  # a BOM's encoding: the whole text must decode
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise FileSkipped(f"undecodable {encoding.upper()} text") from None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, and the control check judges the result.
        return data.decode("latin-1")
