"""The student's loop: one message per root cause, the student's own output, what was run, where a timeout was
stuck, a worker started before it is needed. (Speed is measured by benchmarks/bench_check.py, never asserted.)"""

import io
import json
import textwrap

import pytest
from rich.console import Console

from autograder import feedback, warm
from autograder.grading import GradingError, grade, hidden_summary, collect
from autograder.report import render
from autograder.sandbox import Limits, Sandbox, SandboxConfig
from autograder.sandbox.client import bound_text, parse_stack
from tests.helpers import mutate, reference_source, write_submission

SLUG = "backprop"
RELU = "    return np.maximum(x, 0.0), x\n"


def rendered(report, **kwargs) -> str:
    buf = io.StringIO()
    render(report, Console(file=buf, width=200, color_system=None), **kwargs)
    return buf.getvalue()


def submission(tmp_path, source, name="sub"):
    return write_submission(tmp_path, SLUG, source, name)


# ------------------------------------------------------------------------------------------- one root cause

@pytest.mark.parametrize("case,source,panel,reason", [
    ("syntax", lambda ref: ref.replace("def relu_forward(x):", "def relu_forward(x)", 1),
     "backprop.py does not parse: ", "not run: backprop.py does not parse (line "),
    ("forbidden", lambda ref: "import torch\n" + ref,
     "your module uses torch (line 1)", "not run: backprop.py uses a forbidden API at module level"),
])
def test_a_module_that_cannot_run_is_one_panel_and_one_line_per_check(tmp_path, case, source, panel, reason):
    path = submission(tmp_path, source(reference_source(SLUG)))
    report = grade(SLUG, path, mode="check", select=["linear_forward", "relu_"])
    assert len(report.results) == 3 and report.score == 0
    assert panel in report.module_problem
    assert all(r.brief and r.output.startswith(reason) for r in report.results), [r.output for r in report.results]
    assert report.isolation == "not started"  # nothing ran: the problem was found before the sandbox started
    text = rendered(report)
    assert text.count(panel) == 1 and text.count(reason) == 3
    data = report.to_gradescope()
    assert panel in data["output"] and panel in data["tests"][0]["output"]
    assert all(panel not in t["output"] for t in data["tests"][1:])


def test_a_module_that_does_not_import_is_one_panel_with_what_it_printed(tmp_path):
    path = submission(tmp_path, reference_source(SLUG) + "\nprint('about to fail')\nraise RuntimeError('boom')\n")
    report = grade(SLUG, path, mode="check", select=["linear_forward", "relu_"])
    assert "importing your module raised RuntimeError: boom" in report.module_problem
    assert "about to fail" in report.module_problem and 'File "backprop.py"' in report.module_problem
    assert all(r.output == "not run: backprop.py does not import: it raised RuntimeError" for r in report.results)
    assert rendered(report).count("RuntimeError: boom") == 1


def test_an_import_that_hangs_says_where_it_was_stuck(tmp_path):
    path = submission(tmp_path, reference_source(SLUG) + "\ndef _spin():\n    while True:\n        pass\n\n_spin()\n")
    report = grade(SLUG, path, mode="check", select=["relu_forward"], limits=Limits(import_timeout=1))
    assert "timed out while importing your module" in report.module_problem
    assert "It was stopped here (most recent call last):" in report.module_problem
    assert "in _spin" in report.module_problem  # on the loop's line or its body's
    assert "    pass" in report.module_problem or "    while True:" in report.module_problem
    assert "in <module>" in report.module_problem and "_spin()" in report.module_problem
    assert report.results[0].output == "not run: backprop.py does not import: it timed out"


def test_the_untouched_skeleton_is_one_panel(tmp_path):
    report = grade(SLUG, None, mode="check")
    assert report.module_problem.startswith("backprop.py is still the skeleton")
    assert "Start with linear_forward" in report.module_problem
    assert all(r.brief and (r.output.startswith("not implemented yet: ") or r.output.startswith("not run: "))
               for r in report.results)
    text = rendered(report)
    assert text.count("is still the skeleton") == 1 and "╭" in text  # one panel, the module's
    assert text.count("╭") == 1


def test_a_function_still_raising_not_implemented_is_one_line_per_check(tmp_path):
    source = mutate(reference_source(SLUG), RELU, '    raise NotImplementedError("relu_forward: not yet")\n')
    report = grade(SLUG, submission(tmp_path, source), mode="check", select=["linear_forward", "relu_"])
    assert not report.module_problem  # a partial implementation is no skeleton
    relu = [r for r in report.results if r.target.startswith("relu")]
    assert relu and all(r.brief for r in relu)
    assert all(r.output.startswith("not implemented yet: relu_forward raises NotImplementedError (line ")
               for r in relu), [r.output for r in relu]
    assert report.result("linear_forward: out = x W + b on a small batch").passed
    assert "╭" not in rendered(report)  # no panel at all


# ------------------------------------------------------------------------------------------- timeouts

def test_a_hang_fails_the_functions_remaining_checks_at_once_and_says_where(tmp_path):
    source = mutate(reference_source(SLUG), "        if activation not in _ACTIVATIONS:\n",
                    "        while True:\n            pass\n        if activation not in _ACTIVATIONS:\n")
    report = grade(SLUG, submission(tmp_path, source), mode="check", select=["MLP"],
                   limits=Limits(call_timeout=1))
    mlp = [r for r in report.results if r.target == "MLP"]
    timed_out = [r for r in mlp if "timed out after" in r.output]
    assert len(timed_out) == 1, [r.output for r in mlp]  # one timeout, not one per check
    message = timed_out[0].output
    assert "your code timed out after 1 s of CPU time" in message and "check step" not in message
    assert 'File "backprop.py", line' in message and "in __init__" in message
    assert "    pass" in message or "    while True:" in message
    rest = [r for r in mlp if r is not timed_out[0]]
    assert len(rest) >= 2
    assert all(r.brief and r.output.startswith("not run: MLP timed out in an earlier check") for r in rest)


def test_a_hang_reached_from_another_function_is_not_called_again(tmp_path):
    source = mutate(reference_source(SLUG), RELU, "    while True:\n        pass\n")
    report = grade(SLUG, submission(tmp_path, source), mode="check", select=["relu_forward", "MLP: forward"],
                   limits=Limits(call_timeout=1))
    relu = report.result("relu_forward: max(0, x)")
    assert "timed out after" in relu.output and "in relu_forward" in relu.output
    mlp = report.result("MLP: forward and backward agree with autograd (one hidden layer, relu)")
    assert mlp.output == "not run: relu_forward timed out in an earlier check"


# ------------------------------------------------------------------------------------------- the student's output

def test_what_the_code_prints_is_kept_per_check_and_bounded(tmp_path):
    source = reference_source(SLUG)
    source = source.replace('def linear_forward(x, W, b):\n',
                            'def linear_forward(x, W, b):\n    print("LINEAR-START")\n    print("x" * 20000)\n'
                            '    print("LINEAR-END")\n', 1)
    source = mutate(source, RELU, '    print("RELU-HERE")\n    return np.maximum(x, 0.0) + 1, x\n')
    path = submission(tmp_path, source + "\nprint('IMPORTED')\n")
    report = grade(SLUG, path, mode="check", select=["linear_forward", "relu_forward"])
    lin = report.result("linear_forward: out = x W + b on a small batch")
    relu = report.result("relu_forward: max(0, x)")
    assert lin.passed and not relu.passed
    assert "LINEAR-START" in lin.stdout and "LINEAR-END" in lin.stdout and "not shown" in lin.stdout
    assert len(lin.stdout) < 4400 and "RELU" not in lin.stdout and "IMPORTED" not in lin.stdout
    assert "RELU-HERE" in relu.stdout and "LINEAR" not in relu.stdout
    assert "IMPORTED" in report.import_output
    quiet, loud = rendered(report), rendered(report, verbose=True)
    assert "RELU-HERE" in quiet and "LINEAR-END" not in quiet  # under the failed check only
    assert "LINEAR-END" in loud and "IMPORTED" in loud  # -v: every check's
    tests = {t["name"]: t["output"] for t in report.to_gradescope()["tests"]}
    assert "RELU-HERE" in tests[relu.name] and "LINEAR-END" in tests[lin.name]


def test_hidden_checks_never_show_what_the_code_printed(tmp_path):
    source = mutate(reference_source(SLUG), RELU, '    print("SECRET-ECHO", x.ravel()[:3])\n'
                                                  '    return np.maximum(x, 0.0) + 1, x\n')
    report = grade(SLUG, submission(tmp_path, source), mode="grade", seed=3, select=["relu_forward"])
    hidden = [r for r in report.results if r.visibility == "hidden"]
    assert hidden and all(r.stdout == "" for r in hidden)
    data = report.to_gradescope()
    assert all("SECRET-ECHO" not in t["output"] for t in data["tests"] if t["visibility"] != "visible")
    assert any("SECRET-ECHO" in t["output"] for t in data["tests"] if t["visibility"] == "visible")


# ------------------------------------------------------------------------------------------- what was run

def test_the_summary_names_the_file_and_a_partial_run_what_it_skipped(tmp_path):
    path = submission(tmp_path, reference_source(SLUG))
    report = grade(SLUG, path, mode="check", select=["LINEAR_FORWARD"])  # any case
    assert [r.name for r in report.results] == ["linear_forward: out = x W + b on a small batch"]
    public = [c for c in collect(SLUG) if c[1] == "public"]
    line = report.summary_line()
    assert str(path) in line or "sub/backprop.py" in line
    assert f"Partial run: {len(public) - 1} public checks not run (--only)" in line


def test_only_matching_nothing_is_an_error_naming_the_valid_names(tmp_path):
    with pytest.raises(GradingError) as err:
        grade(SLUG, None, mode="check", select=["mha"])
    text = str(err.value)
    assert "--only 'mha' matches no public check of backprop" in text
    assert "linear_forward" in text and "softmax_cross_entropy" in text


def test_the_cli_exits_2_on_an_only_that_matches_nothing():
    from click.testing import CliRunner

    from autograder.cli import main

    result = CliRunner().invoke(main, ["check", SLUG, "--only", "mha"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "matches no public check" in result.output


def test_hidden_checks_are_counted_without_running_pytest():
    for slug in ("backprop", "dropout"):
        hidden = [c for c in collect(slug) if c[1] == "hidden"]
        from autograder import spec as specs

        assert hidden_summary(specs.load(slug)) == (len(hidden), sum(c[2] for c in hidden))


# ------------------------------------------------------------------------------------------- the worker, early

def test_a_prestarted_worker_gets_its_submission_later(tmp_path):
    path = tmp_path / "mod.py"
    cfg = SandboxConfig(module_path=None, module_file="mod.py", limits=Limits(call_timeout=5))
    with Sandbox(cfg) as sb:
        sb.prestart()
        assert sb.proc is not None
        path.write_text("def f():\n    print('hi')\n    return 41 + 1\n")  # written after the worker started
        sb.config.module_path = path
        sb.capture_start()
        assert sb.call("f") == 42
        assert sb.capture_end() == "hi\n"


def test_the_grader_uses_a_prestarted_worker_for_the_same_settings(tmp_path):
    path = submission(tmp_path, reference_source(SLUG))
    early = warm.prestart(SLUG)
    report = grade(SLUG, path, mode="check", select=["relu_forward"], sandbox=early)
    assert report.score == report.max_score
    assert early.proc is None  # used, then closed by the grading
    other = warm.prestart(SLUG, isolation="process")
    grade(SLUG, path, mode="check", select=["relu_forward"], sandbox=other)  # not the settings asked for
    assert other.proc is None  # closed all the same


def test_early_start_reads_only_a_check_command():
    assert warm._parse_check(["check", "backprop", "--only", "relu", "-v"]) == ("backprop", "cpu")
    assert warm._parse_check(["check", "--device=cuda", "dropout"]) == ("dropout", "cuda")
    assert warm._parse_check(["check", "--submission", "x/backprop.py", "backprop"]) == ("backprop", "cpu")
    assert warm._parse_check(["grade", "backprop", "x"]) is None
    assert warm._parse_check(["check", "backprop", "--help"]) is None
    warm._EARLY.clear()
    warm.early_start(["/usr/bin/pytest", "check", "backprop"])  # not the dlcourse program: nothing starts
    assert not warm._EARLY
    warm.early_start(["/venv/bin/dlcourse", "check", "backprop"])
    try:
        assert warm.take("dropout") is None  # another slug: closed, not used
        assert warm.take("backprop") is None  # one early worker per process
    finally:
        warm._close_unused()
        warm._EARLY.clear()


# ------------------------------------------------------------------------------------------- small parts

def test_parse_stack_keeps_the_submissions_frames_most_recent_last():
    dump = textwrap.dedent('''\
        Thread 0x00007f0000000001 (most recent call first):
          File "/usr/lib/python3.11/threading.py", line 320 in wait
        Current thread 0x00007f0000000002 (most recent call first):
          File "/sandbox/backprop.py", line 5 in helper
          File "/sandbox/backprop.py", line 9 in linear_forward
          File "<probe probe_x>", line 3 in probe_x
          File "/x/autograder/sandbox/worker.py", line 500 in _handle
        ''')
    assert parse_stack(dump, "backprop.py") == [(9, "linear_forward"), (5, "helper")]
    assert parse_stack("garbage", "backprop.py") == []


def test_bound_text_keeps_the_beginning_and_the_end():
    text = "A" * 100 + "M" * 10000 + "Z" * 100
    out = bound_text(text, 1000)
    assert out.startswith("A" * 100) and out.endswith("Z" * 100) and "characters not shown" in out
    assert len(out) < 1100 and bound_text("short", 1000) == "short"


def test_skeleton_is_not_claimed_for_a_partial_run():
    from autograder.report import CheckResult

    r = CheckResult("f: x", "f", "public", 1, 0, False, output=feedback.NOT_IMPLEMENTED + "f raises")
    assert feedback.skeleton_problem([r], "m.py", ("f",), partial=True) is None
    assert feedback.skeleton_problem([r], "m.py", ("f",), partial=False).startswith("m.py is still the skeleton")


def test_results_json_of_a_failed_check_holds_what_it_printed(tmp_path):
    source = mutate(reference_source(SLUG), RELU, '    print("P1")\n    return x, x\n')
    report = grade(SLUG, submission(tmp_path, source), mode="check", select=["relu_forward"])
    out = tmp_path / "results.json"
    report.write_json(out)
    test = json.loads(out.read_text())["tests"][0]
    assert test["status"] == "failed" and "--- what your code printed during this check ---\nP1" in test["output"]


@pytest.mark.parametrize("isolation", ["auto", "process"])
def test_a_timeout_shows_the_workers_stack_at_every_isolation_level(tmp_path, isolation):
    path = tmp_path / "mod.py"
    path.write_text("def helper(n):\n    while True:\n        n += 1\n\ndef spin():\n    return helper(0)\n")
    cfg = SandboxConfig(module_path=path, module_file="mod.py", isolation=isolation, limits=Limits(call_timeout=1))
    with Sandbox(cfg) as sb:
        with pytest.raises(Exception) as err:
            sb.call("spin")
    assert err.value.stack == [(6, "spin"), (2, "helper")] or err.value.stack == [(6, "spin"), (3, "helper")]
    assert 'File "mod.py", line 6, in spin\n    return helper(0)' in str(err.value)
