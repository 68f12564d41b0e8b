"""Generative adversarial networks (GANs).

Milestone (constraint: architecture, "harnessing randomness: a learned sampler trained through a game"):
Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio (2014), "Generative Adversarial Nets".
A generator G turns noise z ~ p(z) into samples; a discriminator D scores how real a sample looks. The two play
the minimax game of eq. 1,

    min_G max_D  V(D, G) = E_{x ~ p_data}[ log D(x) ] + E_{z ~ p(z)}[ log(1 - D(G(z))) ],

and G learns to sample from the data distribution without ever writing down a density.

What you build:

- ``discriminator_loss``: D's side of eq. 1 as a binary cross-entropy on logits (real labelled 1, fake 0).
- ``generator_loss``: G's side, in the non-saturating form the paper recommends (Section 3) or in the minimax form.
- ``Generator`` and ``Discriminator``: two small MLPs.
- ``train_step``: one round of the game (Algorithm 1 with k = 1): one update of D, then one update of G.

Throughout, D outputs *logits* l (real numbers); D(x) = sigmoid(l) is the probability that x is real. Every loss is
written with log-sigmoid identities so that it stays finite for logits of any size:

    -log sigmoid(l)     = softplus(-l) = log(1 + exp(-l))
    -log(1 - sigmoid(l)) = softplus(l)  = log(1 + exp(l))
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def discriminator_loss(real_logits, fake_logits):
    """The discriminator's loss: minus its side of the value function (Goodfellow et al., 2014, eq. 1).

    D maximises E[log D(x)] + E[log(1 - D(G(z)))]; as a loss to minimise, that is a binary cross-entropy with the
    real examples labelled 1 and the fake ones labelled 0, each averaged over its own batch and the two summed:

        L_D = mean_i( -log sigmoid(real_logits[i]) ) + mean_j( -log(1 - sigmoid(fake_logits[j])) )
            = mean_i( softplus(-real_logits[i]) )    + mean_j( softplus(fake_logits[j]) )

    The two batches may have different sizes. Never take a sigmoid and then a log: sigmoid(-200) is 0 in float32,
    and log(0) is -inf. You may not use PyTorch's binary cross-entropy functions or modules.

    Args:
        real_logits: D's logits on real data, shape (B_real,).
        fake_logits: D's logits on generated data, shape (B_fake,).

    Returns:
        A scalar tensor (shape ()), differentiable in both inputs, finite for logits of any size.
    """
    # TODO: the two averaged cross-entropy terms, with softplus (or logsigmoid) instead of sigmoid then log.
    raise NotImplementedError("discriminator_loss: not implemented yet")


def generator_loss(fake_logits, non_saturating=True):
    """The generator's loss on D's logits for a batch of generated samples.

    Minimax form (the generator's side of eq. 1, Goodfellow et al., 2014):

        L_G = mean_j( log(1 - sigmoid(fake_logits[j])) ) = mean_j( -softplus(fake_logits[j]) )

    Early in training D rejects the fakes confidently (fake logits very negative), where log(1 - D(G(z))) is flat:
    its gradient vanishes and G learns nothing. Goodfellow et al. (2014, Section 3) therefore train G to maximise
    log D(G(z)) instead: the non-saturating form, with the same fixed point and strong gradients early on:

        L_G = mean_j( -log sigmoid(fake_logits[j]) ) = mean_j( softplus(-fake_logits[j]) )

    Args:
        fake_logits: D's logits on generated samples, shape (B,).
        non_saturating: True for the non-saturating form (the default), False for the minimax form.

    Returns:
        A scalar tensor (shape ()), differentiable, finite for logits of any size.
    """
    # TODO: pick the form with `non_saturating` and write it with softplus (or logsigmoid).
    raise NotImplementedError("generator_loss: not implemented yet")


class Generator(nn.Module):
    """G: noise z of shape (B, latent_dim) -> samples of shape (B, data_dim).

    The attribute ``net`` must be exactly

        nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.LeakyReLU(0.2),
                      nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU(0.2),
                      nn.Linear(hidden_dim, data_dim))

    (the checks load weights into it by name: net.0, net.2, net.4). The last layer has no activation: the data are
    real numbers. The leaky ReLU keeps a gradient where a ReLU would be flat (Radford et al., 2016, use it in D).
    """

    def __init__(self, latent_dim, hidden_dim, data_dim):
        super().__init__()
        # TODO: build self.net as described above.
        raise NotImplementedError("Generator.__init__: not implemented yet")

    def forward(self, z):
        """z: (B, latent_dim) -> x: (B, data_dim)."""
        # TODO: run the network.
        raise NotImplementedError("Generator.forward: not implemented yet")


class Discriminator(nn.Module):
    """D: samples of shape (B, data_dim) -> logits of shape (B,) (one real number per sample, no sigmoid).

    The attribute ``net`` must be exactly

        nn.Sequential(nn.Linear(data_dim, hidden_dim), nn.LeakyReLU(0.2),
                      nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU(0.2),
                      nn.Linear(hidden_dim, 1))

    and ``forward`` returns its output with the last axis (of size 1) removed: shape (B,), also for B = 1.
    """

    def __init__(self, data_dim, hidden_dim):
        super().__init__()
        # TODO: build self.net as described above.
        raise NotImplementedError("Discriminator.__init__: not implemented yet")

    def forward(self, x):
        """x: (B, data_dim) -> logits: (B,)."""
        # TODO: run the network and drop the last axis (careful with B = 1).
        raise NotImplementedError("Discriminator.forward: not implemented yet")


def train_step(G, D, opt_G, opt_D, real, z_d, z_g, non_saturating=True):
    """One round of the game: one discriminator update, then one generator update (Goodfellow et al., 2014,
    Algorithm 1 with k = 1).

    1. Discriminator step: zero D's gradients; make a fake batch G(z_d) that no gradient flows back through (detach
       it, or build it under torch.no_grad()); compute ``discriminator_loss(D(real), D(fake))``; backpropagate; take
       one step of ``opt_D``. G's parameters and G's gradients are not touched by this step.
    2. Generator step: zero G's gradients; make a fresh fake batch G(z_g), this time with gradients; compute
       ``generator_loss(D(G(z_g)), non_saturating)``; backpropagate; take one step of ``opt_G``. D's parameters are
       not changed by this step (D's gradients may be, they are zeroed before D's next update).

    The two steps use different noise: z_d for D's update, z_g for G's. Zero the gradients before each update:
    PyTorch adds new gradients to the old ones.

    Args:
        G, D: a generator and a discriminator (any modules with those signatures).
        opt_G, opt_D: optimizers over G's and D's parameters.
        real: a batch of real data, shape (B, data_dim).
        z_d: noise for the discriminator step, shape (B_d, latent_dim).
        z_g: noise for the generator step, shape (B_g, latent_dim).
        non_saturating: passed on to ``generator_loss``.

    Returns:
        (d_loss, g_loss): the two losses as Python floats, each measured before its update.
    """
    # TODO: the discriminator update on real and a detached G(z_d), then the generator update on G(z_g).
    raise NotImplementedError("train_step: not implemented yet")


if __name__ == "__main__":
    print("gan.py is checked, not run: `dlcourse check gan` (or `pytest -m gan` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
