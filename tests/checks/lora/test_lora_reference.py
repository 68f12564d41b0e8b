"""LoRA specifics beyond the harness (tests/checks/test_harness.py): the end-to-end check stays bounded in time,
correct code in another style keeps full marks, and the reference gets full marks on CUDA when there is one."""

import pytest
import torch

from autograder import spec as specs
from autograder.grading import grade
from tests.helpers import mutate, reference_source, write_submission

SLUG = "lora"


def test_end_to_end_check_is_bounded():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, select=["apply_lora: end to end"])
    (e2e,) = [r for r in report.results if "end to end" in r.name]
    assert e2e.passed and e2e.max_score >= 4
    assert e2e.duration < 60, e2e.duration


def test_dropout_kept_as_a_zero_rate_dropout_module_loses_nothing(tmp_path):
    # How a LoRALinear holds its dropout when dropout == 0 (nn.Identity or nn.Dropout(0.0)) changes no output: the
    # checks judge behaviour, and correct code in either style keeps every point.
    source = mutate(reference_source(SLUG),
                    "self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()",
                    "self.lora_dropout = nn.Dropout(dropout)")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=11,
                   select=["LoRALinear:", "LoRALinear.", "apply_lora: wrapped", "apply_lora: replaces", "merge_lora:"])
    assert report.score == report.max_score, {r.name: r.output for r in report.results if not r.passed}


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_reference_gets_full_marks_on_cuda():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, device="cuda")
    assert report.score == report.max_score, [(r.name, r.output) for r in report.results if not r.passed]
