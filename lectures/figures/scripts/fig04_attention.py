"""Lecture 4: an attention map learned here, and why attention scores are scaled by 1/sqrt(d_k).

Left, experiment: a single cross-attention layer (Bahdanau et al., 2014; in the scaled dot-product
form of Vaswani et al., 2017) learns to reverse sequences of 10 random digits. Each output position
t has a learned query; keys and values come from the input tokens plus learned position embeddings.
After training we plot the attention weights alpha[t, s] for one test sequence: every output
position has learned to look at input position T - 1 - t.

Right, calculation: for queries and keys with independent unit-variance components, q.k has
variance d_k. We sample such scores for 16 keys and plot the mean entropy of softmax(q.k) and of
softmax(q.k / sqrt(d_k)) against d_k. Without the scaling the softmax saturates to a one-hot
vector (entropy -> 0) whose gradient vanishes.
"""
import math

import numpy as np
import torch
import torch.nn as nn

from _common import parse_args, plt, save

T, VOCAB, D = 10, 10, 32


class ReverseAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(torch.randn(T, D) * 0.5)     # input positions
        self.query = nn.Parameter(torch.randn(T, D) * 0.5)   # one learned query per output slot
        self.Wk = nn.Linear(D, D, bias=False)
        self.Wv = nn.Linear(D, D, bias=False)
        self.head = nn.Linear(D, VOCAB)

    def forward(self, x):                                     # x: (B, T) token ids
        h = self.tok(x) + self.pos                            # (B, T, D)
        k, v = self.Wk(h), self.Wv(h)                         # (B, T, D)
        scores = self.query @ k.transpose(1, 2) / math.sqrt(D)  # (B, T_out, T_in)
        alpha = scores.softmax(dim=-1)                        # each row sums to 1
        return self.head(alpha @ v), alpha                    # (B, T, VOCAB), (B, T, T)


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ReverseAttention()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps = 40 if args.fast else 1500
    for _ in range(steps):
        x = torch.randint(0, VOCAB, (128, T))
        logits, _ = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), x.flip(1).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        x = torch.randint(0, VOCAB, (1000, T), generator=torch.Generator().manual_seed(1))
        logits, alpha = model(x)
        acc = (logits.argmax(-1) == x.flip(1)).float().mean().item()
    print(f"reversal accuracy on 1000 fresh sequences: {acc:.3f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"wspace": 0.4})
    seq = x[0].tolist()
    im = ax0.imshow(alpha[0].numpy(), cmap="viridis", vmin=0, vmax=1)
    ax0.set_xticks(range(T), [str(s) for s in seq])
    ax0.set_yticks(range(T), [str(s) for s in seq[::-1]])
    ax0.set_xlabel("input sequence (key positions)")
    ax0.set_ylabel("output (reversed) sequence, one query per row")
    ax0.set_title(f"Learned attention weights (accuracy {100 * acc:.1f}%)")
    fig.colorbar(im, ax=ax0, fraction=0.046)

    rng = np.random.default_rng(0)
    dks = [4, 16, 64, 256, 1024] if args.fast else [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    n_keys, n_samples = 16, 200 if args.fast else 2000
    ent = {"unscaled $q\\cdot k$": [], "scaled $q\\cdot k/\\sqrt{d_k}$": []}
    for dk in dks:
        q = rng.standard_normal((n_samples, 1, dk))
        k = rng.standard_normal((n_samples, n_keys, dk))
        s = (q * k).sum(-1)  # (n_samples, n_keys), variance d_k
        for name, z in zip(ent, (s, s / np.sqrt(dk))):
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            ent[name].append(float(-(p * np.log(p + 1e-300)).sum(axis=1).mean()))
    for (name, e), c in zip(ent.items(), ("tab:red", "tab:blue")):
        ax1.plot(dks, e, "-o", ms=4, color=c, label=name)
    ax1.axhline(np.log(n_keys), color="gray", ls=":", label=f"uniform over {n_keys} keys")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("key/query dimension $d_k$")
    ax1.set_ylabel("mean entropy of the attention weights (nats)")
    ax1.set_title("Softmax saturation without scaling")
    ax1.legend(fontsize=8)
    ax1.grid(True, alpha=0.3)
    save(fig, args.out, "04-attention.png")


if __name__ == "__main__":
    main()
