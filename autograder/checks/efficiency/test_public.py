"""Public checks for efficiency: what `dlcourse check efficiency` runs, and what students can read.

The oracles are computed here, in the trusted process, from PyTorch's own attention (F.scaled_dot_product_attention,
which the submission may not use but the grader may), torch.cat for the cache, and nn.TransformerEncoderLayer
(norm_first=True, with a causal mask: exactly one block of the small pre-norm decoder) for the full recomputation
that cached decoding must reproduce. Only values come back from the sandbox.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_true

C = load_sibling(__file__, "_common")
randn = C.randn


def gen(offset=0):
    """Public checks use fixed inputs: the same for every student."""
    return torch.Generator().manual_seed(2022 + offset)


# ----------------------------------------------------------------------------------------------- attention


def allowed_causal(Lq, Lk, device, top_left=False):
    """Query i sits at position Lk - Lq + i and sees keys j <= Lk - Lq + i (top_left: j <= i, the other alignment)."""
    offset = 0 if top_left else Lk - Lq
    return torch.arange(Lk, device=device)[None, :] <= torch.arange(Lq, device=device)[:, None] + offset


def torch_attention(q, k, v, causal=False, scale=None, top_left=False):
    mask = allowed_causal(q.shape[-2], k.shape[-2], q.device, top_left) if causal else None
    out = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=mask, scale=scale)
    return torch.nan_to_num(out, nan=0.0).to(q.dtype)


def attention_mistakes(q, k, v, causal=False):
    out = {"the scores are not divided by sqrt(d)": torch_attention(q, k, v, causal, scale=1.0)}
    if causal and q.shape[-2] != k.shape[-2]:
        out["the causal mask is aligned to the first keys (query i sees keys j <= i); the queries are the LAST "
            "Lq positions, so query i sees keys j <= Lk - Lq + i"] = torch_attention(q, k, v, True, top_left=True)
    if causal:
        out["the causal mask is ignored"] = torch_attention(q, k, v, False)
    return out


CASES = [  # (batch dims, Lq, Lk, d, dv, block_size)
    ((), 5, 12, 8, 4, 4),  # Lk a multiple of the block
    ((3,), 7, 10, 4, 6, 3),  # a last block with 1 key
    ((2, 2), 6, 9, 8, 8, 16),  # one block larger than Lk
    ((2,), 4, 7, 5, 3, 1),  # one key per block
]


@check("online_softmax_attention: equals softmax(q k^T / sqrt(d)) v for any block size (1, partial last block, "
       "one block for all keys)", points=3, core=True)
def test_attention_values(student, device):
    g = gen()
    for batch, Lq, Lk, d, dv, bs in CASES:
        q, k, v = randn(g, *batch, Lq, d, device=device), randn(g, *batch, Lk, d, device=device), randn(
            g, *batch, Lk, dv, device=device)
        got = student.run(C.probe_attention, q, k, v, bs)
        expect_close(got["out"], torch_attention(q, k, v), name=f"online_softmax_attention(block_size={bs})",
                     inputs=f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}",
                     mistakes=attention_mistakes(q, k, v))


@check("online_softmax_attention: causal=True, with the queries the last Lq of Lk positions (Lq == Lk and Lq < Lk)",
       points=2, core=True)
def test_attention_causal(student, device):
    g = gen(1)
    for batch, Lq, Lk, d, bs in (((2,), 9, 9, 8, 4), ((2, 3), 4, 11, 6, 3), ((), 1, 6, 4, 4)):
        q, k, v = randn(g, *batch, Lq, d, device=device), randn(g, *batch, Lk, d, device=device), randn(
            g, *batch, Lk, 5, device=device)
        got = student.run(C.probe_attention, q, k, v, bs, causal=True)
        expect_close(got["out"], torch_attention(q, k, v, causal=True),
                     name=f"online_softmax_attention(block_size={bs}, causal=True)",
                     inputs=f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}",
                     mistakes=attention_mistakes(q, k, v, causal=True))


@check("online_softmax_attention: never holds an (Lq, Lk) score matrix: no intermediate over a quarter of its size",
       points=2)
def test_attention_memory(student, device):
    g = gen(2)
    Lq = Lk = 256
    q, k, v = randn(g, 2, Lq, 16, device=device), randn(g, 2, Lk, 16, device=device), randn(g, 2, Lk, 16,
                                                                                          device=device)
    for causal in (False, True):
        got = student.run(C.probe_attention, q, k, v, 32, causal=causal, watch=True)
        expect_close(got["out"], torch_attention(q, k, v, causal=causal), name="online_softmax_attention",
                     inputs=f"q, k, v (2, 256, 16), block_size 32, causal={causal}")
        full, limit = 2 * Lq * Lk, 2 * Lq * Lk // 4
        expect_true(got["largest"] <= limit, f"with q, k, v (2, 256, 16), block_size 32 and causal={causal}, an "
                    f"operation produced a tensor of {got['largest']} elements; the whole score matrix has {full} "
                    f"and one block of scores {2 * Lq * 32}: compute the scores (and any mask) one block of keys at "
                    f"a time, never for all keys at once")


@check("online_softmax_attention: large scores stay finite (the running maximum is subtracted before exp)", points=1)
def test_attention_large_scores(student, device):
    g = gen(3)
    q, k, v = randn(g, 2, 6, 8, device=device, scale=40.0), randn(g, 2, 10, 8, device=device, scale=40.0), randn(
        g, 2, 10, 4, device=device)
    got = student.run(C.probe_attention, q, k, v, 4)
    expect_true(bool(torch.isfinite(got["out"]).all()), "online_softmax_attention returned NaN or Inf for scores "
                "of a few hundred: exp(score) overflows; subtract the running maximum before exp (and rescale the "
                "sums when the maximum grows)")
    # float32 scores of a few hundred carry rounding errors of ~1e-5 each, which exp() turns into relative errors.
    expect_close(got["out"], torch_attention(q, k, v), name="online_softmax_attention with scores up to ~500",
                 inputs="q, k scaled by 40: q (2, 6, 8), k (2, 10, 8), v (2, 10, 4), block_size 4", rtol=5e-3,
                 atol=1e-3)


@check("online_softmax_attention: ValueError for block_size < 1 and for causal with Lq > Lk", points=1)
def test_attention_errors(student, device):
    g = gen(4)
    q, k, v = randn(g, 5, 4, device=device), randn(g, 3, 4, device=device), randn(g, 3, 2, device=device)
    raised = student.run(C.probe_attention_error, q, k, v, 2, causal=True)
    expect_true(raised == "ValueError", "online_softmax_attention(q (5, 4), k (3, 4), v (3, 2), 2, causal=True) "
                f"should raise ValueError (more queries than keys), but {raised or 'it returned normally'}")
    raised = student.run(C.probe_attention_error, k, q, randn(g, 5, 2, device=device), 0)
    expect_true(raised == "ValueError", "online_softmax_attention(..., block_size=0) should raise ValueError, but "
                f"{raised or 'it returned normally'}")


# ----------------------------------------------------------------------------------------------- KVCache


def _chunks(g, B, nh, lengths, hs, hv, device):
    return [(randn(g, B, nh, n, hs, device=device), randn(g, B, nh, n, hv, device=device)) for n in lengths]


@check("KVCache: append adds the keys and values after the cached positions (torch.cat on the time axis) and "
       "returns them all; len counts positions", points=2, core=True)
def test_cache_append(student, device):
    g = gen(5)
    chunks = _chunks(g, 2, 3, (1, 3, 1, 2), 4, 5, device)
    steps = student.run(C.probe_cache, chunks)
    for i in range(1, len(chunks) + 1):
        want_k = torch.cat([c[0] for c in chunks[:i]], dim=-2)
        want_v = torch.cat([c[1] for c in chunks[:i]], dim=-2)
        inputs = f"chunks of (1, 3, 1, 2) positions, k (2, 3, T, 4), v (2, 3, T, 5); after append number {i}"
        got_k = steps[i]["k"]
        if i > 1 and isinstance(got_k, torch.Tensor) and torch.equal(got_k, chunks[i - 1][0]):
            fail(f"after append number {i}, cache.k holds only the newest keys {tuple(got_k.shape)}, expected all "
                 f"{want_k.shape[-2]} positions {tuple(want_k.shape)}: only the newest keys are kept (the cache "
                 "must grow)")
        wrong = {"the new positions are put before the cached ones":
                 torch.cat([c[0] for c in reversed(chunks[:i])], dim=-2)}
        expect_close(steps[i]["k"], want_k, name="cache.k", inputs=inputs, mistakes=wrong)
        expect_close(steps[i]["v"], want_v, name="cache.v", inputs=inputs)
        expect_close(steps[i]["returned"], [want_k, want_v], name="what append returned (k, v)", inputs=inputs)
        expect_true(steps[i]["len"] == want_k.shape[-2], f"len(cache) is {steps[i]['len']} after appending "
                    f"{[c[0].shape[-2] for c in chunks[:i]]} positions, expected {want_k.shape[-2]} (len counts "
                    "positions, not appends)")


@check("KVCache: starts empty (k and v None, len 0)", points=1)
def test_cache_empty(student):
    steps = student.run(C.probe_cache, [])
    expect_true(steps[0]["k"] is None and steps[0]["v"] is None and steps[0]["len"] == 0,
                f"a new KVCache() has k={steps[0]['k']!r}, v={steps[0]['v']!r}, len {steps[0]['len']}; expected "
                "None, None and 0")


@check("KVCache: ValueError for chunks that do not fit the cache, and beyond max_len", points=1)
def test_cache_errors(student, device):
    g = gen(6)
    good = _chunks(g, 2, 2, (2,), 4, 4, device)[0]
    cases = [
        ("k and v with different lengths", [(good[0], good[1][..., :1, :])]),
        ("another batch size", [good, (good[0][:1], good[1][:1])]),
        ("another number of heads", [good, (good[0][:, :1], good[1][:, :1])]),
        ("another head size", [good, (good[0][..., :3], good[1])]),
    ]
    for words, chunks in cases:
        at, raised = student.run(C.probe_cache_error, chunks)
        expect_true(raised == "ValueError" and at == len(chunks) - 1, f"KVCache.append with {words} should raise "
                    f"ValueError, but {f'append {at} raised {raised}' if raised else 'it was accepted'}")
    at, raised = student.run(C.probe_cache_error, [good, good, good], max_len=5)
    expect_true(at == 2 and raised == "ValueError", "KVCache(max_len=5) should accept 2 + 2 positions and raise "
                f"ValueError for 2 more, but {f'append {at} raised {raised}' if raised else 'all were accepted'}")


# ----------------------------------------------------------------------------------------------- decode_step


def torch_decoder(parts, idx, positions=None):
    """Logits (B, T, V) of the small decoder by full recomputation, from nn.TransformerEncoderLayer(norm_first=True,
    activation='gelu') blocks with a causal mask (float64). `positions` (default 0..T-1) builds a known mistake."""
    T = idx.shape[1]
    E = parts["tok_emb"].double()
    D = E.shape[1]
    pos = torch.arange(T, device=idx.device) if positions is None else positions
    x = F.embedding(idx, E) + F.embedding(pos, parts["pos_emb"].double())
    blocked = torch.ones(T, T, dtype=torch.bool, device=idx.device).triu(1)
    for layer in parts["layers"]:
        block = nn.TransformerEncoderLayer(D, parts["n_heads"], dim_feedforward=4 * D, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True,
                                           dtype=torch.float64, device=idx.device)
        with torch.no_grad():
            for theirs, w, b in ((block.norm1, "ln1_w", "ln1_b"), (block.norm2, "ln2_w", "ln2_b"),
                                 (block.linear1, "fc_w", "fc_b"), (block.linear2, "out_w", "out_b"),
                                 (block.self_attn.out_proj, "proj_w", "proj_b")):
                theirs.weight.copy_(layer[w].double())
                theirs.bias.copy_(layer[b].double())
            block.self_attn.in_proj_weight.copy_(layer["qkv_w"].double())
            block.self_attn.in_proj_bias.copy_(layer["qkv_b"].double())
        block.train()
        x = block(x, src_mask=blocked)
    x = F.layer_norm(x, (D,), parts["ln_f_w"].double(), parts["ln_f_b"].double())
    return F.linear(x, E).to(parts["tok_emb"].dtype)


@check("decode_step: token by token from an empty cache, the logits equal a full recomputation of the decoder",
       points=3, core=True)
def test_decode_matches_full(student, device):
    g = gen(7)
    for V, D, nh, L, B, T in ((13, 16, 2, 2, 3, 7), (9, 12, 3, 1, 2, 5)):
        parts = C.decoder(g, V, D, nh, L, 16, device=device)
        tokens = torch.randint(0, V, (B, T), generator=g).to(device)
        got = student.run(C.probe_decode, parts, tokens)
        zeros = torch.zeros(B, T, dtype=torch.long, device=device)
        expect_close(got["logits"], torch_decoder(parts, tokens), name="the logits of decode_step at every step",
                     inputs=f"a decoder with V={V}, C={D}, {nh} heads, {L} layers; tokens ({B}, {T}) fed one at a "
                            "time",
                     mistakes={"every token is given position 0 (its position is len(cache[0]), the number of "
                               "tokens before it)": torch_decoder(parts, tokens, positions=zeros)})


@check("decode_step: appends each layer's keys and values to that layer's cache, (B, nh, t, hs) after t tokens",
       points=1)
def test_decode_fills_cache(student, device):
    g = gen(8)
    parts = C.decoder(g, 11, 12, 3, 2, 16, device=device)
    tokens = torch.randint(0, 11, (2, 6), generator=g).to(device)
    got = student.run(C.probe_decode, parts, tokens)
    expect_true(got["lengths"] == [6, 6], f"after 6 calls of decode_step the caches of the 2 layers hold "
                f"{got['lengths']} positions, expected [6, 6] (one append per layer per call)")
    for i, (k, v) in enumerate(zip(got["k"], got["v"])):
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else t for t in (k, v)]
        expect_true(shapes == [(2, 3, 6, 4), (2, 3, 6, 4)], f"the cache of layer {i} holds k, v of shapes {shapes} "
                    "after 6 tokens, expected (B, nh, t, hs) = (2, 3, 6, 4) each")
    if torch.equal(got["k"][0], got["k"][1]):
        fail("both layers' caches hold the same keys: each layer appends its own keys to its own cache")
