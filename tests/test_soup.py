"""Weight averaging of readers: the weights rule (pure) and a real average of two tiny readers."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from qa.cli import main
from qa.training.soup import average_readers, soup_weights


@pytest.mark.parametrize(
    ("count", "weights", "expected"),
    [(2, None, [0.5, 0.5]), (4, None, [0.25] * 4), (2, [1, 3], [0.25, 0.75]), (3, [0.2, 0.4, 0.4], [0.2, 0.4, 0.4])],
)
def test_soup_weights_normalise(count, weights, expected):
    assert soup_weights(count, weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("count", "weights", "message"),
    [(1, None, "at least two"), (2, [1.0], "1 weights for 2"), (2, [1.0, 0.0], "positive"), (2, [1.0, -1.0], "positive"),
     (2, [1.0, float("nan")], "positive")],
)
def test_soup_weights_reject(count, weights, message):
    with pytest.raises(ValueError, match=message):
        soup_weights(count, weights)


def _perturbed_copy(source, target, seed: int):
    model = AutoModelForQuestionAnswering.from_pretrained(str(source))
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.config.citeqa = {**model.config.citeqa, "training": {"run": f"run-{seed}", "global_step": seed}}
    model.save_pretrained(target)
    return model


def test_average_is_the_weighted_mean_and_drops_calibration(tiny_reader_dir, tmp_path):
    a = _perturbed_copy(tiny_reader_dir, tmp_path / "a", 1)
    b = _perturbed_copy(tiny_reader_dir, tmp_path / "b", 2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "a" / name).write_bytes((tiny_reader_dir / name).read_bytes())
    out = average_readers([tmp_path / "a", tmp_path / "b"], tmp_path / "soup", weights=[1, 3])
    soup = AutoModelForQuestionAnswering.from_pretrained(str(out), dtype=torch.float32).state_dict()
    for name, pa in a.state_dict().items():
        expected = (0.25 * pa + 0.75 * b.state_dict()[name]).half().float()
        assert torch.allclose(soup[name], expected, atol=1e-3), name
    assert soup["qa_outputs.weight"].dtype == torch.float32
    settings = json.loads((out / "config.json").read_text())["citeqa"]
    assert "no_answer_threshold" not in settings and settings["max_length"] == 64
    assert [i["run"] for i in settings["training"]["soup"]] == ["run-1", "run-2"]
    assert [i["weight"] for i in settings["training"]["soup"]] == [0.25, 0.75]
    assert (out / "tokenizer.json").is_file()


def test_a_soup_of_a_soup_records_the_inner_recipe(tiny_reader_dir, tmp_path):
    for seed in (1, 2, 3):
        _perturbed_copy(tiny_reader_dir, tmp_path / f"r{seed}", seed)
    inner = average_readers([tmp_path / "r1", tmp_path / "r2"], tmp_path / "inner")
    outer = average_readers([tmp_path / "r3", inner], tmp_path / "outer")
    recipe = json.loads((outer / "config.json").read_text())["citeqa"]["training"]["soup"]
    assert [i["reader"] for i in recipe] == ["r3", "inner"]
    assert "soup" not in recipe[0]
    assert [(i["run"], i["weight"]) for i in recipe[1]["soup"]] == [("run-1", 0.5), ("run-2", 0.5)]


def test_average_rejects_other_architectures(tiny_reader_dir, tmp_path):
    from transformers import BertConfig, BertForQuestionAnswering

    other = BertForQuestionAnswering(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                intermediate_size=32))
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="architecture"):
        average_readers([tiny_reader_dir, tmp_path / "other"], tmp_path / "soup")
    assert not (tmp_path / "soup").exists()


def test_cli_names_the_bad_argument(tiny_reader_dir, tmp_path, capsys):
    assert main(["average-readers", str(tiny_reader_dir), str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["average-readers", str(tiny_reader_dir), str(tiny_reader_dir), "--weights", "1", "--out", str(tmp_path / "s")]) == 2
    assert "1 weights for 2" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
