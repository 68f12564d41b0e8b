"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/gpt/gpt.py, what it becomes, the function or class whose checks must fail, words
its failure message must contain or ""); the text must occur exactly once. Not shipped to students.
"""

CSA = "CausalSelfAttention"
BLOCK = "Block"
GPT = "GPT"
GEN = "generate"

_MASK = "mask = torch.ones(block_size, block_size, dtype=torch.bool).tril()  # (block_size, block_size)"
_SPLIT = """        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)"""
_BLOCK = """        x = x + self.attn(self.ln1(x))  # (B, T, C)
        x = x + self.mlp(self.ln2(x))  # (B, T, C)"""
_TIE = "        self.lm_head.weight = self.tok_emb.weight  # weight tying (Press & Wolf, 2017): one Parameter, two uses"
_TOPK = """                        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
                        logits = logits.masked_fill(logits < kth, float("-inf"))"""
_SAMPLE = """                    logits = logits / temperature
                    if top_k is not None and top_k < logits.size(-1):
                        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
                        logits = logits.masked_fill(logits < kth, float("-inf"))
                    probs = torch.softmax(logits, dim=-1)  # (B, V)"""

BUGS = [
    # CausalSelfAttention
    ("causal mask sees the next position", _MASK, _MASK.replace(".tril()", ".tril(1)"), CSA,
     "position t also sees position t + 1"),
    ("causal mask hides the position itself", _MASK, _MASK.replace(".tril()", ".tril(-1)"), CSA,
     "does not see itself"),
    ("no causal mask", "att = att.masked_fill(~self.mask[:T, :T], float(\"-inf\"))", "pass", CSA,
     "every position sees the future"),
    ("no 1/sqrt(head size) scaling", "att = q @ k.transpose(-2, -1) / math.sqrt(hs)",
     "att = q @ k.transpose(-2, -1)", CSA, "not divided by sqrt(head size)"),
    ("scaled by sqrt(d_model)", "att = q @ k.transpose(-2, -1) / math.sqrt(hs)",
     "att = q @ k.transpose(-2, -1) / math.sqrt(C)", CSA, "sqrt(d_model) instead of sqrt(head size)"),
    ("q and k swapped", "q, k, v = self.qkv(x).split(C, dim=2)", "k, q, v = self.qkv(x).split(C, dim=2)", CSA,
     "wrong order from qkv"),
    ("proj skipped", "return self.resid_drop(self.proj(y))  # (B, T, C)", "return self.resid_drop(y)  # (B, T, C)",
     CSA, "proj is skipped"),
    ("heads split by reshape without the transpose", _SPLIT,
     _SPLIT.replace(".view(B, T, nh, hs).transpose(1, 2)", ".reshape(B, nh, T, hs)"), CSA, ""),
    ("softmax over the queries", "att = torch.softmax(att, dim=-1)  # over the keys",
     "att = torch.softmax(att, dim=-2)  # over the keys", CSA, ""),
    ("no ValueError for indivisible heads", "if n_heads <= 0 or d_model % n_heads != 0:", "if n_heads <= 0:", CSA,
     "should raise ValueError"),
    ("attention dropout ignored", "self.attn_drop = nn.Dropout(dropout)\n        self.resid_drop = nn.Dropout(dropout)",
     "self.attn_drop = nn.Dropout(0.0)\n        self.resid_drop = nn.Dropout(0.0)", CSA, "is the dropout applied"),
    ("attention dropout also in eval mode", "att = self.attn_drop(att)",
     "att = F.dropout(att, self.attn_drop.p)", CSA, "in eval mode"),
    # Block
    ("post-norm instead of pre-norm", _BLOCK,
     "        x = self.ln1(x + self.attn(x))  # (B, T, C)\n        x = self.ln2(x + self.mlp(x))  # (B, T, C)",
     BLOCK, "post-norm"),
    ("residual around the LayerNorm", _BLOCK,
     "        x = self.ln1(x)\n        x = x + self.attn(x)  # (B, T, C)\n"
     "        x = self.ln2(x)\n        x = x + self.mlp(x)  # (B, T, C)", BLOCK, "residual is added around"),
    ("one LayerNorm for both sub-layers", "x = x + self.mlp(self.ln2(x))", "x = x + self.mlp(self.ln1(x))", BLOCK,
     ""),
    ("ReLU instead of GELU", "            nn.GELU(),\n", "            nn.ReLU(),\n", BLOCK, ""),
    ("GELU's tanh approximation", "            nn.GELU(),\n", "            nn.GELU(approximate=\"tanh\"),\n", BLOCK,
     ""),
    ("no residual around the MLP", "x = x + self.mlp(self.ln2(x))", "x = self.mlp(self.ln2(x))", BLOCK, ""),
    ("MLP dropout missing", "            nn.Dropout(dropout),\n", "            nn.Dropout(0.0),\n", BLOCK,
     "is nn.Dropout(dropout) the last layer"),
    # GPT
    ("no weight tying", _TIE, "", GPT, "lm_head.weight is not tok_emb.weight"),
    ("tied by copying the values", _TIE,
     "        self.lm_head.weight.data.copy_(self.tok_emb.weight.data)  # a copy, not the same Parameter", GPT,
     "lm_head.weight is not tok_emb.weight"),
    ("position embeddings indexed by the batch", "pos = torch.arange(T, device=idx.device)  # (T,)",
     "pos = torch.arange(B, device=idx.device)[:, None]  # (T,)", GPT, "indexed by the batch index"),
    ("no final LayerNorm", "logits = self.lm_head(self.ln_f(x))  # (B, T, V)",
     "logits = self.lm_head(x)  # (B, T, V)", GPT, "no final LayerNorm"),
    ("loss summed", "loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))",
     "loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T), reduction=\"sum\")", GPT,
     "summed instead of averaged"),
    ("targets shifted again", "loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))",
     "loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), targets[:, 1:].reshape(-1))", GPT,
     "shifted once more"),
    ("no ValueError for a long sequence", "        if T > self.block_size:\n            raise ValueError",
     "        if False:\n            raise ValueError", GPT, "should raise ValueError"),
    ("head with a bias", "self.lm_head = nn.Linear(d_model, vocab_size, bias=False)",
     "self.lm_head = nn.Linear(d_model, vocab_size)", GPT, "V too many"),
    ("embedding dropout missing", "        x = self.drop(x)\n", "", GPT, "apply nn.Dropout(dropout) to the sum"),
    # generate
    ("top_k keeps the smallest logits", _TOPK,
     """                        kth = torch.topk(logits, top_k, dim=-1, largest=False).values[:, -1:]
                        logits = logits.masked_fill(logits > kth, float("-inf"))""", GEN, "k SMALLEST"),
    ("context not cropped", "idx_cond = idx[:, -model.block_size:]", "idx_cond = idx", GEN, "crop the context"),
    ("context cropped to the first tokens", "idx_cond = idx[:, -model.block_size:]",
     "idx_cond = idx[:, :model.block_size]", GEN, "LAST block_size"),
    ("temperature after the softmax", _SAMPLE,
     _SAMPLE.replace("                    logits = logits / temperature\n", "").replace(
         "probs = torch.softmax(logits, dim=-1)", "probs = torch.softmax(logits, dim=-1) / temperature"),
     GEN, "after the softmax"),
    ("logits multiplied by the temperature", "logits = logits / temperature", "logits = logits * temperature", GEN,
     "multiplied by the temperature"),
    ("generator ignored", "nxt = torch.multinomial(probs, 1, generator=generator)",
     "nxt = torch.multinomial(probs, 1)", GEN, "use generator="),
    ("sampled even at temperature 0", "                if temperature == 0:\n",
     "                if temperature == 0 and False:\n", GEN, ""),
    ("samples from the first position", "logits = logits[:, -1, :]  # (B, V)",
     "logits = logits[:, 0, :]  # (B, V)", GEN, ""),
    ("model left in eval mode", "        model.train(was_training)\n", "        pass\n", GEN, "restore the mode"),
    ("gradients recorded", "        with torch.no_grad():\n", "        with torch.enable_grad():\n", GEN,
     "torch.no_grad"),
    ("no eval mode while sampling", "    model.eval()\n    try:", "    try:", GEN, "model.eval()"),
]

# GPT's bugs are caught without the end-to-end training (its slowest check): narrow their grading for speed.
_GPT_FAST = ["GPT: logits", "GPT: the loss", "GPT: weight tying", "GPT: counts", "GPT: ValueError", "GPT: dropout",
             "GPT: with stand-in"]
SELECT = {name: _GPT_FAST for name, _old, _new, target, _says in BUGS if target == GPT}
