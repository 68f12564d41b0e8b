"""Milestone: GPT, the decoder-only Transformer language model.

Constraint raised: parameters (and architecture). Radford et al. (2018), "Improving Language Understanding by
Generative Pre-Training" (GPT), kept only the decoder of the Transformer (Vaswani et al., 2017): a stack of blocks
of causal self-attention and a position-wise MLP, trained on raw text to predict the next token. Radford et al.
(2019), "Language Models are Unsupervised Multitask Learners" (GPT-2), moved the LayerNorm to the input of each
sub-block (pre-norm), added a final LayerNorm and scaled the same design to 1.5 billion parameters. Nothing in the
architecture changes with scale: only n_layers, d_model and n_heads grow, which is why this design carried the
parameter count from 10^8 to 10^11 (GPT-3, Brown et al., 2020).

What you build (PyTorch, without nn.MultiheadAttention, F.scaled_dot_product_attention or nn.Transformer*):

1. ``CausalSelfAttention``: multi-head self-attention where position t only sees positions <= t.
2. ``Block``: a pre-norm residual block, x + attn(ln1(x)), then x + mlp(ln2(x)) (Radford et al., 2019, Sec. 2.3).
3. ``GPT``: token and position embeddings, the blocks, a final LayerNorm and a language-model head that shares its
   weight with the token embedding (weight tying, Press & Wolf, 2017); the loss is the mean next-token
   cross-entropy (Radford et al., 2018, Equation 1).
4. ``generate``: autoregressive sampling with a temperature and top-k truncation (Fan et al., 2018).

Shapes in comments: B (batch), T (sequence length), C (d_model), nh (heads), hs (head size C // nh),
V (vocabulary size).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention (Vaswani et al., 2017, Sections 3.2.1-3.2.3).

        q, k, v  = split(x W_qkv + b_qkv)                       each (B, T, C), in that order
        head_h   = softmax(q_h k_h^T / sqrt(hs) + M) v_h        (B, T, hs), Equation 1 of Vaswani et al.
        out      = concat(head_0, ..., head_{nh-1}) W_proj + b_proj

    with M[t, s] = 0 for s <= t and -inf for s > t: position t attends to positions 0..t, itself included, never
    to the future (Section 3.2.3). Head h takes features [h * hs, (h + 1) * hs) of q, k and v, hs = C // nh.

    Layout: ``qkv`` = nn.Linear(d_model, 3 * d_model) whose output is [q | k | v]; ``proj`` =
    nn.Linear(d_model, d_model). ``dropout`` is applied (training mode only) to the attention weights and to the
    output of ``proj``. ``block_size`` is the longest sequence the module will see.

    Raises:
        ValueError: when d_model is not divisible by n_heads.
    """

    def __init__(self, d_model, n_heads, block_size, dropout=0.0):
        super().__init__()
        # TODO: raise ValueError unless n_heads divides d_model; create qkv, proj and the two dropouts; keep the
        #       number of heads (a causal mask of size (block_size, block_size) may be stored as a buffer).
        raise NotImplementedError("CausalSelfAttention.__init__: not implemented yet")

    def forward(self, x):
        """x: (B, T, C) with T <= block_size. Returns (B, T, C)."""
        # TODO: project to q, k, v; split the features into heads -> (B, nh, T, hs); scaled scores with the
        #       future masked to -inf; softmax over the keys; dropout; weighted sum of v; merge the heads; proj.
        raise NotImplementedError("CausalSelfAttention.forward: not implemented yet")


class Block(nn.Module):
    """A pre-norm Transformer decoder block (Radford et al., 2019, Section 2.3; Xiong et al., 2020).

        x = x + attn(ln1(x))
        x = x + mlp(ln2(x))

    The LayerNorm sits inside each residual branch, before its sub-layer; the residual path itself is never
    normalised, so the identity from the input to the output of the whole stack is untouched (the post-norm block
    of Vaswani et al. (2017), x = LN(x + sublayer(x)), normalises the residual stream instead).

    Layout: ``ln1``, ``ln2`` = nn.LayerNorm(d_model); ``attn`` = CausalSelfAttention(d_model, n_heads, block_size,
    dropout); ``mlp`` = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model),
    nn.Dropout(dropout)) (GELU: Hendrycks & Gimpel, 2016, as in GPT; the 4x width: Vaswani et al., Section 3.3).
    """

    def __init__(self, d_model, n_heads, block_size, dropout=0.0):
        super().__init__()
        # TODO: create ln1, attn, ln2 and mlp as described above.
        raise NotImplementedError("Block.__init__: not implemented yet")

    def forward(self, x):
        """x: (B, T, C). Returns (B, T, C)."""
        # TODO: the two pre-norm residual branches.
        raise NotImplementedError("Block.forward: not implemented yet")


class GPT(nn.Module):
    """A decoder-only Transformer language model (Radford et al., 2018, Section 3.1; 2019, Section 2.3).

        h_0    = W_e[idx] + W_p[0..T-1]                 token plus position embeddings, (B, T, C)
        h_l    = block_l(h_{l-1}),  l = 1..n_layers
        logits = ln_f(h_L) W_e^T                        (B, T, V): the head shares W_e (weight tying)
        loss   = mean over all B*T positions of -log softmax(logits)[targets]   (Radford et al., 2018, Eq. 1)

    Layout: ``tok_emb`` = nn.Embedding(vocab_size, d_model); ``pos_emb`` = nn.Embedding(block_size, d_model);
    ``blocks`` = nn.ModuleList of n_layers ``Block``, applied in order; ``ln_f`` = nn.LayerNorm(d_model);
    ``lm_head`` = nn.Linear(d_model, vocab_size, bias=False) whose ``weight`` is the very same Parameter as
    ``tok_emb.weight`` (Press & Wolf, 2017), so it is trained and counted once. ``dropout`` is applied (training
    mode only) to the sum of the embeddings and passed to every block. ``block_size`` is kept as an attribute
    (``generate`` reads it). Initialisation (not checked): GPT-2 draws weights from N(0, 0.02^2) and scales the
    projections that write into the residual stream by 1 / sqrt(2 * n_layers) (Radford et al., 2019, Sec. 2.3).

    Raises:
        ValueError: in forward, when T > block_size (there is no position embedding for position block_size).
    """

    def __init__(self, vocab_size, block_size, n_layers, n_heads, d_model, dropout=0.0):
        super().__init__()
        # TODO: keep block_size; create tok_emb, pos_emb, the dropout, blocks, ln_f and lm_head, and tie
        #       lm_head.weight to tok_emb.weight (assign the Parameter itself, do not copy its values).
        raise NotImplementedError("GPT.__init__: not implemented yet")

    def forward(self, idx, targets=None):
        """idx: LongTensor (B, T) with T <= block_size; targets: optional LongTensor (B, T), the next tokens.

        Returns (logits, loss): logits (B, T, V); loss the mean cross-entropy over all B * T positions (a scalar
        tensor), or None without targets.
        """
        # TODO: check T; embed tokens and positions 0..T-1; dropout; the blocks; ln_f; lm_head; the loss.
        raise NotImplementedError("GPT.forward: not implemented yet")


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    """Sample ``max_new_tokens`` tokens after ``idx``, one at a time (Radford et al., 2019; top-k: Fan et al., 2018).

    At each step, with z the logits of the last position for the context cropped to its last
    ``model.block_size`` tokens (``logits, _ = model(idx_cond)``):

        temperature == 0:   next = argmax(z)                                  (greedy)
        otherwise:          next ~ softmax(z / temperature), restricted to the top_k largest z when top_k is given
                            (top_k=None, or top_k >= V, restricts nothing)

    All randomness comes from ``generator`` (a torch.Generator on idx's device; the global generator when None).
    The model runs in evaluation mode without recording gradients, and is left in the mode it was in.

    Args:
        model: a module with ``block_size`` whose call ``model(idx)`` returns (logits (B, T, V), loss).
        idx: LongTensor (B, T), the prompt.
        max_new_tokens: int >= 0.
        temperature: float >= 0.
        top_k: int or None.
        generator: torch.Generator or None.

    Returns:
        LongTensor (B, T + max_new_tokens): the prompt followed by the sampled tokens.
    """
    # TODO: switch to eval mode and turn off autograd; loop: crop, last-position logits, temperature / top-k /
    #       sampling (or argmax), append; restore the training mode.
    raise NotImplementedError("generate: not implemented yet")


if __name__ == "__main__":
    print("gpt.py is checked, not run: `dlcourse check gpt` (or `pytest -m gpt` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
