"""What is specific to the word2vec checks (the harness covers the reference, the skeleton, hollow code and the bugs):
the planted corpus is learnable by the reference for many grading seeds and not by untrained vectors, another
correct style gets full marks, and the public checks' diagnosis names the mistake it sees."""

import pytest
import torch

from autograder.grading import grade
from tests.helpers import load_check_module, load_reference, write_submission

SLUG = "word2vec"


@pytest.mark.parametrize("seed", [0, 7, 991])
def test_the_planted_clusters_are_learned_by_the_reference_only_after_training(seed):
    C, P = load_check_module(SLUG, "_common"), load_check_module(SLUG, "test_public")
    torch.set_num_threads(1)
    sentences, cluster = C.planted_corpus(seed)
    pairs, V = C.sentence_pairs(sentences), cluster.shape[0]
    assert pairs.shape == (C.SENTENCES * C.LENGTH * (C.LENGTH - 1), 2)
    g = torch.Generator().manual_seed(seed)
    w_in, w_out = torch.randn(V, P.E2E_DIM, generator=g) * 0.1, torch.randn(V, P.E2E_DIM, generator=g) * 0.1
    batches = torch.randint(0, len(pairs), (P.E2E_STEPS, P.E2E_BATCH), generator=g)
    negatives = torch.randint(0, V, (P.E2E_STEPS, P.E2E_BATCH, P.E2E_K), generator=g)
    trained = C.probe_train(load_reference(SLUG), V, P.E2E_DIM, pairs, w_in, w_out, batches, negatives, P.E2E_LR)
    assert C.neighbour_purity(w_in, cluster, C.CLUSTER_SIZE - 1) < 0.4
    assert C.neighbour_purity(trained["in_embed"], cluster, C.CLUSTER_SIZE - 1) >= 0.97


@pytest.mark.parametrize(("pairs", "window", "words"), [
    ([[0, 0], [0, 1], [1, 0], [1, 1]], 1, "includes the centre word"),
    ([[0, 1], [1, 2], [2, 3]], 1, "only the words after the centre"),
    ([[0, 1], [0, 4], [1, 0], [1, 2], [2, 1], [2, 3], [3, 2], [3, 4], [4, 3], [4, 0]], 1, "wraps around"),
    ([[0, 1], [1, 0], [1, 2], [2, 1], [2, 3], [3, 2], [3, 4], [4, 3]], 2, "stops one word short"),
])
def test_the_diagnosis_names_the_mistake(pairs, window, words):
    P = load_check_module(SLUG, "test_public")
    assert words in P._diagnose(torch.tensor(pairs), window, 5)


def test_the_diagnosis_is_silent_for_the_right_pairs():
    P = load_check_module(SLUG, "test_public")
    ref = load_reference(SLUG)
    for T in range(0, 9):
        for window in range(1, 5):
            ids = torch.arange(T)
            assert P._diagnose(P._decode(ref.skipgram_pairs(ids, window), ids), window, T) == ""


ANOTHER_STYLE = '''
"""Correct, written differently from the reference: Python loops for the pairs, the loss through
binary_cross_entropy_with_logits, neighbours through F.cosine_similarity."""
import torch
import torch.nn.functional as F
from torch import nn


def skipgram_pairs(token_ids, window):
    if window < 1:
        raise ValueError("window < 1")
    ids = token_ids.tolist()
    out = [(ids[i], ids[j]) for i in range(len(ids))
           for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]
    return torch.tensor(out, dtype=torch.long, device=token_ids.device).reshape(-1, 2)


def unigram_table(counts, power=0.75):
    c = counts.double() ** power
    p = c / c.sum()
    return p if counts.dtype == torch.float64 else p.float()


class SkipGramNS(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, dim)
        self.out_embed = nn.Embedding(vocab_size, dim)

    def loss(self, centre, context, negatives):
        u = self.in_embed(centre).unsqueeze(1)                                       # (B, 1, d)
        v = self.out_embed(torch.cat([context.unsqueeze(1), negatives], dim=1))      # (B, 1 + K, d)
        scores = (u * v).sum(-1)                                                    # (B, 1 + K)
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1
        return F.binary_cross_entropy_with_logits(scores, labels, reduction="none").sum(1).mean()


def most_similar(model, word_id, k):
    w = model.in_embed.weight.detach()
    sims = F.cosine_similarity(w, w[word_id].expand_as(w), dim=1)
    order = [int(i) for i in torch.argsort(sims, descending=True) if int(i) != word_id]
    return order[:k]
'''


def test_another_correct_style_gets_full_marks(tmp_path):
    report = grade(SLUG, write_submission(tmp_path, SLUG, ANOTHER_STYLE), seed=5)
    assert report.score == report.max_score, {r.name: r.output for r in report.results if not r.passed}
