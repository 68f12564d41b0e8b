"""Denoising diffusion probabilistic models (DDPM).

Milestone (constraint: architecture, "harnessing randomness"): a generative model that starts from pure Gaussian
noise and removes it one small step at a time. Ho, Jain & Abbeel (2020), "Denoising Diffusion Probabilistic
Models", turned the diffusion idea of Sohl-Dickstein et al. (2015) into a simple recipe: corrupt data with a fixed
Gaussian Markov chain (the forward process), train a network to predict the noise that was added, and generate by
running a learned reverse chain. Nichol & Dhariwal (2021), "Improved Denoising Diffusion Probabilistic Models",
replaced the linear noise schedule by a cosine one that destroys information more evenly over the steps.

What you build (t is 0-indexed everywhere: t = 0 is the first noising step, t = T - 1 the last):

- ``linear_beta_schedule`` and ``cosine_beta_schedule``: the variances beta_t of the forward steps.
- ``NoiseSchedule``: every quantity derived from the betas that the forward and reverse processes need.
- ``q_sample``: jump straight from clean data x_0 to its noisy version x_t (Ho et al., 2020, eq. 4).
- ``ddpm_loss``: the "simple" noise-prediction objective (Ho et al., 2020, eq. 14).
- ``p_sample``: one step of the reverse chain, x_t -> x_{t-1} (Ho et al., 2020, Algorithm 2, line 4).
- ``sample``: the whole reverse chain, from x_{T-1} ~ N(0, I) down to x_0 (Ho et al., 2020, Algorithm 2).

A denoising model is any callable ``model(x_t, t)`` that takes a batch x_t of shape (B, *D) and a LongTensor t of
shape (B,) and returns its prediction of the noise, with the shape of x_t.
"""

import math

import torch


def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    """The linear schedule of Ho et al. (2020), Section 4.

    beta_t increases linearly from ``beta_start`` (at t = 0) to ``beta_end`` (at t = T - 1), both included:

        beta_t = beta_start + t / (T - 1) * (beta_end - beta_start),    t = 0, ..., T - 1.

    Args:
        T: number of diffusion steps (an int >= 2).
        beta_start, beta_end: the first and the last variance.

    Returns:
        betas: float64 tensor of shape (T,), on the CPU.
    """
    # TODO: T evenly spaced values from beta_start to beta_end inclusive, in float64.
    raise NotImplementedError("linear_beta_schedule: not implemented yet")


def cosine_beta_schedule(T, s=0.008, max_beta=0.999):
    """The cosine schedule of Nichol & Dhariwal (2021), Section 3.2, eq. 17.

    The schedule is defined through the product alpha_bar, which follows a squared cosine in the step index:

        f(u) = cos( (u / T + s) / (1 + s) * pi / 2 ) ** 2,       u = 0, 1, ..., T
        alpha_bar(u) = f(u) / f(0)

    and each beta is the ratio of two consecutive values (0-indexed, so step t goes from u = t to u = t + 1):

        beta_t = min( 1 - alpha_bar(t + 1) / alpha_bar(t), max_beta ),    t = 0, ..., T - 1.

    The small offset ``s`` keeps beta_0 from being vanishingly small. The clip at ``max_beta`` matters: f(T) = 0,
    so the last beta would be exactly 1, and a step with beta = 1 erases x entirely and makes the reverse step
    divide by sqrt(alpha_t) = 0 (Nichol & Dhariwal, 2021, Section 3.2).

    Args:
        T: number of diffusion steps.
        s: small offset.
        max_beta: upper clip of every beta.

    Returns:
        betas: float64 tensor of shape (T,), on the CPU.
    """
    # TODO: evaluate f on u = 0..T (float64), form alpha_bar, take the ratios of consecutive values, and clip.
    raise NotImplementedError("cosine_beta_schedule: not implemented yet")


class NoiseSchedule:
    """All quantities derived from a beta schedule, each a tensor of shape (T,).

    With alpha_t = 1 - beta_t (Ho et al., 2020, Section 2):

        alphas[t]             = 1 - beta_t
        alpha_bars[t]         = alpha_0 * alpha_1 * ... * alpha_t          (the product up to and including t)
        alpha_bars_prev[t]    = alpha_bars[t - 1], with alpha_bars_prev[0] = 1
        posterior_variance[t] = (1 - alpha_bars_prev[t]) / (1 - alpha_bars[t]) * beta_t

    ``posterior_variance`` is beta_tilde_t, the variance of the forward-process posterior q(x_{t-1} | x_t, x_0)
    (Ho et al., 2020, eq. 7). It is 0 at t = 0.

    Attributes:
        betas, alphas, alpha_bars, alpha_bars_prev, posterior_variance: float64 tensors of shape (T,), on the
        device of the ``betas`` given to the constructor.
    """

    def __init__(self, betas):
        """Args: betas: tensor of shape (T,) with values in (0, 1); converted to float64 (device kept)."""
        # TODO: store betas as float64 and compute the four derived tensors (no Python loop needed).
        raise NotImplementedError("NoiseSchedule.__init__: not implemented yet")

    @property
    def T(self):
        """The number of diffusion steps."""
        return self.betas.shape[0]


def q_sample(x0, t, noise, schedule):
    """Sample the forward process in one jump (Ho et al., 2020, eq. 4 and Algorithm 1):

        x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise

    Every example of the batch has its own step: alpha_bar_t is looked up at t[b] for example b and broadcast over
    all the remaining dimensions of that example.

    Args:
        x0: clean data, shape (B, *D), e.g. (B, 2) points or (B, C, H, W) images; float dtype.
        t: LongTensor of shape (B,), values in [0, T - 1].
        noise: standard normal noise, shape (B, *D).
        schedule: a ``NoiseSchedule`` (only ``schedule.alpha_bars`` is read).

    Returns:
        x_t: shape (B, *D), with the dtype and the device of x0.
    """
    # TODO: look up alpha_bar at t (move the lookup to x0's device and dtype), reshape it to (B, 1, ..., 1) so it
    # broadcasts over the data dimensions, and mix x0 and noise.
    raise NotImplementedError("q_sample: not implemented yet")


def ddpm_loss(model, x0, t, noise, schedule):
    """The simplified DDPM objective (Ho et al., 2020, eq. 14):

        L_simple = mean over the batch and all data dimensions of ( model(x_t, t) - noise ) ** 2,
        where x_t = q_sample(x0, t, noise, schedule).

    Use your ``q_sample``. The loss must stay differentiable with respect to the model's parameters.

    Args:
        model: callable ``model(x_t, t)`` returning the predicted noise, shape (B, *D).
        x0: clean data, shape (B, *D).
        t: LongTensor of shape (B,).
        noise: the noise used to make x_t, shape (B, *D).
        schedule: a ``NoiseSchedule``.

    Returns:
        A scalar tensor (shape ()).
    """
    # TODO: noise x0 to step t, predict the noise, and return the mean squared error.
    raise NotImplementedError("ddpm_loss: not implemented yet")


def p_sample(model, x_t, t, noise, schedule):
    """One step of the reverse process, x_t -> x_{t-1} (Ho et al., 2020, eq. 11 and Algorithm 2, line 4).

    With eps = model(x_t, t), the mean of p(x_{t-1} | x_t) is

        mu = ( x_t - beta_t / sqrt(1 - alpha_bar_t) * eps ) / sqrt(alpha_t)

    and the step adds noise with the variance ``schedule.posterior_variance`` (sigma_t^2 = beta_tilde_t):

        x_{t-1} = mu + sqrt(posterior_variance_t) * noise     where t > 0
        x_{t-1} = mu                                          where t == 0   (the last step adds no noise)

    The choice t > 0 versus t == 0 is made per example: one batch may hold both. Read the variance from
    ``schedule.posterior_variance`` (Ho et al. note that sigma_t^2 = beta_t works as well; a schedule object may
    carry that choice instead), and never add noise at t == 0 whatever the variance says.

    Args:
        model: callable ``model(x_t, t)`` returning the predicted noise, shape (B, *D).
        x_t: shape (B, *D).
        t: LongTensor of shape (B,).
        noise: standard normal noise, shape (B, *D).
        schedule: a ``NoiseSchedule``.

    Returns:
        x_{t-1}: shape (B, *D), dtype and device of x_t.
    """
    # TODO: predict eps, look up beta_t, alpha_t, alpha_bar_t and the posterior variance at t (each reshaped to
    # (B, 1, ..., 1)), form the mean, and add the scaled noise only on the rows where t > 0.
    raise NotImplementedError("p_sample: not implemented yet")


def sample(model, shape, schedule, generator=None):
    """Run the whole reverse chain (Ho et al., 2020, Algorithm 2).

    Start from x ~ N(0, I) of the given shape at t = T - 1, then for t = T - 1, T - 2, ..., 0 draw fresh standard
    normal noise z of the same shape and set x <- p_sample(model, x, t, z, schedule), with t a LongTensor of shape
    (B,) filled with the current step. Return the final x (the estimate of x_0).

    All tensors are created in float32 on the device of ``schedule.betas``; every random draw uses ``generator``
    (a ``torch.Generator`` on that device, or None for the global one), so the same seed gives the same samples.
    No gradients are needed.

    Args:
        model: callable ``model(x_t, t)``.
        shape: tuple (B, *D).
        schedule: a ``NoiseSchedule``.
        generator: optional ``torch.Generator``.

    Returns:
        x_0: float32 tensor of the given shape.
    """
    # TODO: draw the starting noise, then loop over the steps from the last to the first, calling p_sample.
    raise NotImplementedError("sample: not implemented yet")


if __name__ == "__main__":
    print("ddpm.py is checked, not run: `dlcourse check ddpm` (or `pytest -m ddpm` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
