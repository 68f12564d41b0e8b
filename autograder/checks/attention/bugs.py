"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/attention/attention.py, what it becomes, the function or class whose checks
must fail, words its failure message must contain or ""); the text must occur exactly once. A mistake that spans
several lines is written as one edit of the block that holds them. Every check of attention must fail for at
least one of them. Not shipped to students (it is made from the reference).
"""

SDPA = "scaled_dot_product_attention"
MHA = "MultiHeadAttention"
ADD = "AdditiveAttention"

# The masked branch of scaled_dot_product_attention, as the reference writes it.
_MASKED_SOFTMAX = """        scores = scores.masked_fill(~allowed, float("-inf"))
        scores = scores.masked_fill(~any_allowed, 0.0)
        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)
        weights = weights.masked_fill(~allowed, 0.0)"""

# Both softmax calls of scaled_dot_product_attention (unmasked and masked branches).
_BOTH_SOFTMAXES = """    if allowed is None:
        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)
    else:
        # A row where every key is disallowed would be softmax(-inf, ..., -inf) = NaN. Give such rows
        # finite scores (0) before the softmax, then zero every disallowed weight afterwards.
        any_allowed = allowed.any(dim=-1, keepdim=True)  # (..., Lq, 1)
        scores = scores.masked_fill(~allowed, float("-inf"))
        scores = scores.masked_fill(~any_allowed, 0.0)
        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)
        weights = weights.masked_fill(~allowed, 0.0)"""

# The split into heads, the attention call and the merge of MultiHeadAttention.forward.
_HEADS = """        q = self.q_proj(query).view(B, Lq, nh, hs).transpose(1, 2)  # (B, nh, Lq, hs)
        k = self.k_proj(key).view(B, Lk, nh, hs).transpose(1, 2)  # (B, nh, Lk, hs)
        v = self.v_proj(value).view(B, Lk, nh, hs).transpose(1, 2)  # (B, nh, Lk, hs)

        heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)  # (B, nh, Lq, hs)
        concat = heads.transpose(1, 2).reshape(B, Lq, self.d_model)"""

# The same, the features cut into heads by reshape alone (a "head" then mixes positions and features).
_HEADS_BY_RESHAPE = """        q = self.q_proj(query).reshape(B, nh, Lq, hs)  # (B, nh, Lq, hs)
        k = self.k_proj(key).reshape(B, nh, Lk, hs)  # (B, nh, Lk, hs)
        v = self.v_proj(value).reshape(B, nh, Lk, hs)  # (B, nh, Lk, hs)

        heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)  # (B, nh, Lq, hs)
        concat = heads.reshape(B, Lq, self.d_model)"""

# The masked branch of AdditiveAttention.forward.
_ADD_MASKED = """            scores = scores.masked_fill(~allowed, float("-inf")).masked_fill(~any_allowed, 0.0)
            weights = torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0)  # (B, L)"""

BUGS = [
    # scaled_dot_product_attention
    ('no 1/sqrt(d) scaling', 'scores = q @ k.transpose(-2, -1) / math.sqrt(d)', 'scores = q @ k.transpose(-2, -1)',
     SDPA, 'no 1/sqrt(d) scaling'),
    ('scaled by 1/d', '/ math.sqrt(d)  # (..., Lq, Lk)', '/ d  # (..., Lq, Lk)', SDPA,
     'divided by d instead of sqrt(d)'),
    ('softmax over the wrong axis', _BOTH_SOFTMAXES, _BOTH_SOFTMAXES.replace('dim=-1)  # (..., Lq, Lk)',
                                                                             'dim=-2)  # (..., Lq, Lk)'),
     SDPA, 'softmax over the queries'),
    ('mask applied after the softmax', _MASKED_SOFTMAX,
     '        weights = torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0)', SDPA,
     'mask applied after the softmax'),
    ('causal diagonal excluded', '.tril()  # (Lq, Lk)', '.tril(-1)  # (Lq, Lk)', SDPA, 'excludes the diagonal'),
    ('causal triangle flipped', '.tril()  # (Lq, Lk)', '.triu()  # (Lq, Lk)', SDPA, 'queries see the future'),
    ('mask polarity inverted', 'allowed = mask.to(torch.bool)  # broadcastable',
     'allowed = ~mask.to(torch.bool)  # broadcastable', SDPA, 'mask polarity inverted'),
    ('NaN on a fully masked row', _MASKED_SOFTMAX,
     '        scores = scores.masked_fill(~allowed, float("-inf"))\n'
     '        weights = torch.softmax(scores, dim=-1)  # (..., Lq, Lk)', SDPA, ''),
    ('causal and mask combined with OR', 'allowed = lower if allowed is None else allowed & lower',
     'allowed = lower if allowed is None else allowed | lower', SDPA, ''),
    ('no ValueError for causal with Lq != Lk', '    if causal and Lq != Lk:\n        raise ValueError',
     '    if False:\n        raise ValueError', SDPA, ''),
    ('the fused kernel reached through getattr', "    # Equation 1: dot products scaled by 1/sqrt(d_k)",
     "    if mask is None and not causal and q.dim() == 4:\n"
     "        kernel = getattr(torch.nn.functional, 'scaled_dot_product_' + 'attention')\n"
     "        return kernel(q, k, v), torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)\n"
     "    # Equation 1: dot products scaled by 1/sqrt(d_k)", SDPA, 'forbidden'),
    # MultiHeadAttention
    ('heads split by reshape without the transpose', _HEADS, _HEADS_BY_RESHAPE, MHA,
     'heads split by reshape without the transpose'),
    ('heads merged without the transpose', 'concat = heads.transpose(1, 2).reshape(B, Lq, self.d_model)',
     'concat = heads.reshape(B, Lq, self.d_model)', MHA, ''),
    ('out_proj skipped', 'return self.out_proj(concat)  # (B, Lq, d_model)', 'return concat  # (B, Lq, d_model)',
     MHA, 'out_proj skipped'),
    ('mask not passed on', 'heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)',
     'heads, _ = scaled_dot_product_attention(q, k, v, causal=causal)', MHA, ''),
    ('causal not passed on', 'heads, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)',
     'heads, _ = scaled_dot_product_attention(q, k, v, mask=mask)', MHA, ''),
    ('values projected with k_proj', 'v = self.v_proj(value)', 'v = self.k_proj(value)', MHA, ''),
    ('no bias switch', 'self.q_proj = nn.Linear(d_model, d_model, bias=bias)',
     'self.q_proj = nn.Linear(d_model, d_model)', MHA, ''),
    ('no ValueError for indivisible heads', 'if n_heads <= 0 or d_model % n_heads != 0:', 'if n_heads <= 0:', MHA,
     ''),
    # AdditiveAttention
    ('softmax over the batch', 'weights = torch.softmax(scores, dim=-1)  # (B, L)',
     'weights = torch.softmax(scores, dim=0)  # (B, L)', ADD, 'softmax over the batch'),
    ('tanh forgotten', 'hidden = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))',
     'hidden = self.W_q(query).unsqueeze(1) + self.W_k(keys)', ADD, ''),
    ('mask ignored', '        if mask is None:\n            weights = torch.softmax(scores, dim=-1)  # (B, L)',
     '        if True:\n            weights = torch.softmax(scores, dim=-1)  # (B, L)', ADD, ''),
    ('additive: NaN on a fully masked row', _ADD_MASKED,
     '            scores = scores.masked_fill(~allowed, float("-inf"))\n'
     '            weights = torch.softmax(scores, dim=-1)  # (B, L)', ADD, ''),
    ('biases in the alignment model', 'self.W_q = nn.Linear(query_dim, hidden_dim, bias=False)',
     'self.W_q = nn.Linear(query_dim, hidden_dim)', ADD, ''),
]

# The checks each bug is graded on by the project's tests (tests/checks/test_harness.py): those of its target but the
# slow end-to-end Transformer (tested on its own in tests/checks/attention/); the engine adds the core checks.
_FAST = {
    SDPA: [f"{SDPA}:"],
    MHA: [f"{MHA}: q_proj", f"{MHA}: ValueError", f"{MHA}: self-attention", f"{MHA}: cross-attention",
          f"{MHA}: causal", f"{MHA}: gradients"],
    ADD: [f"{ADD}:"],
}
SELECT = {name: _FAST[target] for name, _old, _new, target, _says in BUGS}
