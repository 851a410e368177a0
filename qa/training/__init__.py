"""Making the shipped reader: fine-tuning (`train`), its labels and negatives, distillation, weight
averaging (`soup`), and calibrating the no-answer threshold and the early stop.

May import corpus, embeddings, qa.indexing, qa.answering and qa.evaluation; nothing from qa.cli or ui.
"""
