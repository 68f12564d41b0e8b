"""Lecture 3: gradients through depth, with and without residual connections and normalization.

Experiment: 50-layer networks of width 64 on a batch of scikit-learn digits. At initialization we
backpropagate the cross-entropy loss and record the Frobenius norm of the gradient of every
layer's weight matrix, for four designs:

  * plain, sigmoid       h <- sigmoid(W h)            (the classic vanishing-gradient setting)
  * plain, ReLU + He     h <- relu(W h), W ~ N(0, 2/fan_in)        (He et al., 2015)
  * residual, ReLU       h <- h + W relu(h)                       (He et al., 2016)
  * residual + LayerNorm h <- h + W relu(LN(h))   ("pre-norm"; Ba et al., 2016; Xiong et al., 2020)

A second panel trains 20-layer versions of the same four with SGD and plots the training loss.
"""
import numpy as np
import torch
import torch.nn as nn

from _common import digits_split, parse_args, plt, save

WIDTH = 64


class Net(nn.Module):
    def __init__(self, kind, depth):
        super().__init__()
        self.kind = kind
        self.inp = nn.Linear(64, WIDTH)
        self.layers = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(WIDTH) for _ in range(depth))
        self.out = nn.Linear(WIDTH, 10)
        for lin in self.layers:
            nn.init.zeros_(lin.bias)
            if kind == "plain, sigmoid":
                nn.init.normal_(lin.weight, std=(1.0 / WIDTH) ** 0.5)  # LeCun-style 1/fan_in
            else:
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")  # var 2/fan_in

    def forward(self, x):
        h = self.inp(x)  # (B, WIDTH)
        for lin, ln in zip(self.layers, self.norms):
            if self.kind == "plain, sigmoid":
                h = torch.sigmoid(lin(h))
            elif self.kind == "plain, ReLU + He init":
                h = torch.relu(lin(h))
            elif self.kind == "residual, ReLU":
                h = h + lin(torch.relu(h))
            else:  # residual + LayerNorm (pre-norm)
                h = h + lin(torch.relu(ln(h)))
        return self.out(h)  # (B, 10) logits


KINDS = ["plain, sigmoid", "plain, ReLU + He init", "residual, ReLU", "residual + LayerNorm"]
COLORS = ["tab:orange", "tab:blue", "tab:red", "tab:green"]


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(1)
    Xtr, ytr, _, _ = digits_split()
    X = torch.as_tensor(Xtr[:256])
    y = torch.as_tensor(ytr[:256], dtype=torch.long)
    depth = 12 if args.fast else 50
    seeds = [0] if args.fast else [0, 1, 2, 3, 4]

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    for kind, c in zip(KINDS, COLORS):
        norms = []
        for s in seeds:
            torch.manual_seed(s)
            net = Net(kind, depth).double()  # float64: the sigmoid gradients underflow float32
            nn.functional.cross_entropy(net(X.double()), y).backward()
            norms.append([lin.weight.grad.norm().item() for lin in net.layers])
        g = np.exp(np.log(np.maximum(np.array(norms), 1e-300)).mean(axis=0))  # geometric mean
        ax0.plot(np.arange(1, depth + 1), g, "-o", ms=3, color=c, label=kind)
    ax0.set_yscale("log")
    ax0.set_xlabel("layer index (1 = closest to the input)")
    ax0.set_ylabel(r"$\|\partial L / \partial W_\ell\|_F$ at initialization")
    ax0.set_title(f"Gradient norm per layer, depth {depth}")
    ax0.legend(fontsize=8)
    ax0.grid(True, which="both", alpha=0.3)

    tdepth, steps = (6, 15) if args.fast else (20, 300)
    Xall = torch.as_tensor(Xtr)
    yall = torch.as_tensor(ytr, dtype=torch.long)
    for kind, c in zip(KINDS, COLORS):
        torch.manual_seed(0)
        net = Net(kind, tdepth)
        opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
        gen = torch.Generator().manual_seed(0)
        losses = []
        for _ in range(steps):
            idx = torch.randint(0, len(Xall), (128,), generator=gen)
            loss = nn.functional.cross_entropy(net(Xall[idx]), yall[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)  # keeps the unnormalized net finite
            opt.step()
            losses.append(loss.item() if np.isfinite(loss.item()) else np.nan)
        smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")
        ax1.plot(np.arange(len(smooth)) + 10, smooth, color=c, label=kind)
    ax1.set_yscale("log")
    ax1.set_xlabel("SGD step (batch 128, momentum 0.9, lr 0.02)")
    ax1.set_ylabel("training loss (10-step average)")
    ax1.set_title(f"Training a depth-{tdepth} network")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    save(fig, args.out, "03-gradient-norms-depth.png")


if __name__ == "__main__":
    main()
