"""Shared by the public and hidden checks of word2vec: the probes (they run in the sandbox with the student's module,
and in the hidden checks with the reference too) and the synthetic corpus of the end-to-end check.

A probe builds what it needs, calls the student's code and returns plain tensors and lists; every verdict is made
in the check, in the trusted process.
"""

import torch

from autograder.checking import fail


# ----------------------------------------------------------------------------------------------- probes

def probe_loss(m, w_in, w_out, centre, context, negatives):
    """SkipGramNS(V, d) with the given tables loaded; its loss and the gradients of both tables."""
    import torch

    V, d = w_in.shape
    model = m.SkipGramNS(V, d).to(device=w_in.device, dtype=w_in.dtype)
    with torch.no_grad():
        model.in_embed.weight.copy_(w_in)
        model.out_embed.weight.copy_(w_out)
    loss = model.loss(centre, context, negatives)
    out = {"loss": loss.detach().clone() if isinstance(loss, torch.Tensor) else loss}
    if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1:
        loss.backward()
    for name in ("in_embed", "out_embed"):
        g = getattr(model, name).weight.grad
        out[f"{name}_grad"] = None if g is None else g.detach().clone()
    return out


def probe_layout(m, V, d):
    """What SkipGramNS(V, d) is made of: the type and weight shape of in_embed and out_embed, its parameters."""
    import torch

    model = m.SkipGramNS(V, d)
    out = {"params": sorted((n, list(p.shape)) for n, p in model.named_parameters())}
    for name in ("in_embed", "out_embed"):
        e = getattr(model, name, None)
        out[name] = [type(e).__name__, int(isinstance(e, torch.nn.Embedding)),
                     list(e.weight.shape) if isinstance(getattr(e, "weight", None), torch.Tensor) else []]
    return out


def probe_most_similar(m, w_in, w_out, queries):
    """most_similar(model, word, k) for each (word, k) of queries, on a module holding the given tables."""
    import torch
    from torch import nn

    class Tables(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_embed = nn.Embedding.from_pretrained(w_in.clone(), freeze=False)
            self.out_embed = nn.Embedding.from_pretrained(w_out.clone(), freeze=False)

    model = Tables()
    answers, kinds = [], []
    for word, k in queries:
        got = m.most_similar(model, word, k)
        kinds.append([type(got).__name__] + ([type(i).__name__ for i in got] if isinstance(got, (list, tuple))
                                             else []))
        if isinstance(got, torch.Tensor):
            got = got.tolist()
        answers.append([int(i) for i in got] if isinstance(got, (list, tuple)) else repr(got))
    return {"answers": answers, "kinds": kinds}


def probe_train(m, V, dim, pairs, w_in, w_out, batches, negatives, lr):
    """The trusted training loop: the student's SkipGramNS.loss on the given mini-batches of (centre, context)
    pairs and negatives, Adam (written out), from the given starting tables. Returns the trained tables."""
    import torch

    model = m.SkipGramNS(V, dim)
    with torch.no_grad():
        model.in_embed.weight.copy_(w_in)
        model.out_embed.weight.copy_(w_out)
    params = [model.in_embed.weight, model.out_embed.weight]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, batches.shape[0] + 1):
        idx = batches[t - 1]
        loss = model.loss(pairs[idx, 0], pairs[idx, 1], negatives[t - 1])
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        with torch.no_grad():
            for w, g, (m1, m2) in zip(params, grads, moments):
                if g is None:
                    continue
                m1.mul_(beta1).add_(g, alpha=1 - beta1)
                m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                w.addcdiv_(m1 / (1 - beta1**t), (m2 / (1 - beta2**t)).sqrt_().add_(eps), value=-lr)
    return {"in_embed": model.in_embed.weight.detach().clone(), "out_embed": model.out_embed.weight.detach().clone()}


# ----------------------------------------------------------------------------------------------- the corpus

N_CLUSTERS, CLUSTER_SIZE, SENTENCES, LENGTH, NOISE = 5, 8, 1500, 6, 0.1


def planted_corpus(seed):
    """Sentences from a known grammar: each sentence picks one topic (a cluster of CLUSTER_SIZE words, the word
    ids shuffled) and draws its LENGTH words from it, a fraction NOISE of them replaced by any word.

    Returns (sentences (S, L) LongTensor, cluster (V,) LongTensor: the cluster of each word id)."""
    g = torch.Generator().manual_seed(seed)
    V = N_CLUSTERS * CLUSTER_SIZE
    perm = torch.randperm(V, generator=g)
    cluster = torch.empty(V, dtype=torch.long)
    cluster[perm] = torch.arange(V) // CLUSTER_SIZE
    topic = torch.randint(0, N_CLUSTERS, (SENTENCES,), generator=g)
    slot = torch.randint(0, CLUSTER_SIZE, (SENTENCES, LENGTH), generator=g)
    words = perm.view(N_CLUSTERS, CLUSTER_SIZE)[topic[:, None], slot]  # (S, L)
    noisy = torch.rand(SENTENCES, LENGTH, generator=g) < NOISE
    words[noisy] = torch.randint(0, V, (int(noisy.sum()),), generator=g)
    return words, cluster


def sentence_pairs(sentences):
    """Every ordered pair of two different positions of the same sentence (the whole sentence is the context:
    the grammar's own notion of co-occurrence, not the skip-gram window)."""
    S, L = sentences.shape
    a, b = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    keep = a != b
    return torch.stack([sentences[:, a[keep]].reshape(-1), sentences[:, b[keep]].reshape(-1)], dim=1)  # (P, 2)


def neighbour_purity(w_in, cluster, k):
    """Fraction of each word's k nearest words (cosine similarity of the rows of w_in) that share its cluster."""
    if not isinstance(w_in, torch.Tensor) or w_in.shape[0] != cluster.shape[0] or w_in.dim() != 2:
        fail("the training run did not give back an in_embed table of shape (V, dim)")
    if not torch.isfinite(w_in).all():
        return 0.0
    unit = torch.nn.functional.normalize(w_in.double(), dim=1)
    sims = unit @ unit.T
    sims.fill_diagonal_(-float("inf"))
    nearest = sims.topk(k, dim=1).indices  # (V, k)
    return (cluster[nearest] == cluster[:, None]).double().mean().item()
