"""A citeqa index kept entirely in Milvus, so any number of stateless chat replicas can serve from it.

Five collections share a name prefix N: `N_chunks` (chunk text, document id, offsets, the vector and the
BM25 terms), `N_documents` (citation metadata), `N_texts` (document text in pieces of at most 16,000
characters, as Milvus strings hold 65,535 bytes), `N_meta` (the manifest: embedding model, chunking) and
`N_origins` (which file each document came from, as `embeddings.index` keeps it; made by the first write of
an index created before it, without a format change).
Keyword search is Milvus's own BM25 full-text function over the terms our BM25 uses (English stop words
dropped, Snowball stems), because Milvus Lite has no English stemmer; k1 = 1.5 and b = 0.75 as in
`embeddings.sparse`. Hybrid search is Milvus's `hybrid_search` with its RRF ranker.

Writes are not atomic as a whole: chunks go in first and the document row last, so a document is only
visible once complete (`chunks` hides chunks whose document row is missing), and a rerun of the same
add completes an interrupted one (chunk ids hash (doc_id, chunk number), so rewriting is idempotent).
One writer at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.chunking import chunk_document
from corpus.documents import Chunk, Document
from embeddings.embedder import Embedder, mismatch_message, split_variant
from corpus.chunking import ChunkingSettings
from embeddings.index import (
    FORMAT_VERSION,
    IndexMismatchError,
    IndexNotFoundError,
    IndexRemoveError,
    IndexVersionError,
    Origin,
    OriginPlan,
    OriginTracker,
    SourceFile,
    SyncReport,
    is_under,
    matching_embedder,
    plan_origins,
)
from embeddings.milvus_store import (
    ID_FIELD,
    VECTOR_FIELD,
    MilvusStore,
    check_name,
    check_uri,
    connect,
    pymilvus_module,
    vector_index_params,
)
from embeddings.passage_index import StoredDocument, UpdateReport
from embeddings.sparse import analyze
from embeddings.store import VectorHits

TEXT_PIECE = 16_000
MAX_STRING_BYTES = 65_535
BM25_K1, BM25_B = 1.5, 0.75
SPARSE_FIELD = "sparse"
DUMMY = "_v"  # Milvus requires a vector field in every collection; the metadata ones hold a constant
QUERY_BATCH = 500
WRITE_BATCH = 256
DEFAULT_COLLECTION = "citeqa"
# Milvus Lite has no server timestamps; pymilvus says so on every query iterator. Harmless: reads are Strong.
logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)


def _quiet_iterator_log() -> None:
    """Set that level again before each iterator: pymilvus's logging setup (on connecting) resets it."""
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)


def chunk_key(doc_id: str, chunk_id: int) -> int:
    """The chunk's primary key: 63 bits of SHA-256 of (doc_id, chunk number), the same on every writer."""
    digest = hashlib.sha256(f"{doc_id}:{chunk_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _quoted(values: Iterable[str]) -> str:
    return json.dumps(list(values))


def _terms(texts: Sequence[str]) -> list[str]:
    return [" ".join(tokens) for tokens in analyze(list(texts))]


@dataclass(frozen=True)
class Collections:
    """The collection names of one index."""

    prefix: str

    @property
    def chunks(self) -> str:
        return f"{self.prefix}_chunks"

    @property
    def documents(self) -> str:
        return f"{self.prefix}_documents"

    @property
    def texts(self) -> str:
        return f"{self.prefix}_texts"

    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    @property
    def origins(self) -> str:
        return f"{self.prefix}_origins"

    def all(self) -> tuple[str, ...]:
        return (self.chunks, self.documents, self.texts, self.meta, self.origins)


class MilvusBM25:
    """Milvus full-text BM25 over the chunks; the `search` of `embeddings.sparse.BM25Index`."""

    def __init__(self, client, collection: str):
        self.client = client
        self.collection = collection

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk id, score) pairs, best first; only chunks sharing a term with the query."""
        terms = _terms([query])[0]
        if not terms or k <= 0:
            return []
        hits = self.client.search(self.collection, data=[terms], anns_field=SPARSE_FIELD, limit=k,
                                  search_params={"metric_type": "BM25"}, output_fields=[ID_FIELD])[0]
        # Milvus Lite reports BM25 as a negated distance, a server as the score: BM25 is never negative.
        # Milvus keeps the (k1 + 1) factor that Lucene (and bm25s) drop; dividing it out gives bm25s's scores.
        return [(int(hit[ID_FIELD] if ID_FIELD in hit else hit["entity"][ID_FIELD]), abs(float(hit["distance"])) / (BM25_K1 + 1))
                for hit in hits]


class MilvusIndex:
    """An opened Milvus-backed index: the read interface the retrievers use; safe to share between threads."""

    def __init__(self, client, uri: str, name: str, manifest: dict):
        self.client = client
        self.uri = uri
        self.name = name
        self.location = f"{uri}#{name}"
        self.manifest = manifest
        self.collections = Collections(name)
        self.vectors = MilvusStore(client, self.collections.chunks, manifest["embedding_model"]["dimension"],
                                   index_type=manifest["vector_index"])
        self.bm25 = MilvusBM25(client, self.collections.chunks)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, uri: str, name: str = DEFAULT_COLLECTION, *, embedder: Embedder | None = None, client=None) -> "MilvusIndex":
        """Open the index `name` at `uri` (a Milvus Lite `.db` file or a server URL)."""
        uri, name = check_uri(uri), check_name(name)
        client = connect(uri) if client is None else client
        manifest = read_manifest(client, Collections(name))
        if manifest is None:
            raise IndexNotFoundError(
                f"no citeqa index {name!r} in Milvus at {uri}; build one with: "
                f"citeqa index PATH --store milvus --store-uri {uri} --index {name}"
            )
        index = cls(client, uri, name, manifest)
        if embedder is not None:
            index.embedder_for(embedder)
        return index

    def embedder_for(self, embedder: Embedder) -> Embedder:
        """The embedder to search this index with: `embedder` following the variant the index was built with
        (`Embedder.following`); another model or an explicit other variant is refused (vectors would not compare)."""
        return matching_embedder(embedder, self.manifest, self.location, "rebuild the index")

    @property
    def chunking(self) -> ChunkingSettings:
        return ChunkingSettings(**self.manifest["chunking"])

    def __len__(self) -> int:
        return len(self.vectors)

    def is_current(self) -> bool:
        """Always: Milvus serves every write live, to every reader."""
        return True

    def description(self) -> dict:
        return {"store": "milvus", "embedding_model": self.manifest["embedding_model"],
                "chunking": self.manifest["chunking"], "created": self.manifest["created"],
                "vector_index": self.manifest["vector_index"]}

    def _query(self, collection: str, expression: str, fields: list[str], limit: int | None = None) -> list[dict]:
        with self._lock:
            if limit is None:
                return list(self.client.query(collection, filter=expression, output_fields=fields))
            return list(self.client.query(collection, filter=expression, output_fields=fields, limit=limit))

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        """Chunks by id (the ids the vector search and BM25 return), of complete documents only."""
        if not ids:
            return {}
        rows = []
        for begin in range(0, len(ids), QUERY_BATCH):
            keys = [int(i) for i in ids[begin : begin + QUERY_BATCH]]
            rows += self._query(self.collections.chunks, f"{ID_FIELD} in {keys}",
                                [ID_FIELD, "doc_id", "chunk_id", "start_char", "end_char", "text"])
        complete = set(self._document_rows({row["doc_id"] for row in rows}, ["doc_id"]))
        return {int(row[ID_FIELD]): Chunk(row["doc_id"], int(row["chunk_id"]), row["text"], int(row["start_char"]), int(row["end_char"]))
                for row in rows if row["doc_id"] in complete}

    def _document_rows(self, doc_ids: Iterable[str] | None, fields: list[str]) -> dict[str, dict]:
        if doc_ids is None:
            rows = []
            _quiet_iterator_log()
            iterator = self.client.query_iterator(self.collections.documents, batch_size=1000, filter="", output_fields=fields)
            try:
                while batch := iterator.next():
                    rows += batch
            finally:
                iterator.close()
            return {row["doc_id"]: row for row in rows}
        doc_ids = sorted(set(doc_ids))
        found = {}
        for begin in range(0, len(doc_ids), QUERY_BATCH):
            part = doc_ids[begin : begin + QUERY_BATCH]
            for row in self._query(self.collections.documents, f"doc_id in {_quoted(part)}", fields):
                found[row["doc_id"]] = row
        return found

    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]:
        """Document metadata (no text), all of it or for the given ids, in insertion order."""
        if doc_ids is not None:
            doc_ids = list(doc_ids)
            if not doc_ids:
                return {}
        rows = self._document_rows(doc_ids, DOCUMENT_FIELDS)
        ordered = sorted(rows.values(), key=lambda row: (row["added"], row["doc_id"]))
        return {row["doc_id"]: stored_document(row) for row in ordered}

    def document_text(self, doc_id: str) -> str:
        rows = self._document_rows([doc_id], ["doc_id", "parts"])
        if not rows:
            raise KeyError(f"no document {doc_id!r} in {self.location}")
        parts = int(rows[doc_id]["parts"])
        keys = [f"{doc_id}#{n:06d}" for n in range(parts)]
        found = {row["key"]: row["text"] for row in self._query(self.collections.texts, f"key in {_quoted(keys)}", ["key", "text"])}
        return "".join(found[key] for key in keys)

    def search_vectors(self, vectors: np.ndarray, k: int) -> VectorHits:
        return self.vectors.search(vectors, k)

    def hybrid_ranked_ids(self, vector: np.ndarray, question: str, k: int, *, pool: int = 100, rrf_k: int = 60) -> list[tuple[int, float]]:
        """Milvus's own hybrid search: its RRF ranker over the top `pool` of the vector and BM25 searches."""
        pymilvus = pymilvus_module()
        requests = [self.vectors.search_request(vector, pool)]
        terms = _terms([question])[0]
        if terms:
            requests.append(pymilvus.AnnSearchRequest(data=[terms], anns_field=SPARSE_FIELD, param={"metric_type": "BM25"}, limit=pool))
        with self._lock:
            hits = self.client.hybrid_search(self.collections.chunks, requests, pymilvus.RRFRanker(rrf_k), limit=k,
                                             output_fields=[ID_FIELD])[0]
        return [(int(hit[ID_FIELD] if ID_FIELD in hit else hit["entity"][ID_FIELD]), float(hit["distance"])) for hit in hits]

    def close(self) -> None:
        with self._lock:
            self.client.close()


DOCUMENT_FIELDS = ["doc_id", "title", "date", "source", "url", "page_starts", "sources", "added", "chunks"]


def stored_document(row: dict) -> StoredDocument:
    return StoredDocument(row["doc_id"], row["title"], row["date"] or None, row["source"], row["url"] or None,
                          tuple(json.loads(row["page_starts"])), int(row["chunks"]), tuple(json.loads(row["sources"])))


def read_manifest(client, collections: Collections) -> dict | None:
    """The index's manifest, None when there is no index of that name; refuses another format version."""
    if not client.has_collection(collections.meta):
        return None
    for name in collections.all():  # a Milvus collection answers queries only once loaded (after a restart too)
        if client.has_collection(name):
            client.load_collection(name)
    rows = client.query(collections.meta, filter='key == "manifest"', output_fields=["value"])
    if not rows:
        return None
    manifest = json.loads(rows[0]["value"])
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexVersionError(
            f"Milvus index {collections.prefix!r} has format version {manifest.get('format_version')}; "
            f"this citeqa reads version {FORMAT_VERSION}: rebuild it with --rebuild"
        )
    return manifest


def _schema_with(client, fields):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    for name, dtype, options in fields:
        schema.add_field(name, dtype, **options)
    return schema


def _metadata_collection(client, name: str, fields) -> None:
    """A collection of plain rows (with the constant vector Milvus requires), unless it exists."""
    if client.has_collection(name):
        return
    schema = _schema_with(client, fields + [(DUMMY, pymilvus_module().DataType.FLOAT_VECTOR, {"dim": 2})])
    params = client.prepare_index_params()
    params.add_index(field_name=DUMMY, index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")


def create_origins_collection(client, collections: Collections) -> None:
    """`N_origins`, one row per (document, file), keyed by `origin_key`; `seq` orders them (oldest first)."""
    DataType = pymilvus_module().DataType
    string = {"max_length": MAX_STRING_BYTES}
    _metadata_collection(client, collections.origins, [
        ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 64}),
        ("doc_id", DataType.VARCHAR, {"max_length": 64}), ("path", DataType.VARCHAR, string),
        ("folder", DataType.VARCHAR, string), ("source", DataType.VARCHAR, string), ("seq", DataType.DOUBLE, {}),
    ])
    client.load_collection(collections.origins)


def origin_key(doc_id: str, path: str) -> str:
    return hashlib.sha256(f"{doc_id}\0{path}".encode()).hexdigest()


def create_collections(client, collections: Collections, dimension: int, *, index_type: str) -> None:
    """The five collections of a new index (any left from an interrupted create are reused)."""
    DataType = pymilvus_module().DataType
    Function, FunctionType = pymilvus_module().Function, pymilvus_module().FunctionType

    string = {"max_length": MAX_STRING_BYTES}
    if not client.has_collection(collections.chunks):
        analyzer = {"tokenizer": "standard", "filter": ["lowercase"]}  # the terms are analysed already
        schema = _schema_with(client, [
            (ID_FIELD, DataType.INT64, {"is_primary": True}),
            ("doc_id", DataType.VARCHAR, {"max_length": 64}),
            ("chunk_id", DataType.INT64, {}),
            ("start_char", DataType.INT64, {}),
            ("end_char", DataType.INT64, {}),
            ("text", DataType.VARCHAR, string),
            ("terms", DataType.VARCHAR, {**string, "enable_analyzer": True, "analyzer_params": analyzer}),
            (VECTOR_FIELD, DataType.FLOAT_VECTOR, {"dim": int(dimension)}),
            (SPARSE_FIELD, DataType.SPARSE_FLOAT_VECTOR, {}),
        ])
        schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["terms"], output_field_names=[SPARSE_FIELD]))
        params = vector_index_params(client, index_type)
        params.add_index(field_name=SPARSE_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        client.create_collection(collections.chunks, schema=schema, index_params=params, consistency_level="Strong")
    _metadata_collection(client, collections.documents, [
        ("doc_id", DataType.VARCHAR, {"is_primary": True, "max_length": 64}),
        ("title", DataType.VARCHAR, string), ("date", DataType.VARCHAR, {"max_length": 64}),
        ("source", DataType.VARCHAR, string), ("url", DataType.VARCHAR, string),
        ("page_starts", DataType.VARCHAR, string), ("sources", DataType.VARCHAR, string),
        ("added", DataType.DOUBLE, {}), ("chunks", DataType.INT64, {}), ("parts", DataType.INT64, {}),
    ])
    _metadata_collection(client, collections.texts, [
        ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 80}),
        ("doc_id", DataType.VARCHAR, {"max_length": 64}), ("text", DataType.VARCHAR, string),
    ])
    _metadata_collection(client, collections.meta, [("key", DataType.VARCHAR, {"is_primary": True, "max_length": 64}), ("value", DataType.VARCHAR, string)])
    create_origins_collection(client, collections)


def _fits(value: str, what: str) -> str:
    if len(value.encode("utf-8")) > MAX_STRING_BYTES:
        raise ValueError(f"{what} is longer than Milvus's {MAX_STRING_BYTES}-byte strings; use smaller chunks (--chunk-words)")
    return value


def writing_embedder(client, name: str, embedder: Embedder, rebuild: bool) -> Embedder:
    """The embedder to add to the index `name` with: following the variant an existing index was built with
    (`Embedder.following`; the writer refuses any other), `embedder` itself for a new one or a rebuild."""
    manifest = None if rebuild else read_manifest(client, Collections(check_name(name)))
    return embedder if manifest is None else embedder.following(manifest["embedding_model"]["name"])


class MilvusIndexWriter:
    """Writes documents with their chunks and vectors into a Milvus index (one writer at a time)."""

    def __init__(self, client, uri: str, name: str, embedder_name: str, dimension: int, *,
                 chunking: ChunkingSettings | None = None, rebuild: bool = False, index_type: str = "FLAT"):
        self.client = client
        self.collections = Collections(check_name(name))
        if rebuild:
            for collection in self.collections.all():
                if client.has_collection(collection):
                    client.drop_collection(collection)
        manifest = read_manifest(client, self.collections)
        if manifest is None:
            create_collections(client, self.collections, dimension, index_type=index_type)
            chunking = ChunkingSettings() if chunking is None else chunking
            manifest = {
                "format_version": FORMAT_VERSION,
                "embedding_model": {"name": embedder_name, "variant": split_variant(embedder_name)[1],
                                    "dimension": int(dimension)},
                "chunking": {"max_words": chunking.max_words, "overlap_sentences": chunking.overlap_sentences},
                "vector_store": "milvus", "vector_index": index_type,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            client.upsert(self.collections.meta, [{"key": "manifest", "value": json.dumps(manifest), DUMMY: [0.0, 0.0]}])
        elif manifest["embedding_model"]["name"] != embedder_name:
            raise IndexMismatchError("Milvus " + mismatch_message(f"{name!r} at {uri}", manifest["embedding_model"]["name"],
                                                                  embedder_name, "pass --rebuild"))
        self.manifest = manifest
        self.chunking = ChunkingSettings(**manifest["chunking"])
        self.index = MilvusIndex(client, uri, name, manifest)
        self._clock = time.time()
        create_origins_collection(client, self.collections)  # an index made before origins gets them here
        self._seq: dict[str, float] = {}

    def origin_rows(self) -> list[Origin]:
        """Every origin row, oldest first."""
        rows = []
        _quiet_iterator_log()
        iterator = self.client.query_iterator(self.collections.origins, batch_size=1000, filter="",
                                              output_fields=["key", "doc_id", "path", "folder", "source", "seq"])
        try:
            while batch := iterator.next():
                rows += batch
        finally:
            iterator.close()
        rows.sort(key=lambda row: (row["seq"], row["key"]))
        self._seq = {row["key"]: float(row["seq"]) for row in rows}
        return [Origin(row["doc_id"], row["path"], row["folder"], row["source"]) for row in rows]

    def apply_origin_rows(self, plan: OriginPlan) -> None:
        """Delete, update (keeping their place) and insert (after all others) the origin rows of a plan."""
        keys = [origin_key(r.doc_id, r.path) for r in plan.delete]
        for begin in range(0, len(keys), QUERY_BATCH):
            self.client.delete(self.collections.origins, ids=keys[begin : begin + QUERY_BATCH])
        rows = []
        for origin in (*plan.update, *plan.insert):
            key = origin_key(origin.doc_id, origin.path)
            if key not in self._seq:
                self._clock = max(time.time(), self._clock + 1e-6)
                self._seq[key] = self._clock
            rows.append({"key": key, "doc_id": origin.doc_id, "path": _fits(origin.path, f"the path {origin.path}"),
                         "folder": _fits(origin.folder, f"the folder {origin.folder}"),
                         "source": _fits(origin.source, f"the source of {origin.doc_id}"), "seq": self._seq[key],
                         DUMMY: [0.0, 0.0]})
        for begin in range(0, len(rows), WRITE_BATCH):
            self.client.upsert(self.collections.origins, rows[begin : begin + WRITE_BATCH])

    def remove(self, doc_ids: Iterable[str]) -> list[str]:
        """Delete documents (row first, so they vanish at once), then their texts and chunks."""
        removed = []
        for doc_id in dict.fromkeys(doc_ids):
            if self.index._document_rows([doc_id], ["doc_id"]):
                self.client.delete(self.collections.documents, ids=[doc_id])
                removed.append(doc_id)
            self.client.delete(self.collections.texts, filter=f"doc_id == {json.dumps(doc_id)}")
            self.client.delete(self.collections.chunks, filter=f"doc_id == {json.dumps(doc_id)}")
            self.client.delete(self.collections.origins, filter=f"doc_id == {json.dumps(doc_id)}")
        return removed

    def split_known(self, documents: Sequence[Document]) -> tuple[list[Document], list[tuple[str, str]], bool]:
        """(new documents, (source, doc_id) duplicates, whether a new source name was recorded).

        A document already indexed (or repeated in `documents`) is a duplicate: its file name is added to
        the stored document's `sources` instead of indexing it twice."""
        rows = self.index._document_rows([d.doc_id for d in documents], DOCUMENT_FIELDS + ["parts"])
        fresh, duplicates, seen, alias_added = [], [], set(), False
        for document in documents:
            if document.doc_id in rows:
                duplicates.append((document.source, document.doc_id))
                sources = json.loads(rows[document.doc_id]["sources"])
                if document.source not in sources:
                    rows[document.doc_id]["sources"] = json.dumps(sorted({*sources, document.source}))
                    row = {key: value for key, value in rows[document.doc_id].items() if key in DOCUMENT_FIELDS + ["parts"]}
                    self.client.upsert(self.collections.documents, [{**row, DUMMY: [0.0, 0.0]}])
                    alias_added = True
            elif document.doc_id in seen:
                duplicates.append((document.source, document.doc_id))
            else:
                seen.add(document.doc_id)
                fresh.append(document)
        return fresh, duplicates, alias_added

    def write(self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]], vectors: Sequence[np.ndarray]) -> int:
        """Store new documents, each with its chunks and their vectors; returns the chunks written."""
        flat = [chunk for part in chunks for chunk in part]
        if flat:
            matrix = np.concatenate([np.asarray(v, dtype=np.float32).reshape(-1, self.index.vectors.dimension) for v in vectors])
            terms = _terms([c.text for c in flat])
            for begin in range(0, len(flat), WRITE_BATCH):
                part = flat[begin : begin + WRITE_BATCH]
                self.index.vectors.add(
                    np.array([chunk_key(c.doc_id, c.chunk_id) for c in part], dtype=np.int64), matrix[begin : begin + len(part)],
                    fields={"doc_id": [c.doc_id for c in part], "chunk_id": [c.chunk_id for c in part],
                            "start_char": [c.start for c in part], "end_char": [c.end for c in part],
                            "text": [_fits(c.text, f"a chunk of document {c.doc_id}") for c in part],
                            "terms": [_fits(t, f"a chunk of document {c.doc_id}") for c, t in zip(part, terms[begin : begin + len(part)])]},
                )
        texts, rows = [], []
        for document, own in zip(documents, chunks):
            pieces = [document.text[i : i + TEXT_PIECE] for i in range(0, len(document.text), TEXT_PIECE)] or [""]
            texts += [{"key": f"{document.doc_id}#{n:06d}", "doc_id": document.doc_id, "text": piece, DUMMY: [0.0, 0.0]}
                      for n, piece in enumerate(pieces)]
            self._clock = max(time.time(), self._clock + 1e-6)
            rows.append({
                "doc_id": document.doc_id, "title": _fits(document.title, f"the title of {document.doc_id}"),
                "date": document.date or "", "source": _fits(document.source, f"the source of {document.doc_id}"),
                "url": _fits(document.url or "", f"the url of {document.doc_id}"),
                "page_starts": _fits(json.dumps(list(document.page_starts)), f"the page list of {document.doc_id}"),
                "sources": json.dumps([document.source]), "added": self._clock, "chunks": len(own), "parts": len(pieces),
                DUMMY: [0.0, 0.0],
            })
        for begin in range(0, len(texts), WRITE_BATCH):
            self.client.upsert(self.collections.texts, texts[begin : begin + WRITE_BATCH])
        for begin in range(0, len(rows), WRITE_BATCH):
            self.client.upsert(self.collections.documents, rows[begin : begin + WRITE_BATCH])  # the commit marker
        return len(flat)

    def flush(self) -> None:
        for collection in self.collections.all():
            self.client.flush(collection)


def update_milvus_index(uri: str, embedder: Embedder, *, add: Iterable[Document] = (), remove: Iterable[str] = (),
                        **options) -> UpdateReport:
    """`embeddings.index.update_index` for a Milvus index: add and remove documents; only new chunks are embedded.
    `options` are those of `sync_milvus_index`: name, chunking, rebuild, index_type, progress, on_progress, client."""
    return sync_milvus_index(uri, embedder, add=add, remove=remove, **options).update


def sync_milvus_index(
    uri: str,
    embedder: Embedder,
    *,
    name: str = DEFAULT_COLLECTION,
    add: Iterable[Document] = (),
    remove: Iterable[str] = (),
    files: Iterable[SourceFile] = (),
    mirror: Iterable[str] = (),
    remove_paths: Iterable[str] = (),
    strict: bool = False,
    chunking: ChunkingSettings | None = None,
    rebuild: bool = False,
    index_type: str = "FLAT",
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    client=None,
) -> SyncReport:
    """`embeddings.index.sync_index` for a Milvus index, with the same origin rules (`plan_origins`); not atomic
    as a whole (see the module docstring), but an unknown id or path under `strict` still changes nothing."""
    started = time.monotonic()
    uri = check_uri(uri)
    client = connect(uri) if client is None else client
    embedder = writing_embedder(client, name, embedder, rebuild)
    writer = MilvusIndexWriter(client, uri, name, embedder.name, embedder.dimension, chunking=chunking,
                               rebuild=rebuild, index_type=index_type)
    old = writer.origin_rows()
    remove, remove_paths = list(dict.fromkeys(remove)), list(dict.fromkeys(remove_paths))
    if strict:
        held = writer.index._document_rows(remove, ["doc_id"]) if remove else {}
        missing = [d for d in remove if d not in held]
        missing += [p for p in remove_paths if not any(is_under(r.path, p) for r in old)]
        if missing:
            raise IndexRemoveError(f"not in the index: {', '.join(missing)}; nothing was changed")
    removed = writer.remove(remove)
    old = [r for r in old if r.doc_id not in set(remove)]
    pairs = [(document, None) for document in add] + [(document, file) for file in files for document in file.documents]
    rows = writer.index._document_rows({d.doc_id for d, _ in pairs}, DOCUMENT_FIELDS + ["parts"])
    tracker, fresh, chunks, duplicates, plain, names, inserted = OriginTracker(), [], [], [], set(), {}, set()
    for document, file in pairs:
        if file is None:
            plain.add(document.doc_id)
        if document.doc_id in rows or document.doc_id in inserted:
            if file is None:
                duplicates.append((document.source, document.doc_id))
            else:
                tracker.see(file, document, new_chunks=None)
            if document.doc_id in rows:
                names.setdefault(document.doc_id, set()).add(document.source)
            continue
        inserted.add(document.doc_id)
        fresh.append(document)
        chunks.append(chunk_document(document, max_words=writer.chunking.max_words,
                                     overlap_sentences=writer.chunking.overlap_sentences))
        if file is not None:
            tracker.see(file, document, new_chunks=len(chunks[-1]))
    done = _embed_and_write(writer, embedder, fresh, chunks, progress, on_progress)
    plan = plan_origins(old, tracker, mirror=mirror, remove_paths=remove_paths, keep=plain)
    writer.apply_origin_rows(plan)
    removed += writer.remove(plan.remove_documents)
    files_done, rows_changed = _refresh_documents(writer, plan, tracker, rows, names,
                                                  skip={*removed, *(d.doc_id for d in fresh)})
    writer.flush()
    changed = bool(removed or fresh or plan.delete or plan.update or plan.insert or rows_changed)
    report = UpdateReport(added=tuple(d.doc_id for d in fresh), duplicates=tuple(duplicates) + plan.duplicates,
                          removed=tuple(removed), chunks_embedded=done, seconds=time.monotonic() - started,
                          changed=changed)
    return SyncReport(report, files_done, tracker.embedded)


def _embed_and_write(writer: MilvusIndexWriter, embedder: Embedder, fresh: list[Document], chunks: list[list[Chunk]],
                     progress: bool, on_progress: Callable[[int, int], None] | None) -> int:
    """Embed the new documents' chunks in groups of about WRITE_BATCH and write them; returns the chunks written."""
    total = sum(len(c) for c in chunks)
    done, group, bar = 0, [], _bar(total, progress)
    for position, document in enumerate(fresh):
        group.append(position)
        if sum(len(chunks[i]) for i in group) >= WRITE_BATCH or position == len(fresh) - 1:
            own = [chunks[i] for i in group]
            flat_texts = [c.text for part in own for c in part]
            vectors = embedder.encode(flat_texts)
            split = np.cumsum([len(part) for part in own])[:-1]
            done += writer.write([fresh[i] for i in group], own, np.split(vectors, split))
            if bar is not None:
                bar.update(len(flat_texts))
            if on_progress is not None:
                on_progress(done, total)
            group = []
    if bar is not None:
        bar.close()
    return done


def _refresh_documents(writer: MilvusIndexWriter, plan: OriginPlan, tracker: OriginTracker, rows: dict[str, dict],
                       names: dict[str, set[str]], *, skip: set[str]) -> tuple[dict[str, str], bool]:
    """Rewrite the rows of documents already held whose names (`sources`) or metadata (from their first origin)
    changed; returns each file's outcome (a file whose documents only changed metadata is "replaced") and
    whether any row changed."""
    stale: dict[str, set[str]] = {}
    for doc_id, source in plan.stale_aliases:
        stale.setdefault(doc_id, set()).add(source)
    targets = [d for d in dict.fromkeys([*names, *plan.first, *stale]) if d not in skip]
    rows = {**rows, **writer.index._document_rows([d for d in targets if d not in rows], DOCUMENT_FIELDS + ["parts"])}
    files, changed, updated = dict(plan.files), False, []
    for doc_id in targets:
        row = rows.get(doc_id)
        if row is None:
            continue
        stored = (row["title"], row["date"] or None, row["source"], row["url"] or None, tuple(json.loads(row["page_starts"])))
        first = plan.first.get(doc_id)
        wanted = stored if first is None else tracker.wanted_metadata(stored, first)
        before = json.loads(row["sources"])
        sources = (set(before) | names.get(doc_id, set())) - stale.get(doc_id, set())
        if wanted != stored:
            sources.add(wanted[2])
        if wanted == stored and sorted(sources) == sorted(before):
            continue
        updated.append({**{key: row[key] for key in DOCUMENT_FIELDS + ["parts"]},
                        "title": _fits(wanted[0], f"the title of {doc_id}"), "date": wanted[1] or "",
                        "source": _fits(wanted[2], f"the source of {doc_id}"), "url": _fits(wanted[3] or "", f"the url of {doc_id}"),
                        "page_starts": json.dumps(list(wanted[4])), "sources": json.dumps(sorted(sources)), DUMMY: [0.0, 0.0]})
        changed = True
        if wanted != stored:
            plan.edited(doc_id, files)
    for begin in range(0, len(updated), WRITE_BATCH):
        writer.client.upsert(writer.collections.documents, updated[begin : begin + WRITE_BATCH])
    return files, changed


def _bar(total: int, show: bool):
    if not show or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="embedding", unit="chunk")
