"""Public checks for attention: what `dlcourse check attention` runs, and what students can read.

The oracles are computed here, in the trusted process, with PyTorch's own attention (F.scaled_dot_product_attention
and nn.MultiheadAttention, which the submission may not use but the grader may) and autograd; additive attention,
which PyTorch does not provide, is written out from the paper one row at a time. The submission runs in the sandbox
and only its values come back.
"""


import torch
import torch.nn.functional as F

from autograder.checking import CheckFailure, check, fail, load_sibling
from autograder.compare import expect_close, expect_true

C = load_sibling(__file__, "_common")
probe_sdpa, probe_sdpa_error = C.probe_sdpa, C.probe_sdpa_error
probe_mha, probe_mha_error, probe_mha_layout = C.probe_mha, C.probe_mha_error, C.probe_mha_layout
probe_additive, probe_additive_layout = C.probe_additive, C.probe_additive_layout


def gen():
    """Public checks use fixed inputs: the same for every student."""
    return torch.Generator().manual_seed(2017)


def randn(g, *shape, device="cpu", dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def causal_pattern(Lq, Lk, device, diagonal=0, upper=False):
    """Query i may see key j iff j <= i + diagonal (upper=True flips the triangle: j >= i - diagonal)."""
    ones = torch.ones(Lq, Lk, dtype=torch.bool, device=device)
    return ones.triu(-diagonal) if upper else ones.tril(diagonal)


def torch_attention(q, k, v, mask=None, causal=False, scale=None, dtype=None):
    """(out, weights) from PyTorch's F.scaled_dot_product_attention, computed in float64 and returned in `dtype`
    (default: q's). The weights are the output for v = the identity matrix. Rows without an allowed key are 0."""
    dtype = dtype or q.dtype
    q, k, v = q.double(), k.double(), v.double()
    allowed = mask
    if causal:
        tri = causal_pattern(q.shape[-2], k.shape[-2], q.device)
        allowed = tri if allowed is None else allowed & tri
    Lk = k.shape[-2]
    eye = torch.eye(Lk, dtype=torch.float64, device=q.device).expand(*k.shape[:-2], Lk, Lk)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale)
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=allowed, scale=scale)
    return torch.nan_to_num(out, nan=0.0).to(dtype), torch.nan_to_num(weights, nan=0.0).to(dtype)


def _sdpa_mistakes(q, k, v, mask=None, causal=False):
    """Known wrong variants of (out, weights), for naming a mistake in a message."""
    d, Lq, Lk = q.shape[-1], q.shape[-2], k.shape[-2]
    variants = {
        "no 1/sqrt(d) scaling of the scores": torch_attention(q, k, v, mask, causal, scale=1.0),
        "scores divided by d instead of sqrt(d)": torch_attention(q, k, v, mask, causal, scale=1.0 / d),
    }
    if mask is None and not causal:
        w = torch.softmax(q.double() @ k.double().transpose(-2, -1) / d ** 0.5, dim=-2)
        variants["softmax over the queries (axis -2) instead of over the keys (axis -1)"] = (
            (w @ v.double()).to(q.dtype), w.to(q.dtype))
    else:
        allowed = mask if mask is not None else torch.ones(Lq, Lk, dtype=torch.bool, device=q.device)
        if causal:
            allowed = allowed & causal_pattern(Lq, Lk, q.device)
        _, w = torch_attention(q, k, v, dtype=torch.float64)
        w = w * allowed
        variants["the mask applied after the softmax (the weights no longer sum to 1)"] = (
            (w @ v.double()).to(q.dtype), w.to(q.dtype))
    if mask is not None:
        inverted = ~mask
        if causal:
            inverted = inverted & causal_pattern(Lq, Lk, q.device)
        variants["mask polarity inverted (True must mean 'may attend')"] = torch_attention(q, k, v, inverted)
    if causal:
        for words, pattern in (
                ("causal mask excludes the diagonal (query i must see key i)", causal_pattern(Lq, Lk, q.device, -1)),
                ("causal mask includes key i+1 (off by one)", causal_pattern(Lq, Lk, q.device, 1)),
                ("causal mask flipped: queries see the future, not the past",
                 causal_pattern(Lq, Lk, q.device, upper=True))):
            variants[words] = torch_attention(q, k, v, pattern if mask is None else pattern & mask)
    return {w: o for w, (o, _) in variants.items()}, {w: a for w, (_, a) in variants.items()}


def _compare_sdpa(got, q, k, v, mask=None, causal=False, inputs=""):
    want_out, want_w = torch_attention(q, k, v, mask, causal)
    bad_out, bad_w = _sdpa_mistakes(q, k, v, mask, causal)
    expect_close(got["weights"], want_w, name="weights", inputs=inputs, mistakes=bad_w)
    expect_close(got["out"], want_out, name="out", inputs=inputs, mistakes=bad_out)


# ------------------------------------------------------------------------------------------- scaled dot-product


@check("scaled_dot_product_attention: softmax(q k^T / sqrt(d)) v for (Lq, d) inputs without batch dims", points=2, core=True)
def test_sdpa_no_batch(student, device):
    g = gen()
    q, k, v = randn(g, 5, 8, device=device), randn(g, 7, 8, device=device), randn(g, 7, 3, device=device)
    got = student.run(probe_sdpa, q, k, v)
    _compare_sdpa(got, q, k, v, inputs="q (5, 8), k (7, 8), v (7, 3), no mask")


@check("scaled_dot_product_attention: batched (2, 3, Lq, d) inputs agree with PyTorch's attention", points=2, core=True)
def test_sdpa_batched_vs_torch(student, device):
    g = gen()
    q, k, v = randn(g, 2, 3, 4, 8, device=device), randn(g, 2, 3, 6, 8, device=device), randn(g, 2, 3, 6, 5,
                                                                                            device=device)
    got = student.run(probe_sdpa, q, k, v)
    inputs = "q (2, 3, 4, 8), k (2, 3, 6, 8), v (2, 3, 6, 5): Lq != Lk and dv != d"
    want_out, want_w = torch_attention(q, k, v)
    bad_out, bad_w = _sdpa_mistakes(q, k, v)
    expect_close(got["out"], want_out, name="out", inputs=inputs, mistakes=bad_out)
    w = got["weights"]
    expect_close(w, want_w, name="weights", inputs=inputs, mistakes=bad_w)
    expect_true(bool((w >= 0).all()) and torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5),
                "weights must be non-negative and sum to 1 over the keys (the last axis)")


@check("scaled_dot_product_attention: boolean masks (True = may attend) broadcast from (Lq, Lk) and (B, 1, 1, Lk)",
       points=2)
def test_sdpa_masks(student, device):
    g = gen()
    B, H, Lq, Lk = 2, 2, 5, 6
    q, k, v = randn(g, B, H, Lq, 8, device=device), randn(g, B, H, Lk, 8, device=device), randn(g, B, H, Lk, 4,
                                                                                             device=device)
    square = torch.rand(Lq, Lk, generator=g) > 0.4
    square[:, 0] = True  # every query keeps at least one key here
    padding = torch.ones(B, 1, 1, Lk, dtype=torch.bool)
    padding[0, ..., 4:] = False
    padding[1, ..., 2:] = False
    for mask, words in ((square.to(device), "a random (Lq, Lk) mask"),
                        (padding.to(device), "a padding mask of shape (B, 1, 1, Lk)")):
        got = student.run(probe_sdpa, q, k, v, mask=mask)
        inputs = f"q (2, 2, 5, 8), k (2, 2, 6, 8), v (2, 2, 6, 4), mask: {words}"
        want_out, want_w = torch_attention(q, k, v, mask)
        bad_out, bad_w = _sdpa_mistakes(q, k, v, mask)
        expect_close(got["weights"], want_w, name="weights", inputs=inputs, mistakes=bad_w)
        expect_true(bool((got["weights"].masked_select(~mask.expand(B, H, Lq, Lk)) == 0).all()),
                    f"weights of masked keys must be exactly 0 ({words})")
        expect_close(got["out"], want_out, name="out", inputs=inputs, mistakes=bad_out)


@check("scaled_dot_product_attention: causal=True lets query i see keys 0..i, the diagonal included", points=2, core=True)
def test_sdpa_causal(student, device):
    g = gen()
    q, k, v = randn(g, 3, 6, 8, device=device), randn(g, 3, 6, 8, device=device), randn(g, 3, 6, 8, device=device)
    got = student.run(probe_sdpa, q, k, v, causal=True)
    inputs = "q, k, v of shape (3, 6, 8), causal=True, no mask"
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True).float()
    bad_out, bad_w = _sdpa_mistakes(q, k, v, causal=True)
    expect_close(got["weights"], torch_attention(q, k, v, causal=True)[1], name="weights", inputs=inputs,
                 mistakes=bad_w)
    expect_close(got["out"], want, name="out", inputs=inputs, mistakes=bad_out)


@check("scaled_dot_product_attention: a query with no allowed key gives zeros, not NaN, in values and gradients",
       points=2)
def test_sdpa_fully_masked(student, device):
    g = gen()
    q, k, v = randn(g, 2, 5, 4, device=device), randn(g, 2, 5, 4, device=device), randn(g, 2, 5, 3, device=device)
    mask = torch.ones(2, 5, 5, dtype=torch.bool, device=device)
    mask[0, 2] = False  # query 2 of batch 0 may attend to nothing
    mask[1, :, 0] = False  # with causal=True, query 0 of batch 1 is left with nothing
    grad_out = randn(g, 2, 5, 3, device=device)
    got = student.run(probe_sdpa, q, k, v, mask=mask, causal=True, grad_out=grad_out)
    inputs = ("q, k (2, 5, 4), v (2, 5, 3), causal=True and a mask that leaves query 2 of batch 0 and query 0 of "
              "batch 1 without any allowed key")
    for key in ("out", "weights", "dq", "dk", "dv"):
        value = got.get(key)
        expect_true(isinstance(value, torch.Tensor), f"{key}: expected a tensor, got {type(value).__name__}"
                    + (" (did the computation leave the autograd graph?)" if key.startswith("d") else ""))
        expect_true(bool(torch.isfinite(value).all()),
                    f"{key} contains NaN or Inf for a query with no allowed key: softmax over a row of -inf is "
                    f"0/0; give such rows zero weights instead\n  input: {inputs}")
    expect_true(bool((got["weights"][0, 2] == 0).all() and (got["weights"][1, 0] == 0).all()),
                f"weights of a query with no allowed key must all be 0, got {got['weights'][0, 2].tolist()}")
    expect_true(bool((got["out"][0, 2] == 0).all() and (got["out"][1, 0] == 0).all()),
                f"out of a query with no allowed key must be 0, got {got['out'][0, 2].tolist()}")
    _compare_sdpa(got, q, k, v, mask, True, inputs=inputs)


@check("scaled_dot_product_attention: causal=True with Lq != Lk raises ValueError", points=1)
def test_sdpa_causal_lengths(student, device):
    g = gen()
    q, k, v = randn(g, 4, 8, device=device), randn(g, 6, 8, device=device), randn(g, 6, 8, device=device)
    raised = student.run(probe_sdpa_error, q, k, v, causal=True)
    outcome = f"it raised {raised}" if raised else "it returned normally"
    expect_true(raised == "ValueError", "scaled_dot_product_attention(q (4, 8), k (6, 8), v (6, 8), causal=True) "
                f"should raise ValueError (a causal mask needs Lq == Lk), but {outcome}")


@check("scaled_dot_product_attention: gradients with respect to q, k and v agree with autograd", points=2, core=True)
def test_sdpa_gradients(student, device):
    g = gen()
    f64 = dict(device=device, dtype=torch.float64)
    q, k, v = randn(g, 2, 4, 6, **f64), randn(g, 2, 5, 6, **f64), randn(g, 2, 5, 3, **f64)
    mask = torch.rand(4, 5, generator=g) > 0.3
    mask[:, 1] = True
    mask = mask.to(device)
    grad_out = randn(g, 2, 4, 3, **f64)
    got = student.run(probe_sdpa, q, k, v, mask=mask, grad_out=grad_out)
    ts = [t.clone().requires_grad_(True) for t in (q, k, v)]
    out = F.scaled_dot_product_attention(*ts, attn_mask=mask)
    (out * grad_out).sum().backward()
    inputs = "float64 q (2, 4, 6), k (2, 5, 6), v (2, 5, 3), a random (4, 5) mask, upstream gradient (2, 4, 3)"
    for key, t in zip(("dq", "dk", "dv"), ts):
        expect_close(got[key], t.grad, name=key, inputs=inputs)


# ------------------------------------------------------------------------------------------- multi-head


@check("MultiHeadAttention: q_proj, k_proj, v_proj and out_proj are Linear(d_model, d_model), bias optional",
       points=1)
def test_mha_layout(student):
    for bias in (True, False):
        got = student.run(probe_mha_layout, 12, 3, bias=bias)
        want_shapes = {n: list(s) for n, s in C.mha_shapes(12, bias).items()}
        expect_true(got["shapes"] == want_shapes, f"MultiHeadAttention(12, 3, bias={bias}) has parameters "
                    f"{got['shapes']}, expected exactly {want_shapes} (q_proj, k_proj, v_proj and out_proj, each an "
                    f"nn.Linear(12, 12, bias={bias}))")


@check("MultiHeadAttention: ValueError when d_model is not divisible by n_heads", points=1)
def test_mha_bad_heads(student):
    raised = student.run(probe_mha_error, 10, 4)
    outcome = f"it raised {raised}" if raised else "it was created"
    expect_true(raised == "ValueError", "MultiHeadAttention(10, 4) should raise ValueError (10 is not divisible "
                f"by 4), but {outcome}")
    raised = student.run(probe_mha_error, 12, 4)
    expect_true(raised is None, f"MultiHeadAttention(12, 4) should work, but it raised {raised}")


def torch_mha(state, n_heads, query, key=None, value=None, attn_mask=None, key_padding_mask=None, is_causal=False):
    """The oracle: torch.nn.MultiheadAttention loaded from `state` (its in_proj stacks q_proj, k_proj, v_proj).
    PyTorch's masks are the opposite of ours: True there means "may NOT attend"."""
    key = query if key is None else key
    value = key if value is None else value
    bias = "q_proj.bias" in state
    ref = torch.nn.MultiheadAttention(query.shape[-1], n_heads, bias=bias, batch_first=True)
    ref = ref.to(query.device, query.dtype)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([state["q_proj.weight"], state["k_proj.weight"], state["v_proj.weight"]]))
        ref.out_proj.weight.copy_(state["out_proj.weight"])
        if bias:
            ref.in_proj_bias.copy_(torch.cat([state["q_proj.bias"], state["k_proj.bias"], state["v_proj.bias"]]))
            ref.out_proj.bias.copy_(state["out_proj.bias"])
    if is_causal:
        attn_mask = ~causal_pattern(query.shape[1], key.shape[1], query.device)
    out, _ = ref(query, key, value, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)
    return out


def _mha_mistakes(state, n_heads, query, key=None, value=None, **masks):
    no_out = dict(state)
    D = query.shape[-1]
    no_out["out_proj.weight"] = torch.eye(D, dtype=query.dtype, device=query.device)
    if "out_proj.bias" in state:
        no_out["out_proj.bias"] = torch.zeros(D, dtype=query.dtype, device=query.device)
    return {"out_proj skipped (the concatenated heads must go through out_proj)":
            torch_mha(no_out, n_heads, query, key, value, **masks)}


def _mha_setup(device, dtype=torch.float32, d_model=16, bias=True):
    g = gen()
    state = C.random_state(g, C.mha_shapes(d_model, bias), device, dtype)
    return g, state


@check("MultiHeadAttention: self-attention agrees with torch.nn.MultiheadAttention holding the same weights",
       points=3, core=True)
def test_mha_self(student, device):
    g, state = _mha_setup(device, torch.float64)
    x = randn(g, 3, 5, 16, device=device, dtype=torch.float64)
    got = student.run(probe_mha, 16, 4, state, x)
    want = torch_mha(state, 4, x)
    try:
        expect_close(got["out"], want, name="MultiHeadAttention(16, 4)(x)", mistakes=_mha_mistakes(state, 4, x),
                     inputs="float64 x (3, 5, 16), key and value left out, random weights")
    except CheckFailure as failure:
        # Diagnose: with a single head there is nothing to split. Right with 1 head, wrong with 4: the heads.
        one = student.run(probe_mha, 16, 1, state, x)["out"]
        if isinstance(one, torch.Tensor) and one.shape == want.shape and \
                torch.allclose(one, torch_mha(state, 1, x), rtol=1e-7, atol=1e-9):
            fail(f"{failure}\n  With n_heads=1 your module agrees, so the heads are split or merged wrongly: head h "
                 "must use features [h*hs, (h+1)*hs) of the projection at every position, and the heads' outputs "
                 "are concatenated back position by position.")
        raise


@check("MultiHeadAttention: cross-attention with a padding mask (B, 1, 1, Lk) agrees with nn.MultiheadAttention",
       points=2, core=True)
def test_mha_cross_padding(student, device):
    g, state = _mha_setup(device, torch.float64)
    query = randn(g, 2, 4, 16, device=device, dtype=torch.float64)
    memory = randn(g, 2, 7, 16, device=device, dtype=torch.float64)
    value = randn(g, 2, 7, 16, device=device, dtype=torch.float64)
    pad = torch.ones(2, 7, dtype=torch.bool, device=device)
    pad[0, 5:] = False
    pad[1, 3:] = False
    mask = pad[:, None, None, :]  # (B, 1, 1, Lk)
    got = student.run(probe_mha, 16, 4, state, query, memory, value, mask=mask)
    want = torch_mha(state, 4, query, memory, value, key_padding_mask=~pad)
    expect_close(got["out"], want, name="MultiHeadAttention(16, 4)(query, key, value, mask)",
                 mistakes=_mha_mistakes(state, 4, query, memory, value, key_padding_mask=~pad),
                 inputs="float64 query (2, 4, 16), key and value (2, 7, 16), padding mask (2, 1, 1, 7) hiding the "
                        "last 2 and 4 keys")


@check("MultiHeadAttention: causal self-attention agrees with nn.MultiheadAttention and a causal mask", points=2, core=True)
def test_mha_causal(student, device):
    g, state = _mha_setup(device, torch.float64)
    x = randn(g, 2, 6, 16, device=device, dtype=torch.float64)
    got = student.run(probe_mha, 16, 2, state, x, causal=True)
    want = torch_mha(state, 2, x, is_causal=True)
    expect_close(got["out"], want, name="MultiHeadAttention(16, 2)(x, causal=True)",
                 mistakes=_mha_mistakes(state, 2, x, is_causal=True), inputs="float64 x (2, 6, 16), causal=True")


def _mha_through_autograd(params, n_heads, query, key, value):
    """nn.functional.multi_head_attention_forward on separate projection weights, differentiable in all of them."""
    D = query.shape[-1]
    out, _ = F.multi_head_attention_forward(
        query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), D, n_heads, None,
        torch.cat([params["q_proj.bias"], params["k_proj.bias"], params["v_proj.bias"]]), None, None, False, 0.0,
        params["out_proj.weight"], params["out_proj.bias"], training=False, need_weights=False,
        use_separate_proj_weight=True, q_proj_weight=params["q_proj.weight"], k_proj_weight=params["k_proj.weight"],
        v_proj_weight=params["v_proj.weight"])
    return out.transpose(0, 1)  # (B, Lq, D)


@check("MultiHeadAttention: gradients for the inputs and every projection agree with autograd", points=2, core=True)
def test_mha_gradients(student, device):
    g, state = _mha_setup(device, torch.float64, d_model=8)
    query = randn(g, 2, 3, 8, device=device, dtype=torch.float64)
    memory = randn(g, 2, 4, 8, device=device, dtype=torch.float64)
    grad_out = randn(g, 2, 3, 8, device=device, dtype=torch.float64)
    got = student.run(probe_mha, 8, 2, state, query, memory, memory.clone(), grad_out=grad_out)
    params = {n: t.clone().requires_grad_(True) for n, t in state.items()}
    ins = [t.clone().requires_grad_(True) for t in (query, memory, memory)]
    out = _mha_through_autograd(params, 2, *ins)
    (out * grad_out).sum().backward()
    inputs = "float64 query (2, 3, 8), key = value (2, 4, 8) passed as two tensors, 2 heads"
    for key, t in zip(("dquery", "dkey", "dvalue"), ins):
        expect_close(got.get(key), t.grad, name=key, inputs=inputs)
    expect_close(got["dparams"], {n: p.grad for n, p in params.items()}, name="parameter gradients", inputs=inputs)


# ------------------------------------------------------------------------------------------- additive


def additive_oracle(state, query, keys, mask=None, softmax_over_batch=False):
    """Additive attention (Bahdanau et al., 2014, Appendix A.1.2) from a state_dict, one row at a time:
    score_j = v . tanh(W_q q + W_k k_j), a softmax over the allowed keys of the row, context = sum_j w_j k_j."""
    hidden = torch.tanh((query @ state["W_q.weight"].T)[:, None, :] + keys @ state["W_k.weight"].T)  # (B, L, H)
    scores = hidden @ state["v.weight"][0]  # (B, L)
    if softmax_over_batch:
        weights = torch.softmax(scores, dim=0)
    else:
        weights = torch.zeros_like(scores)
        for b in range(scores.shape[0]):
            keep = torch.arange(scores.shape[1], device=scores.device) if mask is None else mask[b].nonzero()[:, 0]
            if len(keep):
                weights[b, keep] = torch.softmax(scores[b, keep], dim=0)
    return torch.einsum("bl,bld->bd", weights, keys), weights


@check("AdditiveAttention: W_q, W_k and v are Linear layers without bias, of the right sizes", points=1)
def test_additive_layout(student):
    got = student.run(probe_additive_layout, 5, 7, 11)
    want_shapes = {n: list(s) for n, s in C.additive_shapes(5, 7, 11).items()}
    expect_true(got["shapes"] == want_shapes,
                f"AdditiveAttention(5, 7, 11) has parameters {got['shapes']}, expected exactly {want_shapes} "
                "(W_q = nn.Linear(5, 11, bias=False), W_k = nn.Linear(7, 11, bias=False), v = nn.Linear(11, 1, "
                "bias=False))")


@check("AdditiveAttention: context and weights follow score_j = v . tanh(W_q q + W_k k_j)", points=2, core=True)
def test_additive_values(student, device):
    g = gen()
    dims = (5, 7, 11)
    state = C.random_state(g, C.additive_shapes(*dims), device, torch.float64)
    query, keys = randn(g, 3, 5, device=device, dtype=torch.float64), randn(g, 3, 6, 7, device=device,
                                                                            dtype=torch.float64)
    got = student.run(probe_additive, dims, state, query, keys)
    want_c, want_w = additive_oracle(state, query, keys)
    wrong_c, wrong_w = additive_oracle(state, query, keys, softmax_over_batch=True)
    inputs = "float64 query (3, 5), keys (3, 6, 7), AdditiveAttention(5, 7, 11) with random weights"
    expect_close(got["weights"], want_w, name="weights", inputs=inputs,
                 mistakes={"softmax over the batch instead of over the keys": wrong_w})
    expect_close(got["context"], want_c, name="context", inputs=inputs)


@check("AdditiveAttention: masked keys get weight 0 and a row with no key left gives zeros, not NaN", points=2)
def test_additive_mask(student, device):
    g = gen()
    dims = (4, 6, 8)
    state = C.random_state(g, C.additive_shapes(*dims), device, torch.float64)
    query, keys = randn(g, 3, 4, device=device, dtype=torch.float64), randn(g, 3, 5, 6, device=device,
                                                                            dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=torch.bool, device=device)
    got = student.run(probe_additive, dims, state, query, keys, mask=mask)
    inputs = "float64 query (3, 4), keys (3, 5, 6), mask [[1,1,1,0,0], [1,0,1,0,1], [0,0,0,0,0]]"
    for key in ("context", "weights"):
        expect_true(bool(torch.isfinite(got[key]).all()), f"{key} contains NaN or Inf where a row has no key "
                    f"left (row 2): give such rows zero weights\n  input: {inputs}")
    want_c, want_w = additive_oracle(state, query, keys, mask)
    expect_close(got["weights"], want_w, name="weights", inputs=inputs,
                 mistakes={"mask polarity inverted (True must mean a real key)":
                           additive_oracle(state, query, keys, ~mask)[1]})
    expect_close(got["context"], want_c, name="context", inputs=inputs)
