"""The known bugs of autograder/checks/lora/bugs.py are well formed and every one is planted by a bug test."""

from autograder import spec as specs
from autograder.grading import collect
from tests.checks.lora._bugs import BUGS, SELECT, SLUG, bugs_of, select_for
from tests.helpers import reference_source

GROUPS = ("layer_forward", "layer_dropout_rank_dtype", "merge", "apply_state", "count")


def test_each_bug_applies_to_the_reference_exactly_once():
    assert BUGS, "autograder/checks/lora/bugs.py is missing or empty"
    source = reference_source(SLUG)
    for bug in BUGS:
        assert source.count(bug.old) == 1, (bug.name, source.count(bug.old))
        assert bug.new != bug.old, bug.name


def test_each_bug_targets_a_graded_function_or_class():
    targets = set(specs.load(SLUG).targets)
    assert all(bug.target in targets for bug in BUGS), [(b.name, b.target) for b in BUGS if b.target not in targets]


def test_each_bug_selects_checks_of_its_target_only():
    names = [n for n, _v, _p in collect(SLUG)]
    assert set(SELECT) <= {b.name for b in BUGS}, set(SELECT) - {b.name for b in BUGS}  # no stale entry
    for bug in BUGS:
        chosen = [n for n in names if any(n.startswith(s) for s in select_for(bug))]
        assert chosen, f"{bug.name}: its selection matches no check"
        assert all(n.startswith((f"{bug.target}:", f"{bug.target}.")) for n in chosen), (bug.name, chosen)


def test_every_bug_is_planted_by_exactly_one_test_module():
    planted = [b.name for g in GROUPS for b in bugs_of(g)]
    assert sorted(planted) == sorted(b.name for b in BUGS)
