"""Public checks for word2vec: what `dlcourse check word2vec` runs, and what students read.

skipgram_pairs is judged on stored expected pairs and on properties of random sequences of distinct word ids
(whose positions can be read back from the ids); unigram_table on stored values and the power law; the loss of
SkipGramNS against PyTorch's binary cross-entropy with logits (negative sampling is logistic regression of true
pairs against noise pairs) and autograd; most_similar against F.cosine_similarity and torch.topk. The end-to-end
check trains your SkipGramNS on a corpus generated here from a grammar with planted word clusters, and judges the
trained embeddings here.
"""

import torch
import torch.nn.functional as F

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true
from autograder.probes import probe_raised

C = load_sibling(__file__, "_common")


# ----------------------------------------------------------------------------------------------- skipgram_pairs

def _as_pairs(value, name):
    if not isinstance(value, torch.Tensor):
        fail(f"{name}: expected a LongTensor of shape (P, 2), got {type(value).__name__}")
    if value.dim() != 2 or value.shape[1] != 2:
        fail(f"{name} has shape {tuple(value.shape)}, expected (P, 2): one row (centre, context) per pair")
    if value.dtype != torch.int64:
        fail(f"{name} has dtype {str(value.dtype)[6:]}, expected int64 (a LongTensor of word ids)")
    return value


def _diagnose(pos, window, T):
    """Name the mistake when the pairs of a sequence of distinct ids (read back as positions) are wrong."""
    if len(pos) == 0:
        return ""
    c, x = pos[:, 0], pos[:, 1]
    d = x - c
    if (c < 0).any() or (x < 0).any():
        return "word ids that are not in the sequence"
    if (d == 0).any():
        return "the window includes the centre word itself: pair a word only with the OTHER words within the window"
    expected = 2 * window * T - window * (window + 1) if T > window else T * (T - 1)
    if len(pos) > expected and d.abs().max() > window:
        return "pairs beyond the ends of the sequence: a context index wraps around (keep 0 <= j < T)"
    if d.abs().max() > window:
        return f"contexts farther than window = {window} positions from the centre"
    if (d < 0).sum() == 0 and T > 1:
        return "only the words after the centre are contexts: the window extends on both sides"
    if (d > 0).sum() == 0 and T > 1:
        return "only the words before the centre are contexts: the window extends on both sides"
    if len(pos) < expected and d.abs().max() < min(window, T - 1):
        return f"the window stops one word short: contexts go up to distance {window} inclusive"
    return ""


def _decode(pairs, ids):
    """Positions of each id of `pairs` in the sequence `ids` of distinct ids (-1 when not in it)."""
    lookup = {int(v): i for i, v in enumerate(ids.tolist())}
    return torch.tensor([[lookup.get(int(a), -1), lookup.get(int(b), -1)] for a, b in pairs.tolist()],
                        dtype=torch.long).reshape(-1, 2)


@check("skipgram_pairs: the pairs of short sequences, in order (stored expected values)", points=2, core=True)
def test_pairs_stored(student, device):
    cases = [
        ([10, 11, 12, 13, 14], 2, [[10, 11], [10, 12], [11, 10], [11, 12], [11, 13], [12, 10], [12, 11], [12, 13],
                                   [12, 14], [13, 11], [13, 12], [13, 14], [14, 12], [14, 13]]),
        ([7, 3, 9], 1, [[7, 3], [3, 7], [3, 9], [9, 3]]),
        ([5, 8], 3, [[5, 8], [8, 5]]),
        ([4, 4, 2, 4], 1, [[4, 4], [4, 4], [4, 2], [2, 4], [2, 4], [4, 2]]),
    ]
    for ids, window, pairs in cases:
        x = torch.tensor(ids, device=device)
        got = _as_pairs(student.skipgram_pairs(x, window), f"skipgram_pairs({ids}, window={window})")
        want = torch.tensor(pairs, dtype=torch.long, device=device)
        if got.shape == want.shape and torch.equal(got.cpu().flip(1), want.cpu()):
            fail(f"skipgram_pairs({ids}, window={window}) has the columns swapped: each row is (centre, context)")
        hint = _diagnose(_decode(got.cpu(), x.cpu()), window, len(ids)) if len(set(ids)) == len(ids) else ""
        if hint:
            fail(f"skipgram_pairs({ids}, window={window}) returned {got.tolist()}, expected {pairs}.\n"
                 f"  This matches a known mistake: {hint}.")
        if got.shape == want.shape and not torch.equal(got.cpu(), want.cpu()) and \
                sorted(got.tolist()) == sorted(pairs):
            fail(f"skipgram_pairs({ids}, window={window}) has the right pairs in the wrong order: {got.tolist()}; "
                 f"expected {pairs} (by centre position, then by context position)")
        expect_equal(got, want, name=f"skipgram_pairs({ids}, window={window})")


@check("skipgram_pairs: on random sequences, every pair within the window, all of them, no self pair, in order",
       points=2, core=True)
def test_pairs_properties(student, rng, device):
    for _ in range(6):
        T, window = int(rng.integers(1, 60)), int(rng.integers(1, 6))
        ids = torch.tensor(rng.permutation(1000)[:T], dtype=torch.long, device=device)  # distinct ids
        name = f"skipgram_pairs(ids, window={window}) for T = {T} distinct ids"
        got = _as_pairs(student.skipgram_pairs(ids, window), name)
        pos = _decode(got.cpu(), ids.cpu())
        hint = _diagnose(pos, window, T)
        if hint:
            fail(f"{name}: {hint}")
        n = 2 * window * T - window * (window + 1) if T > window else T * (T - 1)
        expect_true(len(pos) == n, f"{name} gave {len(pos)} pairs, expected 2 w T - w (w + 1) = {n}")
        keys = (pos[:, 0] * 1000 + pos[:, 1]).tolist()
        expect_true(len(set(keys)) == len(keys), f"{name} repeats some pairs")
        expect_true(keys == sorted(keys), f"{name}: the pairs are not in order (by centre position, then by "
                    "context position)")
        expect_true(got.device.type == device, f"{name} is on {got.device.type}, the ids were on {device}")


@check("skipgram_pairs: a sequence shorter than 2 gives an empty (0, 2) LongTensor", points=1)
def test_pairs_empty(student, device):
    for ids in ([], [3]):
        got = _as_pairs(student.skipgram_pairs(torch.tensor(ids, dtype=torch.long, device=device), 2),
                        f"skipgram_pairs({ids}, window=2)")
        expect_equal(tuple(got.shape), (0, 2), name=f"the shape of skipgram_pairs({ids}, window=2)")


@check("skipgram_pairs: window < 1 raises ValueError", points=1)
def test_pairs_bad_window(student):
    for window in (0, -2):
        name = student.run(probe_raised, "skipgram_pairs", torch.arange(5), window)
        expect_true(name == "ValueError", f"skipgram_pairs(torch.arange(5), window={window}) raised "
                    f"{name or 'nothing'}, expected a ValueError")


# ----------------------------------------------------------------------------------------------- unigram_table

@check("unigram_table: counts ** power, normalised to sum to 1 (stored expected values)", points=2, core=True)
def test_unigram_stored(student, device):
    cases = [  # counts, power, expected: chosen so that count ** power is an integer
        ([1, 16, 81, 0], 0.75, [1 / 36, 8 / 36, 27 / 36, 0.0]),
        ([4, 9, 0, 1], 0.5, [2 / 6, 3 / 6, 0.0, 1 / 6]),
        ([3, 1, 6], 1.0, [0.3, 0.1, 0.6]),
    ]
    for counts, power, expected in cases:
        c = torch.tensor(counts, dtype=torch.long, device=device)
        got = student.unigram_table(c, power)
        want = torch.tensor(expected, dtype=torch.float32, device=device)
        cf = c.double()
        expect_close(got, want, name=f"unigram_table({counts}, power={power})", inputs="int64 counts",
                     mistakes={"not normalised: divide by the sum of count ** power":
                               cf.pow(power).float(),
                               "power ignored: the plain unigram distribution": (cf / cf.sum()).float(),
                               "counts normalised first and then raised to the power (no longer sums to 1)":
                               (cf / cf.sum()).pow(power).float()})
    got = student.unigram_table(torch.tensor([1.0, 16.0, 81.0], dtype=torch.float64, device=device))
    expect_close(got, torch.tensor([1 / 36, 8 / 36, 27 / 36], dtype=torch.float64, device=device),
                 name="unigram_table(float64 counts [1, 16, 81]) with the default power",
                 inputs="float64 counts: the result is float64; the default power is 0.75")


@check("unigram_table: on random counts, p_i / p_j = (c_i / c_j) ** power and the sum is 1", points=1)
def test_unigram_power_law(student, rng, device):
    for power in (0.75, 0.3, 1.5):
        counts = torch.tensor(rng.integers(1, 10_000, size=50), dtype=torch.long, device=device)
        got = student.unigram_table(counts, power)
        if not isinstance(got, torch.Tensor) or got.shape != (50,):
            fail(f"unigram_table(counts of shape (50,), power={power}) returned {type(got).__name__} of shape "
                 f"{tuple(getattr(got, 'shape', ()))}, expected (50,)")
        expect_close(got.double().sum(), torch.tensor(1.0, dtype=torch.float64, device=device), rtol=1e-5,
                     atol=1e-6, name=f"the sum of unigram_table(counts, power={power})")
        ratio = got.double() / got.double()[0]
        expect_close(ratio, (counts.double() / counts.double()[0]).pow(power), rtol=1e-4, atol=1e-6,
                     name=f"p_i / p_0 for unigram_table(counts, power={power})",
                     inputs="50 random integer counts in [1, 10000)")


# ----------------------------------------------------------------------------------------------- SkipGramNS

def _tables(rng, V, d, scale, device, dtype=torch.float64):
    w_in = torch.tensor(rng.standard_normal((V, d)) * scale, dtype=dtype, device=device)
    w_out = torch.tensor(rng.standard_normal((V, d)) * scale, dtype=dtype, device=device)
    return w_in, w_out


def _batch(rng, V, B, K, device):
    return (torch.tensor(rng.integers(0, V, B), device=device), torch.tensor(rng.integers(0, V, B), device=device),
            torch.tensor(rng.integers(0, V, (B, K)), device=device))


def ns_loss_bce(w_in, w_out, centre, context, negatives):
    """The negative-sampling objective as PyTorch's binary cross-entropy with logits: label 1 for the true pair,
    label 0 for each noise pair; summed over the K noise pairs, averaged over the batch."""
    u = w_in[centre]  # (B, d)
    pos = torch.bmm(u[:, None, :], w_out[context][:, :, None]).reshape(-1)  # (B,)
    neg = torch.bmm(w_out[negatives], u[:, :, None]).squeeze(-1)  # (B, K)
    bce_pos = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos), reduction="none")
    bce_neg = F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg), reduction="none")
    return (bce_pos + bce_neg.sum(-1)).mean(), (bce_pos, bce_neg)


def _oracle(w_in, w_out, centre, context, negatives):
    a, b = w_in.clone().requires_grad_(True), w_out.clone().requires_grad_(True)
    loss, parts = ns_loss_bce(a, b, centre, context, negatives)
    loss.backward()
    return loss.detach(), a.grad, b.grad, parts


def _judge_loss(student, w_in, w_out, centre, context, negatives, inputs):
    got = student.run(C.probe_loss, w_in, w_out, centre, context, negatives)
    loss, g_in, g_out, (bce_pos, bce_neg) = _oracle(w_in, w_out, centre, context, negatives)
    B, K = negatives.shape
    neg_s = torch.einsum("bd,bkd->bk", w_in[centre], w_out[negatives])  # (B, K) noise scores
    mistakes = {
        "the loss is summed over the batch instead of averaged": loss * B,
        "the K negative terms are averaged instead of summed": (bce_pos + bce_neg.mean(-1)).mean(),
        "the negative terms use log sigma(+score): noise pairs must get log sigma(-u.v)":
            (bce_pos + F.softplus(-neg_s).sum(-1)).mean(),
        "the negatives are left out": bce_pos.mean(),
        "the context and negatives are looked up in in_embed (use out_embed for them)":
            ns_loss_bce(w_in, w_in, centre, context, negatives)[0],
        "the sign is flipped: return the negative of eq. 4's objective (a loss to minimise)": -loss,
    }
    expect_close(got.get("loss") if isinstance(got, dict) else got, loss, name="SkipGramNS.loss(centre, context, "
                 "negatives)", mistakes=mistakes, inputs=inputs)
    for key, want in (("in_embed_grad", g_in), ("out_embed_grad", g_out)):
        if got.get(key) is None:
            fail(f"SkipGramNS.loss: {key.split('_grad')[0]}.weight got no gradient from loss.backward()\n"
                 f"  input: {inputs}")
        expect_close(got[key], want, name=f"the gradient of the loss with respect to {key.split('_grad')[0]}.weight",
                     inputs=inputs)


@check("SkipGramNS: loss equals binary cross-entropy with logits (true pair 1, K noise pairs 0), and its gradients",
       points=3, core=True)
def test_loss_values(student, rng, device):
    for V, d, B, K in ((12, 5, 8, 3), (30, 16, 64, 5), (7, 3, 1, 1)):
        w_in, w_out = _tables(rng, V, d, 0.5, device)
        centre, context, negatives = _batch(rng, V, B, K, device)
        _judge_loss(student, w_in, w_out, centre, context, negatives,
                    f"float64 tables V = {V}, dim = {d} from N(0, 0.25); a batch of B = {B} with K = {K} negatives")


@check("SkipGramNS: the loss and its gradients stay finite for scores of size 1000", points=1)
def test_loss_finite(student, rng, device):
    V, d, B, K = 10, 4, 16, 4
    w_in, w_out = _tables(rng, V, d, 20.0, device, dtype=torch.float32)
    centre, context, negatives = _batch(rng, V, B, K, device)
    got = student.run(C.probe_loss, w_in, w_out, centre, context, negatives)
    loss = got.get("loss") if isinstance(got, dict) else got
    if isinstance(loss, torch.Tensor) and not torch.isfinite(loss).all():
        fail("SkipGramNS.loss is not finite when the scores u.v are in the hundreds: log(sigmoid(s)) underflows "
             "to log(0). Use F.logsigmoid (or -F.softplus(-s)), which is finite for any s.")
    _judge_loss(student, w_in, w_out, centre, context, negatives,
                f"float32 tables from N(0, 400): scores u.v of size ~1000; B = {B}, K = {K}")


@check("SkipGramNS: in_embed and out_embed are nn.Embedding(vocab_size, dim), its only parameters", points=1)
def test_layout(student):
    got = student.run(C.probe_layout, 13, 6)
    for name in ("in_embed", "out_embed"):
        kind, is_embedding, shape = got[name]
        expect_true(is_embedding == 1, f"SkipGramNS(13, 6).{name} is a {kind}, expected an nn.Embedding")
        expect_true(shape == [13, 6], f"SkipGramNS(13, 6).{name}.weight has shape {shape}, expected [13, 6]")
    expect_equal(got["params"], [["in_embed.weight", [13, 6]], ["out_embed.weight", [13, 6]]],
                 name="SkipGramNS(13, 6).named_parameters() (name, shape)")


E2E_DIM, E2E_STEPS, E2E_BATCH, E2E_K, E2E_LR = 16, 100, 256, 5, 0.05
_CORPUS = {}


@check("SkipGramNS: trained on a corpus with planted word clusters, each word's nearest neighbours share its cluster",
       points=3, timeout=240)
def test_end_to_end(student, seed):
    corpus_seed = seed % 1000
    if corpus_seed not in _CORPUS:
        sentences, cluster = C.planted_corpus(corpus_seed)
        _CORPUS[corpus_seed] = (C.sentence_pairs(sentences), cluster)
    pairs, cluster = _CORPUS[corpus_seed]
    V = cluster.shape[0]
    g = torch.Generator().manual_seed(corpus_seed)
    w_in = torch.randn(V, E2E_DIM, generator=g) * 0.1
    w_out = torch.randn(V, E2E_DIM, generator=g) * 0.1
    batches = torch.randint(0, len(pairs), (E2E_STEPS, E2E_BATCH), generator=g)
    negatives = torch.randint(0, V, (E2E_STEPS, E2E_BATCH, E2E_K), generator=g)  # uniform noise
    trained = student.run(C.probe_train, V, E2E_DIM, pairs, w_in, w_out, batches, negatives, E2E_LR, _timeout=120)
    k = C.CLUSTER_SIZE - 1
    start = C.neighbour_purity(w_in, cluster, k)
    purity = C.neighbour_purity(trained.get("in_embed") if isinstance(trained, dict) else None, cluster, k)
    expect_true(purity >= 0.9,
                f"after training, {purity:.1%} of each word's {k} nearest neighbours (cosine similarity of in_embed) "
                f"are in its own cluster, expected at least 90% (before training: {start:.1%}). Corpus: "
                f"{C.SENTENCES} sentences of {C.LENGTH} words, each from one of {C.N_CLUSTERS} clusters of "
                f"{C.CLUSTER_SIZE} words ({C.NOISE:.0%} random words); {E2E_STEPS} Adam steps (lr {E2E_LR}) of "
                f"{E2E_BATCH} (centre, context) pairs of the same sentence with {E2E_K} uniform negatives, dim "
                f"{E2E_DIM}.")


# ----------------------------------------------------------------------------------------------- most_similar

def _similar_oracle(w_in, word, k):
    sims = F.cosine_similarity(w_in, w_in[word][None, :], dim=1)  # (V,)
    sims[word] = -float("inf")
    return torch.topk(sims, k).indices.tolist()


def _similar_tables(rng, V, d, device):
    """Rows of very different lengths, so that cosine similarity and the dot product rank differently."""
    w_in = torch.tensor(rng.standard_normal((V, d)) * rng.uniform(0.1, 10.0, size=(V, 1)), dtype=torch.float32,
                        device=device)
    w_out = torch.tensor(rng.standard_normal((V, d)), dtype=torch.float32, device=device)
    return w_in, w_out


def _judge_similar(student, w_in, w_out, queries, inputs):
    got = student.run(C.probe_most_similar, w_in, w_out, queries)
    for (word, k), answer in zip(queries, got["answers"]):
        want = _similar_oracle(w_in, word, k)
        if not isinstance(answer, list):
            fail(f"most_similar(model, {word}, {k}) returned {answer}, expected a list of {k} word ids")
        dots = w_in @ w_in[word]
        dots[word] = -float("inf")
        named = {
            "ranked by the dot product instead of the cosine similarity (divide by both lengths)":
                torch.topk(dots, k).indices.tolist(),
            "the word itself is among its neighbours: exclude word_id": torch.topk(
                F.cosine_similarity(w_in, w_in[word][None, :], dim=1), k).indices.tolist(),
            "ranked in increasing similarity: the most similar word comes first": torch.topk(
                F.cosine_similarity(w_in, w_in[word][None, :], dim=1), k, largest=False).indices.tolist(),
            "the similarities are computed on out_embed: the word vectors are in_embed's": _similar_oracle(
                w_out, word, k),
        }
        if answer != want:
            hint = next((f"\n  This matches a known mistake: {d}." for d, w in named.items() if w == answer), "")
            fail(f"most_similar(model, word_id={word}, k={k}) returned {answer}, expected {want}{hint}\n"
                 f"  input: {inputs}")


@check("most_similar: the k nearest words by cosine similarity, most similar first, the word itself excluded",
       points=3, core=True)
def test_most_similar(student, rng, device):
    V, d = 25, 6
    w_in, w_out = _similar_tables(rng, V, d, device)
    queries = [(int(rng.integers(V)), k) for k in (1, 3, 5, V - 1)]
    _judge_similar(student, w_in, w_out, queries,
                   f"in_embed of shape ({V}, {d}), rows of lengths between 0.1 and 10 times N(0, 1)")


@check("most_similar: returns a list of Python ints", points=1)
def test_most_similar_type(student, rng, device):
    w_in, w_out = _similar_tables(rng, 10, 4, device)
    got = student.run(C.probe_most_similar, w_in, w_out, [(2, 4)])
    kinds = got["kinds"][0]
    expect_true(kinds[0] == "list" and all(t == "int" for t in kinds[1:]),
                f"most_similar(model, 2, 4) returned a {kinds[0]}"
                + (f" of {sorted(set(kinds[1:]))}" if len(kinds) > 1 else "") + ", expected a list of Python ints "
                "(convert with [int(i) for i in ...] or .tolist())")
