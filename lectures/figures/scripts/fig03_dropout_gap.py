"""Lecture 3: the train-test gap with and without dropout.

Experiment: a wide two-hidden-layer MLP (64-512-512-10) trained with Adam on only 200 digits,
so that it can memorise them, and evaluated on 500 held-out digits. The same network is trained
without dropout and with the rates Srivastava et al. (2014) recommend: p = 0.2 on the inputs and
p = 0.5 on both hidden layers (inverted dropout, as in torch.nn.Dropout). We plot the
cross-entropy on the training and the test set, and the test error, through training, averaged
over seeds.
"""
import numpy as np
import torch
import torch.nn as nn

from _common import digits_split, parse_args, plt, save


def make(p):
    p_in = 0.2 if p > 0 else 0.0
    return nn.Sequential(nn.Dropout(p_in), nn.Linear(64, 512), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(512, 512), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(512, 10))


def run(p, X, y, Xte, yte, epochs, seed):
    torch.manual_seed(seed)
    net = make(p)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    tr, te, err = [], [], []
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(X), generator=gen).split(32):
            loss = nn.functional.cross_entropy(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()  # dropout off: the full network is used for evaluation
        with torch.no_grad():
            tr.append(nn.functional.cross_entropy(net(X), y).item())
            out = net(Xte)  # (N_test, 10)
            te.append(nn.functional.cross_entropy(out, yte).item())
            err.append((out.argmax(1) != yte).float().mean().item())
    return np.array(tr), np.array(te), np.array(err)


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(1)
    Xtr, ytr, Xte, yte = digits_split()
    X = torch.as_tensor(Xtr[:200])
    y = torch.as_tensor(ytr[:200], dtype=torch.long)
    Xte, yte = torch.as_tensor(Xte), torch.as_tensor(yte, dtype=torch.long)
    epochs = 3 if args.fast else 100
    seeds = [0] if args.fast else [0, 1, 2]

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for p, c in ((0.0, "tab:red"), (0.5, "tab:blue")):
        runs = [run(p, X, y, Xte, yte, epochs, s) for s in seeds]
        tr = np.mean([r[0] for r in runs], axis=0)
        te = np.mean([r[1] for r in runs], axis=0)
        err = np.mean([r[2] for r in runs], axis=0)
        name = "no dropout" if p == 0 else "dropout (0.2 input, 0.5 hidden)"
        ep = np.arange(1, epochs + 1)
        ax.plot(ep, tr, "--", color=c, label=f"{name}: train")
        ax.plot(ep, te, "-", color=c, label=f"{name}: test")
        ax.annotate(f"gap {te[-1] - tr[-1]:.2f}", (ep[-1], te[-1]), color=c, fontsize=8,
                    textcoords="offset points", xytext=(-40, 6))
        ax2.plot(ep, 100 * err, color=c, label=f"{name} (final {100 * err[-1]:.1f}%)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch (200 training digits, batch 32)")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title("Train-test gap with and without dropout")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(True, which="both", alpha=0.3)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("test error (%)")
    ax2.set_ylim(0, 20)
    ax2.set_title("Test error on 500 held-out digits")
    ax2.legend(fontsize=8)
    ax2.grid(True, alpha=0.3)
    save(fig, args.out, "03-dropout-gap.png")


if __name__ == "__main__":
    main()
