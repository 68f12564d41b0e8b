"""Known bugs of the word2vec assignment, planted one at a time in solutions/word2vec/word2vec.py.

(what the bug is, text of the reference, what it becomes, the function or class whose checks must fail, words its
failure message must contain). Not shipped to students.
"""

_OFFSETS = "offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(device)"
_INSIDE = "inside = (context >= 0) & (context < T)"
_STACK = "return torch.stack([token_ids[centre[inside]], token_ids[context[inside]]], dim=1)"
_WEIGHTS = "weights = counts.to(dtype).pow(power)"
_LOSS = "per_example = -F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)"
_SIMS = "sims = unit @ unit[word_id]"

BUGS = [
    # ---------------------------------------------------------------- skipgram_pairs
    ("the window includes the centre word", _OFFSETS, "offsets = torch.arange(-window, window + 1).to(device)",
     "skipgram_pairs", "includes the centre word"),
    ("the window stops one short", _OFFSETS,
     "offsets = torch.cat([torch.arange(-window + 1, 0), torch.arange(1, window)]).to(device)", "skipgram_pairs",
     "stops one word short"),
    ("only the right context", _OFFSETS, "offsets = torch.arange(1, window + 1).to(device)", "skipgram_pairs",
     "only the words after the centre"),
    ("(context, centre) pairs", _STACK,
     "return torch.stack([token_ids[context[inside]], token_ids[centre[inside]]], dim=1)", "skipgram_pairs",
     "columns swapped"),
    ("contexts wrap around the ends", _INSIDE, "context = context % T; inside = context >= 0", "skipgram_pairs",
     "wraps around"),
    ("pairs ordered by offset", _STACK,
     "return torch.stack([token_ids[centre.T[inside.T]], token_ids[context.T[inside.T]]], dim=1)",
     "skipgram_pairs", "wrong order"),
    ("no ValueError for window 0", 'raise ValueError(f"window must be an int >= 1, got {window!r}")',
     "return torch.zeros(0, 2, dtype=torch.long)", "skipgram_pairs", "expected a ValueError"),
    # ---------------------------------------------------------------- unigram_table
    ("power ignored", _WEIGHTS, "weights = counts.to(dtype)", "unigram_table", "power ignored"),
    ("not normalised", "return weights / weights.sum()  # (V,), sums to 1", "return weights", "unigram_table",
     "not normalised"),
    ("normalised before the power", _WEIGHTS, "weights = (counts.to(dtype) / counts.sum()).pow(power)\n"
     "    return weights", "unigram_table", "normalised first"),
    ("float64 always", "dtype = torch.float64 if counts.dtype == torch.float64 else torch.float32",
     "dtype = torch.float64", "unigram_table", "dtype"),
    # ---------------------------------------------------------------- SkipGramNS
    ("log(sigmoid) overflows", _LOSS,
     "per_example = -torch.log(torch.sigmoid(pos)) - torch.log(torch.sigmoid(-neg)).sum(-1)", "SkipGramNS",
     "F.logsigmoid"),
    ("negatives with the wrong sign", _LOSS, "per_example = -F.logsigmoid(pos) - F.logsigmoid(neg).sum(-1)",
     "SkipGramNS", "log sigma(+score)"),
    ("summed over the batch", "return per_example.mean()", "return per_example.sum()", "SkipGramNS",
     "summed over the batch"),
    ("negatives averaged", _LOSS, "per_example = -F.logsigmoid(pos) - F.logsigmoid(-neg).mean(-1)", "SkipGramNS",
     "averaged instead of summed"),
    ("one table for both roles", "v_pos = self.out_embed(context)  # (B, d)\n        v_neg = self.out_embed(negatives)",
     "v_pos = self.in_embed(context)  # (B, d)\n        v_neg = self.in_embed(negatives)", "SkipGramNS",
     "looked up in in_embed"),
    ("negatives left out", _LOSS, "per_example = -F.logsigmoid(pos) + 0 * neg.sum(-1)", "SkipGramNS",
     "negatives are left out"),
    ("objective maximised instead of the loss", "return per_example.mean()", "return -per_example.mean()",
     "SkipGramNS", "sign is flipped"),
    # ---------------------------------------------------------------- most_similar
    ("dot product instead of cosine", "unit = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)",
     "unit = weight", "most_similar", "dot product"),
    ("the word itself included", 'sims[word_id] = -float("inf")  # never the word itself', "pass",
     "most_similar", "the word itself"),
    ("least similar first", "torch.topk(sims, k).indices", "torch.topk(-sims, k).indices", "most_similar", ""),
    ("neighbours from out_embed", "weight = model.in_embed.weight  # (V, d)", "weight = model.out_embed.weight",
     "most_similar", "out_embed"),
    ("returns a tensor", "return [int(i) for i in torch.topk(sims, k).indices]",
     "return torch.topk(sims, k).indices", "most_similar", "list of Python ints"),
]

# The checks each bug is graded on in the project's tests (the target's core checks are always added).
SELECT = {
    "the window includes the centre word": ["skipgram_pairs: the pairs of short"],
    "the window stops one short": ["skipgram_pairs: the pairs of short"],
    "only the right context": ["skipgram_pairs: the pairs of short"],
    "(context, centre) pairs": ["skipgram_pairs: the pairs of short"],
    "contexts wrap around the ends": ["skipgram_pairs: the pairs of short"],
    "pairs ordered by offset": ["skipgram_pairs: the pairs of short"],
    "no ValueError for window 0": ["skipgram_pairs: window < 1"],
    "power ignored": ["unigram_table: counts ** power"],
    "not normalised": ["unigram_table: counts ** power"],
    "normalised before the power": ["unigram_table: counts ** power"],
    "float64 always": ["unigram_table: counts ** power"],
    "log(sigmoid) overflows": ["SkipGramNS: the loss and its gradients stay finite"],
    "negatives with the wrong sign": ["SkipGramNS: loss equals"],
    "summed over the batch": ["SkipGramNS: loss equals"],
    "negatives averaged": ["SkipGramNS: loss equals"],
    "one table for both roles": ["SkipGramNS: loss equals"],
    "negatives left out": ["SkipGramNS: loss equals"],
    "objective maximised instead of the loss": ["SkipGramNS: loss equals"],
    "dot product instead of cosine": ["most_similar: the k nearest"],
    "the word itself included": ["most_similar: the k nearest"],
    "least similar first": ["most_similar: the k nearest"],
    "neighbours from out_embed": ["most_similar: the k nearest"],
    "returns a tensor": ["most_similar: returns a list"],
}
