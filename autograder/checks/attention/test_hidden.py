"""Hidden checks for attention: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here), and compares. The
end-to-end check trains a small Transformer around the submission's MultiHeadAttention in the sandbox, takes back
only the trained weights, and measures the accuracy here with the reference's attention.
"""

import math

import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import describe, expect_close, expect_true

C = load_sibling(__file__, "_common")
probe_sdpa, probe_mha, probe_additive = C.probe_sdpa, C.probe_mha, C.probe_additive


def randn(g, *shape, device="cpu", dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def bernoulli(g, shape, p, device):
    return (torch.rand(*shape, generator=g) < p).to(device)


def same(student, reference, probe, *args, name, inputs, mistakes=None, **kwargs):
    """Run `probe` on both and compare every quantity it returns (`mistakes`: {quantity: {words: wrong value}})."""
    got = student.run(probe, *args, **kwargs)
    want = probe(reference, *args, **kwargs)
    for key in want:
        expect_close(got.get(key) if isinstance(got, dict) else got, want[key], name=f"{name}: {key}",
                     inputs=inputs, mistakes=(mistakes or {}).get(key))


# ------------------------------------------------------------------------------------------- known mistakes


def attend(q, k, v, mask=None, causal=False, *, scale=None, axis=-1, mask_after_softmax=False, causal_diagonal=0,
           causal_upper=False, invert_mask=False):
    """Scaled dot-product attention with switches that reproduce common mistakes: `scale` (the divisor), the
    softmax `axis`, the mask applied after the softmax, the causal diagonal shifted or its triangle flipped, the
    mask's polarity inverted. Rows with no allowed key give zeros. Returns (out, weights)."""
    d, Lq, Lk = q.shape[-1], q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / (math.sqrt(d) if scale is None else scale)  # (..., Lq, Lk)
    allowed = None
    if mask is not None:
        allowed = ~mask if invert_mask else mask
    if causal:
        tri = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device)
        tri = tri.triu(-causal_diagonal) if causal_upper else tri.tril(causal_diagonal)
        allowed = tri if allowed is None else allowed & tri
    if allowed is None:
        weights = torch.softmax(scores, dim=axis)
    elif mask_after_softmax:
        weights = torch.softmax(scores, dim=axis) * allowed
    else:
        allowed = allowed.expand(scores.shape)
        some = allowed.any(dim=-1, keepdim=True)
        scores = scores.masked_fill(~allowed, float("-inf")).masked_fill(~some, 0.0)
        weights = torch.softmax(scores, dim=axis).masked_fill(~allowed, 0.0)
    return weights @ v, weights


def sdpa_mistakes(q, k, v, mask=None, causal=False):
    """{"out": {words: value}, "weights": {words: value}} for the common mistakes that apply to these inputs."""
    switches = {"no 1/sqrt(d) scaling of the scores": dict(scale=1.0),
                "scores divided by d instead of sqrt(d)": dict(scale=q.shape[-1]),
                "softmax over the queries (axis -2) instead of over the keys (axis -1)": dict(axis=-2)}
    if mask is not None or causal:
        switches["the mask applied after the softmax"] = dict(mask_after_softmax=True)
    if mask is not None:
        switches["mask polarity inverted (True must mean 'may attend')"] = dict(invert_mask=True)
    if causal:
        switches["causal mask excludes the diagonal (query i must see key i)"] = dict(causal_diagonal=-1)
        switches["causal mask flipped: queries see the future, not the past"] = dict(causal_upper=True)
    found = {"out": {}, "weights": {}}
    for words, kw in switches.items():
        found["out"][words], found["weights"][words] = attend(q, k, v, mask, causal, **kw)
    return found


def mha_mistakes(state, n_heads, query, key=None, value=None, mask=None, causal=False):
    """{"out": {words: value}} for two common mistakes of multi-head attention, computed from `state`."""
    key = query if key is None else key
    value = key if value is None else value
    B, Lq, D = query.shape
    Lk, hs = key.shape[1], D // n_heads

    def lin(x, name):
        return torch.nn.functional.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias"))

    def heads_by_reshape(x, L):  # (B, L, D) -> (B, nh, L, hs) without moving the head axis: mixes positions
        return x.reshape(B, n_heads, L, hs)

    q, k, v = heads_by_reshape(lin(query, "q_proj"), Lq), heads_by_reshape(lin(key, "k_proj"), Lk), \
        heads_by_reshape(lin(value, "v_proj"), Lk)
    mixed, _ = attend(q, k, v, mask, causal)
    q, k, v = (lin(x, n).view(B, L, n_heads, hs).transpose(1, 2)
               for x, n, L in ((query, "q_proj", Lq), (key, "k_proj", Lk), (value, "v_proj", Lk)))
    heads, _ = attend(q, k, v, mask, causal)
    return {"out": {
        "heads split by reshape without the transpose (head h must use features [h*hs, (h+1)*hs) of every "
        "position)": lin(mixed.reshape(B, Lq, D), "out_proj"),
        "out_proj skipped (the concatenated heads must go through out_proj)": heads.transpose(1, 2).reshape(B, Lq, D),
    }}


# ------------------------------------------------------------------------------------------- scaled dot-product


@check("scaled_dot_product_attention: matches the reference with 0 to 3 batch dims, float32 and float64", points=2, core=True)
def test_sdpa_batch_dims(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for batch, dtype in (((), torch.float32), ((3,), torch.float64), ((2, 3), torch.float32),
                         ((2, 2, 2), torch.float64)):
        Lq, Lk, d, dv = (int(x) for x in torch.randint(1, 9, (4,), generator=g))
        q, k, v = (randn(g, *batch, L, w, device=device, dtype=dtype) for L, w in ((Lq, d), (Lk, d), (Lk, dv)))
        same(student, reference, probe_sdpa, q, k, v, name="scaled_dot_product_attention",
             inputs=f"q {describe(q)}, k {describe(k)}, v {describe(v)}", mistakes=sdpa_mistakes(q, k, v))


@check("scaled_dot_product_attention: matches the reference with masks of several broadcast shapes", points=2, core=True)
def test_sdpa_mask_shapes(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    B, H, Lq, Lk = 2, 3, 5, 7
    q, k, v = randn(g, B, H, Lq, 4, device=device), randn(g, B, H, Lk, 4, device=device), randn(g, B, H, Lk, 6,
                                                                                             device=device)
    for shape in ((Lq, Lk), (Lk,), (B, 1, 1, Lk), (B, 1, Lq, Lk), (1, H, Lq, Lk), (B, H, Lq, Lk), (Lq, 1)):
        mask = bernoulli(g, shape, 0.6, device)
        same(student, reference, probe_sdpa, q, k, v, mask=mask, name="scaled_dot_product_attention",
             inputs=f"q (2, 3, 5, 4), k (2, 3, 7, 4), v (2, 3, 7, 6), a random boolean mask of shape {shape} "
                    f"(some rows may have no allowed key)", mistakes=sdpa_mistakes(q, k, v, mask))


@check("scaled_dot_product_attention: causal, alone and combined with a mask, matches the reference", points=2, core=True)
def test_sdpa_causal(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for batch, L in (((), 1), ((4,), 6), ((2, 2), 9)):
        q, k, v = (randn(g, *batch, L, 5, device=device) for _ in range(3))
        same(student, reference, probe_sdpa, q, k, v, causal=True, name="scaled_dot_product_attention",
             inputs=f"q, k, v {describe(q)}, causal=True", mistakes=sdpa_mistakes(q, k, v, causal=True))
        mask = bernoulli(g, (*batch[:1], 1, L) if batch else (L,), 0.7, device)
        same(student, reference, probe_sdpa, q, k, v, mask=mask, causal=True, name="scaled_dot_product_attention",
             inputs=f"q, k, v {describe(q)}, causal=True and a padding mask of shape {tuple(mask.shape)}")


@check("scaled_dot_product_attention: fully masked rows match the reference (zeros, finite gradients)", points=1)
def test_sdpa_fully_masked(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    q, k, v = randn(g, 3, 4, 6, device=device), randn(g, 3, 5, 6, device=device), randn(g, 3, 5, 2, device=device)
    mask = bernoulli(g, (3, 4, 5), 0.5, device)
    mask[0] = False  # a whole batch element with nothing allowed
    mask[1, 1] = False
    mask[2, :, 2] = True
    grad_out = randn(g, 3, 4, 2, device=device)
    same(student, reference, probe_sdpa, q, k, v, mask=mask, grad_out=grad_out,
         name="scaled_dot_product_attention", inputs="q (3, 4, 6), k (3, 5, 6), v (3, 5, 2), a mask with "
                                                     "every row of batch 0 and row 1 of batch 1 empty")


@check("scaled_dot_product_attention: gradients through q, k and v match the reference", points=2, core=True)
def test_sdpa_gradients(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    f64 = dict(device=device, dtype=torch.float64)
    for causal in (False, True):
        q, k, v = randn(g, 2, 2, 6, 8, **f64), randn(g, 2, 2, 6, 8, **f64), randn(g, 2, 2, 6, 3, **f64)
        mask = bernoulli(g, (2, 1, 1, 6), 0.8, device)
        mask[..., 0] = True
        grad_out = randn(g, 2, 2, 6, 3, **f64)
        same(student, reference, probe_sdpa, q, k, v, mask=mask, causal=causal, grad_out=grad_out,
             name="scaled_dot_product_attention",
             inputs=f"float64 q, k (2, 2, 6, 8), v (2, 2, 6, 3), a padding mask (2, 1, 1, 6), causal={causal}")


# ------------------------------------------------------------------------------------------- multi-head


def _reference_state(reference, d_model, n_heads, bias, seed, device, dtype):
    torch.manual_seed(seed)
    mha = reference.MultiHeadAttention(d_model, n_heads, bias=bias).to(device=device, dtype=dtype)
    with torch.no_grad():  # non-zero biases, so a forgotten bias shows
        for p in mha.parameters():
            if p.dim() == 1:
                p.normal_(0.0, 0.2)
    return {k: v.detach().clone() for k, v in mha.state_dict().items()}


@check("MultiHeadAttention: self-attention with the reference's weights matches it (1 to 8 heads, with and "
       "without bias)", points=3, core=True)
def test_mha_self(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for d_model, n_heads, bias in ((8, 1, True), (16, 4, False), (24, 8, True), (12, 3, True)):
        state = _reference_state(reference, d_model, n_heads, bias, seed, device, torch.float32)
        x = randn(g, 3, 5, d_model, device=device)
        same(student, reference, probe_mha, d_model, n_heads, state, x, bias=bias,
             name=f"MultiHeadAttention({d_model}, {n_heads}, bias={bias})", inputs=f"x {describe(x)}",
             mistakes=mha_mistakes(state, n_heads, x))


@check("MultiHeadAttention: cross-attention with padding masks matches the reference", points=2, core=True)
def test_mha_cross(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    state = _reference_state(reference, 16, 4, True, seed, device, torch.float32)
    query, key, value = randn(g, 3, 4, 16, device=device), randn(g, 3, 9, 16, device=device), randn(g, 3, 9, 16,
                                                                                                  device=device)
    lengths = torch.randint(1, 10, (3,), generator=g)
    pad = (torch.arange(9)[None, :] < lengths[:, None]).to(device)  # (B, Lk), True for real keys
    for mask, words in ((None, "no mask"), (pad[:, None, None, :], f"padding mask (3, 1, 1, 9), lengths "
                                                                  f"{lengths.tolist()}")):
        same(student, reference, probe_mha, 16, 4, state, query, key, value, mask=mask,
             name="MultiHeadAttention(16, 4)", inputs=f"query (3, 4, 16), key and value (3, 9, 16), {words}",
             mistakes=mha_mistakes(state, 4, query, key, value, mask=mask))


@check("MultiHeadAttention: causal self-attention, with left padding, matches the reference", points=2, core=True)
def test_mha_causal(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    state = _reference_state(reference, 16, 2, True, seed, device, torch.float32)
    x = randn(g, 2, 7, 16, device=device)
    same(student, reference, probe_mha, 16, 2, state, x, causal=True, name="MultiHeadAttention(16, 2)",
         inputs="x (2, 7, 16), causal=True")
    pad = torch.ones(2, 7, dtype=torch.bool, device=device)
    pad[1, :2] = False  # left padding: queries 0 and 1 of sequence 1 have no allowed key under the causal mask
    same(student, reference, probe_mha, 16, 2, state, x, mask=pad[:, None, None, :], causal=True,
         name="MultiHeadAttention(16, 2)", inputs="x (2, 7, 16), causal=True and a padding mask (2, 1, 1, 7) "
                                                  "hiding the first 2 keys of sequence 1")


@check("MultiHeadAttention: gradients for the inputs and the parameters match the reference", points=2, core=True)
def test_mha_gradients(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    state = _reference_state(reference, 12, 3, True, seed, device, torch.float64)
    f64 = dict(device=device, dtype=torch.float64)
    x, memory = randn(g, 2, 5, 12, **f64), randn(g, 2, 6, 12, **f64)
    same(student, reference, probe_mha, 12, 3, state, x, causal=True, grad_out=randn(g, 2, 5, 12, **f64),
         name="MultiHeadAttention(12, 3)", inputs="float64 x (2, 5, 12), causal self-attention")
    same(student, reference, probe_mha, 12, 3, state, x, memory, memory.clone(), grad_out=randn(g, 2, 5, 12, **f64),
         name="MultiHeadAttention(12, 3)", inputs="float64 query (2, 5, 12), key = value (2, 6, 12) as two tensors")


# ------------------------------------------------------------------------------------------- additive


def _additive_state(reference, dims, seed, device, dtype):
    torch.manual_seed(seed)
    add = reference.AdditiveAttention(*dims).to(device=device, dtype=dtype)
    return {k: v.detach().clone() for k, v in add.state_dict().items()}


@check("AdditiveAttention: matches the reference without a mask", points=2, core=True)
def test_additive(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for dims, B, L in (((3, 5, 4), 1, 1), ((6, 4, 10), 4, 7), ((8, 8, 16), 2, 12)):
        state = _additive_state(reference, dims, seed, device, torch.float32)
        query, keys = randn(g, B, dims[0], device=device), randn(g, B, L, dims[1], device=device)
        same(student, reference, probe_additive, dims, state, query, keys, name=f"AdditiveAttention{dims}",
             inputs=f"query {describe(query)}, keys {describe(keys)}")


@check("AdditiveAttention: matches the reference with a padding mask, gradients included", points=2)
def test_additive_mask(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    dims = (5, 6, 9)
    state = _additive_state(reference, dims, seed, device, torch.float64)
    f64 = dict(device=device, dtype=torch.float64)
    query, keys = randn(g, 4, 5, **f64), randn(g, 4, 8, 6, **f64)
    mask = bernoulli(g, (4, 8), 0.6, device)
    mask[3] = False
    grads = (randn(g, 4, 6, **f64), randn(g, 4, 8, **f64))
    same(student, reference, probe_additive, dims, state, query, keys, mask=mask, grad_out=grads,
         name="AdditiveAttention(5, 6, 9)", inputs="float64 query (4, 5), keys (4, 8, 6), a random mask (4, 8) "
                                                   "with row 3 all False")


# ------------------------------------------------------------------------------------------- end to end


def probe_reverser(m, seed, steps=80, state=None, device="cpu", n_eval=1000):
    """A small encoder-decoder Transformer (Vaswani et al., 2017) whose attention layers are m.MultiHeadAttention,
    for reversing 6 digits. With state=None: train it and return its state_dict. With a state: load it (its keys
    and shapes must be this model's) and return the teacher-forced token accuracy on fresh sequences."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    V, LEN, D, NH = 11, 6, 32, 2  # 10 digits and a start token (10)

    class Block(nn.Module):
        def __init__(self, cross):
            super().__init__()
            self.cross = cross
            self.ln1, self.att = nn.LayerNorm(D), m.MultiHeadAttention(D, NH)
            if cross:
                self.ln2, self.xatt = nn.LayerNorm(D), m.MultiHeadAttention(D, NH)
            self.ln3 = nn.LayerNorm(D)
            self.ff = nn.Sequential(nn.Linear(D, 4 * D), nn.ReLU(), nn.Linear(4 * D, D))

        def forward(self, x, memory=None):
            x = x + self.att(self.ln1(x), causal=self.cross)
            if self.cross:
                x = x + self.xatt(self.ln2(x), memory)
            return x + self.ff(self.ln3(x))

    class Reverser(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, D)
            self.pos_src, self.pos_tgt = nn.Embedding(LEN, D), nn.Embedding(LEN, D)
            self.enc, self.dec = Block(False), Block(True)
            self.ln, self.head = nn.LayerNorm(D), nn.Linear(D, V)

        def forward(self, src, tgt_in):
            pos = torch.arange(LEN, device=src.device)
            memory = self.enc(self.emb(src) + self.pos_src(pos))
            return self.head(self.ln(self.dec(self.emb(tgt_in) + self.pos_tgt(pos), memory)))

    def batch(n, gen):
        src = torch.randint(0, 10, (n, LEN), generator=gen)
        tgt = src.flip(1)
        tgt_in = torch.cat([torch.full((n, 1), 10), tgt[:, :-1]], dim=1)
        return src.to(device), tgt_in.to(device), tgt.to(device)

    torch.manual_seed(seed)
    model = Reverser().to(device)
    if state is None:
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(seed + 1)
        for _ in range(steps):
            src, tgt_in, tgt = batch(64, gen)
            loss = F.cross_entropy(model(src, tgt_in).reshape(-1, V), tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {k: v.detach() for k, v in model.state_dict().items()}
    own = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        return {"error": f"the trained model's parameters do not have the names of this model's state_dict "
                         f"(expected {len(own)} entries: {sorted(own)[:4]}...)"}
    for k, v in own.items():
        if not isinstance(state[k], torch.Tensor) or tuple(state[k].shape) != tuple(v.shape):
            return {"error": f"the trained parameter {k} is not a tensor of shape {tuple(v.shape)}"}
        if state[k].is_floating_point() and not bool(torch.isfinite(state[k]).all()):
            return {"error": f"the trained parameter {k} contains NaN or Inf: training diverged"}
    model.load_state_dict({k: state[k].to(device=device, dtype=v.dtype) for k, v in own.items()})
    model.eval()
    src, tgt_in, tgt = batch(n_eval, torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        accuracy = (model(src, tgt_in).argmax(-1) == tgt).float().mean().item()
    return {"accuracy": accuracy}


@check("MultiHeadAttention: a small Transformer built on it learns to reverse 6 digits (>= 95% token accuracy)",
       points=6, timeout=150)
def test_transformer_reverses_digits(student, reference, seed, device):
    trained = student.run(probe_reverser, seed % 100_000, device=device, _timeout=90)
    expect_true(isinstance(trained, dict), f"the training probe returned {type(trained).__name__}, not a state_dict")
    # Judge here, with the reference's attention: only the trained weights come from the sandbox.
    verdict = probe_reverser(reference, seed % 100_000, state=trained, device=device)
    if "error" in verdict:
        fail(verdict["error"])
    acc = verdict["accuracy"]
    expect_true(acc >= 0.95, f"after 80 Adam steps on batches of 64, the Transformer built on your "
                f"MultiHeadAttention (encoder self-attention, causal decoder self-attention, cross-attention; "
                f"d_model=32, 2 heads) reaches {100 * acc:.1f}% token accuracy at reversing 6 digits, measured "
                f"with the reference attention on 1000 fresh sequences; at least 95% is expected (the reference "
                f"reaches 100%). Check that training with your module computes the attention the contract "
                f"describes.")
