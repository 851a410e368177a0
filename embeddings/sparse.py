"""BM25 keyword index (bm25s, English stop words and Snowball stemming) over chunk texts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

IDS_FILE = "chunk_ids.npy"


def _stemmer():
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


def analyze(texts: list[str]) -> list[list[str]]:
    """The terms BM25 indexes for each text (lowercase, English stop words out, Snowball stems)."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False)


class BM25Index:
    """Maps a query to chunk ids by BM25 score; rebuilt whole on change (it takes well under a second per 10k chunks)."""

    def __init__(self, retriever, chunk_ids: np.ndarray):
        self._retriever = retriever
        self.chunk_ids = chunk_ids
        self._stemmer = _stemmer()

    @classmethod
    def build(cls, chunk_ids: list[int], texts: list[str]) -> "BM25Index":
        import bm25s

        retriever = bm25s.BM25(k1=1.5, b=0.75)
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(retriever, np.asarray(chunk_ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk id, score) pairs, best first; only chunks sharing a term with the query."""
        import bm25s

        if len(self) == 0 or k <= 0:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False)[0]
        vocab = self._retriever.vocab_dict
        term_ids = [vocab[t] for t in tokens if t in vocab]
        if not term_ids:
            return []
        scores = self._retriever.get_scores(term_ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / IDS_FILE, self.chunk_ids)
        if len(self):
            self._retriever.save(str(folder), show_progress=False)
        else:
            (folder / "empty.json").write_text(json.dumps({"empty": True}))

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        import bm25s

        chunk_ids = np.load(folder / IDS_FILE)
        if len(chunk_ids) == 0:
            return cls(bm25s.BM25(), chunk_ids)
        return cls(bm25s.BM25.load(str(folder), show_progress=False), chunk_ids)
