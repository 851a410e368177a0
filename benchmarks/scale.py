"""Vector-index scale benchmark: exact (flat), HNSW and IVF-PQ at 10k, 100k and 1M chunks.

For each size and index type: build seconds, serialized index bytes, process RSS growth while building,
load time and RSS after a memory-mapped load, single-query search p50/p95 (batch 1, 2 FAISS threads) and
recall@10 against exact search, at several search settings (HNSW efSearch, IVF nprobe) so the
speed/recall trade-off is visible; the table shows the setting citeqa ships (`embeddings/store.py`).

Vectors:
- real: the chunks (120 words, 1 sentence overlap, as `citeqa index` makes them) of randomly chosen SQuAD
  v1.1 train paragraphs, 10,000 chunks, embedded once with the packaged MiniLM and cached under
  ~/.cache/citeqa/bench/ (never in the repository);
- synthetic beyond 10k: each extra vector is a random real chunk vector plus anisotropic Gaussian noise
  (shaped by the covariance of the real vectors, so it stays in the subspace the model uses), then
  renormalised. The noise scale is set so a synthetic vector's cosine to its parent equals the median
  cosine of a real chunk to its nearest real neighbour: the synthetic set keeps the real data's cluster
  structure and neighbour distances. (Uniform random unit vectors would have no such structure.)
- queries: 1,000 SQuAD train questions about the chosen paragraphs, embedded with the same model.

Each (size, type) runs in a fresh child process so its RSS figures are its own. Ground truth (exact top
10) is computed once per size with the flat index and cached.

    python benchmarks/scale.py --sizes 10000 100000 1000000 --types flat hnsw ivfpq \
        --out benchmarks/results/scale.json          # merges into an existing file

Timed runs belong on an otherwise idle machine (here: through /work/quiet.sh, one size per run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_info  # noqa: E402

CACHE = Path(os.environ.get("CITEQA_BENCH_CACHE", Path.home() / ".cache" / "citeqa" / "bench"))
TRAIN = ROOT.parent / "shared" / "qa-data" / "squad-v1.1" / "train-v1.1.json"
REAL_CHUNKS = 10_000
QUERIES = 1_000
K = 10
SWEEP = {"hnsw": [16, 32, 64, 96, 128, 192, 256], "ivfpq": [4, 8, 16, 32, 64, 128]}


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- data


def real_vectors(train: Path = TRAIN) -> tuple[np.ndarray, np.ndarray]:
    """(10,000 real chunk vectors, 1,000 question vectors), embedded once and cached."""
    chunks_path, queries_path = CACHE / f"squad-train-chunks-{REAL_CHUNKS}.npy", CACHE / f"squad-train-questions-{QUERIES}.npy"
    if chunks_path.exists() and queries_path.exists():
        return np.load(chunks_path), np.load(queries_path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from corpus.chunking import chunk_document
    from corpus.documents import Document, document_id
    from embeddings.embedder import Embedder
    from qa.answering.config import Config
    from qa.evaluation.datasets import load_squad

    config = Config()
    examples = load_squad(train)
    by_context: dict[str, list] = {}
    for example in examples:
        by_context.setdefault(example.context, []).append(example)
    contexts = sorted(by_context)
    rng = np.random.default_rng(0)
    rng.shuffle(contexts)
    chunks, chosen = [], []
    for context in contexts:
        document = Document(document_id(context), by_context[context][0].title or "", None, "train", context)
        parts = chunk_document(document, max_words=config.chunk_words, overlap_sentences=config.chunk_overlap_sentences)
        if len(chunks) + len(parts) > REAL_CHUNKS:
            break
        chunks.extend(parts)
        chosen.append(context)
    questions = [e.question for context in chosen for e in by_context[context]]
    picked = rng.choice(len(questions), size=QUERIES, replace=False)
    embedder = Embedder(config.embedding_model)
    started = time.perf_counter()
    chunk_vectors = embedder.encode([c.text for c in chunks], show_progress=True)
    seconds = time.perf_counter() - started
    query_vectors = embedder.encode([questions[i] for i in picked])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(chunks_path, chunk_vectors)
    np.save(queries_path, query_vectors)
    (CACHE / "real-vectors.json").write_text(json.dumps({
        "chunks": len(chunks), "paragraphs": len(chosen), "queries": QUERIES, "model": embedder.name,
        "embed_seconds": seconds, "chunks_per_s": len(chunks) / seconds}, indent=2))
    print(f"embedded {len(chunks)} chunks of {len(chosen)} paragraphs in {seconds:.0f} s "
          f"({len(chunks) / seconds:.1f} chunks/s, not an idle-machine figure)", file=sys.stderr)
    return chunk_vectors, query_vectors


def noise_scale(real: np.ndarray, chol: np.ndarray, rng) -> tuple[float, float]:
    """The noise multiplier whose parent cosine matches the median real nearest-neighbour cosine."""
    sample = real[rng.choice(len(real), size=min(2000, len(real)), replace=False)]
    sims = sample @ real.T
    sims[sims > 0.99999] = -1  # itself (and exact duplicates)
    target = float(np.median(sims.max(axis=1)))
    noise = rng.standard_normal((len(sample), real.shape[1])).astype(np.float32) @ chol.T
    low, high = 0.0, 10.0
    for _ in range(40):
        alpha = (low + high) / 2
        x = sample + alpha * noise
        cos = float(np.median(np.sum(x * sample, axis=1) / np.linalg.norm(x, axis=1)))
        low, high = (alpha, high) if cos > target else (low, alpha)
    return (low + high) / 2, target


def dataset(size: int) -> np.ndarray:
    """`size` unit vectors: the real ones first, synthetic ones after (deterministic, cached)."""
    real, _ = real_vectors()
    if size <= len(real):
        return real[:size]
    path = CACHE / f"synthetic-{size}.npy"
    if path.exists():
        return np.load(path)
    rng = np.random.default_rng(size)
    centred = real - real.mean(axis=0)
    cov = (centred.T @ centred) / len(real) + 1e-6 * np.eye(real.shape[1])
    chol = np.linalg.cholesky(cov).astype(np.float32)
    alpha, target = noise_scale(real, chol, rng)
    out = np.empty((size, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for begin in range(len(real), size, 100_000):
        end = min(size, begin + 100_000)
        parents = real[rng.integers(0, len(real), size=end - begin)]
        x = parents + alpha * (rng.standard_normal((end - begin, real.shape[1])).astype(np.float32) @ chol.T)
        out[begin:end] = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.save(path, out)
    (CACHE / f"synthetic-{size}.json").write_text(json.dumps({"noise_scale": alpha, "target_parent_cosine": target}))
    return out


def ground_truth(size: int, vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    path = CACHE / f"truth-{size}-q{len(queries)}-k{K}.npy"
    if path.exists():
        return np.load(path)
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    truth = np.concatenate([index.search(queries[i : i + 100], K)[1] for i in range(0, len(queries), 100)])
    np.save(path, truth)
    return truth


# ---------------------------------------------------------------- one measurement (child process)


def measure(size: int, kind: str) -> dict:
    import faiss

    from embeddings.store import create_store, load_store

    faiss.omp_set_num_threads(2)
    vectors = np.ascontiguousarray(dataset(size))
    _, queries = real_vectors()
    truth = ground_truth(size, vectors, queries)
    ids = np.arange(size, dtype=np.int64)  # ids = row numbers, so recall compares with flat's rows

    before = rss_bytes()
    started = time.perf_counter()
    store = create_store(kind, vectors.shape[1])
    store.add(ids, vectors)
    build_seconds = time.perf_counter() - started
    build_rss = rss_bytes() - before
    folder = Path(tempfile.mkdtemp(prefix="citeqa-scale-"))
    path = folder / "vectors.faiss"
    store.save(path)
    index_bytes = sum(p.stat().st_size for p in folder.iterdir())
    settings = store.settings()
    del store

    del vectors
    before = rss_bytes()
    started = time.perf_counter()
    store = load_store(kind, path, mmap=True)
    load_seconds = time.perf_counter() - started
    load_rss = rss_bytes() - before

    rows = []
    sweep = SWEEP.get(kind, [None])
    default = store.search_setting()
    if default is not None and default not in sweep:
        sweep = sorted([*sweep, default])
    for setting in sweep:
        if setting is not None:
            store.set_search_setting(setting)
        for q in queries[:20]:
            store.search(q[None, :], K)  # warm up
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            hits = store.search(q[None, :], K)
            times.append(time.perf_counter() - t)
            found.append(hits.ids[0])
        recall = float(np.mean([len(set(map(int, f)) & set(map(int, t))) / K for f, t in zip(found, truth)]))
        ms = np.array(times) * 1000
        rows.append({"setting": setting, "default": setting == default, "recall_at_10": recall,
                     "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))})
    searched_rss = rss_bytes() - before
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return {"size": size, "type": kind, "settings": settings, "build_seconds": build_seconds,
            "build_rss_mb": build_rss / 1e6, "index_mb": index_bytes / 1e6, "mmap_load_seconds": load_seconds,
            "mmap_load_rss_mb": load_rss / 1e6, "rss_after_search_mb": searched_rss / 1e6,
            "queries": len(queries), "search": rows}


# ---------------------------------------------------------------- driver


def table(report: dict) -> str:
    """The markdown table of benchmarks/README.md: one row per (size, type) at its shipped setting."""
    lines = ["| chunks | index | setting | build s | index MB | build RSS MB | mmap load RSS MB | p50 ms | p95 ms | recall@10 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    from embeddings.store import HNSW_EF_SEARCH, IVF_NPROBE

    knob = {"hnsw": "efSearch", "ivfpq": "nprobe"}
    shipped = {"flat": None, "hnsw": HNSW_EF_SEARCH, "ivfpq": IVF_NPROBE}  # the settings this citeqa ships
    for r in report["runs"]:
        best = next((s for s in r["search"] if s["setting"] == shipped[r["type"]]), r["search"][0])
        setting = "exact" if best["setting"] is None else f"{knob[r['type']]} {best['setting']}"
        lines.append(f"| {r['size']:,} | {r['type']} | {setting} | {r['build_seconds']:.1f} | {r['index_mb']:.0f} | "
                     f"{r['build_rss_mb']:.0f} | {r['mmap_load_rss_mb']:.0f} | {best['p50_ms']:.2f} | {best['p95_ms']:.2f} | "
                     f"{best['recall_at_10']:.3f} |")
    lines += ["", "Search settings swept (recall@10 / p50 ms):", ""]
    for r in report["runs"]:
        if r["type"] != "flat":
            sweep = ", ".join(f"{s['setting']}: {s['recall_at_10']:.3f} / {s['p50_ms']:.2f}" for s in r["search"])
            lines.append(f"- {r['size']:,} {r['type']} ({knob[r['type']]}): {sweep}")
    return "\n".join(lines)


def _machine() -> dict:
    import faiss

    return machine_info(faiss=faiss.__version__, faiss_threads=2, numpy=np.__version__)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--types", nargs="+", default=["flat", "hnsw", "ivfpq"], choices=["flat", "hnsw", "ivfpq"])
    parser.add_argument("--out", type=Path, default=None, help="merge the rows into this JSON file")
    parser.add_argument("--prepare", action="store_true", help="only embed/synthesise the vectors and ground truth")
    parser.add_argument("--table", type=Path, default=None, metavar="JSON", help="print the markdown table of a results file")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "TYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0
    if args.child:
        print(json.dumps(measure(int(args.child[0]), args.child[1])))
        return 0
    _, queries = real_vectors()
    for size in args.sizes:
        ground_truth(size, dataset(size), queries)
    if args.prepare:
        return 0
    report = {"runs": []}
    if args.out and args.out.exists():
        report = json.loads(args.out.read_text(encoding="utf-8"))
    for size in args.sizes:
        for kind in args.types:
            child = subprocess.run([sys.executable, __file__, "--child", str(size), kind], capture_output=True, text=True, cwd=ROOT)
            if child.returncode != 0:
                print(child.stderr, file=sys.stderr)
                print(f"{size} {kind}: failed (exit {child.returncode})", file=sys.stderr)
                return 1
            row = json.loads(child.stdout.strip().splitlines()[-1])
            row["date"] = time.strftime("%Y-%m-%d", time.gmtime())
            row["command"] = " ".join(["python", "benchmarks/scale.py", "--sizes", str(size), "--types", kind])
            best = next(r for r in row["search"] if r["default"]) if any(r["default"] for r in row["search"]) else row["search"][0]
            print(f"{size:>9} {kind:<6} build {row['build_seconds']:8.1f} s  index {row['index_mb']:8.1f} MB  "
                  f"p50 {best['p50_ms']:7.2f} ms  p95 {best['p95_ms']:7.2f} ms  recall@10 {best['recall_at_10']:.3f}", flush=True)
            report["runs"] = [r for r in report["runs"] if (r["size"], r["type"]) != (size, kind)] + [row]
            report["runs"].sort(key=lambda r: (r["size"], ["flat", "hnsw", "ivfpq"].index(r["type"])))
            report["machine"] = _machine()
            real_meta = CACHE / "real-vectors.json"
            report["data"] = {"real": json.loads(real_meta.read_text()) if real_meta.exists() else None,
                              "synthetic": {str(s): json.loads((CACHE / f"synthetic-{s}.json").read_text())
                                            for s in sorted({r["size"] for r in report["runs"]})
                                            if (CACHE / f"synthetic-{s}.json").exists()}}
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
