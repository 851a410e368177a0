"""Readers under a busy writer: every open sees one whole generation, none fails, none waits for the lock."""

import threading
import time

import pytest

from corpus.chunking import ChunkingSettings

from embeddings.index import DocumentIndex, update_index, write_lock

SETTINGS = ChunkingSettings(max_words=25, overlap_sentences=1)


@pytest.mark.slow
def test_readers_see_whole_generations_while_a_writer_keeps_writing(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=SETTINGS)
    question = embedder.encode(["Where is the data center being built?"])
    stop = threading.Event()
    failures: list[BaseException] = []
    seen_states: set[tuple[int, int]] = set()
    opens = [0]
    lock = threading.Lock()

    def reader() -> None:
        while not stop.is_set():
            try:
                index = DocumentIndex.open(root, embedder=embedder)
                chunk_rows = index._query("SELECT COUNT(*) FROM chunks")[0][0]
                documents_rows = index._query("SELECT COUNT(*) FROM documents")[0][0]
                assert chunk_rows == len(index) == len(index.vectors) == len(index.bm25)
                assert documents_rows == index.manifest["counts"]["documents"]
                hits = index.search_vectors(question, 3)
                assert set(index.chunks([int(i) for i in hits.ids[0] if i >= 0])), "every hit resolves to a chunk"
                index.close()
                with lock:
                    opens[0] += 1
                    seen_states.add((documents_rows, chunk_rows))
            except BaseException as err:  # noqa: BLE001 - collected and reported below
                failures.append(err)
                return

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    writes = 0
    try:
        for _ in range(3):
            for document in documents[1:]:
                update_index(root, embedder, add=[document], wait_seconds=30)
                writes += 1
            update_index(root, embedder, remove=[d.doc_id for d in documents[1:]], wait_seconds=30)
            writes += 1
        with write_lock(root):  # while a writer holds the lock, readers still open the index
            before = opens[0]
            deadline = time.monotonic() + 10
            while opens[0] == before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert opens[0] > before
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[0]
    assert writes == 3 * len(documents)
    assert opens[0] > writes and len(seen_states) >= 2
    print(f"{opens[0]} reader opens during {writes} writes; states seen: {sorted(seen_states)}")
