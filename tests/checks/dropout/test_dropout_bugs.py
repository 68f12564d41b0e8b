"""dropout specifics beyond the harness (tests/checks/test_harness.py, which plants every bug of bugs.py): the
failure messages of a few bugs name the quantity, the error and the setting; the hidden checks judge on their own."""

import pytest

from autograder.authoring.bugfile import load_bugs
from autograder.grading import grade
from tests.helpers import grade_variant, mutate, reference_source, write_submission

SLUG = "dropout"
BY_NAME = {b.name: b for b in load_bugs(SLUG)}

# Words that every failing check's message must contain, beyond the bug's `says`, with the checks graded.
MESSAGES = {
    "scaled by 1/p": (["dropout: kept values"], ["kept (non-zero) values of dropout(x, p=0.2)", "max abs error",
                                                 "input:"]),
    "kept with probability p": (["dropout: the dropped fraction"], ["fraction of zeros in dropout(x, p=0.1) is 0.9"]),
    "F.dropout called": (["dropout: kept values"], ["forbidden", "torch.nn.functional"]),
    "Dropout subclasses nn.Dropout": (["Dropout: an nn.Module"], ["forbidden", "torch.nn"]),
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_failure_messages_say_what_is_off(tmp_path, name):
    bug = BY_NAME[name]
    select, words = MESSAGES[name]
    report = grade_variant(tmp_path, SLUG, bug.old, bug.new, select=select)
    failing = [r for r in report.results if not r.passed and any(r.name.startswith(s) for s in select)]
    assert failing, [r.name for r in report.results]
    for w in words:
        assert all(w in r.output for r in failing), (w, [r.output for r in failing])


def test_hidden_checks_catch_a_missing_rescaling_too(tmp_path):
    """The hidden checks judge on their own: a submission cannot pass them with this bug either."""
    bug = BY_NAME["no rescaling"]
    source = mutate(reference_source(SLUG), bug.old, bug.new)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=5,
                   select=["dropout: every element", "dropout: dropped fraction and mean"])
    chosen = [r for r in report.results if r.name.startswith(("dropout: every element", "dropout: dropped fraction"))]
    assert len(chosen) == 2 and not any(r.passed for r in chosen)
    assert all(bug.says in r.output or r.gated for r in chosen)
