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
    text = _decode(data)
    sample = text[:_SAMPLE_CHARS]
    if sample and len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise FileSkipped("binary file")
    return normalise_newlines(text)


def normalise_newlines(text: str) -> str:
    """Windows and old-Mac line endings to "\\n"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise FileSkipped(f"undecodable {encoding.upper()} text") from None
    if b"\x00" in data:
        raise FileSkipped("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    damaged = lenient.count("\ufffd")
    if len(_NON_ASCII.findall(lenient)) - damaged > damaged:
        return lenient  # UTF-8 with a few broken bytes: cp1252 would garble all the good characters
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, and the control check judges the result.
        return data.decode("latin-1")
