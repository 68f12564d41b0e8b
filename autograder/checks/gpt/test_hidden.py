"""Hidden checks for gpt: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here) and compares every
quantity it returns. As in the public checks, a Block is run with a stand-in attention, a GPT with stand-in blocks
and `generate` with a stand-in bigram model, so that each is judged on its own.
"""

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close, expect_equal

C = load_sibling(__file__, "_common")
randn = C.randn


def same(student, reference, probe, *args, name, inputs, **kwargs):
    """Run `probe` on both and compare every quantity the reference's run returns."""
    got = student.run(probe, *args, **kwargs)
    want = probe(reference, *args, **kwargs)
    for key, value in want.items():
        if value is None and key == "loss":
            expect_close(got.get("loss"), None, name=f"{name}: loss", inputs=inputs)
            continue
        expect_close(got.get(key) if isinstance(got, dict) else got, value, name=f"{name}: {key}", inputs=inputs)


@check("CausalSelfAttention: matches the reference on random sizes, heads and lengths, gradients included",
       points=3, core=True)
def test_attention_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for nh, hs, dtype, grads in ((1, 5, torch.float32, False), (3, 4, torch.float64, True),
                                 (4, 2, torch.float32, False), (2, 6, torch.float64, True)):
        D = nh * hs
        block = int(torch.randint(2, 10, (1,), generator=g))
        T = int(torch.randint(1, block + 1, (1,), generator=g))
        B = int(torch.randint(1, 4, (1,), generator=g))
        state = C.attn_state(g, D, device, dtype)
        x = randn(g, B, T, D, device=device, dtype=dtype)
        grad_out = randn(g, B, T, D, device=device, dtype=dtype) if grads else None
        same(student, reference, C.probe_attn, D, nh, block, state, x, grad_out=grad_out,
             name=f"CausalSelfAttention({D}, {nh}, {block})",
             inputs=f"{str(dtype)[6:]} x ({B}, {T}, {D})" + (", with an upstream gradient" if grads else ""))


@check("Block: with a stand-in attention, matches the reference on random inputs, gradients included", points=2,
       core=True)
def test_block_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed + 1)
    for D, T, dtype, grads in ((8, 3, torch.float32, False), (12, 7, torch.float64, True)):
        state = C.block_state(g, D, device, dtype, with_attn=False)
        mix = C.mixer(g, D, device, dtype)
        x = randn(g, 2, T, D, device=device, dtype=dtype, scale=2.0)
        grad_out = randn(g, 2, T, D, device=device, dtype=dtype) if grads else None
        same(student, reference, C.probe_block, D, 2, 8, state, x, mixer=mix, grad_out=grad_out,
             name=f"Block({D}, 2, 8)", inputs=f"{str(dtype)[6:]} x (2, {T}, {D}), the attention replaced by a "
                                               f"prefix-mean stand-in")


@check("GPT: with stand-in blocks, logits, loss and gradients match the reference on random configurations",
       points=3, core=True)
def test_gpt_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed + 2)
    for layers, dtype in ((0, torch.float32), (2, torch.float64), (3, torch.float32)):
        V = int(torch.randint(3, 20, (1,), generator=g))
        block = int(torch.randint(2, 12, (1,), generator=g))
        config = dict(vocab_size=V, block_size=block, n_layers=layers, n_heads=2, d_model=8, dropout=0.0)
        B, T = int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(1, block + 1, (1,), generator=g))
        state = C.gpt_state(g, config, device, dtype)
        stub = C.stubs(g, config, device, dtype)
        idx = torch.randint(0, V, (B, T), generator=g).to(device)
        targets = torch.randint(0, V, (B, T), generator=g).to(device)
        same(student, reference, C.probe_gpt, config, state, idx, targets=targets, stubs=stub,
             backward=dtype == torch.float64, name=f"GPT({config})",
             inputs=f"{str(dtype)[6:]} parameters, idx and targets ({B}, {T}), stand-in blocks")


@check("generate: greedy decoding (temperature=0) matches the reference for random models, prompts and block sizes",
       points=2, core=True)
def test_generate_greedy_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed + 3)
    for _ in range(3):
        V = int(torch.randint(3, 12, (1,), generator=g))
        block = int(torch.randint(1, 6, (1,), generator=g))
        B, T = int(torch.randint(1, 4, (1,), generator=g)), int(torch.randint(1, 9, (1,), generator=g))
        new = int(torch.randint(1, 8, (1,), generator=g))
        table = randn(g, V, V, device=device, scale=2.0)
        idx = torch.randint(0, V, (B, T), generator=g).to(device)
        got = student.run(C.probe_generate, table, block, idx, new, temperature=0.0)
        want = C.probe_generate(reference, table, block, idx, new, temperature=0.0)
        inputs = f"a random bigram model over {V} tokens, block_size {block}, prompt ({B}, {T}), {new} new tokens"
        expect_equal(got["lengths"], want["lengths"], name="the context lengths the model was given",
                     inputs=inputs)
        expect_equal(got["out"][0].cpu(), want["out"][0].cpu(), name="generate(temperature=0)", inputs=inputs)
