"""Files on disk, for every layer above: content hashes, folder walks and atomic writes (standard library only)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_under(folder: Path) -> list[Path]:
    """The files below `folder`, recursively, hidden names (starting with ".") skipped, sorted by relative path parts."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        found.extend(Path(root, name) for name in names if not name.startswith("."))
    return sorted(found, key=lambda path: path.relative_to(folder).parts)


def write_atomically(path: str | os.PathLike[str], lines: Iterable[str], *, errors: str = "strict") -> int:
    """Write `lines` (UTF-8; `errors` as for `str.encode`) to a temporary file beside `path`, fsync it, then rename
    it over `path`: readers see the old file or the whole new one, never a part. Returns the number of lines; on
    any failure the temporary file goes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", errors=errors, dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    count = 0
    try:
        with handle:
            for line in lines:
                handle.write(line)
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _file_mode(path))
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return count


def _file_mode(path: Path) -> int:
    """The permissions the written file gets: those of the file it replaces, else the usual ones under the umask
    (a temporary file starts private)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
