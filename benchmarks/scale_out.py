"""Scale-out measurements for docs/scale.md: Ray indexing throughput, Milvus Lite vs FAISS search, hybrid agreement.

    python benchmarks/scale_out.py prepare     # embed the 100k-chunk set once (cache; not timed)
    python benchmarks/scale_out.py index --mode plain|ray --workers N [--limit P]   # chunks/s on SQuAD train paragraphs
    python benchmarks/scale_out.py search      # latency and recall@10: FAISS flat vs Milvus Lite FLAT and HNSW, BM25, hybrid
    python benchmarks/scale_out.py answers     # hybrid answers over the bundled articles: FAISS vs Milvus

Each writes benchmarks/results/scale-*.json. Run the timed ones through /work/quiet.sh (training paused).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.machine import machine_info  # noqa: E402

TRAIN = Path(__file__).resolve().parent.parent.parent / "shared/qa-data/squad-v1.1/train-v1.1.json"
RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(os.environ.get("CITEQA_CACHE", Path.home() / ".cache" / "citeqa")) / "bench-scale"
SET_SIZE = int(os.environ.get("SCALE_SET_SIZE", 100_000))  # smaller only for smoke runs
SET_WORDS = 30  # 30-word chunks, no overlap: 104,266 chunks from the train paragraphs; the first 100,000 are the set


def machine() -> dict:
    import torch

    return machine_info(torch=torch.__version__, torch_threads=torch.get_num_threads())


def write(name: str, report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scale-{name}.json"
    path.write_text(json.dumps({**report, "machine": machine(), "command": " ".join(sys.argv)}, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {path}")


def train_documents(limit: int | None = None):
    from qa.evaluation.run import paragraph_documents

    documents = paragraph_documents(TRAIN)
    return documents if limit is None else documents[:limit]


def write_shards(documents, folder: Path, shards: int) -> None:
    """The paragraphs as JSONL files (so Ray has files to read in parallel)."""
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with (folder / f"part-{shard:03d}.jsonl").open("w", encoding="utf-8") as fh:
            for document in documents[shard::shards]:
                fh.write(json.dumps({"title": document.title, "text": document.text, "source": document.source}) + "\n")


def run_index(args) -> None:
    from corpus.chunking import ChunkingSettings
    from embeddings.embedder import Embedder
    from embeddings.index import update_index
    from qa.answering.config import Config

    documents = train_documents(args.limit)
    work = Path(tempfile.mkdtemp(prefix="scale-index-"))
    try:
        embedder = Embedder()
        _ = embedder.dimension  # model loaded before the clock starts, as a Ray actor loads it before its first batch
        if args.mode == "plain":
            started = time.monotonic()
            report = update_index(work / "idx", embedder, add=documents, chunking=ChunkingSettings(120, 1))
            seconds = time.monotonic() - started
            result = {"mode": "plain", "threads": __import__("torch").get_num_threads(), "documents": len(report.added),
                      "chunks": report.chunks_embedded, "seconds": round(seconds, 1),
                      "chunks_per_second": round(report.chunks_embedded / seconds, 1)}
        else:
            from qa.indexing.ray_indexing import index_with_ray

            write_shards(documents, work / "corpus", args.shards)
            started = time.monotonic()
            target = Config(index_dir=str(work / "idx")).index_target
            outcome = index_with_ray(target, [str(work / "corpus")], workers=args.workers,
                                     embedder=embedder, threads_per_worker=args.threads)
            total = time.monotonic() - started
            result = {"mode": "ray", "workers": outcome.workers, "threads_per_worker": args.threads, "files": outcome.files,
                      "documents": outcome.documents, "chunks": outcome.chunks, "failed": len(outcome.failed),
                      "pipeline_seconds": round(outcome.seconds, 1), "ray_start_seconds": round(outcome.ray_start_seconds, 1),
                      "total_seconds": round(total, 1), "chunks_per_second": round(outcome.chunks_per_second, 1),
                      "chunks_per_second_with_start": round(outcome.chunks / total, 1)}
        result.update(paragraphs=len(documents), embedder=embedder.name, embedding_backend=embedder.backend)
        from corpus.chunking import chunk_document  # outside the clock: the capacity plan scales by passage length

        words = [len(c.text.split()) for d in documents for c in chunk_document(d, max_words=120, overlap_sentences=1)]
        result["mean_words_per_chunk"] = round(sum(words) / len(words), 1)
        name = f"index-{args.mode}" + (f"-{args.workers}w" if args.mode == "ray" else "")
        write(name, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def chunk_set():
    from corpus.chunking import chunk_document

    chunks = [c for d in train_documents() for c in chunk_document(d, max_words=SET_WORDS, overlap_sentences=0)]
    return chunks[:SET_SIZE]


def run_prepare(args) -> None:
    from embeddings.embedder import Embedder

    CACHE.mkdir(parents=True, exist_ok=True)
    chunks = chunk_set()
    embedder = Embedder()
    started = time.monotonic()
    vectors = np.concatenate([embedder.encode([c.text for c in chunks[i : i + 2048]]) for i in range(0, len(chunks), 2048)])
    np.save(CACHE / "vectors.npy", vectors)
    print(f"embedded {len(chunks)} chunks in {time.monotonic() - started:.0f} s (not a timed figure) into {CACHE}")


def questions_for(chunks, count: int, seed: int = 7):
    """SQuAD train questions whose paragraph is in the set, with the chunk ids (rows) holding a gold answer."""
    import random

    from qa.evaluation.datasets import load_squad
    from qa.evaluation.metrics import normalize_answer

    by_doc: dict[str, list[int]] = {}
    for row, chunk in enumerate(chunks):
        by_doc.setdefault(chunk.doc_id, []).append(row)
    from corpus.documents import document_id

    examples = [e for e in load_squad(TRAIN) if document_id(e.context) in by_doc]
    random.Random(seed).shuffle(examples)
    picked = []
    for example in examples:
        rows = by_doc[document_id(example.context)]
        golds = [normalize_answer(a) for a in example.answers]
        hits = {r for r in rows if any(g and g in normalize_answer(chunks[r].text) for g in golds)}
        if hits:
            picked.append((example.question, hits))
        if len(picked) == count:
            break
    return picked


def percentiles(times: list[float]) -> dict:
    ms = np.asarray(times) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "mean_ms": round(float(ms.mean()), 2), "qps_one_at_a_time": round(1000 / float(ms.mean()), 1)}


def run_search(args) -> None:
    from embeddings.embedder import Embedder
    from embeddings.milvus_index import MilvusIndexWriter, chunk_key
    from embeddings.milvus_store import connect
    from embeddings.sparse import BM25Index
    from embeddings.store import FaissStore
    from qa.answering.retrievers import reciprocal_rank_fusion

    chunks = chunk_set()
    vectors = np.load(CACHE / "vectors.npy")
    assert len(vectors) == len(chunks), "run prepare first"
    embedder = Embedder()
    asked = questions_for(chunks, args.questions)
    query_vectors = embedder.encode([q for q, _ in asked])
    rows_of = {chunk_key(c.doc_id, c.chunk_id): row for row, c in enumerate(chunks)}
    report: dict = {"chunks": len(chunks), "questions": len(asked), "k": 10}

    def timed(search):
        times, results = [], []
        for i in range(len(asked)):
            started = time.perf_counter()
            results.append(search(i))
            times.append(time.perf_counter() - started)
        return results, percentiles(times)

    def answer_recall(ranked_rows):
        return round(100 * float(np.mean([bool(set(r[:10]) & hits) for r, (_, hits) in zip(ranked_rows, asked)])), 1)

    faiss_store = FaissStore(vectors.shape[1])
    started = time.monotonic()
    faiss_store.add(np.arange(len(vectors)), vectors)
    report["faiss_build_seconds"] = round(time.monotonic() - started, 2)
    exact, latency = timed(lambda i: faiss_store.search(query_vectors[i : i + 1], 10).ids[0].tolist())
    report["faiss_flat"] = {**latency, "answer_recall@10": answer_recall(exact), "recall@10_vs_exact": 100.0}

    import faiss

    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 200
    started = time.monotonic()
    hnsw.add(vectors)
    hnsw_build = time.monotonic() - started
    hnsw.hnsw.efSearch = 64
    approx, latency = timed(lambda i: hnsw.search(query_vectors[i : i + 1], 10)[1][0].tolist())
    report["faiss_hnsw_m16_ef64"] = {**latency, "build_seconds": round(hnsw_build, 1), "answer_recall@10": answer_recall(approx),
                                     "recall@10_vs_exact": round(100 * float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])), 1)}

    bm25 = BM25Index.build(list(range(len(chunks))), [c.text for c in chunks])
    local_bm25, latency = timed(lambda i: [r for r, _ in bm25.search(asked[i][0], 100)])
    report["local_bm25"] = {**latency, "answer_recall@10": answer_recall(local_bm25)}

    def local_hybrid(i):
        dense = faiss_store.search(query_vectors[i : i + 1], 100).ids[0].tolist()
        return [r for r, _ in reciprocal_rank_fusion([dense, [r for r, _ in bm25.search(asked[i][0], 100)]])[:10]]

    hybrid_local, latency = timed(local_hybrid)
    report["local_hybrid_faiss_bm25s"] = {**latency, "answer_recall@10": answer_recall(hybrid_local)}

    for index_type in args.milvus_index_types:
        work = Path(tempfile.mkdtemp(prefix="scale-milvus-"))
        try:
            uri = str(work / "bench.db")
            client = connect(uri)
            writer = MilvusIndexWriter(client, uri, "bench", embedder.name, vectors.shape[1], index_type=index_type)
            started = time.monotonic()
            # One pseudo-document per chunk keeps the writer's batch path; the texts are the chunks themselves.
            for begin in range(0, len(chunks), 2000):
                part = chunks[begin : begin + 2000]
                writer.index.vectors.add(
                    np.array([chunk_key(c.doc_id, c.chunk_id) for c in part]), vectors[begin : begin + len(part)],
                    fields={"doc_id": [c.doc_id for c in part], "chunk_id": [c.chunk_id for c in part],
                            "start_char": [c.start for c in part], "end_char": [c.end for c in part],
                            "text": [c.text for c in part],
                            "terms": [" ".join(t) for t in __import__("embeddings.sparse", fromlist=["analyze"]).analyze([c.text for c in part])]},
                )
            insert_seconds = time.monotonic() - started
            writer.flush()
            started = time.monotonic()
            client.load_collection(writer.collections.chunks)
            index = writer.index
            index.search_vectors(query_vectors[:1], 10)  # first search builds/loads the index
            ready_seconds = time.monotonic() - started
            dense, latency = timed(lambda i: [rows_of[int(x)] for x in index.search_vectors(query_vectors[i : i + 1], 10).ids[0]])
            overlap = float(np.mean([len(set(d) & set(e)) / 10 for d, e in zip(dense, exact)]))
            entry = {"insert_seconds": round(insert_seconds, 1), "inserts_per_second": round(len(chunks) / insert_seconds, 0),
                     "index_ready_seconds": round(ready_seconds, 1), **latency,
                     "answer_recall@10": answer_recall(dense), "recall@10_vs_exact": round(100 * overlap, 1)}
            ids = [index.search_vectors(query_vectors[i : i + 1], 10).ids[0].tolist() for i in range(len(asked))]
            _, lat_fetch = timed(lambda i: index.chunks(ids[i]))
            entry["fetch_10_chunks"] = lat_fetch
            if index_type == args.milvus_index_types[0]:
                sparse, lat_bm25 = timed(lambda i: [rows_of[r] for r, _ in index.bm25.search(asked[i][0], 100)])
                entry["bm25"] = {**lat_bm25, "answer_recall@10": answer_recall(sparse),
                                 "top10_equal_to_local_bm25_percent": round(100 * float(np.mean([a[:10] == b[:10] for a, b in zip(sparse, local_bm25)])), 1)}
                hybrid, lat_hybrid = timed(lambda i: [rows_of[r] for r, _ in index.hybrid_ranked_ids(query_vectors[i], asked[i][0], 10)])
                entry["engine_hybrid"] = {**lat_hybrid, "answer_recall@10": answer_recall(hybrid),
                                          "top10_set_equal_to_local_hybrid_percent": round(100 * float(np.mean([set(a) == set(b) for a, b in zip(hybrid, hybrid_local)])), 1)}
            report[f"milvus_lite_{index_type.lower()}"] = entry
            client.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    import milvus_lite
    import pymilvus

    report["versions"] = {"pymilvus": pymilvus.__version__, "milvus_lite": milvus_lite.__version__,
                          "faiss": __import__("faiss").__version__}
    write("search", report)


BUNDLED_QUESTIONS = [
    "In which city is the Stargate data center being built?", "Who is the CEO of OpenAI?",
    "How much money does SoftBank have secured according to Musk?", "Who will take on the financial responsibility?",
    "Who will have operational duties?", "How much will be invested initially in Stargate?",
    "What did Altman call Stargate?", "Who called Sam Altman a liar?", "Which companies are fronting the cost?",
    "When was Stargate unveiled?", "Who is the director of DOGE?", "What is the maximum investment planned for Stargate?",
    "Which newspaper reported that Trump allies were annoyed?", "What did Musk say about the money?",
    "Who is Elon Musk's billionaire rival?", "Which company is led by Masayoshi Son?", "What does DOGE stand for?",
    "Who was furious over Musk's posts?", "What did the Trump ally tell Politico?", "Where is Abilene?",
]


def run_answers(args) -> None:
    from corpus.loaders import load_default_corpus
    from embeddings.embedder import Embedder
    from qa.answering.config import Config
    from qa.answering.pipeline import Assistant
    from qa.indexing.stores import write_index

    embedder = Embedder()
    work = Path(tempfile.mkdtemp(prefix="scale-answers-"))
    try:
        configs = {"faiss": Config(index_dir=str(work / "faiss")),
                   "milvus": Config(store="milvus", store_uri=str(work / "m.db"), index_dir="bundled")}
        answers, passages, latency = {}, {}, {}
        for store, config in configs.items():
            write_index(config.index_target, embedder, add=load_default_corpus())
            assistant = Assistant.from_config(config, embedder=embedder)
            times = []
            answers[store], passages[store] = [], []
            for question in BUNDLED_QUESTIONS:
                started = time.perf_counter()
                answers[store].append(assistant.answer(question))
                times.append(time.perf_counter() - started)
                passages[store].append([(p.chunk.doc_id, p.chunk.chunk_id) for p in assistant.retrieve(question)])
            latency[store] = percentiles(times)
        same_text = sum(a.text == b.text for a, b in zip(answers["faiss"], answers["milvus"]))
        same_citations = sum([(c.doc_id, c.start, c.end) for c in a.citations] == [(c.doc_id, c.start, c.end) for c in b.citations]
                             for a, b in zip(answers["faiss"], answers["milvus"]))
        same_passages = sum(a == b for a, b in zip(passages["faiss"], passages["milvus"]))
        write("answers", {"questions": len(BUNDLED_QUESTIONS), "same_answer_text": same_text, "same_citations": same_citations,
                          "same_top5_passages_in_order": same_passages, "latency": latency,
                          "examples": [{"question": q, "faiss": a.text, "milvus": b.text}
                                       for q, a, b in zip(BUNDLED_QUESTIONS, answers["faiss"], answers["milvus"])]})
    finally:
        shutil.rmtree(work, ignore_errors=True)


PASSAGES = 21_015_324  # DPR psgs_w100: English Wikipedia (Dec 2018) in 100-word passages
PASSAGE_WORDS = 100
DIM = 384
NODE_INDEX_GB = 16  # index memory per query node: half of a 32 GB node, the rest for the OS, segments and queries
PLAN_BEGIN, PLAN_END = "<!-- scale_out.py plan: begin -->", "<!-- scale_out.py plan: end -->"
DOC = Path(__file__).resolve().parent.parent / "docs" / "scale.md"


def million_chunks_markdown(plain: dict, ray1: dict, efficiency: float) -> str:
    """Hours to index 1M chunks of the measured set's length: the plain path on this machine's cores, and Ray with
    one worker per core, each added core adding one worker's measured rate at the measured parallel efficiency."""
    hours = lambda rate: 1_000_000 / rate / 3600  # noqa: E731
    lines = [f"**1M chunks** ({plain['mean_words_per_chunk']} words each on average, as measured): plain `citeqa index` "
             f"on {plain['machine']['cpus']} cores at {plain['chunks_per_second']:.1f} chunks/s takes "
             f"**{hours(plain['chunks_per_second']):.1f} h**. With `--ray --workers W` (one worker per core, "
             f"{ray1['chunks_per_second']:.1f} chunks/s each, efficiency {efficiency:.2f}), each added core adds "
             f"{ray1['chunks_per_second'] * efficiency:.1f} chunks/s:", "",
             "| cores (Ray workers) | chunks/s | hours for 1M chunks |", "|---|---|---|"]
    for workers in (1, 2, 4, 8, 16, 32, 64):
        rate = ray1["chunks_per_second"] * (1 if workers == 1 else workers * efficiency)
        lines.append(f"| {workers} | {rate:,.1f} | {hours(rate):.2f} |")
    return "\n".join(lines) + "\n"


def plan_markdown() -> str:
    """The measured figures and the 21M-passage capacity plan of docs/scale.md, computed from the JSON reports."""
    import math

    load = lambda name: json.loads((RESULTS / f"{name}.json").read_text())  # noqa: E731
    plain, ray1, ray2 = load("scale-index-plain"), load("scale-index-ray-1w"), load("scale-index-ray-2w")
    search, answers, faiss_runs = load("scale-search"), load("scale-answers"), load("scale")["runs"]
    at_1m = {r["type"]: r for r in faiss_runs if r["size"] == 1_000_000}
    n = PASSAGES
    out = []
    add = out.append

    add("## Measured here")
    add("")
    m = plain["machine"]
    add(f"Machine: {m['cpus']} vCPU ({m.get('cpu', 'x86-64')}), Python {m['python']}, torch {m['torch']}; "
        f"each run alone on an idle machine. Commands: `python benchmarks/scale_out.py index|search|answers`; "
        f"this section is written by `python benchmarks/scale_out.py plan --write` from `benchmarks/results/scale-*.json`.")
    add("")
    add(f"**Indexing throughput**, {plain['paragraphs']:,} SQuAD v1.1 train paragraphs (120-word chunks, "
        f"{plain['chunks']:,} chunks, mean {plain['mean_words_per_chunk']} words), embedded by "
        f"{plain.get('embedder', 'sentence-transformers/all-MiniLM-L6-v2')} ({plain.get('embedding_backend', 'torch')}), "
        f"embedding model loaded before the clock starts:")
    add("")
    add("| path | workers × threads | seconds | chunks/s | vs plain |")
    add("|---|---|---|---|---|")
    add(f"| plain `citeqa index` | 1 × {plain['threads']} | {plain['seconds']:,.0f} | {plain['chunks_per_second']:.1f} | 1.00 |")
    for r in (ray1, ray2):
        add(f"| `--ray`, local | {r['workers']} × {r['threads_per_worker']} | {r['pipeline_seconds']:,.0f} (+{r['ray_start_seconds']:.0f} start) "
            f"| {r['chunks_per_second']:.1f} | {r['chunks_per_second'] / plain['chunks_per_second']:.2f} |")
    add("")
    scaling = ray2["chunks_per_second"] / (2 * ray1["chunks_per_second"])
    add(f"Two Ray workers give {ray2['chunks_per_second'] / ray1['chunks_per_second']:.2f}× one worker "
        f"(parallel efficiency {scaling:.0%}) on 2 cores; on one machine the plain path, which gives the embedder both "
        f"cores, is the one to use; Ray pays off when workers are on many machines.")
    add("")
    add(million_chunks_markdown(plain, ray1, min(scaling, 1.0)))
    add(f"**Search on the same {search['chunks']:,}-chunk set** (30-word chunks of SQuAD train, {search['questions']} train "
        f"questions, one query at a time; *answer recall@10*: a top-10 chunk holds a gold answer; "
        f"pymilvus {search['versions']['pymilvus']}, milvus-lite {search['versions']['milvus_lite']}, faiss {search['versions']['faiss']}):")
    add("")
    add("| store, search | p50 ms | p95 ms | recall@10 vs exact | answer recall@10 |")
    add("|---|---|---|---|---|")
    rows = [("FAISS flat (exact), dense", search["faiss_flat"]), ("FAISS HNSW M=16 ef=64, dense", search["faiss_hnsw_m16_ef64"]),
            ("local BM25 (bm25s)", search["local_bm25"]), ("local hybrid (FAISS + bm25s, RRF)", search["local_hybrid_faiss_bm25s"])]
    for key in ("milvus_lite_flat", "milvus_lite_hnsw"):
        if key in search:
            rows.append((f"Milvus Lite {key.rsplit('_', 1)[1].upper()}, dense", search[key]))
    lite = search.get("milvus_lite_flat", {})
    if "bm25" in lite:
        rows += [("Milvus Lite BM25 function", lite["bm25"]), ("Milvus Lite hybrid_search (RRF)", lite["engine_hybrid"])]
    for name, r in rows:
        vs = f"{r['recall@10_vs_exact'] / 100:.3f}" if "recall@10_vs_exact" in r else "—"
        add(f"| {name} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {vs} | {r['answer_recall@10']:.1f} |")
    add("")
    if lite:
        add(f"Milvus Lite finds the same neighbours as FAISS (exact: recall {lite['recall@10_vs_exact'] / 100:.3f}) but answers "
            f"{lite['p50_ms'] / search['faiss_flat']['p50_ms']:.0f}× slower: it is an embedded engine behind a local gRPC "
            f"server, meant for development and tests. Its BM25 ranks differently from bm25s at this size "
            f"({lite['bm25']['top10_equal_to_local_bm25_percent']:.0f}% equal top 10: Milvus keeps corpus statistics per "
            f"segment) with about the same answer recall; its hybrid top 10 equals ours for "
            f"{lite['engine_hybrid']['top10_set_equal_to_local_hybrid_percent']:.0f}% of questions. Insert: "
            f"{lite['inserts_per_second']:,.0f} chunks/s.")
        add("")
    add(f"**Same answers from both stores**: the {answers['questions']} bundled-article questions of `scale_out.py answers` "
        f"(hybrid, k = 5) get the same answer text from FAISS and Milvus Lite for {answers['same_answer_text']} of "
        f"{answers['questions']}, the same citations for {answers['same_citations']}, and the same top-5 passages in the "
        f"same order for {answers['same_top5_passages_in_order']} (the others differ where BM25 scores tie or differ).")
    add("")

    add("## Capacity plan: English Wikipedia, 21,015,324 passages (DPR)")
    add("")
    add(f"N = {n:,} passages of {PASSAGE_WORDS} words, d = {DIM} (all-MiniLM-L6-v2), float32 vectors.")
    add("")
    add("**Memory per index type.** FAISS rows use the bytes per vector measured at 1,000,000 chunks "
        "(`benchmarks/results/scale.json`); Milvus rows the engine's storage formula.")
    add("")
    add("| index type | bytes per vector | from | N × bytes | query nodes at 16 GB of index each |")
    add("|---|---|---|---|---|")
    sizes = []
    for kind, label in (("flat", "FAISS flat (exact)"), ("hnsw", "FAISS HNSW M=32"), ("ivfpq", "FAISS IVF-PQ 48 B + exact refine vectors")):
        if kind in at_1m:
            per = at_1m[kind]["index_mb"] * 1e6 / 1_000_000
            sizes.append((label, per, f"measured: {at_1m[kind]['index_mb']:,.0f} MB / 1M"))
    sizes += [("Milvus HNSW, M = 16", 4 * DIM + 2 * 16 * 8, "4·d + 2·M·8"), ("Milvus IVF_SQ8", DIM + 8, "d + 8"),
              ("Milvus IVF_PQ, m = 48", 48 + 8, "m + 8")]
    for label, per, source in sizes:
        total = n * per / 1e9
        add(f"| {label} | {per:,.0f} | {source} | {total:,.1f} GB | {max(1, math.ceil(total / NODE_INDEX_GB))} |")
    add("")
    add("Chunk text and metadata add about 700 bytes a passage (≈ 15 GB) on Milvus's object storage, not in query-node memory.")
    add("")
    words = plain["mean_words_per_chunk"]
    per_worker = ray1["chunks_per_second"] * words / PASSAGE_WORDS
    add(f"**Indexing time.** Embedding cost grows with tokens, so one Ray worker (1 CPU, 1 torch thread) embeds "
        f"{ray1['chunks_per_second']:.1f} chunks/s × {words} / {PASSAGE_WORDS} words = **{per_worker:.2f} passages/s**. "
        f"With W workers at the measured efficiency e = {scaling:.2f}: hours = N / ({per_worker:.2f} × W × e) / 3600.")
    add("")
    add("| workers (CPUs) | hours |")
    add("|---|---|")
    for workers in (16, 64, 256, 1024):
        add(f"| {workers} | {n / (per_worker * workers * scaling) / 3600:,.1f} |")
    add("")
    hnsw_recall = {r["size"]: next(s for s in r["search"] if s["default"])["recall_at_10"] for r in faiss_runs if r["type"] == "hnsw"}
    add("**Query latency per shard.** Each query goes to every shard in parallel; the slowest shard sets the latency. "
        "Exact search scans every vector: t = t(100k) × (N/S) / 100,000. IVF-PQ with nlist ∝ √n and a fixed nprobe scans "
        "∝ √n codes: t = t(1M) × √(N/S / 1,000,000). HNSW grows with log n: t = t(1M) × ln(N/S) / ln(1,000,000); "
        "at a fixed efSearch its recall falls with size (FAISS, efSearch 128: "
        f"{hnsw_recall[100_000]:.3f} at 100k, {hnsw_recall[1_000_000]:.3f} at 1M), so HNSW shards of more than a few "
        "million passages need a larger efSearch. Times are FAISS on 2 cores, measured at 100k and 1M.")
    add("")
    add("| shards S | passages per shard | exact ms | HNSW ms | IVF-PQ ms | index GB per shard (IVF-PQ) |")
    add("|---|---|---|---|---|---|")
    flat = search["faiss_flat"]["p50_ms"]
    hnsw = next(s for s in at_1m["hnsw"]["search"] if s["default"])["p50_ms"]
    ivf = next(s for s in at_1m["ivfpq"]["search"] if s["default"])["p50_ms"] if "ivfpq" in at_1m else None
    ivf_bytes = at_1m["ivfpq"]["index_mb"] if "ivfpq" in at_1m else None
    for shards in (1, 2, 4, 8, 16):
        per = n / shards
        ivf_ms = f"{ivf * math.sqrt(per / 1e6):.1f}" if ivf else "—"
        ivf_gb = f"{ivf_bytes * per / 1e6 / 1e3:.1f}" if ivf_bytes else "—"
        add(f"| {shards} | {per / 1e6:.2f} M | {flat * per / search['chunks']:,.0f} | "
            f"{hnsw * math.log(per) / math.log(1e6):.2f} | {ivf_ms} | {ivf_gb} |")
    add("")
    reader_ms = answers["latency"]["faiss"]["p50_ms"]
    add(f"**Answers.** Retrieval is not the cost: reading 5 passages with the reader is. One chat replica (2 CPUs) answered "
        f"the bundled questions at p50 {reader_ms:.0f} ms, so it serves about 1000 / {reader_ms:.0f} = "
        f"{1000 / reader_ms:.1f} questions/s; for a peak of Q questions/s run ⌈Q / {1000 / reader_ms:.1f}⌉ replicas "
        f"(e.g. {math.ceil(50 / (1000 / reader_ms))} replicas for 50 questions/s). With IVF-PQ on 2 shards "
        f"(≈ {ivf * math.sqrt(n / 2 / 1e6):.0f} ms a search) the vector search adds a few per cent to that." if ivf else "")
    return "\n".join(out) + "\n"


def run_plan(args) -> None:
    text = plan_markdown()
    if not args.write:
        print(text)
        return
    doc = DOC.read_text(encoding="utf-8")
    if PLAN_BEGIN in doc:
        head, rest = doc.split(PLAN_BEGIN, 1)
        doc = head + PLAN_BEGIN + "\n" + text + rest[rest.index(PLAN_END):]
    else:
        doc = doc.replace("MEASUREMENTS_AND_PLAN", f"{PLAN_BEGIN}\n{text}{PLAN_END}")
    DOC.write_text(doc, encoding="utf-8")
    print(f"wrote {DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare")
    p = sub.add_parser("index")
    p.add_argument("--mode", choices=("plain", "ray"), required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads per Ray worker")
    p.add_argument("--shards", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="first N paragraphs only")
    p = sub.add_parser("search")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--milvus-index-types", nargs="+", default=["FLAT", "HNSW"])
    sub.add_parser("answers")
    p = sub.add_parser("plan", help="print (or --write into docs/scale.md) the figures and the capacity plan")
    p.add_argument("--write", action="store_true")
    args = parser.parse_args()
    {"prepare": run_prepare, "index": run_index, "search": run_search, "answers": run_answers, "plan": run_plan}[args.command](args)


if __name__ == "__main__":
    main()
