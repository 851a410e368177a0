"""Milvus as a `VectorStore`: one collection of (id, vector, fields...) on Milvus Lite (a `.db` file) or a server.

The URI picks the engine: a path ending in `.db` opens Milvus Lite (embedded, from the `milvus-lite`
package); `http://host:19530` (or https/tcp/unix) a Milvus server or cluster. pymilvus is an optional
extra: `pip install "citeqa[milvus]"`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from embeddings.store import VectorHits

INSTALL_HINT = 'pip install "citeqa[milvus]"'
SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
VECTOR_INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX")
ID_FIELD = "id"
VECTOR_FIELD = "vector"


class MilvusUnavailableError(RuntimeError):
    """pymilvus (or milvus-lite, for a `.db` URI) is not installed."""


def pymilvus_module():
    """The pymilvus module, or one clear line on how to install it."""
    try:
        import pymilvus
    except ImportError:
        raise MilvusUnavailableError(f"--store milvus needs pymilvus: {INSTALL_HINT}") from None
    return pymilvus


def check_uri(uri: str) -> str:
    """A Milvus Lite file (`*.db`) or a server URL; anything else is refused with the reason."""
    if uri.startswith(SERVER_SCHEMES):
        return uri
    if uri.endswith(".db"):
        return str(Path(uri).expanduser().resolve())
    raise ValueError(f"bad Milvus URI {uri!r}: give a Milvus Lite file ending in .db, or http://host:19530 for a server")


def check_name(name: str) -> str:
    """Collection names: letters, digits and underscores, not starting with a digit."""
    if not NAME.fullmatch(name):
        raise ValueError(f"bad Milvus collection name {name!r}: use letters, digits and _ (not starting with a digit)")
    return name


def connect(uri: str):
    """A `MilvusClient` for the URI (starts the embedded Milvus Lite engine for a `.db` file)."""
    pymilvus = pymilvus_module()
    uri = check_uri(uri)
    if not uri.startswith(SERVER_SCHEMES):
        try:
            import milvus_lite  # noqa: F401
        except ImportError:
            raise MilvusUnavailableError(f"a Milvus Lite file ({uri}) needs milvus-lite: {INSTALL_HINT}") from None
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    return pymilvus.MilvusClient(uri=uri)


def vector_index_params(client, index_type: str, metric: str = "IP"):
    """Index parameters for the vector field (FLAT is exact, as FAISS flat; HNSW/IVF trade recall for speed)."""
    if index_type not in VECTOR_INDEX_TYPES:
        raise ValueError(f"unknown Milvus index type {index_type!r}: choose one of {', '.join(VECTOR_INDEX_TYPES)}")
    params = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}.get(index_type, {})
    index_params = client.prepare_index_params()
    index_params.add_index(field_name=VECTOR_FIELD, index_type=index_type, metric_type=metric, params=params)
    return index_params


def search_params(index_type: str) -> dict:
    extra = {"HNSW": {"ef": 64}, "IVF_FLAT": {"nprobe": 16}}.get(index_type, {})
    return {"metric_type": "IP", "params": extra}


class MilvusStore:
    """Inner-product search over unit vectors in one Milvus collection; ids are the collection's INT64 keys.

    `add` may carry the collection's other fields (`fields`: name -> one value per row); fields left out
    take their schema defaults. Writes are durable once `save` (a flush) returns.
    """

    def __init__(self, client, collection: str, dimension: int, *, index_type: str = "FLAT"):
        self.client = client
        self.collection = check_name(collection)
        self.dimension = int(dimension)
        self.index_type = index_type
        self._search_params = search_params(index_type)

    @classmethod
    def create(cls, client, collection: str, dimension: int, *, index_type: str = "FLAT") -> "MilvusStore":
        """A new collection holding only ids and vectors (a store on its own)."""
        pymilvus = pymilvus_module()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, pymilvus.DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, pymilvus.DataType.FLOAT_VECTOR, dim=int(dimension))
        client.create_collection(check_name(collection), schema=schema, consistency_level="Strong",
                                 index_params=vector_index_params(client, index_type))
        return cls(client, collection, dimension, index_type=index_type)

    def __len__(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: dict[str, list] | None = None) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids) == 0:
            return
        extra = fields if fields is not None else {}
        rows = []
        for row, (key, vector) in enumerate(zip(np.asarray(ids, dtype=np.int64).tolist(), vectors)):
            record = {ID_FIELD: key, VECTOR_FIELD: vector.tolist()}
            record.update({name: values[row] for name, values in extra.items()})
            rows.append(record)
        self.client.upsert(self.collection, rows)

    def remove(self, ids: np.ndarray) -> int:
        keys = np.asarray(ids, dtype=np.int64).tolist()
        if not keys:
            return 0
        present = self.client.query(self.collection, filter=f"{ID_FIELD} in {keys}", output_fields=[ID_FIELD])
        if present:
            self.client.delete(self.collection, ids=[row[ID_FIELD] for row in present])
        return len(present)

    def search(self, vectors: np.ndarray, k: int) -> VectorHits:
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        n = vectors.shape[0]
        if k <= 0 or n == 0:
            return VectorHits(np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64))
        results = self.client.search(self.collection, data=vectors.tolist(), anns_field=VECTOR_FIELD, limit=k,
                                     search_params=self._search_params, output_fields=[ID_FIELD])
        width = max((len(hits) for hits in results), default=0)
        scores = np.zeros((n, width), np.float32)
        ids = np.full((n, width), -1, np.int64)
        for row, hits in enumerate(results):
            for column, hit in enumerate(hits):
                scores[row, column] = hit["distance"]
                ids[row, column] = hit[ID_FIELD] if ID_FIELD in hit else hit["entity"][ID_FIELD]
        return VectorHits(scores, ids)

    def search_request(self, vector: np.ndarray, limit: int):
        """This store's half of a Milvus `hybrid_search`: the vector search over its collection."""
        return pymilvus_module().AnnSearchRequest(data=np.atleast_2d(vector).astype(np.float32).tolist(),
                                                  anns_field=VECTOR_FIELD, param=self._search_params, limit=limit)

    def save(self, path: Path | None = None) -> None:
        """Flush the collection; Milvus keeps its own files, so `path` is not used."""
        self.client.flush(self.collection)
