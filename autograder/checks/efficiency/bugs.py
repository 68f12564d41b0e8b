"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/efficiency/efficiency.py, what it becomes, the function or class whose checks
must fail, words its failure message must contain or ""); the text must occur exactly once. Not shipped to students.
"""

ATT = "online_softmax_attention"
CACHE = "KVCache"
DEC = "decode_step"

_NAIVE = '''    for start in range(0, Lk, block_size):'''
_NAIVE_NEW = '''    s = (q @ k.transpose(-2, -1)) * scale  # (..., Lq, Lk): the whole score matrix at once
    if causal:
        s = s.masked_fill(torch.arange(Lk, device=q.device).unsqueeze(0) > q_pos, float("-inf"))
    return torch.softmax(s, dim=-1) @ v
    for start in range(0, Lk, block_size):'''

BUGS = [
    # online_softmax_attention
    ("running sum not rescaled", "l = alpha * l + p.sum(dim=-1, keepdim=True)", "l = l + p.sum(dim=-1, keepdim=True)",
     ATT, ""),
    ("accumulator not rescaled", "acc = alpha * acc + p @ v_blk", "acc = acc + p @ v_blk", ATT, ""),
    ("neither sum rescaled", "alpha = torch.exp(m - shift)", "alpha = torch.ones_like(m)", ATT, ""),
    ("each block normalised on its own", "acc = alpha * acc + p @ v_blk",
     "acc = alpha * acc + (p / p.sum(dim=-1, keepdim=True)) @ v_blk", ATT, ""),
    ("no 1/sqrt(d) scaling", "scale = 1.0 / math.sqrt(d)", "scale = 1.0", ATT, "not divided by sqrt(d)"),
    ("the last partial block dropped", "for start in range(0, Lk, block_size):",
     "for start in range(0, Lk - block_size + 1, block_size):", ATT, ""),
    ("causal mask aligned to the first keys",
     "q_pos = torch.arange(Lq, device=q.device).unsqueeze(1) + (Lk - Lq)",
     "q_pos = torch.arange(Lq, device=q.device).unsqueeze(1)", ATT, "aligned to the first keys"),
    ("causal ignored", "        if causal:\n            k_pos", "        if False:\n            k_pos", ATT,
     "causal mask is ignored"),
    ("exp without the running maximum", "shift = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)",
     "shift = torch.zeros_like(m_new)", ATT, "overflows"),
    ("the whole score matrix at once", _NAIVE, _NAIVE_NEW, ATT, "never for all keys at once"),
    ("no ValueError for causal with Lq > Lk", "    if causal and Lq > Lk:\n        raise ValueError",
     "    if False:\n        raise ValueError", ATT, "more queries than keys"),
    # KVCache
    ("concatenated on the heads axis", "self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)",
     "self.k = k if self.k is None else torch.cat([self.k, k], dim=1)", CACHE, ""),
    ("new positions put first", "self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)",
     "self.k = k if self.k is None else torch.cat([k, self.k], dim=-2)", CACHE, "put before the cached ones"),
    ("overwrites instead of growing", "self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)",
     "self.k = k", CACHE, "only the newest keys are kept"),
    ("returns only the new chunk", "        return self.k, self.v\n", "        return k, v\n", CACHE,
     "what append returned"),
    ("len counts appends", "        return 0 if self.k is None else self.k.shape[-2]\n",
     "        return 0 if self.k is None else self.k.shape[0]\n", CACHE, "len counts positions"),
    ("no shape validation", "        if self.k is not None and (k.shape[:-2] != self.k.shape[:-2]",
     "        if False and (k.shape[:-2] != self.k.shape[:-2]", CACHE, "should raise ValueError"),
    ("max_len ignored", "        if self.max_len is not None and len(self) + k.shape[-2] > self.max_len:",
     "        if False:", CACHE, "max_len=5"),
    # decode_step
    ("every token at position 0", "x = (model_parts[\"tok_emb\"][token] + model_parts[\"pos_emb\"][t])",
     "x = (model_parts[\"tok_emb\"][token] + model_parts[\"pos_emb\"][0])", DEC, "position 0"),
    ("attends before appending (the token misses itself)",
     "k_all, v_all = layer_cache.append(split_heads(k, nh), split_heads(v, nh))  # (B, nh, t + 1, hs)",
     "k_all, v_all = (layer_cache.k, layer_cache.v) if len(layer_cache) else (split_heads(k, nh), "
     "split_heads(v, nh))\n        layer_cache.append(split_heads(k, nh), split_heads(v, nh))", DEC, ""),
    ("the first layer's cache for every layer", "for layer, layer_cache in zip(model_parts[\"layers\"], cache):",
     "for layer in model_parts[\"layers\"]:\n        layer_cache = cache[0]", DEC, ""),
    ("only the new key attended", "att = torch.softmax((q @ k_all.transpose(-2, -1)) / math.sqrt(q.shape[-1]), "
     "dim=-1)  # (B, nh, 1, t + 1)\n        x = x + F.linear(merge_heads(att @ v_all)",
     "att = torch.softmax((q @ k_all[..., -1:, :].transpose(-2, -1)) / math.sqrt(q.shape[-1]), dim=-1)\n"
     "        x = x + F.linear(merge_heads(att @ v_all[..., -1:, :])", DEC, ""),
    ("no 1/sqrt(hs) in the cached attention", "/ math.sqrt(q.shape[-1]), dim=-1)  # (B, nh, 1, t + 1)",
     ", dim=-1)  # (B, nh, 1, t + 1)", DEC, ""),
    ("no final LayerNorm", "logits = F.linear(layer_norm(x, model_parts[\"ln_f_w\"], model_parts[\"ln_f_b\"]), "
     "model_parts[\"tok_emb\"])", "logits = F.linear(x, model_parts[\"tok_emb\"])", DEC, ""),
    ("MLP residual skipped",
     "        x = x + mlp(layer_norm(x, layer[\"ln2_w\"], layer[\"ln2_b\"]), layer)\n    logits",
     "        x = mlp(layer_norm(x, layer[\"ln2_w\"], layer[\"ln2_b\"]), layer)\n    logits", DEC, ""),
]
