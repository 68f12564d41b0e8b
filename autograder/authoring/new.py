"""`dlcourse author new <slug>`: a complete, consistent assignment skeleton, with nothing else to register.

It writes, all named after the slug:

- `solutions/<slug>/<slug>.py`: the reference, with one example target (`affine`) whose answer goes between the
  solution markers;
- `autograder/checks/<slug>/spec.py`: the one record of the assignment (order after the last assignment,
  milestone, lecture, grading-time budget, framework, targets, forbidden APIs);
- `autograder/checks/<slug>/test_public.py` and `test_hidden.py`: one example check each, both core checks (a
  stored expected value in the public file, the reference as oracle in the hidden one);
- `autograder/checks/<slug>/bugs.py`: two known bugs of the example;
- `assignments/<slug>/README.md`: every section an assignment README has, the points-table markers, a link to
  its lecture section;
- `assignments/<slug>/<slug>.ipynb`: a notebook stub that runs (autoreload first, one plot);
- `assignments/<slug>/<slug>.py`, the README's points table and the course README's table of assignments, by
  `dlcourse author sync`.

The course finds the new assignment through its spec alone (`autograder.spec.all_slugs`): the project's harness,
`verify`, `list`, the benchmark and the tables pick it up. Write the answer between the markers, then replace the
example with the assignment's own functions, checks and bugs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FRAMEWORKS = ("numpy", "torch")
PLACEHOLDER = 'raise NotImplementedError("the reference answer goes here; then run `dlcourse author sync {slug}`")'


class NewAssignmentError(Exception):
    pass


@dataclass(frozen=True)
class NewAssignment:
    slug: str
    title: str
    framework: str
    constraint: str = "to be chosen"
    milestone: str = "Authors (year)"
    lecture: str = "lectures/README.md"
    order: int | None = None  # default: after the last assignment
    budget_s: float = 30.0


def files_for(a: NewAssignment, order: int) -> dict[str, str]:
    """{path from the course root: text} of everything `author new` writes by hand (the rest comes from sync)."""
    v = dict(slug=a.slug, title=a.title, framework=a.framework, constraint=a.constraint, milestone=a.milestone,
             lecture=a.lecture, order=order, budget=f"{a.budget_s:g}", placeholder=PLACEHOLDER.format(slug=a.slug),
             **_FRAMEWORK[a.framework])
    return {
        f"solutions/{a.slug}/{a.slug}.py": _REFERENCE.format(**v),
        f"autograder/checks/{a.slug}/spec.py": _SPEC.format(**v),
        f"autograder/checks/{a.slug}/test_public.py": _PUBLIC.format(**v),
        f"autograder/checks/{a.slug}/test_hidden.py": _HIDDEN.format(**v),
        f"autograder/checks/{a.slug}/bugs.py": _BUGS.format(**v),
        f"assignments/{a.slug}/README.md": _README.format(**v),
        f"assignments/{a.slug}/{a.slug}.ipynb": notebook_stub(a.slug, a.title, a.framework == "torch"),
    }


def create(a: NewAssignment) -> list[str]:
    """Write the new assignment and sync it; returns the paths written (from the course root)."""
    from .. import spec as specs
    from ..paths import REPO_ROOT
    from .sync import sync

    if not SLUG_RE.match(a.slug):
        raise NewAssignmentError(f"{a.slug!r} is not a valid slug: lower-case letters, digits and _, starting with a "
                                 "letter (it names the module the students write)")
    if a.framework not in FRAMEWORKS:
        raise NewAssignmentError(f"--framework must be one of {', '.join(FRAMEWORKS)}")
    if a.slug in specs.all_slugs():
        raise NewAssignmentError(f"assignment {a.slug!r} already exists")
    order = a.order
    if order is None:
        orders = [s.spec.order for s in specs.survey() if s.spec is not None]
        order = (max(orders) // 10 + 1) * 10 if orders else 10
    files = files_for(a, order)
    taken = [rel for rel in files if (REPO_ROOT / rel).exists()]
    if taken:
        raise NewAssignmentError(f"these files exist already, nothing was written: {', '.join(taken)}")
    for rel, text in files.items():
        path = REPO_ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    written = sorted(files)
    result = sync([a.slug])
    if result.problems:
        raise NewAssignmentError("the new assignment was written but does not sync:\n  " + "\n  ".join(result.problems))
    return written + [_rel(p, REPO_ROOT) for p in result.changed if _rel(p, REPO_ROOT) not in files]


def _rel(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def notebook_stub(slug: str, title: str, torch: bool) -> str:
    """A notebook that runs against the reference: autoreload first, the module imported, one plot."""
    if torch:
        setup = "import matplotlib.pyplot as plt\nimport torch\n\nimport " + slug
        plot = ("x = torch.linspace(-3, 3, 50).unsqueeze(1)  # (50, 1)\n"
                "W, b = torch.ones(1, 1), torch.zeros(1)\n"
                "for scale in (0.5, 1.0, 2.0):\n"
                f"    y = {slug}.affine(x, W, b, scale=scale)  # (50, 1)\n"
                "    plt.plot(x[:, 0].numpy(), y[:, 0].numpy(), label=f\"scale={scale}\")\n"
                "plt.xlabel(\"x\")\nplt.ylabel(\"affine(x)\")\nplt.legend()\nplt.show()")
    else:
        setup = "import matplotlib.pyplot as plt\nimport numpy as np\n\nimport " + slug
        plot = ("x = np.linspace(-3, 3, 50)[:, None]  # (50, 1)\n"
                "W, b = np.ones((1, 1)), np.zeros(1)\n"
                "for scale in (0.5, 1.0, 2.0):\n"
                f"    y = {slug}.affine(x, W, b, scale=scale)  # (50, 1)\n"
                "    plt.plot(x[:, 0], y[:, 0], label=f\"scale={scale}\")\n"
                "plt.xlabel(\"x\")\nplt.ylabel(\"affine(x)\")\nplt.legend()\nplt.show()")

    def cell(kind, text):
        c = {"cell_type": kind, "id": f"{slug}-{len(cells)}", "metadata": {}, "source": text.splitlines(keepends=True)}
        cells.append(c)
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        return c

    cells: list[dict] = []
    for kind, text in [
        ("code", "%load_ext autoreload\n%autoreload 2"),
        ("markdown", f"# {title}\n\nThis notebook walks through the milestone with your own `{slug}.py` (it sits next "
                     f"to this notebook). Finish the TODOs in `{slug}.py` first; thanks to `autoreload`, every cell "
                     "uses your latest code."),
        ("code", setup),
        ("code", f"# Check affine before going on: the public checks of `dlcourse check {slug} --only affine`, here.\n"
                 f"from autograder.notebook_check import check\n\ncheck(\"{slug}\", \"affine\")"),
        ("markdown", "## 1. The example, plotted\n\nReplace this section with the milestone's own story, one figure "
                     "per idea (and one check cell per function, before the cells that use it)."),
        ("code", plot),
    ]:
        cell(kind, text)
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel, "language_info": {"name": "python"}}, "nbformat": 4,
          "nbformat_minor": 5}
    return json.dumps(nb, indent=1) + "\n"


_REFERENCE = '''"""{title}: the reference solution (never shipped to students).

`dlcourse author sync {slug}` turns this file into the student skeleton assignments/{slug}/{slug}.py: each block
between the solution markers becomes a `raise NotImplementedError`, everything else (docstrings with the math and
the shapes, the TODO comments) is kept. One class or function per idea of the paper; cite the section or equation
behind each choice in a comment.
"""

{imports}


def affine(x, W, b, scale=1.0):
    """An example target, to be replaced by the assignment's own: the affine map x W + b, times `scale`.

    Args:
        x: (N, D) {array}.
        W: (D, M) weights.
        b: (M,) bias, added to every row.
        scale: a factor applied to the result (a documented parameter: some check must vary it).

    Returns:
        y: (N, M){returns}.
    """
    # TODO: the affine map of x, then the scale.
    # BEGIN SOLUTION
    {placeholder}
    # END SOLUTION
'''

_SPEC = '''"""The {slug} assignment: {title}."""

from autograder.spec import Assignment, Forbidden  # noqa: F401  (Forbidden: see `forbidden` below)

SPEC = Assignment(
    slug="{slug}",
    order={order},  # its place in the course (README table, lecture index, syllabus)
    milestone="{milestone}",
    # The lecture section that tells its story: a path from the course root, with its anchor.
    lecture="{lecture}",
    budget_s={budget},  # seconds to grade the reference on a 2-core CPU machine (benchmarks/bench_grade.py)
    title="{title}",
    constraint="{constraint}",
    framework="{framework}",
    targets=("affine",),  # the functions and classes the students write; every check name starts with one
    forbidden=(
        # Forbidden("dotted.name.*", "why it is off limits, in one sentence written for the student"),
    ),
    summary="affine(x, W, b, scale): an example to be replaced by the assignment's own functions.",
)
'''

_PUBLIC = '''"""Public checks for {slug}: what `dlcourse check {slug}` runs, and what students can read.

Judge with properties, finite differences, library built-ins or expected values stored here as data; never with a
re-implementation of the graded functions, never with the reference. The submission runs in the sandbox; only its
values come back.
"""

{imports}

from autograder.checking import check
from autograder.compare import expect_close

# A small case worked out by hand: scale * (x @ W + b) for the inputs below.
X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
W = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
B = [10.0, 20.0]
EXPECTED = {{1.0: [[14.0, 25.0], [20.0, 31.0]], 2.0: [[28.0, 50.0], [40.0, 62.0]]}}


@check("affine: matches values worked out by hand, for two scales", points=2, core=True)
def test_affine_stored_values({public_fixtures}):
    x, w, b = ({public_array} for v in (X, W, B))
    for scale, expected in EXPECTED.items():
        expect_close(student.affine(x, w, b, scale=scale), {public_expected},
                     name=f"affine(x, W, b, scale={{scale}})", inputs="the 2x3 example of this check")
'''

_HIDDEN = '''"""Hidden checks for {slug}: run only by `dlcourse grade`, on inputs drawn from the grading seed.

The reference (the `reference` fixture, imported here in the trusted process) is the oracle: the same call runs
on the submission in the sandbox, and the verdict is made here. `mistakes=` names a known wrong variant when the
submission's output matches it.
"""

{imports}

from autograder.checking import check
from autograder.compare import expect_close


@check("affine: matches the reference on random inputs, for several scales", points=3, core=True)
def test_affine_matches_reference({hidden_fixtures}):
    {hidden_inputs}
    for scale in (1.0, 0.5, -3.0):
        expect_close(student.affine(x, w, b, scale=scale), reference.affine(x, w, b, scale=scale),
                     name=f"affine(x, W, b, scale={{scale}})", inputs="x of shape (5, 4)",
                     mistakes={{"the bias b is not added": reference.affine(x, w, {zeros}(b), scale=scale),
                               "scale is ignored": reference.affine(x, w, b)}})
'''

_FRAMEWORK = {
    "numpy": dict(
        imports="import numpy as np", array="array", returns="", zeros="np.zeros_like",
        public_fixtures="student", public_array="np.array(v)", public_expected="np.array(expected)",
        hidden_fixtures="student, reference, rng",
        hidden_inputs="x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)"),
    "torch": dict(
        imports="import torch", array="tensor", returns=", on x's device and of x's dtype", zeros="torch.zeros_like",
        public_fixtures="student, device", public_array="torch.tensor(v, device=device)",
        public_expected="torch.tensor(expected, device=device)",
        hidden_fixtures="student, reference, seed, device",
        hidden_inputs=("g = torch.Generator().manual_seed(seed)\n"
                       "    x, w, b = (torch.randn(*shape, generator=g, dtype=torch.float64).to(device)\n"
                       "               for shape in ((5, 4), (4, 3), (3,)))")),
}

_BUGS = '''"""Known bugs of {slug}, for `dlcourse verify` and the project's harness (tests/checks/test_harness.py).

Each is (what the bug is, text of solutions/{slug}/{slug}.py, what it becomes, its target, words its failure
message must contain); the text must occur exactly once in the reference. Every target needs at least one bug, and
every check must be failed by a bug of its own target. The example's answer is `return scale * (x @ W + b)`.
Never shipped to students (it is made from the reference).
"""

BUGS = [
    ("bias forgotten", "x @ W + b", "x @ W", "affine", "the bias b is not added"),
    ("scale ignored", "scale * (", "(", "affine", "scale is ignored"),
]

# Optional: SELECT = {{bug name: [check-name prefixes]}} grades a bug on those checks only (its target's core checks
# are always added), to keep the harness fast.
SELECT = {{}}
'''

_README = '''# {title}

*{milestone}.* Constraint raised: **{constraint}**. Module: `{slug}.py` ({framework}).
The lecture: [{lecture}](../../{lecture}).

## Where this milestone sits

The history in your own words: what limited the networks of the time, what the paper changed and which of the seven
constraints it raised, with citations (authors, year) for every fact and figure taken from a paper.

## What to build

Edit `{slug}.py` (the TODOs mark every place).

| function / class | signature | what is required |
| --- | --- | --- |
| `affine` | `affine(x, W, b, scale=1.0)` | `scale * (x W + b)` for `x` of shape (N, D), `W` (D, M), `b` (M,); the result has shape (N, M) |

A requirement on internals (an attribute name, a submodule's type) is graded only when this table states it.

## Rules

No API is off limits in this example. List here every forbidden API of `spec.py`, and why (a forbidden API fails
every check of the function that uses it).

## How your work is checked

```
dlcourse check {slug}
```

runs the public checks on your `{slug}.py` and prints what passes and what fails, with a message saying which
quantity is off, by how much, and for which input. Hidden checks compare your outputs with the reference
implementation on inputs drawn at grading time.

The notebook `{slug}.ipynb` walks through the milestone with plots; it imports your `{slug}.py`.

## Points

<!-- points:begin -->
<!-- points:end -->

## References

- Authors (year). Title. Venue.
'''
