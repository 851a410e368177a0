"""Haystack as one system of the peers benchmark (run with benchmarks/peers/.venv-haystack; see common.py).

Haystack 3.x moved the Hugging Face components out of `haystack-ai` into integration packages:
`sentence-transformers-haystack` (the embedders) and `transformers-haystack` (the extractive reader,
`TransformersExtractiveReader`, formerly `haystack.components.readers.ExtractiveReader`).

Pipeline (the closest Haystack offers to citeqa's default):
  SentenceTransformersTextEmbedder (the same MiniLM folder, normalised) -> InMemoryEmbeddingRetriever
  (exact dot product = cosine, top --pool) and InMemoryBM25Retriever (BM25Okapi, top --pool)
  -> DocumentJoiner(reciprocal_rank_fusion, top_k=--k) -> TransformersExtractiveReader(our reader folder,
  fp32, max_seq_length/stride as citeqa's, top_k=1, no_answer=False: always answers, as SQuAD v1.1 needs).

--prepare embeds the chunks with SentenceTransformersDocumentEmbedder and saves the InMemoryDocumentStore
to --index-dir/store.json; the timed run loads it from there. --time-indexing times the same indexing
(embedder, store with its BM25 statistics, save_to_disk) into a temporary folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sets the environment before torch is imported)

STORE_FILE = "store.json"


def make_store():
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    # BM25Okapi (k1=1.5, b=0.75) is the classic BM25 that bm25s (citeqa) implements; Haystack's default is BM25L.
    return InMemoryDocumentStore(bm25_algorithm="BM25Okapi", embedding_similarity_function="dot_product",
                                 return_embedding=False)


def load_indexer(args):
    """The document embedder, model loaded (Haystack's indexing pipeline: embedder, then the store)."""
    from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersDocumentEmbedder

    embedder = SentenceTransformersDocumentEmbedder(model=str(args.embedding_model), local_files_only=True,
                                                    normalize_embeddings=True, batch_size=64, progress_bar=False)
    embedder.warm_up()
    return embedder


def build_index(embedder, chunks: list[dict]):
    """Embed the chunks' text into Documents and write them to a new store (which computes its BM25 statistics)."""
    from haystack import Document
    from haystack.document_stores.types import DuplicatePolicy

    documents = [Document(id=str(c["id"]), content=c["text"], meta={"title": c["title"], "doc_id": c["doc_id"]})
                 for c in chunks]
    store = make_store()
    store.write_documents(embedder.run(documents=documents)["documents"], policy=DuplicatePolicy.OVERWRITE)
    return store


def save_index(store, path: Path) -> None:
    store.save_to_disk(str(path))


def prepare(args) -> None:
    path = args.index_dir / STORE_FILE
    if path.exists():
        print(f"haystack: index exists: {path}", file=sys.stderr)
        return
    store = build_index(load_indexer(args), common.read_jsonl(args.chunks))
    args.index_dir.mkdir(parents=True, exist_ok=True)
    tmp = args.index_dir / (STORE_FILE + ".tmp")
    save_index(store, tmp)
    tmp.replace(path)
    print(f"haystack: {store.count_documents()} documents embedded into {path}", file=sys.stderr)


VERSIONS = ("haystack-ai", "transformers-haystack", "sentence-transformers-haystack", "torch", "transformers",
            "sentence-transformers")


def main() -> None:
    args = common.parse_args(__doc__)
    common.set_torch_threads(args.threads)
    if args.prepare:
        prepare(args)
        return
    if args.time_indexing:
        common.time_indexing(args, "haystack", lambda: load_indexer(args), build_index, save_index,
                             variant="sentence-transformers (torch fp32)", version_names=VERSIONS, config={
                                 "indexing": "SentenceTransformersDocumentEmbedder (batch 64, normalised) -> "
                                             "InMemoryDocumentStore.write_documents (BM25Okapi statistics) -> "
                                             "save_to_disk (JSON)"})
        return

    def load():
        import torch
        from haystack import Pipeline
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        from haystack.utils import ComponentDevice
        from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder
        from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

        store = InMemoryDocumentStore.load_from_disk(str(args.index_dir / STORE_FILE))  # settings of make_store()
        assert store.bm25_algorithm == "BM25Okapi", store.bm25_algorithm
        cpu = ComponentDevice.from_str("cpu")
        pipeline = Pipeline()
        pipeline.add_component("embedder", SentenceTransformersTextEmbedder(
            model=str(args.embedding_model), local_files_only=True, normalize_embeddings=True, progress_bar=False,
            device=cpu))
        pipeline.add_component("dense", InMemoryEmbeddingRetriever(document_store=store, top_k=args.pool))
        pipeline.add_component("bm25", InMemoryBM25Retriever(document_store=store, top_k=args.pool))
        pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=args.k))
        pipeline.add_component("reader", TransformersExtractiveReader(
            model=str(args.reader), device=cpu, top_k=1, no_answer=False, max_seq_length=args.max_length,
            stride=args.stride, model_kwargs={"dtype": torch.float32}))
        pipeline.connect("embedder.embedding", "dense.query_embedding")
        pipeline.connect("dense.documents", "joiner.documents")
        pipeline.connect("bm25.documents", "joiner.documents")
        pipeline.connect("joiner.documents", "reader.documents")
        pipeline.warm_up()
        reader_model = pipeline.get_component("reader").model
        assert reader_model.dtype == torch.float32, reader_model.dtype  # the folder's weights are stored in fp16

        def answer(question: str):
            out = pipeline.run({"embedder": {"text": question}, "bm25": {"query": question},
                                "reader": {"query": question}}, include_outputs_from={"joiner"})
            answers = out["reader"]["answers"]
            text = answers[0].data if answers and answers[0].data is not None else ""
            return text, [d.id for d in out["joiner"]["documents"]]

        return answer

    config = {"retrieval": f"hybrid: InMemoryEmbeddingRetriever (exact dot product of normalised MiniLM vectors) "
                           f"+ InMemoryBM25Retriever (BM25Okapi), each top {args.pool}, "
                           "DocumentJoiner(reciprocal_rank_fusion), top k to the reader",
              "reader": f"TransformersExtractiveReader, fp32, max_seq_length {args.max_length}, stride {args.stride}, "
                        "top_k=1, no_answer=False (always answers)",
              "index": str(args.index_dir / STORE_FILE)}
    common.run_questions(args, "haystack", load, config=config, version_names=VERSIONS)


if __name__ == "__main__":
    main()
