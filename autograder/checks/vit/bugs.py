"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/vit/vit.py, what it becomes, the function or class whose checks must fail,
words its failure message must contain or ""); the text must occur exactly once in the reference. Not shipped to
students (it is made from the reference).
"""

_PERMUTE = "x = x.permute(0, 2, 4, 1, 3, 5)"
_POS = "self.pos_embedding = nn.Parameter(torch.randn(1, n_patches + 1, dim) * 0.02)"
_EMBED_RETURN = "return tokens + self.pos_embedding  # (B, N + 1, D), Equation 1"
_SCORES = "scores = q @ k.transpose(-2, -1) / math.sqrt(hd)"
_HEADS = """        q = q.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd): head h = features [h*hd, (h+1)*hd)
        k = k.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        v = v.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)"""
_HEADS_BY_RESHAPE = """        q = q.reshape(B, nh, T, hd)  # (B, nh, T, hd): head h = features [h*hd, (h+1)*hd)
        k = k.reshape(B, nh, T, hd)  # (B, nh, T, hd)
        v = v.reshape(B, nh, T, hd)  # (B, nh, T, hd)"""
_MERGE = "merged = heads.transpose(1, 2).reshape(B, T, D)"
_ATTN_RESIDUAL = "x = x + self.proj(merged)  # Equation 2 (pre-norm residual)"
_MLP_RESIDUAL = "x = x + self.mlp(self.ln2(x))  # Equation 3"
_HEAD = "return self.head(x[:, 0])"

# The three places that make the block pre-norm, as one edit: the qkv input and the two residual sums.
_PRE_NORM = """q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)  # 3 x (B, T, D), in this order
        q = q.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd): head h = features [h*hd, (h+1)*hd)
        k = k.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        v = v.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)  # (B, nh, T, T), scaled as in Vaswani et al. Eq. 1
        attention = torch.softmax(scores, dim=-1)  # (B, nh, T, T), rows sum to 1
        heads = attention @ v  # (B, nh, T, hd)
        merged = heads.transpose(1, 2).reshape(B, T, D)  # (B, T, D): concatenate the heads
        x = x + self.proj(merged)  # Equation 2 (pre-norm residual)
        # END SOLUTION
        # TODO: MLP sub-layer: x + mlp(ln2(x)); return the attention weights too when asked.
        # BEGIN SOLUTION
        x = x + self.mlp(self.ln2(x))  # Equation 3"""
_POST_NORM = """q, k, v = self.qkv(x).split(D, dim=-1)  # 3 x (B, T, D), in this order
        q = q.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd): head h = features [h*hd, (h+1)*hd)
        k = k.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        v = v.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)  # (B, nh, T, T), scaled as in Vaswani et al. Eq. 1
        attention = torch.softmax(scores, dim=-1)  # (B, nh, T, T), rows sum to 1
        heads = attention @ v  # (B, nh, T, hd)
        merged = heads.transpose(1, 2).reshape(B, T, D)  # (B, T, D): concatenate the heads
        x = self.ln1(x + self.proj(merged))  # Equation 2 (pre-norm residual)
        # END SOLUTION
        # TODO: MLP sub-layer: x + mlp(ln2(x)); return the attention weights too when asked.
        # BEGIN SOLUTION
        x = self.ln2(x + self.mlp(x))  # Equation 3"""

BUGS = [
    # ------------------------------------------------------------------------------------------- patchify
    ("patches flattened in (p, p, C) order", _PERMUTE, "x = x.permute(0, 2, 4, 3, 5, 1)", "patchify",
     "flattened in (row, column, channel) order"),
    ("patches in column-major order", _PERMUTE, "x = x.permute(0, 4, 2, 1, 3, 5)", "patchify",
     "column by column"),
    ("no ValueError for an indivisible size", "if p <= 0 or H % p != 0 or W % p != 0:", "if p <= 0:", "patchify",
     "should raise ValueError"),
    ("patches cut by a plain reshape", "x = images.reshape(B, C, gh, p, gw, p)  # (B, C, gh, p, gw, p)\n    " +
     _PERMUTE, "x = images", "patchify", "plain reshape"),
    # ------------------------------------------------------------------------------------------- PatchEmbedding
    ("position embedding missing the CLS slot", _POS + "  # E_pos, class slot included",
     "self.pos_embedding = nn.Parameter(torch.randn(1, n_patches, dim) * 0.02)", "PatchEmbedding",
     "pos_embedding"),
    ("class token without a position embedding", _EMBED_RETURN,
     "return torch.cat([tokens[:, :1], tokens[:, 1:] + self.pos_embedding[:, 1:]], dim=1)", "PatchEmbedding",
     "the class token was given no position embedding"),
    ("class token appended last", "tokens = torch.cat([cls, patches], dim=1)",
     "tokens = torch.cat([patches, cls], dim=1)", "PatchEmbedding", "appended last"),
    ("one class token per batch, not per image", "cls = self.cls_token.expand(patches.shape[0], -1, -1)",
     "cls = self.cls_token.expand(1, -1, -1).repeat(patches.shape[0], 1, 1).detach()", "PatchEmbedding",
     ""),
    ("no ValueError for a bad image size", "if patch_size <= 0 or image_size % patch_size != 0:",
     "if patch_size <= 0:", "PatchEmbedding", "should raise ValueError"),
    # ------------------------------------------------------------------------------------------- EncoderBlock
    ("post-norm instead of pre-norm", _PRE_NORM, _POST_NORM, "EncoderBlock", "post-norm"),
    ("no 1/sqrt(head_dim) scale", _SCORES, "scores = q @ k.transpose(-2, -1)", "EncoderBlock",
     "not scaled by 1/sqrt(head_dim)"),
    ("scaled by 1/sqrt(dim)", _SCORES, "scores = q @ k.transpose(-2, -1) / math.sqrt(D)", "EncoderBlock", ""),
    ("heads split across positions instead of features", _HEADS, _HEADS_BY_RESHAPE, "EncoderBlock",
     "split across positions"),
    ("heads merged without the transpose", _MERGE, "merged = heads.reshape(B, T, D)", "EncoderBlock", ""),
    ("softmax over the queries", "attention = torch.softmax(scores, dim=-1)",
     "attention = torch.softmax(scores, dim=-2)", "EncoderBlock", ""),
    ("q and k swapped in the qkv split", "q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)",
     "k, q, v = self.qkv(self.ln1(x)).split(D, dim=-1)", "EncoderBlock", ""),
    ("no residual around the MLP", _MLP_RESIDUAL, "x = self.mlp(self.ln2(x))  # Equation 3", "EncoderBlock", ""),
    ("ReLU instead of GELU", "nn.GELU(), nn.Dropout(dropout)", "nn.ReLU(), nn.Dropout(dropout)", "EncoderBlock", ""),
    ("dropout ignored", "self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),\n"
     "                                 nn.Linear(mlp_dim, dim), nn.Dropout(dropout))",
     "self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0),\n"
     "                                 nn.Linear(mlp_dim, dim), nn.Dropout(0.0))", "EncoderBlock",
     "same output in train mode"),
    ("no ValueError for indivisible heads", "if n_heads <= 0 or dim % n_heads != 0:", "if n_heads <= 0:",
     "EncoderBlock", "should raise ValueError"),
    ("F.scaled_dot_product_attention called", "        heads = attention @ v  # (B, nh, T, hd)",
     "        heads = torch.nn.functional.scaled_dot_product_attention(q, k, v)", "EncoderBlock", "forbidden"),
    # ------------------------------------------------------------------------------------------- ViT
    ("head on the mean of the tokens", _HEAD, "return self.head(x.mean(dim=1))", "ViT", "mean of all tokens"),
    ("final LayerNorm skipped", "x = self.norm(x)  # (B, T, D)", "x = x  # (B, T, D)", "ViT", ""),
    ("one block reused depth times", "self.blocks = nn.ModuleList([EncoderBlock(dim, n_heads, mlp_dim, dropout) "
     "for _ in range(depth)])",
     "block = EncoderBlock(dim, n_heads, mlp_dim, dropout)\n        self.blocks = nn.ModuleList([block] * depth)",
     "ViT", ""),
    ("dropout not passed to the blocks", "EncoderBlock(dim, n_heads, mlp_dim, dropout) for _ in range(depth)",
     "EncoderBlock(dim, n_heads, mlp_dim) for _ in range(depth)", "ViT", "Dropout(0.25)"),
]

# The checks each bug is graded on, to keep the project's tests short (the target's core checks are always added).
_VIT_FAST = ["ViT: logits", "ViT: embed"]
SELECT = {name: _VIT_FAST for name, *_rest in BUGS if _rest[2] == "ViT"}
SELECT["F.scaled_dot_product_attention called"] = ["EncoderBlock: pre-norm"]
