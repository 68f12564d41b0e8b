"""Public checks for gpt: what `dlcourse check gpt` runs, and what students can read.

The oracles are computed here, in the trusted process, from PyTorch's own modules, which the submission may not use
but the grader may: nn.MultiheadAttention for the attention, nn.TransformerEncoderLayer(norm_first=True) for a
pre-norm block (with a causal mask it is exactly a GPT block), F.embedding / F.layer_norm / F.linear /
F.cross_entropy for the rest, and autograd. Each module is checked on its own: a block with a stand-in for its
attention, a GPT with stand-ins for its blocks, `generate` with a stand-in bigram model (see _common.py). Only
values come back from the sandbox.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true
from autograder.probes import probe_raised

C = load_sibling(__file__, "_common")
randn = C.randn


def gen(offset=0):
    """Public checks use fixed inputs: the same for every student."""
    return torch.Generator().manual_seed(2019 + offset)


def causal_blocked(T, device, diagonal=1):
    """PyTorch's masks say where attention is NOT allowed: above the diagonal for a causal mask."""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(diagonal)


# ----------------------------------------------------------------------------------------------- oracles


def torch_attention(state, n_heads, x, blocked=None, q_scale=1.0, order=("q", "k", "v"), proj=True):
    """Causal self-attention by nn.MultiheadAttention (float64) with the weights of `state` (qkv = [q | k | v]).
    The keywords build known wrong variants: another mask, scores scaled differently, q/k/v taken in another
    order, no output projection."""
    x64 = x.double()
    B, T, D = x.shape
    parts = dict(zip(("q", "k", "v"), state["qkv.weight"].double().chunk(3)))
    biases = dict(zip(("q", "k", "v"), state["qkv.bias"].double().chunk(3)))
    mha = nn.MultiheadAttention(D, n_heads, batch_first=True, dtype=torch.float64, device=x.device)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([parts[order[0]] * q_scale, parts[order[1]], parts[order[2]]]))
        mha.in_proj_bias.copy_(torch.cat([biases[order[0]] * q_scale, biases[order[1]], biases[order[2]]]))
        if proj:
            mha.out_proj.weight.copy_(state["proj.weight"].double())
            mha.out_proj.bias.copy_(state["proj.bias"].double())
        else:
            mha.out_proj.weight.copy_(torch.eye(D, dtype=torch.float64))
            mha.out_proj.bias.zero_()
    mha.train()
    blocked = causal_blocked(T, x.device) if blocked is None else blocked
    out, _ = mha(x64, x64, x64, attn_mask=blocked, need_weights=False)
    return out.to(x.dtype)


def _first_position_nan(out):
    """Without the diagonal, position 0 has nothing to attend to: softmax over a row of -inf gives NaN there."""
    out = out.clone()
    out[:, 0] = float("nan")
    return out


def attention_mistakes(state, n_heads, x):
    T, D = x.shape[1], x.shape[2]
    hs = D // n_heads
    return {
        "the causal mask is off by one: position t also sees position t + 1":
            torch_attention(state, n_heads, x, blocked=causal_blocked(T, x.device, 2)),
        "the causal mask is off by one: position t does not see itself (the diagonal must be allowed)":
            _first_position_nan(torch_attention(state, n_heads, x, blocked=causal_blocked(T, x.device, 0))),
        "no causal mask at all: every position sees the future":
            torch_attention(state, n_heads, x, blocked=torch.zeros(T, T, dtype=torch.bool, device=x.device)),
        "the scores are not divided by sqrt(head size)": torch_attention(state, n_heads, x, q_scale=math.sqrt(hs)),
        "the scores are divided by sqrt(d_model) instead of sqrt(head size)":
            torch_attention(state, n_heads, x, q_scale=math.sqrt(hs / D)),
        "q and k are taken in the wrong order from qkv (it is [q | k | v])":
            torch_attention(state, n_heads, x, order=("k", "q", "v")),
        "the output projection proj is skipped": torch_attention(state, n_heads, x, proj=False),
    }


def torch_block(state, mix, x, norm_first=True):
    """A pre-norm block by nn.TransformerEncoderLayer (float64) whose attention has zero queries and keys: every
    allowed key then gets the same weight, so the attention is exactly the prefix-mean stand-in (Wv, bv, Wp, bp)."""
    D = x.shape[-1]
    layer = nn.TransformerEncoderLayer(D, 1, dim_feedforward=4 * D, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=norm_first, dtype=torch.float64,
                                       device=x.device)
    _load_layer(layer, state, mix, prefix="")
    layer.train()
    out = layer(x.double(), src_mask=causal_blocked(x.shape[1], x.device))
    return out.to(x.dtype)


def _load_layer(layer, state, mix, prefix):
    """Copy a Block's parameters (and the attention's, or the stand-in's) into an nn.TransformerEncoderLayer."""
    D = layer.linear1.in_features
    with torch.no_grad():
        for ours, theirs in (("ln1", layer.norm1), ("ln2", layer.norm2), ("mlp.0", layer.linear1),
                             ("mlp.2", layer.linear2)):
            theirs.weight.copy_(state[f"{prefix}{ours}.weight"].double())
            theirs.bias.copy_(state[f"{prefix}{ours}.bias"].double())
        if mix is not None:
            wv, bv, wp, bp = (t.double() for t in mix)
            zeros = torch.zeros(2 * D, D, dtype=torch.float64, device=wv.device)
            layer.self_attn.in_proj_weight.copy_(torch.cat([zeros, wv]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([torch.zeros(2 * D, dtype=torch.float64,
                                                                      device=wv.device), bv]))
            layer.self_attn.out_proj.weight.copy_(wp)
            layer.self_attn.out_proj.bias.copy_(bp)
        else:
            layer.self_attn.in_proj_weight.copy_(state[f"{prefix}attn.qkv.weight"].double())
            layer.self_attn.in_proj_bias.copy_(state[f"{prefix}attn.qkv.bias"].double())
            layer.self_attn.out_proj.weight.copy_(state[f"{prefix}attn.proj.weight"].double())
            layer.self_attn.out_proj.bias.copy_(state[f"{prefix}attn.proj.bias"].double())


def block_residual_around_norm(state, mix, x):
    """The known mistake h = ln(x); x = h + sublayer(h): the residual adds the normalised input."""
    D = x.shape[-1]
    layer = nn.TransformerEncoderLayer(D, 1, dim_feedforward=4 * D, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True, dtype=torch.float64, device=x.device)
    _load_layer(layer, state, mix, prefix="")
    layer.train()
    blocked = causal_blocked(x.shape[1], x.device)
    h = layer.norm1(x.double())
    h = h + layer._sa_block(h, blocked, None)
    h2 = layer.norm2(h)
    return (h2 + layer._ff_block(h2)).to(x.dtype)


def block_mistakes(state, mix, x):
    return {"post-norm (x = LN(x + sublayer(x))) instead of pre-norm (x = x + sublayer(LN(x)))":
            torch_block(state, mix, x, norm_first=False),
            "the residual is added around the LayerNorm (LN(x) + sublayer(LN(x))) instead of around the "
            "sublayer (x + sublayer(LN(x)))": block_residual_around_norm(state, mix, x)}


def torch_gpt_stubbed(state, stub_weights, idx, pos=None, final_norm=True):
    """Logits of a GPT whose blocks are the stand-ins x + tanh(x A^T), from F.embedding, F.layer_norm and F.linear
    (float64). `pos` (default 0..T-1) and `final_norm` build known wrong variants."""
    E = state["tok_emb.weight"].double()
    T = idx.shape[1]
    pos = torch.arange(T, device=idx.device) if pos is None else pos
    h = F.embedding(idx, E) + F.embedding(pos, state["pos_emb.weight"].double())
    for a in stub_weights:
        h = h + torch.tanh(h @ a.double().T)
    if final_norm:
        h = F.layer_norm(h, (E.shape[1],), state["ln_f.weight"].double(), state["ln_f.bias"].double())
    return F.linear(h, E).to(state["tok_emb.weight"].dtype)


def gpt_mistakes(state, stub_weights, idx):
    B = idx.shape[0]
    out = {"no final LayerNorm ln_f before the head": torch_gpt_stubbed(state, stub_weights, idx, final_norm=False)}
    if B <= state["pos_emb.weight"].shape[0]:
        out["the position embeddings are indexed by the batch index instead of the time index"] = \
            torch_gpt_stubbed(state, stub_weights, idx, pos=torch.arange(B, device=idx.device)[:, None])
    return out


def torch_gpt(config, state, idx):
    """Logits of a whole GPT with the parameters `state`, from nn.TransformerEncoderLayer(norm_first=True) blocks
    (float64): how the end-to-end check measures a trained model."""
    E = state["tok_emb.weight"].double()
    T, D = idx.shape[1], config["d_model"]
    h = F.embedding(idx, E) + F.embedding(torch.arange(T, device=idx.device), state["pos_emb.weight"].double())
    blocked = causal_blocked(T, idx.device)
    for i in range(config["n_layers"]):
        layer = nn.TransformerEncoderLayer(D, config["n_heads"], dim_feedforward=4 * D, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True,
                                           dtype=torch.float64, device=idx.device)
        _load_layer(layer, state, None, prefix=f"blocks.{i}.")
        layer.train()
        h = layer(h, src_mask=blocked)
    h = F.layer_norm(h, (D,), state["ln_f.weight"].double(), state["ln_f.bias"].double())
    return F.linear(h, E)


# ----------------------------------------------------------------------------------------------- attention


@check("CausalSelfAttention: matches nn.MultiheadAttention with a causal mask (1, 2 and 4 heads, T <= block_size)",
       points=3, core=True)
def test_attention_values(student, device):
    g = gen()
    for D, nh, block, T in ((8, 1, 6, 6), (12, 2, 8, 5), (16, 4, 7, 7)):
        state = C.attn_state(g, D, device, torch.float32)
        x = randn(g, 3, T, D, device=device)
        got = student.run(C.probe_attn, D, nh, block, state, x)
        expect_close(got["out"], torch_attention(state, nh, x), name=f"CausalSelfAttention({D}, {nh}, {block})",
                     inputs=f"x (3, {T}, {D}), qkv and proj given", mistakes=attention_mistakes(state, nh, x))


@check("CausalSelfAttention: gradients for x, qkv and proj agree with autograd through nn.MultiheadAttention",
       points=2, core=True)
def test_attention_gradients(student, device):
    g = gen(1)
    D, nh, T = 12, 3, 6
    f64 = dict(device=device, dtype=torch.float64)
    state = C.attn_state(g, D, device, torch.float64)
    x, grad_out = randn(g, 2, T, D, **f64), randn(g, 2, T, D, **f64)
    got = student.run(C.probe_attn, D, nh, 8, state, x, grad_out=grad_out)
    leaves = {k: v.clone().requires_grad_(True) for k, v in state.items()}
    xx = x.clone().requires_grad_(True)
    # Autograd through nn.MultiheadAttention: build it from the leaves with the functional form.
    q_w, k_w, v_w = leaves["qkv.weight"].chunk(3)
    out, _ = F.multi_head_attention_forward(
        xx.transpose(0, 1), xx.transpose(0, 1), xx.transpose(0, 1), D, nh, leaves["qkv.weight"],
        leaves["qkv.bias"], None, None, False, 0.0, leaves["proj.weight"], leaves["proj.bias"], training=True,
        need_weights=False, attn_mask=causal_blocked(T, device))
    (out.transpose(0, 1) * grad_out).sum().backward()
    inputs = "float64 x (2, 6, 12), 3 heads, upstream gradient (2, 6, 12)"
    expect_close(got["dx"], xx.grad, name="dx", inputs=inputs)
    for name, leaf in leaves.items():
        expect_close(got["dparams"][name], leaf.grad, name=f"gradient of {name}", inputs=inputs)


@check("CausalSelfAttention: changing the input at position t changes no output before t, and changes the output "
       "at t", points=2)
def test_attention_causality(student, device):
    g = gen(2)
    D, nh, T = 8, 2, 6
    state = C.attn_state(g, D, device, torch.float64)
    base = randn(g, 1, T, D, device=device, dtype=torch.float64)
    x = base.repeat(T + 1, 1, 1)  # row 0 as it is, row t + 1 with position t changed
    for t in range(T):
        x[t + 1, t] += randn(g, D, device=device, dtype=torch.float64)
    out = student.run(C.probe_attn, D, nh, T, state, x)["out"]
    for t in range(T):
        before = (out[t + 1, :t] - out[0, :t]).abs().max().item() if t else 0.0
        expect_true(before < 1e-9, f"changing x at position {t} changed the output at an earlier position (by up "
                    f"to {before:.3g}): position s must only attend to positions <= s (a causal mask)")
        at = (out[t + 1, t] - out[0, t]).abs().max().item()
        expect_true(at > 1e-6, f"changing x at position {t} left the output at position {t} unchanged: position "
                    "t must attend to itself (the causal mask keeps the diagonal)")


@check("CausalSelfAttention: qkv is Linear(C, 3C) and proj is Linear(C, C), with biases", points=1)
def test_attention_layout(student):
    got = student.run(C.probe_attn_layout, 12, 3, 8)
    want = {"qkv.weight": [36, 12], "qkv.bias": [36], "proj.weight": [12, 12], "proj.bias": [12]}
    expect_true(got == want, f"CausalSelfAttention(12, 3, 8) has the parameters {got}, expected exactly {want}")


@check("CausalSelfAttention: ValueError when d_model is not divisible by n_heads", points=1)
def test_attention_bad_heads(student):
    raised = student.run(probe_raised, "CausalSelfAttention", 10, 4, 8)
    outcome = f"it raised {raised}" if raised else "it was created"
    expect_true(raised == "ValueError", "CausalSelfAttention(10, 4, 8) should raise ValueError (10 is not "
                f"divisible by 4), but {outcome}")
    raised = student.run(probe_raised, "CausalSelfAttention", 12, 4, 8)
    expect_true(raised is None, f"CausalSelfAttention(12, 4, 8) should work, but it raised {raised}")


@check("CausalSelfAttention: dropout acts in training mode only", points=1)
def test_attention_dropout(student, device):
    g = gen(3)
    state = C.attn_state(g, 8, device, torch.float32)
    x = randn(g, 2, 6, 8, device=device)
    evaluated = student.run(C.probe_attn, 8, 2, 6, state, x, dropout=0.5)["out"]
    expect_close(evaluated, torch_attention(state, 2, x), name="CausalSelfAttention(8, 2, 6, dropout=0.5) in "
                 "eval mode (dropout must be off)", inputs="x (2, 6, 8)")
    trained = student.run(C.probe_attn, 8, 2, 6, state, x, dropout=0.5, train=True)["out"]
    expect_true((trained - evaluated).abs().max().item() > 1e-4, "CausalSelfAttention(8, 2, 6, dropout=0.5) "
                "gives the same output in training mode as in eval mode: is the dropout applied?")
    plain = student.run(C.probe_attn, 8, 2, 6, state, x, dropout=0.0, train=True)["out"]
    expect_close(plain, evaluated, name="CausalSelfAttention(dropout=0.0) in training mode", inputs="x (2, 6, 8)")


# ----------------------------------------------------------------------------------------------- block


@check("Block: with a stand-in attention, matches nn.TransformerEncoderLayer(norm_first=True, activation='gelu')",
       points=3, core=True)
def test_block_values(student, device):
    g = gen(4)
    for D, T in ((8, 5), (16, 7)):
        state = C.block_state(g, D, device, torch.float32, with_attn=False)
        mix = C.mixer(g, D, device, torch.float32)
        x = randn(g, 3, T, D, device=device)
        got = student.run(C.probe_block, D, 2, 8, state, x, mixer=mix)
        expect_close(got["out"], torch_block(state, mix, x), name=f"Block({D}, 2, 8)",
                     inputs=f"x (3, {T}, {D}); the block's attn replaced by a prefix mean of a linear map",
                     mistakes=block_mistakes(state, mix, x))


@check("Block: gradients for x, ln1, ln2 and the MLP agree with autograd through nn.TransformerEncoderLayer",
       points=2, core=True)
def test_block_gradients(student, device):
    g = gen(5)
    D, T = 8, 6
    f64 = dict(device=device, dtype=torch.float64)
    state = C.block_state(g, D, device, torch.float64, with_attn=False)
    mix = C.mixer(g, D, device, torch.float64)
    x, grad_out = randn(g, 2, T, D, **f64), randn(g, 2, T, D, **f64)
    got = student.run(C.probe_block, D, 2, 8, state, x, mixer=mix, grad_out=grad_out)
    layer = nn.TransformerEncoderLayer(D, 1, dim_feedforward=4 * D, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True, dtype=torch.float64, device=device)
    _load_layer(layer, state, mix, prefix="")
    layer.train()
    xx = x.clone().requires_grad_(True)
    (layer(xx, src_mask=causal_blocked(T, device)) * grad_out).sum().backward()
    theirs = {"ln1": layer.norm1, "ln2": layer.norm2, "mlp.0": layer.linear1, "mlp.2": layer.linear2}
    inputs = "float64 x (2, 6, 8), the block's attn replaced by a prefix mean, upstream gradient (2, 6, 8)"
    expect_close(got["dx"], xx.grad, name="dx", inputs=inputs)
    for name in state:
        module, kind = name.rsplit(".", 1)
        expect_close(got["dparams"][name], getattr(theirs[module], kind).grad, name=f"gradient of {name}",
                     inputs=inputs)


@check("Block: holds ln1, ln2 (LayerNorm), attn and mlp = Linear(C, 4C), GELU, Linear(4C, C), Dropout", points=1)
def test_block_layout(student, device):
    g = gen(6)
    state = C.block_state(g, 8, device, torch.float32, with_attn=True)
    x = randn(g, 1, 4, 8, device=device)
    student.run(C.probe_block, 8, 2, 8, state, x)  # every name of the contract can be loaded


@check("Block: dropout acts in training mode only", points=1)
def test_block_dropout(student, device):
    g = gen(7)
    state = C.block_state(g, 8, device, torch.float32, with_attn=False)
    mix = C.mixer(g, 8, device, torch.float32)
    x = randn(g, 2, 6, 8, device=device)
    evaluated = student.run(C.probe_block, 8, 2, 8, state, x, mixer=mix, dropout=0.5)["out"]
    expect_close(evaluated, torch_block(state, mix, x), name="Block(8, 2, 8, dropout=0.5) in eval mode (dropout "
                 "must be off)", inputs="x (2, 6, 8), stand-in attention")
    trained = student.run(C.probe_block, 8, 2, 8, state, x, mixer=mix, dropout=0.5, train=True)["out"]
    expect_true((trained - evaluated).abs().max().item() > 1e-4, "Block(8, 2, 8, dropout=0.5) gives the same "
                "output in training mode as in eval mode: is nn.Dropout(dropout) the last layer of the mlp?")


# ----------------------------------------------------------------------------------------------- GPT


def _config(V=11, block=8, layers=2, heads=2, d=8, dropout=0.0):
    return dict(vocab_size=V, block_size=block, n_layers=layers, n_heads=heads, d_model=d, dropout=dropout)


@check("GPT: logits (with stand-in blocks) are ln_f(blocks(tok_emb[idx] + pos_emb[0..T-1])) times tok_emb.weight^T",
       points=3, core=True)
def test_gpt_logits(student, device):
    g = gen(8)
    for config, B, T in ((_config(), 3, 8), (_config(V=7, block=10, layers=1, d=12), 4, 6),
                         (_config(V=13, layers=3), 2, 1)):
        state = C.gpt_state(g, config, device, torch.float32)
        stub = C.stubs(g, config, device, torch.float32)
        idx = torch.randint(0, config["vocab_size"], (B, T), generator=g).to(device)
        got = student.run(C.probe_gpt, config, state, idx, stubs=stub)
        _expect_tied(got, state)
        expect_close(got["logits"], torch_gpt_stubbed(state, stub, idx), name="logits",
                     inputs=f"GPT({config}) with its blocks replaced by x + tanh(x A^T), idx ({B}, {T}); only "
                            f"tok_emb.weight is loaded (the head must share it)",
                     mistakes=gpt_mistakes(state, stub, idx))
        expect_true(got["loss"] is None, f"GPT.forward(idx) without targets must return loss None, got "
                    f"{got['loss']!r}")


def _expect_tied(got, state):
    head = got.get("head_weight")
    E = state["tok_emb.weight"]
    if isinstance(head, torch.Tensor) and (head.shape != E.shape or not torch.equal(head, E)):
        fail("after tok_emb.weight was loaded, lm_head.weight is not tok_emb.weight (its values differ): the head "
             "must share the embedding's Parameter (self.lm_head.weight = self.tok_emb.weight), not have its own "
             "weight or a copy of the values")


@check("GPT: the loss is the mean cross-entropy of the logits over all B * T positions", points=2, core=True)
def test_gpt_loss(student, device):
    g = gen(9)
    config = _config(V=9, block=6)
    state = C.gpt_state(g, config, device, torch.float32)
    stub = C.stubs(g, config, device, torch.float32)
    idx = torch.randint(0, 9, (4, 6), generator=g).to(device)
    targets = torch.randint(0, 9, (4, 6), generator=g).to(device)
    got = student.run(C.probe_gpt, config, state, idx, targets=targets, stubs=stub)
    logits = got["logits"]
    expect_true(isinstance(got["loss"], torch.Tensor), f"GPT.forward(idx, targets) must return the loss as a "
                f"tensor, got {type(got['loss']).__name__}")
    expect_close(logits, torch_gpt_stubbed(state, stub, idx), name="logits", inputs="idx (4, 6) with targets")
    flat = logits.reshape(-1, 9).double()
    want = F.cross_entropy(flat, targets.reshape(-1)).to(logits.dtype)
    expect_close(got["loss"].reshape(()), want, name="loss", inputs="idx and targets (4, 6), vocab_size 9",
                 mistakes={"the loss is summed instead of averaged":
                           F.cross_entropy(flat, targets.reshape(-1), reduction="sum").to(logits.dtype),
                           "the targets are shifted once more inside forward (they are already the next tokens)":
                           F.cross_entropy(logits[:, :-1].reshape(-1, 9).double(),
                                           targets[:, 1:].reshape(-1)).to(logits.dtype)})


@check("GPT: weight tying: lm_head uses tok_emb.weight itself, whose gradient sums both uses", points=2, core=True)
def test_gpt_tying(student, device):
    g = gen(10)
    config = _config(V=7, block=5, layers=1, d=8)
    state = C.gpt_state(g, config, device, torch.float64)
    stub = C.stubs(g, config, device, torch.float64)
    idx = torch.randint(0, 7, (3, 5), generator=g).to(device)
    targets = torch.randint(0, 7, (3, 5), generator=g).to(device)
    got = student.run(C.probe_gpt, config, state, idx, targets=targets, stubs=stub, backward=True)
    _expect_tied(got, state)
    leaves = {k: v.clone().requires_grad_(True) for k, v in state.items()}
    loss = F.cross_entropy(torch_gpt_stubbed(leaves, stub, idx).reshape(-1, 7), targets.reshape(-1))
    loss.backward()
    inputs = (f"GPT({config}) in float64 with stand-in blocks, idx and targets (3, 5); only tok_emb.weight is "
              "loaded")
    expect_close(got["logits"], torch_gpt_stubbed(state, stub, idx), name="logits", inputs=inputs)
    expect_close(got["dparams"]["tok_emb.weight"], leaves["tok_emb.weight"].grad, name="gradient of tok_emb.weight",
                 inputs=inputs)
    for name in ("pos_emb.weight", "ln_f.weight", "ln_f.bias"):
        expect_close(got["dparams"][name], leaves[name].grad, name=f"gradient of {name}", inputs=inputs)


@check("GPT: counts V*C + block_size*C + n_layers*(12*C^2 + 13*C) + 2*C parameters (the tied head once)", points=2)
def test_gpt_parameter_count(student):
    for config in (_config(), _config(V=65, block=32, layers=4, heads=4, d=64), _config(V=5, block=3, layers=0)):
        got = student.run(C.probe_gpt_count, config)
        want = C.gpt_param_count(config["vocab_size"], config["block_size"], config["n_layers"], config["d_model"])
        V, D = config["vocab_size"], config["d_model"]
        hint = ""
        if got["numel"] == want + V * D:
            hint = " (that is V*C too many: lm_head has its own weight; tie it by assigning tok_emb.weight)"
        elif got["numel"] == want + V:
            hint = " (that is V too many: lm_head has a bias; it must be Linear(d_model, vocab_size, bias=False))"
        expect_true(got["numel"] == want, f"GPT({config}) has {got['numel']} trainable numbers, expected {want}"
                    + hint)
        expect_true(got["block_size"] == config["block_size"], f"GPT({config}).block_size is {got['block_size']}, "
                    f"expected {config['block_size']} (generate reads it)")


@check("GPT: ValueError when the sequence is longer than block_size", points=1)
def test_gpt_too_long(student):
    config = _config(block=4, layers=1)
    raised = student.run(C.probe_gpt_error, config, torch.zeros(2, 5, dtype=torch.long))
    outcome = f"it raised {raised}" if raised else "it returned normally"
    expect_true(raised == "ValueError", f"GPT with block_size 4 called on idx (2, 5) should raise ValueError, but "
                f"{outcome}")
    raised = student.run(C.probe_gpt_error, config, torch.zeros(2, 4, dtype=torch.long))
    expect_true(raised is None, f"GPT with block_size 4 called on idx (2, 4) should work, but it raised {raised}")


@check("GPT: dropout on the embeddings acts in training mode only", points=1)
def test_gpt_dropout(student, device):
    g = gen(11)
    config = _config(dropout=0.5)
    state = C.gpt_state(g, config, device, torch.float32)
    stub = C.stubs(g, config, device, torch.float32)
    idx = torch.randint(0, 11, (2, 8), generator=g).to(device)
    evaluated = student.run(C.probe_gpt, config, state, idx, stubs=stub)["logits"]
    expect_close(evaluated, torch_gpt_stubbed(state, stub, idx), name="logits of GPT(dropout=0.5) in eval mode",
                 inputs="idx (2, 8), stand-in blocks")
    trained = student.run(C.probe_gpt, config, state, idx, stubs=stub, train=True)["logits"]
    expect_true((trained - evaluated).abs().max().item() > 1e-4, "GPT(dropout=0.5) gives the same logits in "
                "training mode as in eval mode (with stand-in blocks): apply nn.Dropout(dropout) to the sum of the "
                "embeddings")


E2E = dict(n_digits=6, steps=80, batch=64, lr=5e-3, config=dict(vocab_size=11, block_size=12, n_layers=2,
                                                                n_heads=2, d_model=32, dropout=0.0))


@check("GPT: trained on reversing 6 digits, it predicts the reversed digits with >= 95% token accuracy",
       points=5, timeout=240)
def test_gpt_learns_to_reverse(student, seed, device):
    """The grader draws the starting parameters and the training batches, the submission's GPT trains in the
    sandbox, and the trained parameters are measured here with PyTorch's own Transformer layers."""
    s = seed % 100_000
    cfg, n = E2E["config"], E2E["n_digits"]
    start = {k: v.to(device) for k, v in _starting_point(cfg, torch.Generator().manual_seed(s)).items()}
    g = torch.Generator().manual_seed(s + 1)
    batches = [C.reverse_task(E2E["batch"], n, g, device) for _ in range(E2E["steps"])]
    xs = torch.stack([b[0] for b in batches])
    ys = torch.stack([b[1] for b in batches])
    trained = student.run(C.probe_train_reverse, cfg, start, xs, ys, n, E2E["lr"], _timeout=180)
    if not isinstance(trained, dict) or set(trained) != set(start):
        fail(f"the training probe returned {sorted(trained) if isinstance(trained, dict) else trained!r}, "
             f"expected the parameters {sorted(start)}")
    for name, value in trained.items():
        if not isinstance(value, torch.Tensor) or value.shape != start[name].shape:
            fail(f"the trained parameter {name} is not a tensor of shape {tuple(start[name].shape)}")
        if not bool(torch.isfinite(value).all()):
            fail(f"the trained parameter {name} contains NaN or Inf: training diverged")
    x, y = C.reverse_task(1000, n, torch.Generator().manual_seed(s + 2), device)
    with torch.no_grad():
        logits = torch_gpt(cfg, trained, x)
    acc = (logits[:, -n:].argmax(-1) == y[:, -n:]).double().mean().item()
    expect_true(acc >= 0.95, f"after {E2E['steps']} Adam steps (lr {E2E['lr']}) on batches of {E2E['batch']} "
                f"sequences 'd1..d6 SEP d6..d1', your GPT ({cfg}) predicts {100 * acc:.1f}% of the reversed digits "
                f"of 1000 fresh sequences (measured with PyTorch's nn.TransformerEncoderLayer holding your trained "
                f"weights); at least 95% is expected (the reference reaches 100%). If every module passes its own "
                f"checks, look at what differs in training: dropout, the residual stream, the causal mask.")


def _starting_point(cfg, g):
    """The starting parameters: GPT-2's initialisation (N(0, 0.02^2), residual projections scaled down, zero
    biases, LayerNorms at 1 and 0), drawn here so that every submission starts from the same point."""
    D, L = cfg["d_model"], cfg["n_layers"]

    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    state = {"tok_emb.weight": normal(cfg["vocab_size"], D), "pos_emb.weight": normal(cfg["block_size"], D),
             "ln_f.weight": torch.ones(D), "ln_f.bias": torch.zeros(D)}
    for i in range(L):
        p = f"blocks.{i}."
        resid = 0.02 / math.sqrt(2 * L)
        state.update({p + "ln1.weight": torch.ones(D), p + "ln1.bias": torch.zeros(D),
                      p + "ln2.weight": torch.ones(D), p + "ln2.bias": torch.zeros(D),
                      p + "attn.qkv.weight": normal(3 * D, D), p + "attn.qkv.bias": torch.zeros(3 * D),
                      p + "attn.proj.weight": normal(D, D, std=resid), p + "attn.proj.bias": torch.zeros(D),
                      p + "mlp.0.weight": normal(4 * D, D), p + "mlp.0.bias": torch.zeros(4 * D),
                      p + "mlp.2.weight": normal(D, 4 * D, std=resid), p + "mlp.2.bias": torch.zeros(D)})
    return state


# ----------------------------------------------------------------------------------------------- generate


TABLE = torch.tensor([[2.0, 1.0, 0.5, 0.0, -0.5, -1.5],
                      [-1.0, 0.3, 1.7, 0.2, 0.9, -0.4],
                      [0.1, -0.8, 0.4, 2.2, 1.1, 0.6],
                      [1.3, 0.7, -0.2, -1.1, 0.5, 1.9],
                      [0.0, 1.5, -0.6, 0.8, -1.2, 0.3],
                      [0.9, -0.3, 1.2, 0.4, 1.6, -0.7]])


def _greedy_chain(out, prompt_len, table):
    """Where the tokens after the prompt stop being the argmax of the table row of the token before them."""
    for b in range(out.shape[0]):
        for t in range(prompt_len, out.shape[1]):
            want = int(table[int(out[b, t - 1])].argmax())
            if int(out[b, t]) != want:
                return b, t, int(out[b, t]), want
    return None


@check("generate: temperature=0 appends the argmax token each step after an unchanged prompt", points=2, core=True)
def test_generate_greedy(student, device):
    idx = torch.tensor([[0, 3, 1], [4, 4, 2]], device=device)
    got = student.run(C.probe_generate, TABLE.to(device), 8, idx, 5, temperature=0.0)
    out = got["out"][0]
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else out
    expect_true(isinstance(out, torch.Tensor) and shape == (2, 8), "generate(model, idx (2, 3), max_new_tokens=5) "
                f"must return (2, 8), got {shape}")
    expect_equal(out[:, :3].cpu(), idx.cpu(), name="the first 3 tokens of generate's output (the prompt)")
    expect_true(out.dtype == torch.long, f"generate must return token ids (torch.long), got {out.dtype}")
    bad = _greedy_chain(out.cpu(), 3, TABLE)
    if bad:
        b, t, tok, want = bad
        fail(f"with temperature=0, token {t} of row {b} is {tok}, but the model's logits after token "
             f"{int(out[b, t - 1])} have their maximum at {want} (greedy decoding takes the argmax)\n  "
             f"output: {out.tolist()}")
    expect_equal(got["prompt_after"].cpu(), idx.cpu(), name="the prompt idx after generate (do not modify it)")


@check("generate: feeds the model at most the last block_size tokens", points=2, core=True)
def test_generate_crop(student, device):
    idx = torch.tensor([[5, 0, 2, 3, 1, 4], [1, 1, 0, 5, 2, 0]], device=device)
    got = student.run(C.probe_generate, TABLE.to(device), 4, idx, 4, temperature=0.0)
    expect_true(got["lengths"] == [4, 4, 4, 4], f"with block_size 4 and a prompt of 6 tokens, generate gave the "
                f"model contexts of lengths {got['lengths']} over 4 steps, expected [4, 4, 4, 4]: crop the context "
                f"to its last block_size tokens (idx[:, -block_size:])")
    bad = _greedy_chain(got["out"][0].cpu(), 6, TABLE)
    if bad:
        b, t, tok, want = bad
        fail(f"with temperature=0 and block_size 4, token {t} of row {b} is {tok}, expected {want} (the argmax "
             "after the last token): crop the context to its LAST block_size tokens, not its first")
    short = student.run(C.probe_generate, TABLE.to(device), 4, idx[:, :2], 3, temperature=0.0)
    expect_true(short["lengths"] == [2, 3, 4], f"with block_size 4 and a prompt of 2 tokens, the contexts had "
                f"lengths {short['lengths']}, expected [2, 3, 4] (the whole sequence while it fits)")


def _expected_probs(row, temperature, top_k):
    z = TABLE[row].double() / temperature
    if top_k is not None and top_k < z.numel():
        kth = torch.topk(z, top_k).values[-1]
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.softmax(z, -1)


def _sample_frequencies(student, device, row, temperature, top_k, n=6000, seed=5):
    idx = torch.full((n, 1), row, dtype=torch.long, device=device)
    got = student.run(C.probe_generate, TABLE.to(device), 4, idx, 1, temperature=temperature, top_k=top_k,
                      gen_seed=seed)
    new = got["out"][0][:, -1].cpu()
    return torch.bincount(new.clamp(0, 5), minlength=6).double() / n, new


def _judge_frequencies(freq, probs, n, what, mistakes):
    sigma = (probs * (1 - probs) / n).sqrt()
    gap = ((freq - probs).abs() - 5 * sigma).max().item()
    if gap > 1e-3:
        message = (f"{what}: the sampled frequencies {[round(f, 3) for f in freq.tolist()]} are not those of "
                   f"the expected distribution {[round(p, 3) for p in probs.tolist()]} (6000 samples; a gap beyond "
                   "5 standard deviations)")
        for words, wrong in mistakes.items():
            if ((freq - wrong).abs() - 5 * (wrong * (1 - wrong) / n).sqrt()).max().item() <= 1e-3:
                message += f"\n  This matches a known mistake: {words}."
                break
        fail(message)


@check("generate: samples follow softmax(logits / temperature) for temperatures 0.5, 1 and 2", points=3, core=True)
def test_generate_temperature(student, device):
    for row, temperature in ((0, 1.0), (2, 0.5), (5, 2.0)):
        freq, new = _sample_frequencies(student, device, row, temperature, None)
        expect_true(bool(((new >= 0) & (new < 6)).all()), "generate sampled token ids outside 0..V-1")
        mistakes = {"the temperature is applied after the softmax (it must divide the logits)":
                    _expected_probs(row, 1.0, None),
                    "the logits are multiplied by the temperature instead of divided":
                    _expected_probs(row, 1.0 / temperature, None)}
        _judge_frequencies(freq, _expected_probs(row, temperature, None), 6000,
                           f"next token after {row} at temperature {temperature}", mistakes)


@check("generate: top_k samples only among the k largest logits, renormalised", points=2, core=True)
def test_generate_top_k(student, device):
    for row, temperature, k in ((1, 1.0, 3), (3, 0.7, 2)):
        freq, new = _sample_frequencies(student, device, row, temperature, k)
        probs = _expected_probs(row, temperature, k)
        outside = sorted(set(new.tolist()) - set(torch.nonzero(probs).flatten().tolist()))
        allowed = torch.topk(TABLE[row], k).indices.tolist()
        smallest = torch.topk(TABLE[row], k, largest=False).indices.tolist()
        hint = (" (these are the k SMALLEST logits: top-k keeps the largest)" if set(new.tolist()) <= set(smallest)
                else "")
        expect_true(not outside, f"with top_k={k}, generate sampled tokens {outside} after token {row}, but only "
                    f"the {k} tokens with the largest logits ({sorted(allowed)}) may be sampled{hint}")
        _judge_frequencies(freq, probs, 6000, f"next token after {row} with top_k={k}, temperature {temperature}",
                           {"top-k applied but the temperature ignored": _expected_probs(row, 1.0, k)})
    freq, _ = _sample_frequencies(student, device, 0, 1.0, 6)
    _judge_frequencies(freq, _expected_probs(0, 1.0, None), 6000, "top_k=6 = vocab_size (restricts nothing)", {})


@check("generate: all randomness comes from the generator: same seed, same tokens; fresh tokens on later calls",
       points=2)
def test_generate_generator(student, device):
    idx = torch.tensor([[0], [3], [5]], device=device)
    a = student.run(C.probe_generate, TABLE.to(device), 4, idx, 12, gen_seed=11, global_seed=1, calls=2)
    b = student.run(C.probe_generate, TABLE.to(device), 4, idx, 12, gen_seed=11, global_seed=2, calls=2)
    expect_equal(b["out"][0], a["out"][0], name="generate's output with the same generator seed but another "
                 "global seed (use generator= in every random call)")
    expect_true(not torch.equal(a["out"][0], a["out"][1]), "two calls of generate in a row with the same generator "
                "object returned the same tokens: the generator must advance (do not re-seed it)")
    c = student.run(C.probe_generate, TABLE.to(device), 4, idx, 12, gen_seed=12, global_seed=1)
    expect_true(not torch.equal(c["out"][0], a["out"][0]), "generators with seeds 11 and 12 gave the same 36 "
                "tokens: is the generator used?")
    d = student.run(C.probe_generate, TABLE.to(device), 4, idx, 12, gen_seed=None, global_seed=3)
    e = student.run(C.probe_generate, TABLE.to(device), 4, idx, 12, gen_seed=None, global_seed=3)
    expect_equal(e["out"][0], d["out"][0], name="generate's output with generator=None after the same "
                 "torch.manual_seed (the global generator decides)")


@check("generate: runs the model in eval mode without autograd, and leaves it in the mode it was in", points=1)
def test_generate_modes(student, device):
    idx = torch.tensor([[1, 2]], device=device)
    for train in (True, False):
        got = student.run(C.probe_generate, TABLE.to(device), 4, idx, 3, gen_seed=0, train=train)
        expect_true(got["modes"] == [0, 0, 0], f"the model was called in training mode {got['modes']} (1 = "
                    "training) during generate: call model.eval() while sampling (dropout must be off)")
        expect_true(got["grad"] == [0, 0, 0], "autograd was on during generate's model calls "
                    f"{got['grad']} (1 = on): sample under torch.no_grad()")
        expect_true(got["training_after"] == int(train), f"the model was in {'training' if train else 'eval'} mode "
                    f"before generate and in {'training' if got['training_after'] else 'eval'} mode after it: "
                    "restore the mode it was in")
        expect_true(got["requires_grad"] == 0, "generate's output requires grad")
    none = student.run(C.probe_generate, TABLE.to(device), 4, idx, 0)
    expect_equal(none["out"][0].cpu(), idx.cpu(), name="generate(model, idx, max_new_tokens=0)")
