"""Milestone: attention, from additive alignment to scaled dot-product multi-head attention.

Constraint raised: architecture (and compute efficiency). A recurrent encoder squeezes a whole sentence into one
fixed-size vector and processes tokens one after the other. Bahdanau, Cho and Bengio (2014), "Neural Machine
Translation by Jointly Learning to Align and Translate", let the decoder look back at every encoder state and
take a learned weighted average of them (additive attention). Vaswani et al. (2017), "Attention Is All You
Need", replaced the recurrence altogether: scaled dot-product attention computed for all positions at once, split
into several heads, is the only mixing operation across positions, so training parallelises over the sequence.

What you build (PyTorch, without PyTorch's own attention functions or modules):

1. ``scaled_dot_product_attention(q, k, v, mask=None, causal=False)``: Vaswani et al. (2017), Section 3.2.1,
   with boolean masks, an optional causal mask, and rows that have no allowed key returning zeros.
2. ``MultiHeadAttention``: Vaswani et al. (2017), Section 3.2.2, four d_model x d_model projections around (1).
3. ``AdditiveAttention``: Bahdanau et al. (2014), Section 3.1 and Appendix A.1.2, the score
   ``v . tanh(W_q q + W_k k_j)``.

Shapes in comments use B (batch), nh (heads), Lq / Lk (query / key lengths), d (query/key width),
dv (value width), hs (width of one head).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    """Scaled dot-product attention (Vaswani et al., 2017, Section 3.2.1, Equation 1).

        scores  = q k^T / sqrt(d)                               (..., Lq, Lk)
        weights = softmax(scores over the keys, i.e. the last axis)
        out     = weights v                                     (..., Lq, dv)

    Masking: ``mask`` is a boolean tensor broadcastable to (..., Lq, Lk), True where query i may attend to
    key j. With ``causal=True`` query i may only attend to keys j <= i (Section 3.2.3: "prevent leftward
    information flow"); this needs Lq == Lk and is combined with ``mask`` by a logical AND. Disallowed keys
    get weight exactly 0. A query row with no allowed key at all returns zeros in both ``weights`` and
    ``out`` (never NaN), in the forward pass and in the gradients.

    Args:
        q: queries, (..., Lq, d).
        k: keys, (..., Lk, d).
        v: values, (..., Lk, dv).
        mask: optional bool tensor broadcastable to (..., Lq, Lk).
        causal: bool.

    Returns:
        (out, weights): out (..., Lq, dv) and weights (..., Lq, Lk), same dtype and device as q.

    Raises:
        ValueError: when causal is True and Lq != Lk.
    """
    # TODO: raise ValueError when causal=True but the number of queries differs from the number of keys.
    # TODO: compute the scores q k^T scaled by 1/sqrt(d), d being the last dimension of q.
    # TODO: build the boolean "allowed" pattern from mask and/or the causal lower triangle (diagonal included).
    # TODO: softmax over the keys with disallowed scores at -inf; make rows with no allowed key give zeros
    #       (not NaN), then return the weighted sum of the values and the weights.
    raise NotImplementedError("scaled_dot_product_attention: not implemented yet")


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al., 2017, Section 3.2.2).

        head_h = Attention(Q W_h^Q, K W_h^K, V W_h^V),   h = 0 .. n_heads-1
        MultiHead(Q, K, V) = Concat(head_0, ..., head_{nh-1}) W^O

    The per-head projections are stored together: ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj`` are each
    ``nn.Linear(d_model, d_model, bias=bias)``, and head h uses output features [h*hs, (h+1)*hs) of q_proj,
    k_proj and v_proj, with hs = d_model // n_heads. ``out_proj`` mixes the concatenated heads (W^O).

    Raises:
        ValueError: when d_model is not divisible by n_heads.
    """

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        # TODO: check that n_heads divides d_model (ValueError otherwise), keep d_model, n_heads and the head
        #       width, and create q_proj, k_proj, v_proj and out_proj as nn.Linear(d_model, d_model, bias=bias).
        raise NotImplementedError("MultiHeadAttention.__init__: not implemented yet")

    def forward(self, query, key=None, value=None, mask=None, causal=False):
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: (B, Lq, d_model).
            key: (B, Lk, d_model); defaults to ``query`` (self-attention).
            value: (B, Lk, d_model); defaults to ``key`` (so to ``query`` when both are left out).
            mask: optional bool tensor broadcastable to (B, n_heads, Lq, Lk), True where attending is allowed.
                A padding mask over the keys has shape (B, 1, 1, Lk).
            causal: bool, query i only sees keys j <= i (needs Lq == Lk).

        Returns:
            (B, Lq, d_model).
        """
        # TODO: default key and value, project, split the features into heads -> (B, nh, L, hs),
        #       call scaled_dot_product_attention, merge the heads back -> (B, Lq, d_model), apply out_proj.
        raise NotImplementedError("MultiHeadAttention.forward: not implemented yet")


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention (Bahdanau, Cho and Bengio, 2014, Section 3.1 and Appendix A.1.2).

        e_j     = v . tanh(W_q q + W_k k_j)        (the alignment model, a one-hidden-layer MLP)
        alpha   = softmax(e) over j                (masked keys get weight 0)
        context = sum_j alpha_j k_j

    ``W_q`` = Linear(query_dim, hidden_dim, bias=False), ``W_k`` = Linear(key_dim, hidden_dim, bias=False),
    ``v`` = Linear(hidden_dim, 1, bias=False). The keys are also the values (the encoder annotations h_j).
    """

    def __init__(self, query_dim, key_dim, hidden_dim):
        super().__init__()
        # TODO: create W_q, W_k and v as described above (no biases).
        raise NotImplementedError("AdditiveAttention.__init__: not implemented yet")

    def forward(self, query, keys, mask=None):
        """
        Args:
            query: (B, Dq), e.g. the previous decoder state s_{i-1}.
            keys: (B, L, Dk), e.g. the encoder annotations h_1..h_L.
            mask: optional bool (B, L), True for real keys, False for padding.

        Returns:
            (context, weights): context (B, Dk) and weights (B, L). A row whose mask is all False gives
            zero weights and a zero context, never NaN.
        """
        # TODO: compute the scores e (B, L) with the one-hidden-layer MLP, softmax them over L with masked
        #       keys excluded (all-masked rows give zeros), and return the weighted sum of the keys.
        raise NotImplementedError("AdditiveAttention.forward: not implemented yet")


if __name__ == "__main__":
    print("attention.py is checked, not run: `dlcourse check attention` (or `pytest -m attention` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
