"""LoRA specifics beyond the harness (tests/checks/test_harness.py): the end-to-end check stays bounded in time,
correct code in another style keeps full marks (the reference on CUDA is the harness's)."""

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


def test_dropout_as_a_rate_and_apply_lora_written_recursively_lose_nothing(tmp_path):
    # Another correct style: the rate kept as a number and applied with F.dropout, and apply_lora recursing through
    # named_children itself. The checks of LoRALinear's dropout and of apply_lora's dropout keep every point.
    source = mutate(reference_source(SLUG),
                    "self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()",
                    "self.p = float(dropout)")
    source = mutate(source, "z = self.lora_dropout(x) @ self.lora_A.T",
                    "z = torch.nn.functional.dropout(x, self.p, self.training) @ self.lora_A.T")
    source = mutate(source, '''    found = [(parent, name, child)
             for parent in model.modules()
             for name, child in parent.named_children()
             if name in targets and isinstance(child, nn.Linear)]
    for parent, name, child in found:
        setattr(parent, name, LoRALinear(child, r, alpha=alpha, dropout=dropout))
    return model''', '''
    def visit(parent):
        for name, child in list(parent.named_children()):
            if name in targets and isinstance(child, nn.Linear):
                setattr(parent, name, LoRALinear(child, r, alpha, dropout))
            else:
                visit(child)

    visit(model)
    return model''')
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=11,
                   select=["LoRALinear: dropout", "apply_lora:"])
    names = [r.name for r in report.results]
    assert any(n.startswith("apply_lora: passes dropout") for n in names), names
    assert any(n.startswith("LoRALinear: dropout") for n in names), names
    assert report.score == report.max_score, {r.name: r.output for r in report.results if not r.passed}
