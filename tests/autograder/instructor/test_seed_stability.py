"""Fair grading needs checks whose verdict does not depend on the seed for the same code: every known bug of an
assignment (its bugs.py) is graded under several seeds, on its own function's checks, and must lose exactly the
same points each time. A failure names the check whose verdict changed with the seed (tell its assignment's
author: the check must be redesigned, e.g. inputs that always reach the buggy case, or a tolerance that does not
straddle the bug's effect)."""

from __future__ import annotations

import os

import pytest

from autograder.authoring.bugfile import load_bugs
from autograder.grading import grade
from tests.helpers import reference_source, write_submission

pytestmark = pytest.mark.timeout(1800)
SLUG = os.environ.get("DLCOURSE_SEED_STABILITY_SLUG", "backprop")
SEEDS = (1, 20240607, 987654321)
BUGS = load_bugs(SLUG) or []


@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_a_known_bug_loses_the_same_points_on_every_seed(tmp_path, bug):
    source = bug.apply(reference_source(SLUG))
    path = write_submission(tmp_path, SLUG, source, "bug")
    verdicts = {}
    for seed in SEEDS:
        report = grade(SLUG, path, seed=seed, select=[f"{bug.target}:"])
        verdicts[seed] = {r.name: r.score for r in report.results}
    first = verdicts[SEEDS[0]]
    changed = sorted({name for v in verdicts.values() for name in v if v.get(name) != first.get(name)})
    assert not changed, (f"{SLUG}, bug {bug.name!r}: the verdict of {changed} changes with the seed: "
                         + "; ".join(f"seed {s}: " + ", ".join(f"{n}={v.get(n)}" for n in changed)
                                     for s, v in verdicts.items()))
    assert first, "no check of its function was graded"
