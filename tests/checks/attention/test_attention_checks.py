"""attention specifics beyond the harness (tests/checks/test_harness.py): forbidden APIs cost the function that uses
them and its callers, a forbidden API reached at run time taints every check of its function, and the end-to-end
check judges the trained weights with true attention."""

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "attention"
SDPA = "scaled_dot_product_attention"
MHA = "MultiHeadAttention"
ADD = "AdditiveAttention"
E2E = f"{MHA}: a small Transformer"


def grade_edits(tmp_path, edits, select, seed=5, name="bug"):
    source = reference_source(SLUG)
    for old, new in edits:
        source = mutate(source, old, new)
    return grade(SLUG, write_submission(tmp_path, SLUG, source, name), seed=seed, select=select)


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
    report = grade_edits(tmp_path, edits, [f"{SDPA}: causal=True with", f"{MHA}: q_proj", f"{MHA}: ValueError"])
    assert failed_targets(report) == {MHA}
    assert all("forbidden" in r.output for r in report.results if not r.passed)


def test_forbidden_api_reached_at_run_time_taints_every_check_of_its_function(tmp_path):
    # A path the static scan cannot follow (functools.reduce over getattr) reaches the fused kernel only for
    # unmasked, non-causal inputs; the worker's tripwire stops it there, and every check of the function fails
    # with the rule named, the checks that ran before it or never reached the call included.
    edits = [("    # BEGIN SOLUTION\n    Lq, d = q.shape[-2], q.shape[-1]",
              "    # BEGIN SOLUTION\n    if mask is None and not causal:\n        import functools\n"
              "        fused = functools.reduce(getattr, ['nn', 'functional', 'scaled_dot_' + 'product_attention'], "
              "torch)\n        return fused(q, k, v), None\n    Lq, d = q.shape[-2], q.shape[-1]")]
    report = grade_edits(tmp_path, edits, [f"{SDPA}:", f"{ADD}: W_q"])
    sdpa = [r for r in report.results if r.target == SDPA]
    assert len(sdpa) > 5 and all(not r.passed and r.score == 0 for r in sdpa)
    assert all("forbidden API" in r.output and "scaled_dot_product_attention" in r.output for r in sdpa), \
        [r.output for r in sdpa]
    assert any("found at run time" in r.output for r in sdpa)
    assert failed_targets(report) == {SDPA}


def test_end_to_end_fails_when_the_trained_weights_do_not_work_with_true_attention(tmp_path):
    # Without out_proj, training succeeds inside the sandbox (the module ignores out_proj), but the weights it
    # returns, run through the reference attention, do not reverse digits: the trusted recomputation catches it.
    edits = [("return self.out_proj(concat)  # (B, Lq, d_model)", "return concat  # (B, Lq, d_model)")]
    report = grade_edits(tmp_path, edits, [E2E], seed=4)
    (result,) = [r for r in report.results if r.name.startswith(E2E)]
    # withheld since MultiHeadAttention's core checks fail, or failed by the trusted recomputation
    assert not result.passed and (result.gated or "token accuracy" in result.output), result.output


def test_end_to_end_rejects_weights_that_do_not_fit_the_model(tmp_path):
    # An extra parameter in MultiHeadAttention changes the state_dict: the check says which keys it expected.
    source = reference_source(SLUG).replace(
        "        self.out_proj = nn.Linear(d_model, d_model, bias=bias)\n",
        "        self.out_proj = nn.Linear(d_model, d_model, bias=bias)\n"
        "        self.gate = nn.Parameter(torch.ones(1))\n", 1)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=4, select=[E2E])
    (result,) = [r for r in report.results if r.name.startswith(E2E)]
    assert not result.passed and (result.gated or "expected" in result.output), result.output
