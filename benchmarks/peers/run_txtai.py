"""txtai as one system of the peers benchmark (run with benchmarks/peers/.venv-txtai; see common.py).

Index: `Embeddings(path=<the MiniLM folder>, method="sentence-transformers", content=True, hybrid=True,
scoring=...)` over the chunks (id = the chunk id, text = the chunk text; only the text is embedded and
BM25-indexed, as in citeqa; --time-indexing times the same indexing and save into a temporary folder,
the model loaded by `Embeddings(config)` before the clock). The dense part is txtai's Faiss backend,
which for under 5,000 rows is "IDMap,Flat" (exact inner product of normalised vectors, like citeqa's).
Hybrid search asks each index for 10 × limit candidates and fuses them; --fusion picks txtai's fusion:
  rrf (default, the closest to citeqa): BM25 scores left unnormalised, so txtai fuses by reciprocal rank
      (its RRF has no constant: 1 / (rank + 1), dense and sparse weighted 0.5 each);
  convex: txtai's `hybrid=True` default (normalised BM25, 0.5 × dense + 0.5 × sparse score).
Reader: txtai's `Extractor` (the RAG pipeline) with context=k passages and a `Questions` pipeline loaded
from our reader folder (fp32). As txtai does, the k passages (best first) are joined with spaces into one
context that the model reads in one sequence truncated to the tokenizer's model_max_length (512 tokens:
txtai's Questions has no windowing), and the answer is the argmax start and argmax end token.

Quirks handled, both to always answer (SQuAD v1.1 is scored with every question answered: citeqa runs at
threshold -inf, Haystack with no_answer=False): txtai's `Questions` returns no answer when start × end
probability < 0.05, and it fails (TypeError in `word_to_chars`) when the argmax start or end is not a
context token, which is where a SQuAD 2.0-style reader such as ours puts "no answer" ([CLS]).
`AlwaysAnswerQuestions` below is txtai's `Questions.__call__` without the 0.05 cut-off and with the argmax
start and end taken over the context tokens only; nothing else changed (independent argmaxes, so an end
before the start still gives txtai's empty answer).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sets the environment before torch is imported)

FUSIONS = ("rrf", "convex")
VERSIONS = ("txtai", "torch", "transformers", "sentence-transformers", "faiss-cpu")


def embeddings_config(args, fusion: str) -> dict:
    return {
        "path": str(args.embedding_model),
        "method": "sentence-transformers",
        "content": True,
        "hybrid": True,
        "backend": "faiss",
        # hybrid=True alone means {"method": "bm25", "terms": True, "normalize": True} (convex fusion)
        "scoring": {"method": "bm25", "terms": True, "normalize": fusion == "convex"},
    }


def index_path(args, fusion: str) -> Path:
    return args.index_dir / f"embeddings-{fusion}"


def new_embeddings(args, fusion: str):
    """An empty index of the benchmark's config; the constructor loads the vector model."""
    from txtai import Embeddings

    return Embeddings(embeddings_config(args, fusion))


def build_index(embeddings, chunks: list[dict]):
    """Index the chunks (dense vectors, BM25 terms, content database) into `embeddings`, whose model is loaded."""
    embeddings.index([{"id": c["id"], "text": c["text"], "title": c["title"]} for c in chunks])
    return embeddings


def save_index(embeddings, path: Path) -> None:
    embeddings.save(str(path))


def prepare(args, fusion: str) -> None:
    path = index_path(args, fusion)
    if (path / "config.json").exists() or (path / "config").exists():
        print(f"txtai: index exists: {path}", file=sys.stderr)
        return
    chunks = common.read_jsonl(args.chunks)
    tmp = path.with_name(path.name + ".tmp")
    save_index(build_index(new_embeddings(args, fusion), chunks), tmp)
    tmp.rename(path)
    print(f"txtai: {len(chunks)} chunks indexed into {path}", file=sys.stderr)


def always_answer_questions():
    import torch
    from txtai.pipeline import Questions

    class AlwaysAnswerQuestions(Questions):
        """txtai's Questions.__call__ (9.x) without the 0.05 cut-off, argmax over context tokens only."""

        def __call__(self, questions, contexts, **kwargs):
            answers = []
            for x, question in enumerate(questions):
                if question and contexts[x]:
                    tokens = self.tokenizer(question, contexts[x], truncation="only_second", return_tensors="pt").to(self.device)
                    with torch.no_grad():
                        outputs = self.model(**tokens)
                    startlogits, endlogits = (outputs.start_logits, outputs.end_logits) if hasattr(outputs, "start_logits") else outputs
                    # only context tokens can start or end the answer (see the module docstring)
                    context = torch.tensor([i == 1 for i in tokens.sequence_ids(0)], device=startlogits.device)
                    start = startlogits[0].masked_fill(~context, float("-inf")).argmax()
                    end = endlogits[0].masked_fill(~context, float("-inf")).argmax()
                    answers.append(self.answer(contexts[x], tokens, start, end))
                else:
                    answers.append(None)
            return answers

    return AlwaysAnswerQuestions


class RecordingSearch:
    """The embeddings as the Extractor sees them, remembering the passages of the last search (their ids
    are what recall@5 is scored on); everything else is the Embeddings object itself."""

    def __init__(self, embeddings):
        self.embeddings = embeddings
        self.last = []

    def batchsearch(self, queries, limit=None, *args, **kwargs):
        results = self.embeddings.batchsearch(queries, limit, *args, **kwargs)
        self.last = results[-1] if results else []
        return results

    def __getattr__(self, name):
        return getattr(self.embeddings, name)


def main() -> None:
    args, fusion = parse()
    common.set_torch_threads(args.threads)
    if args.prepare:
        prepare(args, fusion)
        return
    if args.time_indexing:
        common.time_indexing(args, "txtai", lambda: new_embeddings(args, fusion), build_index, save_index, variant="sentence-transformers (torch fp32)",
                             version_names=VERSIONS, config={
                                 "indexing": "Embeddings(config of the answering run).index(chunks) "
                                             "(Faiss, BM25 terms, SQLite content) -> save", "fusion": fusion})
        return

    def load():
        import torch
        from txtai import Embeddings
        from txtai.pipeline import Extractor

        embeddings = Embeddings()
        embeddings.load(str(index_path(args, fusion)))
        assert embeddings.config["path"] == str(args.embedding_model), embeddings.config["path"]
        search = RecordingSearch(embeddings)
        reader = always_answer_questions()(str(args.reader), gpu=False, dtype=torch.float32)
        assert reader.model.dtype == torch.float32, reader.model.dtype
        extractor = Extractor(search, reader, context=args.k, output="flatten")

        def answer(question: str):
            search.last = []
            text = extractor(question)
            return text or "", [r["id"] for r in search.last]

        return answer

    limit_note = "10 × k candidates from each index (txtai's hybrid search)"
    config = {"retrieval": (f"hybrid: txtai Faiss IDMap,Flat (exact inner product, sentence-transformers MiniLM) + "
                            f"txtai BM25 (terms index), {limit_note}, fused by "
                            + ("txtai's RRF (1/(rank+1), weights 0.5/0.5)" if fusion == "rrf"
                               else "convex combination 0.5 dense + 0.5 normalised BM25 (txtai's hybrid=True default)")
                            + ", top k to the reader"),
              "reader": "txtai Extractor + Questions (our reader, fp32): the k passages joined into one context, "
                        "one sequence truncated at 512 tokens, argmax start/end over context tokens; the 0.05 no-answer cut-off removed",
              "fusion": fusion,
              "index": str(index_path(args, fusion))}
    common.run_questions(args, "txtai", load, config=config, version_names=VERSIONS)


def parse():
    def extra(parser):
        parser.add_argument("--fusion", choices=FUSIONS, default="rrf", help="txtai's hybrid fusion (see above)")

    args = common.parse_args(__doc__, extra)
    return args, args.fusion

if __name__ == "__main__":
    main()
