"""Hidden checks for efficiency: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here) and compares what it
returns. decode_step runs with a stand-in cache (see _common.py), so it is judged on its own.
"""

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close

C = load_sibling(__file__, "_common")
randn = C.randn


def _int(g, lo, hi):
    return int(torch.randint(lo, hi, (1,), generator=g))


@check("online_softmax_attention: matches the reference on random shapes, block sizes and dtypes, causal or not",
       points=2, core=True)
def test_attention_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for batch, dtype, causal in (((), torch.float32, False), ((2,), torch.float64, True),
                                 ((2, 3), torch.float32, True), ((1, 2), torch.float64, False)):
        Lk, d, dv = _int(g, 1, 20), _int(g, 1, 9), _int(g, 1, 9)
        Lq = _int(g, 1, Lk + 1) if causal else _int(g, 1, 12)
        bs = _int(g, 1, Lk + 3)
        q, k, v = (randn(g, *batch, n, w, device=device, dtype=dtype, scale=2.0) for n, w in ((Lq, d), (Lk, d),
                                                                                            (Lk, dv)))
        got = student.run(C.probe_attention, q, k, v, bs, causal=causal)
        want = C.probe_attention(reference, q, k, v, bs, causal=causal)
        expect_close(got["out"], want["out"], name=f"online_softmax_attention(block_size={bs}, causal={causal})",
                     inputs=f"{str(dtype)[6:]} q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")


@check("KVCache: matches the reference over random sequences of appends", points=1, core=True)
def test_cache_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed + 1)
    B, nh, hs, hv = _int(g, 1, 4), _int(g, 1, 4), _int(g, 1, 6), _int(g, 1, 6)
    chunks = [(randn(g, B, nh, n, hs, device=device), randn(g, B, nh, n, hv, device=device))
              for n in (_int(g, 1, 5) for _ in range(_int(g, 2, 6)))]
    got = student.run(C.probe_cache, chunks)
    want = C.probe_cache(reference, chunks)
    for i, (a, b) in enumerate(zip(got, want)):
        expect_close(a, b, name=f"the cache after {i} appends", inputs=f"k (B={B}, nh={nh}, T, {hs}), v (.., {hv}), "
                     f"chunks of {[c[0].shape[-2] for c in chunks]} positions")


@check("decode_step: matches the reference's logits and cached keys and values on random decoders", points=2,
       core=True)
def test_decode_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed + 2)
    for dtype in (torch.float32, torch.float64):
        nh, hs, L = _int(g, 1, 4), _int(g, 2, 6), _int(g, 1, 4)
        V, B, T = _int(g, 3, 20), _int(g, 1, 4), _int(g, 1, 9)
        parts = C.decoder(g, V, nh * hs, nh, L, 12, device=device, dtype=dtype)
        tokens = torch.randint(0, V, (B, T), generator=g).to(device)
        got = student.run(C.probe_decode, parts, tokens)
        want = C.probe_decode(reference, parts, tokens)
        inputs = f"{str(dtype)[6:]} decoder with V={V}, C={nh * hs}, {nh} heads, {L} layers; tokens ({B}, {T})"
        expect_close(got, want, name="decode_step", inputs=inputs)
