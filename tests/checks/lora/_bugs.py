"""Shared by the LoRA bug tests: the known bugs come from autograder/checks/lora/bugs.py (the one list, also planted
by `dlcourse verify lora`); this module only says which checks each test runs, to keep the grading runs short.

SELECT maps a bug's name to the check-name prefixes its test grades; a bug not in SELECT is graded on every check of
its target. GROUP splits the bugs between the test modules (so that no module runs for long).
"""

from __future__ import annotations

from autograder.grading import grade
from autograder.instructor.verify import Bug, load_bugs
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "lora"
INIT = "LoRALinear: at initialisation"
FORWARD = "LoRALinear: scaling is alpha / r"
GRADS = "LoRALinear: gradients reach"
TRAINABLE = "LoRALinear: the trainable parameters"
DROPOUT = "LoRALinear: dropout acts"
MERGE = "LoRALinear.merge:"
DTYPE = "LoRALinear: lora_A and lora_B take"
APPLY = "apply_lora: replaces exactly"
FROZEN = "apply_lora: only lora_A"
STATE = "lora_state_dict:"
MERGE_LORA = "merge_lora:"
COUNT = "count_trainable_parameters:"

BUGS: list[Bug] = load_bugs(SLUG) or []

SELECT = {
    "lora_B random at initialisation": [INIT],
    "lora_A zero at initialisation": [INIT],
    "scaling alpha instead of alpha / r": [FORWARD, GRADS],
    "the base not frozen": [GRADS, TRAINABLE],
    "base(x) left out of forward": [FORWARD],
    "merge mutates the base and returns it": [MERGE],
    "merge writes W + delta into the base's weight before copying": [MERGE],
    "merge without the scaling": [MERGE],
    "merge drops the bias": [MERGE],
    "dropout applied to the output": [DROPOUT],
    "dropout applied to the low-rank output": [DROPOUT],
    "dropout never applied": [DROPOUT],
    "no ValueError for r < 1": ["LoRALinear: r < 1"],
    "LoRA parameters created without the base's dtype and device": [DTYPE],
    "apply_lora leaves other parameters trainable": [FROZEN],
    "apply_lora only looks at the top level": [APPLY],
    "apply_lora wraps every Linear": [APPLY],
    "lora_state_dict includes the base weights": [STATE],
    "lora_state_dict keys without the module path": [STATE],
    "merge_lora only merges the top level": [MERGE_LORA],
    "count_trainable_parameters counts frozen parameters too": [COUNT],
    "count_trainable_parameters counts shared weights twice": [COUNT],
}


def select_for(bug: Bug) -> list[str]:
    """The checks a bug's test grades: SELECT's, or every check of its target ("LoRALinear" covers its methods)."""
    return SELECT.get(bug.name, [f"{bug.target}:", f"{bug.target}."])


def group_of(bug: Bug) -> str:
    """Which test module plants the bug; every bug lands in exactly one."""
    select = set(select_for(bug))
    if MERGE in select or bug.target == "merge_lora":
        return "merge"
    if bug.target == "LoRALinear":
        return "layer_forward" if any(s.startswith((INIT, FORWARD, GRADS, TRAINABLE)) or s == "LoRALinear:"
                                      for s in select) else "layer_dropout_rank_dtype"
    if bug.target in ("apply_lora", "lora_state_dict"):
        return "apply_state"
    return "count"


def bugs_of(group: str) -> list[Bug]:
    return [b for b in BUGS if group_of(b) == group]


def apply_edits(source: str, edits) -> str:
    for old, new in edits:
        source = mutate(source, old, new)
    return source


def grade_bug(tmp_path, bug: Bug, seed: int = 5):
    path = write_submission(tmp_path, SLUG, mutate(reference_source(SLUG), bug.old, bug.new))
    return grade(SLUG, path, seed=seed, select=select_for(bug))


def assert_loses_points_on_its_target(report, bug: Bug):
    """At least one check of the bug's target fails, only checks of the target fail, each says why, and one names
    the mistake when the bug declares the words (`says`)."""
    assert report.results, f"{bug.name}: no check selected"
    failing = [r for r in report.results if not r.passed]
    assert failing, f"{bug.name}: no check of {bug.target} failed"
    assert failed_targets(report) == {bug.target}, (bug.name, failed_targets(report))
    assert all(r.output for r in failing), f"{bug.name}: a failing check must say why"
    if bug.says:
        assert any(bug.says in r.output for r in failing), (bug.name, [r.output for r in failing])
    return failing
