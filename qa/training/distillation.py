"""Knowledge distillation for reader training: readers of our own, averaged as a teacher ensemble,
give soft start/end targets that the student learns beside the gold span (Hinton et al. 2015)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _masked(logits, mask):
    import torch

    return logits.masked_fill(mask == 0, torch.finfo(logits.dtype).min)


def distillation_loss(student_start, student_end, teacher_start, teacher_end, attention_mask, temperature: float):
    """T² · KL(teacher ‖ student) of the start and of the end distributions over each window's non-padding
    tokens, averaged over both and over the batch. `teacher_*` are probabilities at `temperature`."""
    import torch.nn.functional as F

    total = 0.0
    for student, teacher in ((student_start, teacher_start), (student_end, teacher_end)):
        log_student = F.log_softmax(_masked(student.float(), attention_mask) / temperature, dim=-1)
        total = total + F.kl_div(log_student, teacher, reduction="batchmean")
    return total * temperature**2 / 2


class TeacherEnsemble:
    """Reader folders sharing the student's vocabulary; their mean start/end probabilities at a temperature."""

    def __init__(self, folders: Sequence[str], vocabulary: dict[str, int]):
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        self.models = []
        for folder in folders:
            if not (Path(folder) / "config.json").is_file():
                raise FileNotFoundError(f"teacher reader folder not found (no config.json): {folder}")
            if AutoTokenizer.from_pretrained(folder).get_vocab() != vocabulary:
                raise ValueError(f"teacher {folder} has another vocabulary than the student: its windows would not align")
            model = AutoModelForQuestionAnswering.from_pretrained(folder, dtype=torch.float32)
            model.eval()
            self.models.append(model)

    def probabilities(self, batch: dict, temperature: float):
        """Mean over the teachers of softmax(logits / T), padding positions at zero probability."""
        import torch

        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
        mask = batch["attention_mask"]
        starts, ends = 0.0, 0.0
        with torch.no_grad():
            for model in self.models:
                out = model(**inputs)
                starts = starts + torch.softmax(_masked(out.start_logits.float(), mask) / temperature, dim=-1)
                ends = ends + torch.softmax(_masked(out.end_logits.float(), mask) / temperature, dim=-1)
        return starts / len(self.models), ends / len(self.models)
