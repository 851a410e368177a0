"""citeqa as one system of the peers benchmark (run with the project's venv; see common.py).

Default pipeline: hybrid retrieval (FAISS exact inner product over the MiniLM vectors + bm25s BM25, each
top `--pool`, reciprocal rank fusion with k = 60), the top `--k` passages to citeqa's ExtractiveReader
(windows of `--max-length` tokens, stride `--stride`), threshold -inf (always answers, SQuAD v1.1).
The index is citeqa's own eval index of the SQuAD dev paragraphs (the one the chunks file was dumped
from), given as --index-dir; --prepare does nothing (run.py builds it). --reader-backend is citeqa's
(default auto: the backend recorded in the reader folder, else torch fp32; the peers always run torch fp32).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sets the environment before torch is imported)


def main() -> None:
    args = common.parse_args(__doc__, lambda parser: parser.add_argument(
        "--reader-backend", default="auto", help="citeqa's reader backend (auto: the one recorded for the model)"))
    if args.prepare:
        return
    common.set_torch_threads(args.threads)

    def load():
        from embeddings.embedder import Embedder
        from qa.answering.config import Config
        from qa.answering.pipeline import Assistant

        config = Config(embedding_model=str(args.embedding_model), reader_model=str(args.reader),
                        index_dir=str(args.index_dir), k=args.k, retrieval_mode="hybrid", fusion_pool=args.pool,
                        reader_max_length=args.max_length, reader_stride=args.stride,
                        no_answer_threshold=float("-inf"), reader_backend=args.reader_backend)
        assistant = Assistant.from_config(config, embedder=Embedder(args.embedding_model))
        threshold = float("-inf")
        described["reader_backend"] = assistant.reader.backend  # what "auto" resolved to
        # the chunks file's ids are the index's row ids; a Passage carries (doc_id, chunk_id)
        row_ids = {(doc_id, chunk_id): row_id for row_id, doc_id, chunk_id
                   in assistant.index._query("SELECT id, doc_id, chunk_id FROM chunks")}

        def answer(question: str):
            # what Assistant.answer does (retrieve, then read), split to keep the passages read
            passages = assistant.retrieve(question, args.k)
            result = assistant.answer_from_passages(question, passages, threshold=threshold)
            return (result.text or "", [row_ids[(p.chunk.doc_id, p.chunk.chunk_id)] for p in passages],
                    result.passages_read)

        return answer

    described = {"retrieval": f"hybrid: FAISS exact inner product (dense) + bm25s BM25, each top {args.pool}, "
                              "reciprocal rank fusion k=60, top k to the reader",
                 "reader": f"citeqa ExtractiveReader (backend below), windows {args.max_length}/{args.stride} tokens, "
                           "max 30 answer tokens, threshold -inf (always answers)",
                 "index": str(args.index_dir)}
    common.run_questions(args, "citeqa", load, config=described,
                         version_names=("citeqa", "torch", "transformers", "sentence-transformers", "faiss-cpu", "bm25s",
                                        "onnxruntime"))


if __name__ == "__main__":
    main()
