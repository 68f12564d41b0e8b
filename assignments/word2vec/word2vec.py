"""Milestone: word2vec, where unlabelled text becomes its own training signal.

Constraint raised: data.

Papers:
* T. Mikolov, K. Chen, G. Corrado and J. Dean, "Efficient Estimation of Word Representations in Vector Space",
  ICLR workshop 2013 (arXiv:1301.3781) -- "2013a": the CBOW and skip-gram models.
* T. Mikolov, I. Sutskever, K. Chen, G. Corrado and J. Dean, "Distributed Representations of Words and Phrases and
  their Compositionality", NeurIPS 2013 (arXiv:1310.4546) -- "2013b": negative sampling, the 3/4-power noise
  distribution and the subsampling of frequent words.

Labelled data was the bottleneck of supervised learning. The skip-gram model needs no labels: every word of a
running text is an input, and the words around it are the targets. A model that predicts a word's context well
must give words that occur in similar contexts similar vectors (the distributional hypothesis, Harris, 1954;
Firth, 1957), so the embedding table it learns is useful far beyond the task it was trained on.

What to build:

* ``skipgram_pairs(token_ids, window)``: the (centre, context) training pairs of a token sequence.
* ``unigram_table(counts, power=0.75)``: the noise distribution negatives are drawn from.
* ``SkipGramNS(vocab_size, dim)``: the two embedding tables and the negative-sampling loss (2013b, eq. 4).
* ``most_similar(model, word_id, k)``: the nearest neighbours of a word by cosine similarity.
"""

import torch
import torch.nn.functional as F
from torch import nn


def skipgram_pairs(token_ids, window):
    """The skip-gram training pairs of a sequence (Mikolov et al., 2013a, Section 3.2).

    Every position ``i`` of the sequence is a centre; every position ``j`` with ``1 <= |i - j| <= window`` and
    ``0 <= j < T`` is one of its contexts (never the centre itself, never past either end of the sequence). The
    pairs come in order: by centre position ``i``, then by context position ``j``, both increasing:

        (w_0, w_1), (w_0, w_2), ..., (w_1, w_0), (w_1, w_2), ...      for window = 2

    For ``T > window`` there are ``2 * window * T - window * (window + 1)`` pairs.

    Args:
        token_ids: LongTensor of shape ``(T,)``, the word ids of a text, in order.
        window: the largest distance between a centre and a context, an int >= 1.

    Returns:
        LongTensor of shape ``(P, 2)`` on token_ids' device: column 0 the centre word id, column 1 the context
        word id; shape ``(0, 2)`` when there is no pair (T < 2).

    Raises:
        ValueError: when window < 1.
    """
    # TODO: reject window < 1 with a ValueError.
    raise NotImplementedError("skipgram_pairs: not implemented yet")
    # TODO: for every centre position and every offset in -window..-1, 1..window (in that order), keep the
    #       context positions inside [0, T), and gather the word ids of both positions.
    raise NotImplementedError("skipgram_pairs: not implemented yet")


def unigram_table(counts, power=0.75):
    """The noise distribution of negative sampling: unigram frequencies raised to a power (2013b, Section 2.2).

        P_n(w) = count(w) ** power / sum_v count(v) ** power

    Mikolov et al. found power = 3/4 better than the plain unigram (power = 1) or the uniform distribution
    (power = 0): it draws rare words more often than their frequency, frequent ones less often.

    Args:
        counts: tensor of shape ``(V,)`` of non-negative word counts (integer or floating dtype); at least one
            is positive.
        power: the exponent, a float >= 0.

    Returns:
        tensor of shape ``(V,)`` of probabilities summing to 1: float64 when counts is float64, float32
        otherwise; on counts' device. A word with count 0 gets probability 0 (for power > 0).
    """
    # TODO: raise every count to `power` and normalise so that the result sums to 1.
    raise NotImplementedError("unigram_table: not implemented yet")


class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling (Mikolov et al., 2013b, eq. 4).

    Each word w has two vectors: an input vector ``u_w = in_embed.weight[w]`` used when w is the centre, and an
    output vector ``v_w = out_embed.weight[w]`` used when w is a context or a negative. For a centre c, its true
    context o and K negatives n_1..n_K drawn from the noise distribution, the loss of one example is

        l(c, o, n) = -log sigma(u_c . v_o) - sum_k log sigma(-u_c . v_{n_k})

    (the negative of eq. 4's objective): logistic regression telling the true pair (label 1) from the K noise
    pairs (label 0). ``loss`` returns its mean over the batch. Use a numerically stable log sigma (-log sigma(s)
    is softplus(-s)): the loss must be finite and have finite gradients for any scores, even |s| = 1000.

    Attributes:
        in_embed: nn.Embedding(vocab_size, dim), the centre vectors u (the word vectors one keeps).
        out_embed: nn.Embedding(vocab_size, dim), the context vectors v.

    Initialisation is free (the checks load their own weights); the reference follows the word2vec tool: u
    uniform in [-0.5 / dim, 0.5 / dim], v zero.
    """

    def __init__(self, vocab_size, dim):
        super().__init__()
        # TODO: create in_embed and out_embed, two nn.Embedding(vocab_size, dim).
        raise NotImplementedError("SkipGramNS.__init__: not implemented yet")

    def loss(self, centre, context, negatives):
        """The negative-sampling loss, averaged over the batch.

        Args:
            centre: LongTensor ``(B,)`` of centre word ids.
            context: LongTensor ``(B,)`` of the true context word ids.
            negatives: LongTensor ``(B, K)`` of noise word ids (K >= 1).

        Returns:
            a scalar tensor: mean over the batch of -log sigma(u_c . v_o) - sum_k log sigma(-u_c . v_{n_k}).
            It is differentiable with respect to both embedding tables.
        """
        # TODO: look up u_c (in_embed) and v_o, v_{n_k} (out_embed); score the pairs with dot products; sum the
        #       K negative terms, average over the batch. Use F.logsigmoid, not log(sigmoid(.)).
        raise NotImplementedError("SkipGramNS.loss: not implemented yet")


def most_similar(model, word_id, k):
    """The k words whose input vectors are closest to word_id's by cosine similarity, the word itself excluded.

        cos(a, b) = a . b / (|a| |b|),   a, b rows of model.in_embed.weight

    Args:
        model: any object with an ``in_embed`` nn.Embedding (a SkipGramNS, for instance).
        word_id: int, the query word.
        k: int, how many neighbours (1 <= k < V).

    Returns:
        list of k Python ints, the word ids, most similar first; word_id is never among them.
    """
    # TODO: cosine similarity of every row of in_embed.weight with row word_id (no gradient needed), exclude the
    #       word itself, take the k largest in decreasing order, return them as a list of ints.
    raise NotImplementedError("most_similar: not implemented yet")


if __name__ == "__main__":
    print("word2vec.py is checked, not run: `dlcourse check word2vec` (or `pytest -m word2vec` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
