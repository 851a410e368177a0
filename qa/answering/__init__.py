"""What runs per question: retrievers, the extractive reader, the `Assistant` that cites, `answer()`.

May import corpus, embeddings and qa.indexing; nothing from qa.evaluation, qa.training, qa.cli or ui.
"""
