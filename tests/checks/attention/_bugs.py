"""Buggy attention submissions, each made from the reference with one realistic bug, and how to grade them.

Each bug is (id, [(old, new), ...], target): every `old` must occur exactly once in the reference (in turn), so the
bugs track the reference.
"""

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "attention"

SDPA = "scaled_dot_product_attention"
MHA = "MultiHeadAttention"
ADD = "AdditiveAttention"

# The checks of each target, the slow end-to-end check of MultiHeadAttention left out (it has its own test).
FAST = {
    SDPA: [f"{SDPA}:"],
    MHA: [f"{MHA}: q_proj", f"{MHA}: ValueError", f"{MHA}: self-attention", f"{MHA}: cross-attention",
          f"{MHA}: causal", f"{MHA}: gradients"],
    ADD: [f"{ADD}:"],
}
E2E = f"{MHA}: a small Transformer"

_MASKED_SOFTMAX = """        scores = scores.masked_fill(~allowed, float("-inf"))
        scores = scores.masked_fill(~any_allowed, 0.0)
        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)
        weights = weights.masked_fill(~allowed, 0.0)"""

SDPA_BUGS = [
    ("no 1/sqrt(d) scaling", [("scores = q @ k.transpose(-2, -1) / math.sqrt(d)", "scores = q @ k.transpose(-2, -1)")]),
    ("scaled by 1/d", [("/ math.sqrt(d)  # (..., Lq, Lk)", "/ d  # (..., Lq, Lk)")]),
    ("softmax over the wrong axis", [
        ("        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)\n    else:",
         "        weights = torch.softmax(scores, dim=-2)  # (..., Lq, Lk)\n    else:"),
        ("        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)\n        weights = weights.masked_fill",
         "        weights = torch.softmax(scores, dim=-2)  # (..., Lq, Lk)\n        weights = weights.masked_fill")]),
    ("mask applied after the softmax", [(_MASKED_SOFTMAX, "        weights = torch.softmax(scores, dim=-1)"
                                                          ".masked_fill(~allowed, 0.0)")]),
    ("causal diagonal excluded", [(".tril()  # (Lq, Lk)", ".tril(-1)  # (Lq, Lk)")]),
    ("causal triangle flipped", [(".tril()  # (Lq, Lk)", ".triu()  # (Lq, Lk)")]),
    ("mask polarity inverted", [("allowed = mask.to(torch.bool)  # broadcastable",
                                 "allowed = ~mask.to(torch.bool)  # broadcastable")]),
    ("NaN on a fully masked row", [(_MASKED_SOFTMAX, """        scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)""")]),
    ("causal and mask combined with OR", [("allowed = lower if allowed is None else allowed & lower",
                                           "allowed = lower if allowed is None else allowed | lower")]),
    ("no ValueError for causal with Lq != Lk", [("    if causal and Lq != Lk:\n        raise ValueError",
                                                 "    if False:\n        raise ValueError")]),
]

_SPLIT = [
    ("q = self.q_proj(query).view(B, Lq, nh, hs).transpose(1, 2)", "q = self.q_proj(query).reshape(B, nh, Lq, hs)"),
    ("k = self.k_proj(key).view(B, Lk, nh, hs).transpose(1, 2)", "k = self.k_proj(key).reshape(B, nh, Lk, hs)"),
    ("v = self.v_proj(value).view(B, Lk, nh, hs).transpose(1, 2)", "v = self.v_proj(value).reshape(B, nh, Lk, hs)"),
    ("concat = heads.transpose(1, 2).reshape(B, Lq, self.d_model)", "concat = heads.reshape(B, Lq, self.d_model)"),
]

MHA_BUGS = [
    ("heads split by reshape without the transpose", _SPLIT),
    ("heads merged without the transpose", _SPLIT[3:]),
    ("out_proj skipped", [("return self.out_proj(concat)  # (B, Lq, d_model)", "return concat  # (B, Lq, d_model)")]),
    ("mask not passed on", [("heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)",
                             "heads, _ = scaled_dot_product_attention(q, k, v, causal=causal)")]),
    ("causal not passed on", [("heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)",
                               "heads, _ = scaled_dot_product_attention(q, k, v, mask=mask)")]),
    ("values projected with k_proj", [("v = self.v_proj(value)", "v = self.k_proj(value)")]),
    ("no bias switch", [("self.q_proj = nn.Linear(d_model, d_model, bias=bias)",
                         "self.q_proj = nn.Linear(d_model, d_model)")]),
    ("no ValueError for indivisible heads", [("if n_heads <= 0 or d_model % n_heads != 0:", "if n_heads <= 0:")]),
]

ADD_BUGS = [
    ("softmax over the batch", [("weights = torch.softmax(scores, dim=-1)  # (B, L)",
                                 "weights = torch.softmax(scores, dim=0)  # (B, L)")]),
    ("tanh forgotten", [("hidden = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))",
                         "hidden = self.W_q(query).unsqueeze(1) + self.W_k(keys)")]),
    ("mask ignored", [("        if mask is None:\n            weights = torch.softmax(scores, dim=-1)  # (B, L)",
                       "        if True:\n            weights = torch.softmax(scores, dim=-1)  # (B, L)")]),
    ("NaN on a fully masked row", [
        ("scores = scores.masked_fill(~allowed, float(\"-inf\")).masked_fill(~any_allowed, 0.0)",
         "scores = scores.masked_fill(~allowed, float(\"-inf\"))"),
        ("weights = torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0)  # (B, L)",
         "weights = torch.softmax(scores, dim=-1)  # (B, L)")]),
    ("biases in the alignment model", [("self.W_q = nn.Linear(query_dim, hidden_dim, bias=False)",
                                        "self.W_q = nn.Linear(query_dim, hidden_dim)")]),
]


def variant_source(edits):
    source = reference_source(SLUG)
    for old, new in edits:
        source = mutate(source, old, new)
    return source


def grade_edits(tmp_path, edits, select, seed=5, name="bug"):
    return grade(SLUG, write_submission(tmp_path, SLUG, variant_source(edits), name), seed=seed, select=select)


def assert_loses_points_on(report, target, bug):
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug}: no check of {target} failed"
    assert failed_targets(report) == {target}, f"{bug}: failed {failed_targets(report)}"
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    return failing

# Bugs whose failure message must name the mistake (the checks compare with the known wrong variant).
NAMED = {
    "no 1/sqrt(d) scaling": "no 1/sqrt(d) scaling",
    "scaled by 1/d": "divided by d instead of sqrt(d)",
    "softmax over the wrong axis": "softmax over the queries",
    "mask applied after the softmax": "mask applied after the softmax",
    "causal diagonal excluded": "excludes the diagonal",
    "causal triangle flipped": "queries see the future",
    "mask polarity inverted": "mask polarity inverted",
    "heads split by reshape without the transpose": "heads split by reshape without the transpose",
    "out_proj skipped": "out_proj skipped",
    "softmax over the batch": "softmax over the batch",
}
