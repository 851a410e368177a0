"""Choose the chunk size: answer recall@k of dense, BM25 and hybrid retrieval over whole SQuAD articles.

Each SQuAD v1.1 dev article (its paragraphs joined by blank lines) is one document, chunked at several
sizes; a question's hit is a top-k chunk containing a gold answer string (A@k).

    python benchmarks/chunk_size.py ../shared/qa-data/squad-v1.1/dev-v1.1.json --sizes 60 120 200 --limit 2000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from corpus.chunking import chunk_documents
from corpus.documents import Document, document_id
from embeddings.embedder import Embedder
from embeddings.sparse import BM25Index
from embeddings.store import FaissStore
from qa.answering.retrievers import reciprocal_rank_fusion
from qa.evaluation.datasets import load_squad


def article_documents(path: Path) -> list[Document]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    documents = []
    for article in raw["data"]:
        text = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        documents.append(Document(document_id(text), article["title"], None, path.name, text))
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 120, 200])
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10])
    args = parser.parse_args()

    documents = article_documents(args.squad)
    examples = load_squad(args.squad)[: args.limit]
    embedder = Embedder()
    question_vectors = embedder.encode([ex.question for ex in examples])
    print(f"{len(documents)} articles, {len(examples)} questions")
    print("| words/chunk | chunks | embed s | mode | " + " | ".join(f"A@{k}" for k in args.ks) + " |")
    print("|---|---|---|---|" + "---|" * len(args.ks))
    for size in args.sizes:
        chunks = chunk_documents(documents, max_words=size, overlap_sentences=1)
        started = time.perf_counter()
        vectors = embedder.encode([c.text for c in chunks])
        embed_seconds = time.perf_counter() - started
        store = FaissStore(vectors.shape[1])
        ids = np.arange(len(chunks))
        store.add(ids, vectors)
        bm25 = BM25Index.build(list(ids), [c.text for c in chunks])
        dense_hits = store.search(question_vectors, 100).ids
        rankings = {"dense": [], "bm25": [], "hybrid": []}
        for row, ex in enumerate(examples):
            dense = [int(i) for i in dense_hits[row] if i >= 0]
            sparse = [i for i, _ in bm25.search(ex.question, 100)]
            rankings["dense"].append(dense)
            rankings["bm25"].append(sparse)
            rankings["hybrid"].append([i for i, _ in reciprocal_rank_fusion([dense, sparse])])
        for mode, ranked in rankings.items():
            recalls = []
            for k in args.ks:
                hits = 0
                for ex, ranking in zip(examples, ranked):
                    texts = [chunks[i].text.lower() for i in ranking[:k]]
                    hits += any(a.lower() in t for a in ex.answers for t in texts)
                recalls.append(100 * hits / len(examples))
            print(f"| {size} | {len(chunks)} | {embed_seconds:.0f} | {mode} | " + " | ".join(f"{r:.1f}" for r in recalls) + " |", flush=True)


if __name__ == "__main__":
    main()
