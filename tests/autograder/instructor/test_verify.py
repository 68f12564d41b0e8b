"""`dlcourse verify`: reference full marks, skeleton zero, and every check failed by a known bug; untested checks and
bugs that no longer apply are reported; --strict turns problems into exit code 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rich.console import Console

from autograder import spec as specs
from autograder.cli import main
from autograder.grading import collect, collect_infos
from autograder.authoring import bugfile as bugs_mod
from autograder.authoring import verify as verify_mod
from autograder.authoring.bugfile import Bug, BugsError, load_bugs
from autograder.authoring.verify import render, verify_assignment

pytestmark = pytest.mark.timeout(600)
SLUG = "backprop"


def test_backprop_bugs_apply_and_cover_every_function():
    bugs = load_bugs(SLUG)
    reference = specs.load(SLUG).reference.read_text()
    assert len(bugs) >= len(specs.load(SLUG).targets)
    for bug in bugs:
        assert reference.count(bug.old) == 1, bug.name
        assert bug.new != bug.old
    # each function or class of the assignment has a bug planted inside it
    import ast

    tree = ast.parse(reference)
    spans = {n.name: (n.lineno, n.end_lineno) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    hit = set()
    for bug in bugs:
        line = reference[:reference.index(bug.old)].count("\n") + 1
        hit |= {name for name, (a, b) in spans.items() if a <= line <= b}
    assert hit >= set(specs.load(SLUG).targets)


def test_load_bugs_rejects_a_malformed_file(tmp_path, monkeypatch):
    checks = tmp_path / "checks"
    (checks / SLUG).mkdir(parents=True)
    (checks / SLUG / "bugs.py").write_text("BUGS = [('only a name', 'old')]\n")
    monkeypatch.setattr("autograder.paths.CHECKS", checks)
    with pytest.raises(BugsError, match=r"each bug is \(name, old, new"):
        load_bugs(SLUG)
    (checks / SLUG / "bugs.py").unlink()
    assert load_bugs(SLUG) is None


def test_verify_backprop_passes_strict():
    result = CliRunner().invoke(main, ["verify", SLUG, "--only", "relu_", "--bug", "leaky ReLU", "--bug",
                                       "ReLU derivative", "--strict"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "reference (cpu)" in text and "full marks" in text and "4/4" in text
    assert "skeleton" in text and "zero" in text and "0/4" in text
    assert "4 checks, 4 tested by 2 known bugs, 0 untested; 0 problem(s)" in text
    assert "failed by: leaky ReLU" in text and "failed by: ReLU derivative 1" in text  # (the table wraps)


def test_untested_checks_and_stale_bugs_are_reported(monkeypatch):
    bugs = [Bug("stale", "this text is not in the reference", "x", "relu_forward"),
            Bug("leaky", "return np.maximum(x, 0.0), x", "return np.maximum(x, 0.01 * x), x", "relu_forward")]
    monkeypatch.setattr(bugs_mod, "load_bugs", lambda slug: bugs)
    select = ["relu_forward", "relu_backward: gradient"]
    res = verify_assignment(SLUG, select=select, devices=["cpu"])
    chosen = collect_infos(SLUG, select=select)  # the selection, with its targets' core checks
    total = sum(info.points for info, _ in chosen)
    assert res.reference["cpu"] == (total, total) and res.skeleton == (0.0, total)
    # a check counts as tested only when a bug of its own target fails it: the relu_forward bug tests no
    # relu_backward check
    assert res.untested == [info.name for info, _ in chosen if info.target == "relu_backward"]
    assert set(res.caught_by["relu_forward: max(0, x)"]) == {"leaky"}
    assert res.problems == ["bug 'stale' does not apply: its text occurs 0 times in the reference "
                            "(exactly once expected)"]
    console = Console(record=True, width=200)
    render([res], console)
    text = console.export_text()
    assert "untested" in text and "PROBLEM" in text and f"{len(res.untested)} untested; 1 problem(s)" in text


def test_an_assignment_without_bugs_has_every_check_untested(monkeypatch):
    monkeypatch.setattr(bugs_mod, "load_bugs", lambda slug: None)
    res = verify_assignment(SLUG, select=["sgd_step"], devices=["cpu"])
    names = [n for n, _, _ in collect(SLUG) if n.startswith("sgd_step")]
    assert res.checks == names and res.untested == names and res.problems == []
    console = Console(record=True, width=200)
    render([res], console)
    assert "no bugs.py for this assignment" in console.export_text()


def test_exit_codes(monkeypatch):
    """0 when verification ran, whatever it found; 1 with --strict when it found a problem or an untested check."""
    unknown = CliRunner().invoke(main, ["verify", "no-such-assignment"])
    assert unknown.exit_code == 2 and "unknown assignment" in unknown.output
    res = verify_mod.AssignmentVerification(slug=SLUG, checks=["sgd_step: x"], reference={"cpu": (1.0, 1.0)},
                                            skeleton=(0.0, 1.0))  # one check, no bug: untested
    monkeypatch.setattr(verify_mod, "verify", lambda *a, **k: [res])
    assert CliRunner().invoke(main, ["verify", SLUG]).exit_code == 0
    assert CliRunner().invoke(main, ["verify", SLUG, "--strict"]).exit_code == 1
