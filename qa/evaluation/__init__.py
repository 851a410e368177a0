"""Scoring citeqa against question sets: pure scoring (`metrics`, `scoring`), question sets
(`datasets`), the timed run (`run`) and its HTML report (`report`).

May import corpus, embeddings, qa.indexing and qa.answering; nothing from qa.training, qa.cli or ui.
"""
