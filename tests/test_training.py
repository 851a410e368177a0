"""The training loop end to end on a tiny model and a tiny SQuAD file: loss falls, checkpoints resume exactly."""

import json
from pathlib import Path

import pytest
import torch

from qa.training.train import CHECKPOINT_FILE, TrainingConfig, epoch_batches, export_checkpoint, model_for_training, answer_removed_contexts, perturbed_question_contexts, negative_contexts, train_reader, training_samples
from qa.evaluation.datasets import QAExample
from qa.evaluation.datasets import load_squad
from qa.answering.reader import record_settings


@pytest.fixture
def squad_file(tmp_path):
    paragraphs = []
    facts = [
        ("Abilene", "The data center is being built in Abilene, Texas.", "Where is the data center being built?"),
        ("Oracle", "Oracle and SoftBank joined OpenAI in the venture.", "Which company joined OpenAI?"),
        ("Tuesday", "The president spoke to reporters on Tuesday.", "When did the president speak?"),
        ("$100 billion", "The initial investment is $100 billion.", "How large is the initial investment?"),
    ]
    for n, (answer, context, question) in enumerate(facts):
        paragraphs.append({"context": context, "qas": [{"id": f"q{n}", "question": question,
                                                          "answers": [{"text": answer, "answer_start": context.index(answer)}]}]})
    data = {"version": "1.1", "data": [{"title": "Stargate", "paragraphs": paragraphs}]}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def base_model(tiny_reader_dir):
    return str(tiny_reader_dir)


def make_config(squad_file, base_model, run_dir, **kw):
    defaults = dict(base_model=base_model, train_files=(str(squad_file),), run_dir=str(run_dir), max_length=48,
                    stride=16, batch_size=2, learning_rate=5e-3, epochs=30, negative_ratio=0.5, seed=1,
                    checkpoint_minutes=1000)
    defaults.update(kw)
    return TrainingConfig(**defaults)


def test_epoch_batches_deterministic_and_complete():
    lengths = [5, 9, 3, 7, 1, 8, 2, 6, 4, 10, 11]
    a = epoch_batches(lengths, 3, seed=1, epoch=0, pool=2)
    assert a == epoch_batches(lengths, 3, seed=1, epoch=0, pool=2)
    assert a != epoch_batches(lengths, 3, seed=1, epoch=1, pool=2)
    assert sorted(i for batch in a for i in batch) == list(range(len(lengths)))
    assert all(len(batch) <= 3 for batch in a)


def test_negatives_come_from_the_same_article_and_lack_the_answer(squad_file):
    examples = load_squad(squad_file)
    negatives = negative_contexts(examples, ratio=1.0, seed=0)
    assert len(negatives) == len(examples)
    by_question = {ex.question: ex for ex in examples}
    for negative in negatives:
        example = by_question[negative.question]
        assert negative.context != example.context
        assert example.answers[0].lower() not in negative.context.lower()
        assert negative.answer_span == (-1, -1)


def test_negatives_for_a_question_without_a_bm25_term_take_the_first_candidate():
    paragraphs = ["Abilene is in Texas.", "Paris is in France.", "Lyon is in France."]
    examples = [QAExample(id=str(i), question=q, answers=(a,), answer_starts=(0,), context=c, title="T")
                for i, (q, a, c) in enumerate([("Is it?", "Abilene", paragraphs[0]),
                                               ("Which city in France?", "Paris", paragraphs[1]),
                                               ("?", "Lyon", paragraphs[2])])]
    negatives = negative_contexts(examples, ratio=1.0, seed=0)
    by_question = {n.question: n.context for n in negatives}
    assert by_question["Is it?"] == paragraphs[1]
    assert by_question["?"] == paragraphs[0]
    assert by_question["Which city in France?"] == paragraphs[2]


def example(context: str, answer: str, question: str = "Where is it?") -> QAExample:
    return QAExample(id=question, question=question, answers=(answer,), answer_starts=(context.find(answer),),
                     context=context, title="T")


def test_answer_removed_negatives_keep_the_paragraph_without_the_answer_sentences():
    context = "Stargate is a venture. The data center is in Abilene, Texas. Abilene has grown fast. It opens soon."
    (negative,) = answer_removed_contexts([example(context, "Abilene")], ratio=1.0, seed=0)
    assert negative.context == "Stargate is a venture. It opens soon."
    assert negative.answer_span == (-1, -1) and negative.question == "Where is it?"


@pytest.mark.parametrize("context, answer", [
    ("The data center is in Abilene, Texas.", "Abilene"),                 # nothing would remain
    ("It is in Abilene. Texas is big. It opens soon.", "Abilene. Texas"),  # the answer crosses a sentence end
    ("Built in ABILENE. It opens soon. Abilene grows.", "abilene"),         # every case of the answer goes
])
def test_answer_removed_negatives_never_hold_an_answer(context, answer):
    negatives = answer_removed_contexts([example(context, answer)], ratio=1.0, seed=0)
    assert all(answer.lower() not in n.context.lower() for n in negatives)
    if "grows" in context:
        assert [n.context for n in negatives] == ["It opens soon."]
    else:
        assert negatives == []


def test_a_squad_2_question_marked_unanswerable_trains_as_a_negative_on_its_own_paragraph(squad_file, tmp_path):
    data = json.loads(squad_file.read_text())
    paragraph = data["data"][0]["paragraphs"][0]
    paragraph["qas"].append({"id": "impossible", "question": "Where is the second data center being built?",
                             "answers": [], "is_impossible": True,
                             "plausible_answers": [{"text": "Abilene", "answer_start": 33}]})
    v2 = tmp_path / "dev-v2.json"
    v2.write_text(json.dumps(data))
    samples = training_samples(make_config(v2, "base", tmp_path, negative_ratio=0.0))
    assert len(samples) == 5
    negative = [s for s in samples if s.question.startswith("Where is the second")]
    assert [(s.context, s.answer_span) for s in negative] == [(paragraph["context"], (-1, -1))]
    assert all(s.answer_span != (-1, -1) for s in samples if s is not negative[0])


def test_answer_removed_ratio_picks_a_share_of_questions_deterministically():
    examples = [example(f"Fact {n} is here. The answer is X{n}. More text.", f"X{n}", f"q{n}") for n in range(400)]
    chosen = answer_removed_contexts(examples, ratio=0.25, seed=3)
    assert 70 <= len(chosen) <= 130
    assert chosen == answer_removed_contexts(examples, ratio=0.25, seed=3)
    assert answer_removed_contexts(examples, ratio=0.0, seed=3) == []


def test_answer_removed_ratio_changes_the_data_key_only_when_set(squad_file, tmp_path):
    base = make_config(squad_file, "base", tmp_path)
    assert make_config(squad_file, "base", tmp_path, answer_removed_ratio=0.0).data_key() == base.data_key()
    assert make_config(squad_file, "base", tmp_path, answer_removed_ratio=0.25).data_key() != base.data_key()


@pytest.fixture
def one_thread():
    """Single-threaded float reductions, so two runs of the same steps give bit-equal weights."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # 88 optimizer steps
def test_loss_decreases_checkpoint_and_resume(tmp_path, squad_file, base_model, one_thread):
    run_dir = tmp_path / "run"
    config = make_config(squad_file, base_model, run_dir, max_steps=40)
    state = train_reader(config, log=lambda *_: None)
    assert state.global_step == 40
    assert (run_dir / CHECKPOINT_FILE).exists()
    first, last = sum(state.losses[:5]) / 5, sum(state.losses[-5:]) / 5
    assert last < first

    with pytest.raises(FileExistsError):
        train_reader(config, log=lambda *_: None)

    # Resume: an uninterrupted 44-step run and a 40 + 4 resumed run end with the same weights.
    longer = make_config(squad_file, base_model, run_dir, max_steps=44)
    resumed = train_reader(longer, resume=True, log=lambda *_: None)
    assert resumed.global_step == 44
    resumed_weights = torch.load(run_dir / CHECKPOINT_FILE, weights_only=False)

    straight_dir = tmp_path / "straight"
    straight = train_reader(make_config(squad_file, base_model, straight_dir, max_steps=44), log=lambda *_: None)
    straight_weights = torch.load(straight_dir / CHECKPOINT_FILE, weights_only=False)
    assert (straight.epoch, straight.batch_in_epoch) == (resumed.epoch, resumed.batch_in_epoch)
    assert resumed_weights["optimizer"]["state"][0]["step"] == straight_weights["optimizer"]["state"][0]["step"]
    for name, tensor in straight_weights["model"].items():
        assert torch.equal(tensor, resumed_weights["model"][name]), name


def test_resume_with_fewer_epochs_replans_the_learning_rate(tmp_path, squad_file, base_model):
    """A run may be shortened on resume (--epochs): the rest of the schedule decays to zero at the new end."""
    run_dir = tmp_path / "run"
    train_reader(make_config(squad_file, base_model, run_dir, epochs=4, max_steps=3), log=lambda *_: None)
    before = torch.load(run_dir / CHECKPOINT_FILE, weights_only=False)
    state = train_reader(make_config(squad_file, base_model, run_dir, epochs=2), resume=True, log=lambda *_: None)
    after = torch.load(run_dir / CHECKPOINT_FILE, weights_only=False)
    total = state.global_step
    assert state.epoch == 2 and total > before["state"]["global_step"]
    assert after["scheduler"]["last_epoch"] == total
    assert after["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert after["config"]["epochs"] == 2


def test_export_and_warm_start(tmp_path, squad_file, base_model):
    run_dir = tmp_path / "run"
    train_reader(make_config(squad_file, base_model, run_dir, max_steps=6), log=lambda *_: None)
    exported = export_checkpoint(run_dir, tmp_path / "reader", no_answer_threshold=1.5)
    config = json.loads((exported / "config.json").read_text())
    assert config["citeqa"]["no_answer_threshold"] == 1.5
    assert config["citeqa"]["training"]["global_step"] == 6
    assert (exported / "model.safetensors").exists() and (exported / "tokenizer.json").exists()
    record_settings(exported, backend="onnx", early_stop_score=4.5)
    again = export_checkpoint(run_dir, exported, no_answer_threshold=2.0)
    settings = json.loads((again / "config.json").read_text())["citeqa"]
    assert settings["backend"] == "onnx", "the measured backend stays"
    assert "early_stop_score" not in settings, "a score fitted to other weights is dropped: calibrate again"

    state = train_reader(make_config(squad_file, base_model, tmp_path / "fresh", max_steps=8),
                         warm_start=str(exported), log=lambda *_: None)
    assert state.global_step == 8


def test_segments_each_end_annealed_at_their_schedule_steps(tmp_path, squad_file, base_model):
    """A segment (--schedule-steps) continues from exported weights at their step and ends at lr 0."""
    first = train_reader(make_config(squad_file, base_model, tmp_path / "one", schedule_steps=5),
                         export_to=str(tmp_path / "reader"), log=lambda *_: None)
    assert first.global_step == 5
    one = torch.load(tmp_path / "one" / CHECKPOINT_FILE, weights_only=False)
    assert one["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
    settings = json.loads((tmp_path / "reader" / "config.json").read_text())["citeqa"]["training"]
    assert settings["schedule_steps"] == 5 and settings["global_step"] == 5

    second = make_config(squad_file, base_model, tmp_path / "two", schedule_steps=9)
    logs = []
    state = train_reader(second, warm_start=str(tmp_path / "reader"), log=logs.append)
    assert state.global_step == 9 and len(state.losses) == 4, "steps 6-9 only"
    assert "warm start from" in logs[0] and "at step 5/9" in logs[0]
    two = torch.load(tmp_path / "two" / CHECKPOINT_FILE, weights_only=False)
    assert two["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)

    with pytest.raises(ValueError, match="is at step 5: --schedule-steps 5 must lie beyond it"):
        train_reader(make_config(squad_file, base_model, tmp_path / "three", schedule_steps=5),
                     warm_start=str(tmp_path / "reader"), log=lambda *_: None)


@pytest.mark.parametrize("dropout, expected", [(0.0, 0.0), (0.25, 0.25), (None, "base")])
def test_attention_dropout_is_set_on_the_model_and_recorded(tmp_path, squad_file, base_model, dropout, expected):
    base_config = json.loads((Path(base_model) / "config.json").read_text())
    model = model_for_training(base_model, dropout)
    want = base_config["attention_probs_dropout_prob"] if expected == "base" else expected
    assert model.config.attention_probs_dropout_prob == want
    assert model.config.hidden_dropout_prob == base_config["hidden_dropout_prob"], "only attention dropout changes"
    run_dir = tmp_path / "run"
    train_reader(make_config(squad_file, base_model, run_dir, max_steps=1, attention_dropout=dropout),
                 export_to=str(tmp_path / "reader"), log=lambda *_: None)
    for folder in (tmp_path / "reader", export_checkpoint(run_dir, tmp_path / "from-checkpoint")):
        exported = json.loads((folder / "config.json").read_text())
        assert exported["citeqa"]["training"]["attention_dropout"] == dropout
        assert exported["attention_probs_dropout_prob"] == want


def test_cli_rejects_a_bad_attention_dropout(capsys):
    from qa.cli import main

    with pytest.raises(SystemExit):
        main(["train-reader", "x.json", "--attention-dropout", "1.5"])
    assert "expected a probability in [0, 1) or 'base', got 1.5" in capsys.readouterr().err


def test_perturbed_negatives_pair_the_rewritten_question_with_its_own_paragraph():
    context = "The first data center is in Abilene. It opens soon."
    examples = [example(context, "Abilene", "Where is the first data center?"),
                example(context, "soon", "When does it open?"),
                example("It is not open yet.", "yet", "When does it open?")]  # a negated paragraph: skipped
    negatives = perturbed_question_contexts(examples, ratio=1.0, seed=0)
    assert [(n.question, n.context, n.answer_span) for n in negatives] == [
        ("Where is the last data center?", context, (-1, -1)),
        ("When doesn't it open?", context, (-1, -1)),
    ]


def test_perturbed_ratio_picks_a_share_deterministically_and_changes_the_data_key(squad_file, tmp_path):
    examples = [example(f"Fact {n} is here. The answer is X{n}.", f"X{n}", f"What did fact {n} say?") for n in range(400)]
    chosen = perturbed_question_contexts(examples, ratio=0.25, seed=3)
    assert 70 <= len(chosen) <= 130
    assert chosen == perturbed_question_contexts(examples, ratio=0.25, seed=3)
    assert perturbed_question_contexts(examples, ratio=0.0, seed=3) == []
    base = make_config(squad_file, "base", tmp_path)
    assert make_config(squad_file, "base", tmp_path, perturbed_ratio=0.0).data_key() == base.data_key()
    assert make_config(squad_file, "base", tmp_path, perturbed_ratio=0.25).data_key() != base.data_key()
