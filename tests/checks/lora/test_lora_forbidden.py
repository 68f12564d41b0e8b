"""A submission that calls a forbidden API loses the points of the function or class that uses it, and only those,
with a message naming the rule."""

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "lora"
STATE = "lora_state_dict:"
COUNT = "count_trainable_parameters:"
MERGE = "LoRALinear.merge:"


def apply_edits(source, edits):
    for old, new in edits:
        source = mutate(source, old, new)
    return source


def test_forbidden_peft_import_fails_lora_state_dict_only(tmp_path):
    source = apply_edits(reference_source(SLUG), [(
        "    return {name: tensor for name, tensor in model.state_dict().items()\n"
        "            if name.rsplit(\".\", 1)[-1] in (\"lora_A\", \"lora_B\")}",
        "    from peft import get_peft_model_state_dict\n"
        "    return get_peft_model_state_dict(model)")])
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=2, select=[STATE, COUNT])
    assert failed_targets(report) == {"lora_state_dict"}
    failing = [r for r in report.results if not r.passed]
    assert failing and all("forbidden" in r.output and "peft" in r.output for r in failing)


def test_forbidden_parametrization_fails_lora_linear(tmp_path):
    source = apply_edits(reference_source(SLUG), [(
        "        merged = nn.Linear(self.in_features, self.out_features, bias=has_bias,",
        "        cls = torch.nn.utils.parametrize.type_before_parametrizations(self.base)\n"
        "        merged = cls(self.in_features, self.out_features, bias=has_bias,")])
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=2, select=[MERGE, COUNT])
    assert failed_targets(report) == {"LoRALinear"}
    failing = [r for r in report.results if not r.passed]
    assert failing and all("forbidden" in r.output and "parametriz" in r.output for r in failing)


def test_forbidden_parametrization_reached_dynamically_is_caught_at_run_time(tmp_path):
    # getattr with a computed name on a torch module: a violation for the static scan (and the worker's tripwire)
    source = apply_edits(reference_source(SLUG), [(
        "        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()",
        "        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()\n"
        "        getattr(torch.nn.utils.parametrize, 'type_before_' + 'parametrizations')(self.base)")])
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=2,
                   select=["LoRALinear: at initialisation", COUNT])
    assert failed_targets(report) == {"LoRALinear"}
    failing = [r for r in report.results if not r.passed]
    assert failing and all(r.target == "LoRALinear" for r in failing)
    assert all("forbidden" in r.output and "parametriz" in r.output for r in failing), [r.output for r in failing]
