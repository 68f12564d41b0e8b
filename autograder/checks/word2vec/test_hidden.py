"""Hidden checks for word2vec: run only by `dlcourse grade`, on inputs drawn from the grading seed, each compared with
the reference run on the same inputs here."""

import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_equal

C = load_sibling(__file__, "_common")


@check("skipgram_pairs: matches the reference on random sequences with repeated words and random windows", points=2,
       core=True)
def test_pairs_reference(student, reference, rng, device):
    for _ in range(5):
        T, window = int(rng.integers(0, 80)), int(rng.integers(1, 8))
        ids = torch.tensor(rng.integers(0, 12, size=T), dtype=torch.long, device=device)
        expect_equal(student.skipgram_pairs(ids, window), reference.skipgram_pairs(ids, window),
                     name=f"skipgram_pairs(ids, window={window})",
                     inputs=f"{T} word ids drawn from a vocabulary of 12 (many repeats) on {device}")


@check("unigram_table: matches the reference on random counts, powers and dtypes", points=1, core=True)
def test_unigram_reference(student, reference, rng, device):
    for dtype in (torch.int64, torch.float32, torch.float64):
        counts = torch.tensor(rng.integers(0, 5000, size=int(rng.integers(2, 200))), device=device).to(dtype)
        counts[0] = max(float(counts[0]), 1.0)
        power = float(rng.uniform(0.1, 2.0))
        expect_close(student.unigram_table(counts, power), reference.unigram_table(counts, power),
                     name=f"unigram_table(counts, power={power:.3f})",
                     inputs=f"{counts.numel()} {str(dtype)[6:]} counts in [0, 5000) on {device}, some zero")


@check("SkipGramNS: loss and gradients match the reference on random tables, batches and dtypes", points=2,
       core=True)
def test_loss_reference(student, reference, rng, device):
    for dtype in (torch.float32, torch.float64):
        V, d, B, K = int(rng.integers(2, 60)), int(rng.integers(1, 32)), int(rng.integers(1, 100)), \
            int(rng.integers(1, 12))
        scale = float(10 ** rng.uniform(-1, 0.5))
        w_in = torch.tensor(rng.standard_normal((V, d)) * scale, dtype=dtype, device=device)
        w_out = torch.tensor(rng.standard_normal((V, d)) * scale, dtype=dtype, device=device)
        centre = torch.tensor(rng.integers(0, V, B), device=device)
        context = torch.tensor(rng.integers(0, V, B), device=device)
        negatives = torch.tensor(rng.integers(0, V, (B, K)), device=device)
        got = student.run(C.probe_loss, w_in, w_out, centre, context, negatives)
        want = C.probe_loss(reference, w_in, w_out, centre, context, negatives)
        inputs = f"{str(dtype)[6:]} tables V = {V}, dim = {d} (scale {scale:.2g}), B = {B}, K = {K}"
        if not isinstance(got, dict):
            fail("SkipGramNS.loss did not run")
        for key in ("loss", "in_embed_grad", "out_embed_grad"):
            expect_close(got.get(key), want[key], name=f"SkipGramNS: {key}", inputs=inputs)


@check("most_similar: matches the reference on random tables, words and k", points=2, core=True)
def test_most_similar_reference(student, reference, rng, device):
    V, d = int(rng.integers(5, 80)), int(rng.integers(2, 20))
    w_in = torch.tensor(rng.standard_normal((V, d)) * rng.uniform(0.1, 10.0, size=(V, 1)), dtype=torch.float32,
                        device=device)
    w_out = torch.tensor(rng.standard_normal((V, d)), dtype=torch.float32, device=device)
    queries = [(int(rng.integers(V)), int(rng.integers(1, V))) for _ in range(5)]
    got = student.run(C.probe_most_similar, w_in, w_out, queries)
    want = C.probe_most_similar(reference, w_in, w_out, queries)
    for (word, k), a, b in zip(queries, got["answers"], want["answers"]):
        expect_equal(a, b, name=f"most_similar(model, word_id={word}, k={k})",
                     inputs=f"in_embed of shape ({V}, {d}) with rows of very different lengths")
