"""Variational autoencoders (VAEs).

Milestone (constraint: architecture, "harnessing randomness: a latent space you can sample"): Kingma & Welling
(2013), "Auto-Encoding Variational Bayes" (and, independently, Rezende, Mohamed & Wierstra, 2014). A latent-variable
model p(x) = integral of p(x | z) p(z) dz with a standard-normal prior p(z) = N(0, I) is trained by maximising a lower
bound on log p(x), the evidence lower bound (ELBO, Kingma & Welling, 2013, eq. 3):

    log p(x) >= ELBO(x) = E_{q(z | x)}[ log p(x | z) ] - KL( q(z | x) || p(z) ),

where an encoder outputs the parameters of a diagonal Gaussian q(z | x) = N(mu(x), diag(exp(logvar(x)))) and a
decoder outputs the parameters of p(x | z). Writing z = mu + sigma * eps with eps ~ N(0, I) (the reparameterization
trick, Section 2.4) makes the sample a differentiable function of mu and sigma, so the whole model trains by
backpropagation. After training, decoding z ~ N(0, I) draws new data.

What you build:

- ``reparameterize``: z = mu + exp(0.5 * logvar) * eps (Section 2.4).
- ``kl_divergence``: KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form (Appendix B), one value per example.
- ``VAE``: an MLP encoder to (mu, logvar) and an MLP decoder to Bernoulli logits.
- ``elbo_loss``: the negative ELBO with a Bernoulli likelihood, averaged over the batch (eqs. 7 and 10).
- ``sample``: decode z ~ N(0, I) into pixel probabilities.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def reparameterize(mu, logvar, eps):
    """The reparameterization trick (Kingma & Welling, 2013, Section 2.4, with the Gaussian of Section 3):

        sigma = exp(0.5 * logvar)         (logvar is log sigma^2, so the standard deviation takes half of it)
        z     = mu + sigma * eps

    z is a sample of N(mu, diag(sigma^2)) when eps ~ N(0, I), and a differentiable function of mu and logvar: the
    randomness sits in eps, outside the path of the gradient.

    Args:
        mu, logvar, eps: tensors of the same shape, e.g. (B, latent_dim).

    Returns:
        z: same shape, differentiable in mu and logvar.
    """
    # TODO: the standard deviation from logvar, then shift and scale eps.
    raise NotImplementedError("reparameterize: not implemented yet")


def kl_divergence(mu, logvar):
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) for each example, in closed form (Kingma & Welling, 2013,
    Appendix B), summed over the latent dimensions j:

        KL = -1/2 * sum_j ( 1 + logvar_j - mu_j^2 - exp(logvar_j) )

    It is 0 exactly when mu = 0 and logvar = 0, and positive otherwise. You may not use torch.distributions'
    kl_divergence.

    Args:
        mu, logvar: tensors of shape (B, latent_dim).

    Returns:
        kl: shape (B,), one value per example.
    """
    # TODO: the closed form above, summed over the last axis.
    raise NotImplementedError("kl_divergence: not implemented yet")


class VAE(nn.Module):
    """A VAE with a one-hidden-layer MLP encoder and decoder (Kingma & Welling, 2013, Section 3 and Appendix C).

    The attributes, with these exact names (the checks load weights into them by name):

        encoder = nn.Sequential(nn.Linear(data_dim, hidden_dim), nn.ReLU())
        mu      = nn.Linear(hidden_dim, latent_dim)
        logvar  = nn.Linear(hidden_dim, latent_dim)
        decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, data_dim))

    The decoder returns *logits* of a Bernoulli distribution per data dimension (no sigmoid): the loss works on
    logits for numerical stability, and ``sample`` applies the sigmoid.
    """

    def __init__(self, data_dim, hidden_dim, latent_dim):
        super().__init__()
        # TODO: build encoder, mu, logvar and decoder as described above.
        raise NotImplementedError("VAE.__init__: not implemented yet")

    def forward(self, x, eps=None):
        """Encode, sample z with the reparameterization trick, decode.

            h = encoder(x);  mu = self.mu(h);  logvar = self.logvar(h)
            z = reparameterize(mu, logvar, eps)
            recon_logits = decoder(z)

        Args:
            x: data, shape (B, data_dim).
            eps: standard normal noise of shape (B, latent_dim), or None to draw it from N(0, I) here
                (``torch.randn_like(mu)``). When given, it must be used as it is.

        Returns:
            (recon_logits, mu, logvar): shapes (B, data_dim), (B, latent_dim), (B, latent_dim).
        """
        # TODO: the three steps above; draw eps only when it is None.
        raise NotImplementedError("VAE.forward: not implemented yet")


def elbo_loss(recon_logits, x, mu, logvar):
    """The negative ELBO (Kingma & Welling, 2013, eq. 10, with one sample of z), averaged over the batch.

    With a Bernoulli decoder p(x | z) = prod_d Bernoulli(x_d; sigmoid(l_d)), l = recon_logits, the reconstruction
    term is the binary cross-entropy summed over the data dimensions (Appendix C.1); x may hold any values in
    [0, 1] (here, grey levels):

        nll(x, l) = sum_d ( -x_d * log sigmoid(l_d) - (1 - x_d) * log(1 - sigmoid(l_d)) )
                  = sum_d ( softplus(l_d) - x_d * l_d )

        loss = mean over the batch of ( nll(x, l) + kl_divergence(mu, logvar) )

    Both terms are sums over their dimensions: averaging the reconstruction over the pixels while the KL stays
    summed weighs the KL 64 times more for 8x8 images, and the model learns to ignore its input. Never take a sigmoid
    and then a log: it is -inf for large logits in float32.

    Args:
        recon_logits: decoder logits, shape (B, data_dim).
        x: data in [0, 1], shape (B, data_dim).
        mu, logvar: the encoder's outputs, shape (B, latent_dim).

    Returns:
        A scalar tensor (shape ()), differentiable in recon_logits, mu and logvar, finite for logits of any size.
    """
    # TODO: the summed Bernoulli negative log-likelihood plus your kl_divergence, averaged over the batch.
    raise NotImplementedError("elbo_loss: not implemented yet")


def sample(model, n, generator=None):
    """Draw n new examples from a trained VAE: z ~ N(0, I), then the decoder's Bernoulli probabilities.

        z = torch.randn(n, latent_dim, generator=generator, device=<the model's device>)
        x = sigmoid(model.decoder(z))

    The latent size is ``model.mu.out_features``. All randomness comes from ``generator`` (a torch.Generator on the
    model's device, or None for the global one), so the same seed gives the same samples. No gradients are needed.

    Args:
        model: a VAE (only ``model.mu`` and ``model.decoder`` are used).
        n: number of samples.
        generator: optional torch.Generator.

    Returns:
        (n, data_dim) probabilities in [0, 1], on the model's device.
    """
    # TODO: draw z on the model's device with the generator, decode, and squash to probabilities.
    raise NotImplementedError("sample: not implemented yet")


if __name__ == "__main__":
    print("vae.py is checked, not run: `dlcourse check vae` (or `pytest -m vae` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
