"""Distillation: the soft-target loss on hand-made logits, and a training run with a real tiny teacher."""

import json
import math

import pytest
import torch

from qa.cli import main
from qa.training.distillation import TeacherEnsemble, distillation_loss
from qa.training.train import TrainingConfig, train_reader

from test_training import make_config, squad_file  # noqa: F401  (fixture)


def probs(logits, mask, t):
    return torch.softmax(torch.tensor(logits).masked_fill(torch.tensor(mask) == 0, -1e9) / t, dim=-1)


def test_loss_is_zero_when_the_student_matches_the_teacher():
    logits, mask = [[1.0, 3.0, -2.0, 0.5]], [[1, 1, 1, 1]]
    t = probs(logits, mask, 2.0)
    loss = distillation_loss(torch.tensor(logits), torch.tensor(logits), t, t, torch.tensor(mask), 2.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_loss_is_the_kl_divergence_times_t_squared():
    student, teacher, mask = [[0.0, 0.0]], [[math.log(3.0), 0.0]], [[1, 1]]
    t = probs(teacher, mask, 1.0)  # (0.75, 0.25) against the student's (0.5, 0.5)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    loss = distillation_loss(torch.tensor(student), torch.tensor(student), t, t, torch.tensor(mask), 1.0)
    assert loss.item() == pytest.approx(kl, rel=1e-5)
    t3 = probs([[3 * math.log(3.0), 0.0]], mask, 3.0)  # the same targets at T=3: the loss is scaled by T²
    loss3 = distillation_loss(torch.tensor(student), torch.tensor(student), t3, t3, torch.tensor(mask), 3.0)
    assert loss3.item() == pytest.approx(9 * kl, rel=1e-5)


def test_padding_positions_do_not_count():
    mask = [[1, 1, 0]]
    t = probs([[2.0, 0.0, 0.0]], mask, 1.0)
    a = distillation_loss(torch.tensor([[1.0, 0.0, 50.0]]), torch.tensor([[1.0, 0.0, -50.0]]), t, t, torch.tensor(mask), 1.0)
    b = distillation_loss(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]), t, t, torch.tensor(mask), 1.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-6) and a.item() > 0


def test_teacher_ensemble_averages_probabilities(tiny_reader_dir, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_reader_dir)
    other = tmp_path / "other"
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    with torch.no_grad():
        model.qa_outputs.bias.add_(torch.tensor([1.0, -1.0]))
    model.save_pretrained(other)
    tokenizer.save_pretrained(other)
    batch = dict(tokenizer(["Where is it?"], ["It is in Abilene."], return_tensors="pt"))
    one, two = (TeacherEnsemble([str(f)], tokenizer.get_vocab()) for f in (tiny_reader_dir, other))
    both = TeacherEnsemble([str(tiny_reader_dir), str(other)], tokenizer.get_vocab())
    for a, b, mean in zip(one.probabilities(batch, 2.0), two.probabilities(batch, 2.0), both.probabilities(batch, 2.0)):
        assert torch.allclose(mean, (a + b) / 2)
        assert torch.allclose(mean.sum(-1), torch.ones(1))


def test_a_teacher_with_another_vocabulary_is_refused(tiny_reader_dir, tmp_path):
    from transformers import AutoTokenizer

    vocabulary = dict(AutoTokenizer.from_pretrained(tiny_reader_dir).get_vocab())
    vocabulary["zzzz-not-a-token"] = len(vocabulary)
    with pytest.raises(ValueError, match="another vocabulary"):
        TeacherEnsemble([str(tiny_reader_dir)], vocabulary)
    with pytest.raises(FileNotFoundError, match="no-such-teacher"):
        TeacherEnsemble([str(tmp_path / "no-such-teacher")], vocabulary)


@pytest.mark.slow  # 60 optimizer steps with a teacher
def test_training_toward_a_teacher_moves_the_student_to_it(tmp_path, squad_file, tiny_reader_dir):  # noqa: F811
    """A student distilled (weight 1) from a teacher the gold spans would never teach (a random model made
    peaky) ends far closer to it than it started, and than a student trained on the gold spans alone."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_reader_dir)
    torch.manual_seed(1)
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    with torch.no_grad():
        model.qa_outputs.weight.normal_(0.0, 2.0)
    model.save_pretrained(tmp_path / "teacher")
    tokenizer.save_pretrained(tmp_path / "teacher")
    teacher = TeacherEnsemble([str(tmp_path / "teacher")], tokenizer.get_vocab())
    batch = dict(tokenizer(["Where is the data center being built?"], ["The data center is being built in Abilene, Texas."],
                           return_tensors="pt"))

    def gap(folder):
        out = TeacherEnsemble([str(folder)], tokenizer.get_vocab()).models[0](**batch)
        return distillation_loss(out.start_logits, out.end_logits, *teacher.probabilities(batch, 1.0),
                                 batch["attention_mask"], 1.0).item()

    distilled = make_config(squad_file, str(tiny_reader_dir), tmp_path / "student", max_steps=30,
                            teachers=(str(tmp_path / "teacher"),), distill_weight=1.0, distill_temperature=1.0)
    state = train_reader(distilled, log=lambda *_: None, export_to=str(tmp_path / "student-out"))
    gold_only = make_config(squad_file, str(tiny_reader_dir), tmp_path / "gold", max_steps=30)
    train_reader(gold_only, log=lambda *_: None, export_to=str(tmp_path / "gold-out"))
    assert state.global_step == 30
    before, after, gold = gap(tiny_reader_dir), gap(tmp_path / "student-out"), gap(tmp_path / "gold-out")
    assert after < before / 2 and after < gold / 2, (before, after, gold)
    record = json.loads((tmp_path / "student-out" / "config.json").read_text())["citeqa"]["training"]
    assert record["teachers"] == ["teacher"] and record["distill_weight"] == 1.0
    assert "teachers" not in json.loads((tmp_path / "gold-out" / "config.json").read_text())["citeqa"]["training"]


def test_distillation_does_not_change_the_data_key(squad_file, tmp_path):  # noqa: F811
    plain = make_config(squad_file, "base", tmp_path)
    distilled = make_config(squad_file, "base", tmp_path, teachers=("t",), distill_weight=0.3)
    assert isinstance(plain, TrainingConfig) and plain.data_key() == distilled.data_key()


@pytest.mark.parametrize("flag, value, message", [
    ("--distill-weight", "1.5", "expected a share in [0, 1], got 1.5"),
    ("--distill-temperature", "0", "expected a positive number, got 0.0"),
])
def test_cli_rejects_bad_distillation_settings(capsys, squad_file, flag, value, message):  # noqa: F811
    with pytest.raises(SystemExit):
        main(["train-reader", str(squad_file), flag, value])
    assert message in capsys.readouterr().err


def test_cli_names_a_missing_teacher(capsys, squad_file, tmp_path):  # noqa: F811
    assert main(["train-reader", str(squad_file), "--teacher", str(tmp_path / "gone"), "--run-dir", str(tmp_path / "r")]) != 0
    assert "teacher reader folder not found" in capsys.readouterr().err
