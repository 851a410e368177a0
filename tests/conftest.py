"""Shared fixtures: real models, kept tiny and built once per test session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from corpus.documents import Document, document_id


def make_document(text: str, title: str = "A title", date: str | None = "2025-01-24", source: str = "test.txt") -> Document:
    return Document(doc_id=document_id(text), title=title, date=date, source=source, text=text)


ARTICLES = {
    "stargate": (
        "Stargate plans a data center",
        "Earlier this week, the president publicized a new Stargate venture to help grow AI infrastructure. "
        "The new entity will start building a data center in Abilene, Texas. "
        "With an initial investment of $100 billion, there are plans to pour up to $500 billion into Stargate.",
    ),
    "volcano": (
        "A volcano in Iceland",
        "The volcano on the Reykjanes peninsula erupted again on Tuesday night. "
        "Lava flowed towards the fishing town of Grindavik, which had been evacuated. "
        "Scientists said the eruption was the seventh since December.",
    ),
    "chess": (
        "A chess final",
        "The world chess championship was decided in a tiebreak of rapid games. "
        "The challenger won the final game with the black pieces after a long endgame. "
        "The prize fund was two million euros.",
    ),
}


def write_bridge_articles(folder: Path) -> Path:
    """Two dated articles that contradict each other (2023: the bridge opens in 2026; 2025: now summer 2027)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bridge-2023.txt").write_text(
        " title Bridge works begin\n date 2023-05-10\n"
        "The new bridge over the river is expected to open in 2026. Work began in spring.\n", encoding="utf-8")
    (folder / "bridge-2025.txt").write_text(
        " title Bridge delayed\n date 2025-03-14\n"
        "The new bridge over the river is now expected to open in summer 2027. "
        "The delay was blamed on steel prices.\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def documents() -> list[Document]:
    return [make_document(text, title=title, source=f"{key}.txt") for key, (title, text) in ARTICLES.items()]


@pytest.fixture(scope="session")
def embedder():
    from embeddings.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def fp32_embedder(embedder):
    """The default model's fp32 ONNX variant, named explicitly (`auto` builds new indexes in int8)."""
    from embeddings.embedder import Embedder

    return Embedder(embedder.model_path, backend="onnx")


@pytest.fixture(scope="session")
def int8_embedder(embedder):
    from embeddings.embedder import Embedder

    return Embedder(embedder.model_path, backend="onnx-int8")


@pytest.fixture(scope="session")
def tiny_reader_dir(tmp_path_factory) -> Path:
    """A real BertForQuestionAnswering with a tiny random config and the real MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from embeddings.models import default_embedding_model_path

    folder = tmp_path_factory.mktemp("tiny-reader")
    tokenizer = AutoTokenizer.from_pretrained(str(default_embedding_model_path()))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    config.citeqa = {"max_length": 64, "stride": 16, "no_answer_threshold": -100.0}
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedder, documents) -> Path:
    from corpus.chunking import ChunkingSettings
    from embeddings.index import update_index

    folder = tmp_path_factory.mktemp("index") / "idx"
    update_index(folder, embedder, add=documents, chunking=ChunkingSettings(max_words=25, overlap_sentences=1))
    return folder
