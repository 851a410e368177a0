"""citeqa as one system of the peers benchmark (run with the project's venv; see common.py).

Default pipeline: hybrid retrieval (FAISS exact inner product over the MiniLM vectors + bm25s BM25, each
top `--pool`, reciprocal rank fusion with k = 60), the top `--k` passages to citeqa's ExtractiveReader
(windows of `--max-length` tokens, stride `--stride`), threshold -inf and min_confidence 0: always answers,
as SQuAD v1.1 is scored (the reader's calibrator would otherwise abstain below its min_confidence, 0.25).
The index is citeqa's own eval index of the SQuAD dev paragraphs (the one the chunks file was dumped
from), given as --index-dir; run.py builds it. --reader-backend is citeqa's (default auto: the backend
recorded in the reader folder, else torch fp32; the peers always run torch fp32).

--prepare (untimed) loads the Assistant exactly as the timed run does and answers one question, and loads
the embedder of each indexing variant, so that their ONNX graphs are exported into the cache there and the
timed processes only load them.

--time-indexing indexes the paragraphs of --squad through citeqa's own indexing path, as `citeqa index`
does (documents -> chunking -> embedding -> FAISS + BM25 + SQLite written atomically, into a temporary
folder): benchmarks/index_speed.py's measurement, with --embedding-backend onnx (fp32) or onnx-int8. It
makes the chunks of the chunks file (checked by their count).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sets the environment before torch is imported)

INDEXING_BACKENDS = ("onnx", "onnx-int8")  # the embedder variants run.py --indexing times
VERSIONS = ("citeqa", "torch", "transformers", "sentence-transformers", "faiss-cpu", "bm25s", "onnxruntime")


def answerer(args, described: dict):
    """Load the Assistant; answer(question) -> (text, chunk ids read from, passages read)."""
    from embeddings.embedder import Embedder
    from qa.answering.config import Config
    from qa.answering.pipeline import Assistant

    config = Config(embedding_model=str(args.embedding_model), reader_model=str(args.reader),
                    index_dir=str(args.index_dir), k=args.k, retrieval_mode="hybrid", fusion_pool=args.pool,
                    reader_max_length=args.max_length, reader_stride=args.stride,
                    no_answer_threshold=float("-inf"), reader_backend=args.reader_backend)
    assistant = Assistant.from_config(config, embedder=Embedder(args.embedding_model))
    embedder = assistant.index.embedder_for(assistant.embedder)  # auto follows the variant the index was built with
    if "torch" in (assistant.reader.backend, embedder.backend):
        common.set_torch_threads(args.threads)  # ONNX Runtime alone needs no torch: its threads come from OMP_NUM_THREADS
    described["reader_backend"] = assistant.reader.backend  # what "auto" resolved to
    described["embedding_backend"] = embedder.backend
    described["calibrator"] = assistant.calibrator is not None
    # the chunks file's ids are the index's row ids; a Passage carries (doc_id, chunk_id)
    row_ids = {(doc_id, chunk_id): row_id for row_id, doc_id, chunk_id
               in assistant.index._query("SELECT id, doc_id, chunk_id FROM chunks")}

    def answer(question: str):
        # what Assistant.answer does (retrieve, then read), split to keep the passages read; min_confidence 0:
        # the calibrator's best candidate is the answer however unlikely (abstains only with no span at all)
        passages = assistant.retrieve(question, args.k)
        result = assistant.answer_from_passages(question, passages, threshold=float("-inf"), min_confidence=0.0)
        return (result.text or "", [row_ids[(p.chunk.doc_id, p.chunk.chunk_id)] for p in passages],
                result.passages_read)

    return answer


def prepare(args, load) -> None:
    """Export every ONNX graph a timed run loads into the cache, here, untimed."""
    from embeddings.embedder import Embedder

    load()(common.read_jsonl(args.questions)[0]["question"])
    for backend in INDEXING_BACKENDS:
        Embedder(args.embedding_model, backend=backend).encode(["warm-up"])
    print("citeqa: models loaded, ONNX graphs cached", file=sys.stderr)


def time_indexing(args) -> None:
    from benchmarks.index_speed import measure
    from embeddings.models import default_embedding_model_path

    if args.embedding_model.resolve() != default_embedding_model_path().resolve():
        sys.exit("citeqa: --time-indexing (benchmarks/index_speed.py) indexes with the default embedding model only")
    row = measure(args.squad, args.embedding_backend)
    expected = len(common.read_jsonl(args.chunks))
    if row["chunks"] != expected:
        sys.exit(f"citeqa: indexing {args.squad} made {row['chunks']} chunks, the chunks file has {expected}")
    common.write_indexing(args, "citeqa", variant=row["embedding_backend"], chunks=row["chunks"], seconds=row["seconds"],
                          load_seconds=row["model_load_seconds"], documents=row["documents"], index_mb=row["index_mb"],
                          version_names=VERSIONS, config={
                              "indexing": "benchmarks/index_speed.py: the SQuAD file's paragraphs as documents -> "
                                          "update_index (chunking, embedding, FAISS + BM25 + SQLite, atomic)",
                              "embedding_backend": row["embedding_backend"], "squad": str(args.squad),
                              "embedding_batch_size": row["batch_size"]})


def main() -> None:
    def extra(parser):
        parser.add_argument("--reader-backend", default="auto", help="citeqa's reader backend (auto: the one recorded "
                            "for the model)")
        parser.add_argument("--embedding-backend", choices=INDEXING_BACKENDS, default="onnx",
                            help="the embedder variant --time-indexing times")
        parser.add_argument("--squad", type=Path, help="the SQuAD file whose paragraphs --time-indexing indexes")

    args = common.parse_args(__doc__, extra)
    if args.time_indexing:
        if args.squad is None:
            sys.exit("citeqa: --time-indexing needs --squad")
        time_indexing(args)
        return
    described = {"retrieval": f"hybrid: FAISS exact inner product (dense) + bm25s BM25, each top {args.pool}, "
                              "reciprocal rank fusion k=60, top k to the reader",
                 "reader": f"citeqa ExtractiveReader (backend below), windows {args.max_length}/{args.stride} tokens, "
                           "max 30 answer tokens, threshold -inf",
                 "min_confidence": 0.0,
                 "always_answers": "threshold -inf and min_confidence 0: the calibrator's most likely candidate is "
                                   "the answer (its default min_confidence, 0.25, would abstain)",
                 "index": str(args.index_dir)}

    def load():
        return answerer(args, described)

    if args.prepare:
        prepare(args, load)
        return
    common.run_questions(args, "citeqa", load, config=described, version_names=VERSIONS)


if __name__ == "__main__":
    main()
