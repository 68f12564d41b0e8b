"""Milestone: attention without the quadratic memory, and decoding without recomputation.

Constraint raised: compute efficiency. Attention over L tokens builds an (L, L) matrix of scores; for long sequences
that matrix, not the arithmetic, is the bottleneck: it is written to and read back from slow memory. Dao et al.
(2022), "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness", compute exactly the same
result block by block: the keys are visited in tiles, and a running maximum and a running normaliser (the "online
softmax" of Milakov & Gimelshein, 2018) let each tile be folded into the output and forgotten. Memory becomes
linear in L and the result is exact, not an approximation.

Generation has the opposite problem: a decoder producing token t+1 recomputes the keys and values of all t tokens
before it, although they have not changed. Keeping them in a key-value cache makes each new token cost one row of
attention instead of a whole forward pass; Pope et al. (2022), "Efficiently Scaling Transformer Inference", analyse
the memory this cache takes and how to lay it out when serving large models.

What you build (torch, without PyTorch's fused attention):

1. ``online_softmax_attention(q, k, v, block_size, causal=False)``: exact attention over key blocks of
   ``block_size`` keys with the running max and normaliser (Dao et al., 2022, Algorithm 1), never holding the full
   (Lq, Lk) score matrix.
2. ``KVCache``: the keys and values of the positions seen so far, grown by ``append``.
3. ``decode_step(model_parts, token, cache)``: one token through the small decoder defined below, its new keys and
   values appended to the cache, the logits for the next token returned; equal to a full recomputation.

The small decoder (given, not graded) is a pre-norm GPT (Radford et al., 2019) stored as a dict of tensors:
``make_decoder`` draws one, ``decoder_forward`` runs it on a whole sequence by full recomputation.

Shapes in comments: B (batch), nh (heads), Lq / Lk (query / key lengths), d (query/key width), dv (value width),
Bk (keys in one block), T (positions), C (d_model), hs (head size C // nh), V (vocabulary).
"""

import math

import torch
import torch.nn.functional as F


def online_softmax_attention(q, k, v, block_size, causal=False):
    """Exact attention softmax(q k^T / sqrt(d)) v, computed over blocks of keys (Dao et al., 2022, Algorithm 1).

    For each query row, with the scores s_j = q . k_j / sqrt(d), keep while visiting the key blocks:

        m   running maximum of the scores seen so far               (..., Lq, 1)
        l   running normaliser  sum_j exp(s_j - m)                  (..., Lq, 1)
        acc running numerator   sum_j exp(s_j - m) v_j              (..., Lq, dv)

    A new block with scores s_blk (..., Lq, Bk) updates them as

        m_new = max(m, max_j s_blk_j)
        l     = exp(m - m_new) * l   + sum_j exp(s_blk_j - m_new)
        acc   = exp(m - m_new) * acc + exp(s_blk - m_new) @ v_blk
        m     = m_new

    (the old sums were taken relative to the old maximum: both are rescaled by exp(m - m_new) before the new block
    is added). At the end out = acc / l. Only (..., Lq, Bk) scores exist at any time, never (..., Lq, Lk), and
    subtracting the running maximum keeps every exp() <= 1, so large scores do not overflow.

    Causal: query i sits at position (Lk - Lq) + i (the queries are the LAST Lq positions, as when new tokens attend
    to a cache of earlier ones) and attends to keys j <= (Lk - Lq) + i. With Lq == Lk this is the usual lower
    triangle. Needs Lq <= Lk.

    Args:
        q: (..., Lq, d); k: (..., Lk, d); v: (..., Lk, dv); the leading dims are equal.
        block_size: int >= 1, the number of keys per block (the last block may be shorter).
        causal: bool.

    Returns:
        (..., Lq, dv), the dtype and device of q.

    Raises:
        ValueError: when block_size < 1, or causal is True and Lq > Lk.
    """
    # TODO: validate; start m at -inf, l and acc at 0; loop over the key blocks: scores, causal mask (key position
    #       > query position -> -inf), update m, rescale l and acc by exp(m_old - m_new) and add the block; return
    #       acc / l.
    raise NotImplementedError("online_softmax_attention: not implemented yet")


class KVCache:
    """The keys and values of the positions a decoder has seen, for one attention layer (Pope et al., 2022).

    ``KVCache(max_len=None)``: empty; ``k`` and ``v`` are None and ``len(cache) == 0``.
    ``append(k, v)``: k (B, nh, T_new, hs) and v (B, nh, T_new, hs_v) are added after the cached positions (along
    dim -2, the time axis); returns the whole cached (k, v), each (B, nh, T, .) with T = len(cache).
    ``k``, ``v``: the cached tensors. ``len(cache)``: the number of cached positions T.

    Raises:
        ValueError: in ``append``, when k and v disagree on (B, nh, T_new), when their (B, nh) or last dimension
            differ from those already cached, or when the cache would hold more than ``max_len`` positions.
    """

    def __init__(self, max_len=None):
        # TODO: store max_len; start with no keys and values.
        raise NotImplementedError("KVCache.__init__: not implemented yet")

    def __len__(self):
        # TODO: the number of cached positions.
        raise NotImplementedError("KVCache.__len__: not implemented yet")

    def append(self, k, v):
        """Add k, v (B, nh, T_new, .) after the cached positions; return the cached (k, v) (B, nh, T, .)."""
        # TODO: validate the shapes and max_len; concatenate along the time axis (dim -2); return both.
        raise NotImplementedError("KVCache.append: not implemented yet")


# ------------------------------------------------------------------------------------------------ the small decoder
# Given: a pre-norm GPT (Radford et al., 2019) stored as plain tensors, and its forward pass by full recomputation.


def make_decoder(vocab_size=16, d_model=16, n_heads=2, n_layers=2, max_len=32, generator=None):
    """A randomly initialised decoder as a dict of tensors. The weights are larger than GPT-2's N(0, 0.02^2) and
    the biases and LayerNorm gains are random around their usual values, so that a random model already has sharp,
    position-dependent attention and every part of it shows in the logits:

        n_heads                int
        tok_emb (V, C)         token embeddings, also the output head (weight tying)
        pos_emb (max_len, C)   position embeddings
        layers                 a list of n_layers dicts: ln1_w, ln1_b (C,), qkv_w (3C, C), qkv_b (3C,),
                               proj_w (C, C), proj_b (C,), ln2_w, ln2_b (C,), fc_w (4C, C), fc_b (4C,),
                               out_w (C, 4C), out_b (C,)
        ln_f_w, ln_f_b (C,)    the final LayerNorm
    """
    g = generator

    def normal(*shape, std=0.02, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    C = d_model
    scale = 3.0  # the spread of the query/key/value weights, relative to 1 / sqrt(C)
    layers = []
    for _ in range(n_layers):
        layers.append({
            "ln1_w": normal(C, std=0.1, mean=1.0), "ln1_b": normal(C, std=0.1),
            "qkv_w": normal(3 * C, C, std=scale / math.sqrt(C)), "qkv_b": normal(3 * C, std=0.1),
            "proj_w": normal(C, C, std=1 / math.sqrt(C)), "proj_b": normal(C, std=0.1),
            "ln2_w": normal(C, std=0.1, mean=1.0), "ln2_b": normal(C, std=0.1),
            "fc_w": normal(4 * C, C, std=1 / math.sqrt(C)), "fc_b": normal(4 * C, std=0.1),
            "out_w": normal(C, 4 * C, std=1 / math.sqrt(4 * C)), "out_b": normal(C, std=0.1),
        })
    return {"n_heads": n_heads, "tok_emb": normal(vocab_size, C, std=1.0), "pos_emb": normal(max_len, C, std=1.0),
            "layers": layers, "ln_f_w": normal(C, std=0.1, mean=1.0), "ln_f_b": normal(C, std=0.1)}


def layer_norm(x, w, b):
    """LayerNorm over the last axis (eps 1e-5, as nn.LayerNorm)."""
    return F.layer_norm(x, (x.shape[-1],), w, b, eps=1e-5)


def split_heads(x, n_heads):
    """(B, T, C) -> (B, nh, T, hs): head h takes features [h * hs, (h + 1) * hs)."""
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def merge_heads(x):
    """(B, nh, T, hs) -> (B, T, C)."""
    B, nh, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, nh * hs)


def mlp(x, layer):
    """The position-wise MLP of a block: out(GELU(fc(x)))."""
    return F.linear(F.gelu(F.linear(x, layer["fc_w"], layer["fc_b"])), layer["out_w"], layer["out_b"])


def decoder_forward(parts, idx):
    """Logits (B, T, V) of the decoder for every position of idx (B, T), by full recomputation:

        x = tok_emb[idx] + pos_emb[0..T-1]
        for each layer:  x = x + proj(causal_attention(split(qkv(ln1(x)))));  x = x + mlp(ln2(x))
        logits = ln_f(x) tok_emb^T
    """
    B, T = idx.shape
    nh = parts["n_heads"]
    x = parts["tok_emb"][idx] + parts["pos_emb"][:T]  # (B, T, C)
    allowed = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()  # (T, T)
    for layer in parts["layers"]:
        h = layer_norm(x, layer["ln1_w"], layer["ln1_b"])
        q, k, v = F.linear(h, layer["qkv_w"], layer["qkv_b"]).chunk(3, dim=-1)  # each (B, T, C)
        q, k, v = split_heads(q, nh), split_heads(k, nh), split_heads(v, nh)  # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, nh, T, T)
        att = torch.softmax(att.masked_fill(~allowed, float("-inf")), dim=-1)
        x = x + F.linear(merge_heads(att @ v), layer["proj_w"], layer["proj_b"])  # (B, T, C)
        x = x + mlp(layer_norm(x, layer["ln2_w"], layer["ln2_b"]), layer)
    return F.linear(layer_norm(x, parts["ln_f_w"], parts["ln_f_b"]), parts["tok_emb"])  # (B, T, V)


def decode_step(model_parts, token, cache):
    """One step of cached decoding: the logits for the token after `token`, equal to
    ``decoder_forward(model_parts, sequence)[:, -1]`` for the whole sequence seen so far.

    Args:
        model_parts: the decoder's dict (see ``make_decoder``).
        token: LongTensor (B,), the newest token; its position is t = len(cache[0]), the number of tokens before it.
        cache: a list with one KVCache per layer, holding the keys and values (B, nh, t, hs) of positions 0..t-1.
            Only ``append``, ``len``, ``.k`` and ``.v`` may be used.

    Returns:
        logits (B, V). Each layer's cache has grown by this token's key and value (B, nh, 1, hs).

    Per layer, with x the (B, 1, C) state of the new token: q, k, v from qkv(ln1(x)); append k and v to the layer's
    cache; the single query attends to all t + 1 cached keys (no mask is needed: none of them is in its future);
    x = x + proj(...); x = x + mlp(ln2(x)). The cost is O(t) per layer instead of the O(t^2) of recomputing.
    """
    # TODO: embed the token at its position; per layer: ln1, qkv, split heads, append to the cache, attend over the
    #       cache, merge heads, proj, residual, the MLP branch; ln_f and the tied head; return (B, V).
    raise NotImplementedError("decode_step: not implemented yet")


if __name__ == "__main__":
    print("efficiency.py is checked, not run: `dlcourse check efficiency` (or `pytest -m efficiency` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
