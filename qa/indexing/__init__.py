"""Index wiring: open or update the index a `Config` names (FAISS folder or Milvus), the bundled
articles' index, and indexing with Ray.

It lives in qa, not embeddings, because it decides between stores and knows the bundled corpus;
each module of embeddings/ implements one store and knows neither. May import corpus and embeddings only.
"""
