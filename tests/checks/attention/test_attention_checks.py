"""The attention checks judge correctly: full marks for the reference, zero for the skeleton, forbidden built-ins
cost the points of the function that uses them, and the end-to-end check is judged on the returned weights."""

import pytest

from autograder import spec as specs
from autograder.grading import grade
from tests.checks.attention._bugs import ADD, BUGS, E2E, FAST, MHA, SDPA, SLUG, grade_edits
from tests.helpers import failed_targets, reference_source, write_submission


@pytest.fixture(scope="module")
def reference_report():
    return grade(SLUG, specs.load(SLUG).reference, seed=11)


def test_reference_gets_full_marks(reference_report):
    assert reference_report.max_score > 0
    assert reference_report.score == reference_report.max_score, reference_report.failed_names()


def test_reference_covers_every_target_publicly_and_hidden(reference_report):
    assert {r.target for r in reference_report.results} == set(specs.load(SLUG).targets)
    for target in specs.load(SLUG).targets:
        assert {r.visibility for r in reference_report.results if r.target == target} == {"public", "hidden"}


def test_end_to_end_check_is_bounded_in_time(reference_report):
    (e2e,) = [r for r in reference_report.results if r.name.startswith(E2E)]
    assert e2e.passed and e2e.max_score >= 5
    assert e2e.duration < 60, f"the end-to-end check took {e2e.duration} s"


def test_skeleton_gets_zero_and_the_grader_completes():
    report = grade(SLUG, specs.load(SLUG).skeleton, seed=3)
    assert report.score == 0
    assert len(report.results) >= 25
    assert all("not implemented yet" in r.output for r in report.results), [r.output for r in report.results][:3]


def test_every_known_bug_targets_a_graded_function_and_still_applies():
    # The bug tests are parametrized per target: a bug with another target would be tested by none of them.
    assert BUGS, "autograder/checks/attention/bugs.py lists no bug"
    assert {b.target for b in BUGS} == set(specs.load(SLUG).targets) == set(FAST)
    source = reference_source(SLUG)
    for bug in BUGS:
        assert source.count(bug.old) == 1, f"{bug.name}: its text no longer occurs exactly once in the reference"
        assert bug.new != bug.old, bug.name


def test_forbidden_fused_kernel_fails_the_function_and_its_callers(tmp_path):
    # scaled_dot_product_attention delegates to PyTorch's kernel: it loses its points, and so does
    # MultiHeadAttention, which calls it; AdditiveAttention does not use it and keeps its points.
    edits = [("    # BEGIN SOLUTION\n    Lq, d = q.shape[-2], q.shape[-1]",
              "    # BEGIN SOLUTION\n    if mask is None and not causal:\n"
              "        return F.scaled_dot_product_attention(q, k, v), None\n    Lq, d = q.shape[-2], q.shape[-1]")]
    report = grade_edits(tmp_path, edits, [f"{SDPA}: causal=True with", f"{MHA}: q_proj", f"{ADD}: W_q"])
    assert failed_targets(report) == {SDPA, MHA}
    for r in report.results:
        if not r.passed:
            assert "forbidden" in r.output and "torch.nn.functional.scaled_dot_product_attention" in r.output


def test_forbidden_module_fails_only_the_class_that_uses_it(tmp_path):
    edits = [("heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)",
              "heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)")]
    report = grade_edits(tmp_path, edits, [f"{SDPA}: causal=True with", *FAST[MHA][:2]])
    assert failed_targets(report) == {MHA}
    assert all("forbidden" in r.output for r in report.results if not r.passed)


def test_forbidden_api_reached_dynamically_trips_at_run_time(tmp_path):
    # A computed name escapes the static scan; the worker's tripwire stops the call.
    edits = [("    # BEGIN SOLUTION\n    Lq, d = q.shape[-2], q.shape[-1]",
              "    # BEGIN SOLUTION\n    fused = getattr(F, 'scaled_dot_' + 'product_attention')\n"
              "    return fused(q, k, v), None\n    Lq, d = q.shape[-2], q.shape[-1]")]
    report = grade_edits(tmp_path, edits, [f"{SDPA}: softmax(q k^T"])
    (result,) = report.results
    assert not result.passed and "forbidden" in result.output, result.output


def test_end_to_end_fails_when_the_trained_weights_do_not_work_with_true_attention(tmp_path):
    # Without out_proj, training succeeds inside the sandbox (the module ignores out_proj), but the weights it
    # returns, run through the reference attention, do not reverse digits: the trusted recomputation catches it.
    edits = [("return self.out_proj(concat)  # (B, Lq, d_model)", "return concat  # (B, Lq, d_model)")]
    report = grade_edits(tmp_path, edits, [E2E], seed=4)
    (result,) = report.results
    assert not result.passed and "token accuracy" in result.output, result.output


def test_end_to_end_rejects_weights_that_do_not_fit_the_model(tmp_path):
    # An extra parameter in MultiHeadAttention changes the state_dict: the check says which keys it expected.
    source = reference_source(SLUG).replace(
        "        self.out_proj = nn.Linear(d_model, d_model, bias=bias)\n",
        "        self.out_proj = nn.Linear(d_model, d_model, bias=bias)\n"
        "        self.gate = nn.Parameter(torch.ones(1))\n", 1)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=4, select=[E2E])
    (result,) = report.results
    assert not result.passed and "expected" in result.output and "gate" in result.output, result.output
