"""Embeddings stage: the sentence embedder, vector stores (FAISS; Milvus), BM25, and the persisted index
that any store offers through the `PassageIndex` protocol. May import corpus only."""
