"""Every Config field is checked when the Config is made, and the error names the field and the value."""

from __future__ import annotations

import math

import pytest

from qa.answering.config import Config, check_count


@pytest.mark.parametrize("changes, message", [
    ({"k": 0}, "k must be at least 1, got 0"),
    ({"k": -1}, "k must be at least 1, got -1"),
    ({"k": True}, "k must be an integer, got True (bool)"),
    ({"k": "5"}, "k must be an integer, got '5' (str)"),
    ({"k": 2.5}, "k must be an integer, got 2.5 (float)"),
    ({"fusion_pool": 0}, "fusion_pool must be at least 1"),
    ({"max_upload_chunks": 0}, "max_upload_chunks must be at least 1"),
    ({"chunk_overlap_sentences": -1}, "chunk_overlap_sentences must be at least 0"),
    ({"alternatives": "x"}, "alternatives must be an integer, got 'x' (str)"),
    ({"reader_max_length": -1}, "reader_max_length must be at least 16, got -1"),
    ({"reader_stride": -3}, "reader_stride must be at least 0, got -3"),
    ({"reader_max_length": 256, "reader_stride": 10**6}, "reader_stride (1000000) must be smaller than reader_max_length (256)"),
    ({"index_dir": ""}, "index_dir must be a non-empty string or None, got ''"),
    ({"reader_model": "  "}, "reader_model must be a non-empty string or None"),
    ({"no_answer_threshold": math.nan}, "no_answer_threshold must be a number (inf and -inf allowed) or None, got nan"),
    ({"no_answer_threshold": "2"}, "no_answer_threshold must be a number"),
    ({"early_stop_score": math.nan}, "early_stop_score must be a number"),
    ({"allow_uploads": "yes"}, "allow_uploads must be True or False, got 'yes'"),
    ({"retrieval_mode": "fuzzy"}, "unknown retrieval mode 'fuzzy'"),
    ({"store": "redis"}, "unknown store 'redis'"),
    ({"store_uri": "x.db"}, "a store URI (x.db) is only for --store milvus"),
    ({"index_type": "lsh"}, "unknown index type 'lsh'"),
    ({"reader_backend": "gpu"}, "unknown reader backend 'gpu'"),
])
def test_a_bad_field_is_named(changes, message):
    with pytest.raises(ValueError) as caught:
        Config(**changes)
    assert message in str(caught.value)


def test_good_values_pass():
    config = Config(k=1, no_answer_threshold=-math.inf, early_stop_score=math.inf, reader_max_length=256, reader_stride=0,
                    alternatives=0, chunk_overlap_sentences=0, allow_uploads=True)
    assert config.k == 1 and config.no_answer_threshold == -math.inf and config.allow_uploads


def test_check_count():
    assert check_count("n", 3) == 3 and check_count("n", 0, minimum=0) == 0
    for bad in (False, 1.0, None, "1"):
        with pytest.raises(ValueError, match="n must be an integer"):
            check_count("n", bad)


@pytest.mark.parametrize("k, message", [(0, "k must be at least 1"), (True, "k must be an integer"),
                                        ("5", "k must be an integer"), (-1, "k must be at least 1")])
def test_the_assistant_checks_k_per_call(built_index, embedder, tiny_reader_dir, k, message):
    from qa.answering.pipeline import Assistant

    assistant = Assistant.from_config(Config(index_dir=str(built_index), reader_model=str(tiny_reader_dir)), embedder=embedder)
    with pytest.raises(ValueError, match=message):
        assistant.answer("Where is the data center?", k=k)
    with pytest.raises(ValueError, match="threshold must be a number"):
        assistant.answer("Where is the data center?", threshold=math.nan)


def test_a_reader_stride_as_long_as_its_window_is_refused(tiny_reader_dir):
    from qa.answering.reader import ExtractiveReader

    with pytest.raises(ValueError, match=r"stride \(64\) must be at least 0 and smaller than its window length \(64\)"):
        ExtractiveReader(tiny_reader_dir, stride=64)
