"""Public checks for ddpm: what `dlcourse check ddpm` runs, and what students can read.

The oracles are expected values stored as data (`public_expected.npz`: fixed inputs and what the reference gives
for them, with the known wrong variants, generated when the course is released), and, for the sampler, exact
statistics: with Gaussian data the ideal noise predictor is known in closed form and every reverse step is affine,
so the distribution of the samples is known exactly. The submission runs in the sandbox and only its values come
back; nothing here computes a graded function.
"""


import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true

C = load_sibling(__file__, "_common")


def _gen(seed):
    return torch.Generator().manual_seed(seed)  # public checks use fixed inputs: the same for every student


# ------------------------------------------------------------------------------------------- schedules

@check("linear_beta_schedule: T values from beta_start to beta_end, evenly spaced, float64", points=1, core=True)
def test_linear_schedule(student):
    for i, (T, start, end) in enumerate([(1000, 1e-4, 0.02), (10, 1e-3, 0.3)]):
        got = student.linear_beta_schedule(T, start, end)
        expect_close(got, C.stored(f"linear{i}.want"), name=f"linear_beta_schedule({T}, {start:g}, {end:g})",
                     mistakes={"beta_end left out (the last value must equal beta_end)":
                               C.stored(f"linear{i}.end_left_out")})
    got = student.linear_beta_schedule(100)
    expect_close(got, C.stored("linear2.want"), name="linear_beta_schedule(100) with the default betas")


@check("cosine_beta_schedule: betas from the squared-cosine alpha_bar, clipped at max_beta", points=2, core=True)
def test_cosine_schedule(student):
    for i, (T, s, max_beta) in enumerate([(1000, 0.008, 0.999), (20, 0.02, 0.5)]):
        got = student.cosine_beta_schedule(T, s=s, max_beta=max_beta)
        expect_close(got, C.stored(f"cosine{i}.want"), name=f"cosine_beta_schedule({T}, s={s}, max_beta={max_beta})",
                     mistakes=C.stored_mistakes(f"cosine{i}"))
    got = student.cosine_beta_schedule(50)
    expect_true(float(got.max()) <= 0.999 and abs(float(got[-1]) - 0.999) < 1e-12,
                f"cosine_beta_schedule(50): the last beta should be clipped to max_beta = 0.999, got "
                f"{float(got[-1]):.6g} (f(T) = 0, so the unclipped last beta is exactly 1)")


# ------------------------------------------------------------------------------------------- NoiseSchedule

@check("NoiseSchedule: alphas, alpha_bars, alpha_bars_prev and posterior_variance follow from the betas", points=2, core=True)
def test_noise_schedule_values(student, device):
    want = C.stored_schedule("schedule", device)
    got = student.run(C.probe_schedule, want["betas"])
    expect_true(isinstance(got, dict), "probe returned something unexpected")
    for key in ("betas", "alphas", "alpha_bars", "alpha_bars_prev", "posterior_variance"):
        mistakes = {}
        if key == "alpha_bars":
            mistakes = {"the sum of the alphas instead of their product": torch.cumsum(want["alphas"], 0),
                        "the product of the betas instead of the alphas": torch.cumprod(want["betas"], 0)}
        if key == "alpha_bars_prev":
            mistakes = {"alpha_bars_prev not shifted (it must be alpha_bars[t - 1], with 1 first)": want["alpha_bars"],
                        "shifted the wrong way (alpha_bars[t + 1])":
                            torch.cat([want["alpha_bars"][1:], want["alpha_bars"][-1:]])}
        if key == "posterior_variance":
            ab, prev, b = want["alpha_bars"], want["alpha_bars_prev"], want["betas"]
            mistakes = {"the ratio inverted ((1 - alpha_bar_t) / (1 - alpha_bar_{t-1}))": (1 - ab) / (1 - prev) * b,
                        "beta_t itself (the posterior variance is beta_tilde_t, eq. 7)": b,
                        "alpha_bar indexed one step off": (1 - torch.cat([prev[:1], prev[:-1]])) / (1 - prev) * b}
        expect_close(got[key], want[key], name=f"NoiseSchedule(betas).{key}", mistakes=mistakes,
                     inputs="linear betas from 0.01 to 0.4, T = 20 (float64)")


@check("NoiseSchedule: float64 tensors of shape (T,), alpha_bars_prev[0] = 1, posterior_variance[0] = 0", points=1)
def test_noise_schedule_form(student, device):
    betas = torch.linspace(0.05, 0.5, 7).to(device)  # float32
    got = student.run(C.probe_schedule, betas)
    for key, value in got.items():
        expect_true(isinstance(value, torch.Tensor), f"NoiseSchedule.{key} should be a tensor, got {type(value)}")
        expect_true(tuple(value.shape) == (7,), f"NoiseSchedule.{key} has shape {tuple(value.shape)}, expected (7,)")
        expect_true(value.dtype == torch.float64,
                    f"NoiseSchedule.{key} has dtype {value.dtype}: convert the betas to float64 (they were float32)")
        expect_true(value.device.type == torch.device(device).type,
                    f"NoiseSchedule.{key} is on {value.device.type}, the betas were on {device}")
    expect_true(float(got["alpha_bars_prev"][0]) == 1.0,
                f"alpha_bars_prev[0] = {float(got['alpha_bars_prev'][0]):.6g}, expected exactly 1")
    expect_true(float(got["posterior_variance"][0]) == 0.0,
                f"posterior_variance[0] = {float(got['posterior_variance'][0]):.6g}, expected exactly 0")


# ------------------------------------------------------------------------------------------- q_sample

def _q_sample_check(student, device, key, label):
    tensors = C.stored_schedule(f"{key}.schedule", device)
    x0, t, noise = (C.stored(f"{key}.{name}", device) for name in ("x0", "t", "noise"))
    T = tensors["betas"].shape[0]
    got = student.run(C.probe_q_sample, x0, t, noise, tensors)
    expect_close(got, C.stored(f"{key}.want", device), name="x_t = q_sample(x0, t, noise, schedule)",
                 mistakes=C.stored_mistakes(key, device),
                 inputs=f"{label}, float32 on {device}, t = {t.tolist()} of T = {T}")


@check("q_sample: 2-D points, a different t per example", points=2, core=True)
def test_q_sample_points(student, device):
    _q_sample_check(student, device, "q_points", "x0 and noise of shape (16, 2)")


@check("q_sample: images (B, 1, 8, 8), alpha_bar_t broadcast over every pixel of its example", points=2, core=True)
def test_q_sample_images(student, device):
    _q_sample_check(student, device, "q_images", "x0 and noise of shape (8, 1, 8, 8)")


# ------------------------------------------------------------------------------------------- ddpm_loss

def _loss_inputs(device, key):
    tensors = C.stored_schedule(f"{key}.schedule", device)
    x0, t, noise, w = (C.stored(f"{key}.{name}", device) for name in ("x0", "t", "noise", "w"))
    return x0, t, noise, tensors, w


def _stored_loss(device, key):
    """The loss, d loss / d w and the denoiser's prediction for the stored inputs (from the reference)."""
    return tuple(C.stored(f"{key}.{name}", device) for name in ("want", "grad", "pred"))


@check("ddpm_loss: the mean squared error of a trusted denoiser's noise prediction", points=2, core=True)
def test_ddpm_loss_value(student, device):
    for key in ("loss0", "loss1"):
        x0, t, noise, tensors, w = _loss_inputs(device, key)
        shape = tuple(x0.shape)
        loss, _ = student.run(C.probe_loss, x0, t, noise, tensors, w)
        want, _, pred = _stored_loss(device, key)
        n_dims = x0[0].numel()
        expect_close(loss, want, name="ddpm_loss",
                     mistakes={"summed instead of averaged": want * x0.numel(),
                               "averaged over the batch but summed over the data dimensions": want * n_dims,
                               "compared the prediction with x0 instead of the noise": ((pred - x0) ** 2).mean(),
                               "the absolute error instead of the squared error": (pred - noise).abs().mean()},
                     inputs=f"x0 of shape {tuple(shape)}, eps(x, t) = tanh(w * x + t / T), T = 25")


@check("ddpm_loss: differentiable, the gradient reaches the denoiser's parameters", points=1)
def test_ddpm_loss_grad(student, device):
    x0, t, noise, tensors, w = _loss_inputs(device, "loss_grad")
    loss, grad = student.run(C.probe_loss, x0, t, noise, tensors, w)
    expect_true(grad is not None, "ddpm_loss returned a loss that does not require grad: keep the computation in "
                                  "torch (no .item(), no .detach(), no torch.no_grad())")
    _, want, _ = _stored_loss(device, "loss_grad")
    expect_close(grad, want, name="d ddpm_loss / d w", inputs="eps(x, t) = tanh(w * x + t / T), x0 (32, 2)")


# ------------------------------------------------------------------------------------------- p_sample

def _p_sample_inputs(device, key):
    """The stored inputs (t == 0 rows mixed in with t > 0 rows) and schedule of one p_sample case."""
    tensors = C.stored_schedule(f"{key}.schedule", device)
    x_t, t, noise = (C.stored(f"{key}.{name}", device) for name in ("x_t", "t", "noise"))
    return x_t, t, noise, tensors


@check("p_sample: t == 0 and t > 0 rows in one batch, with the posterior variance", points=2, core=True)
def test_p_sample(student, device):
    for key in ("p0", "p1"):
        x_t, t, noise, tensors = _p_sample_inputs(device, key)
        shape, T = tuple(x_t.shape), tensors["betas"].shape[0]
        got = student.run(C.probe_p_sample, x_t, t, noise, tensors)
        expect_close(got, C.stored(f"{key}.want", device), name="x_{t-1} = p_sample(model, x_t, t, noise, schedule)",
                     mistakes=C.stored_mistakes(key, device),
                     inputs=f"x_t of shape {shape}, t = {t.tolist()} of T = {T}, "
                            "eps(x, t) = 0.5 tanh(x) + 0.3 cos(3 t / T)")


@check("p_sample: no noise at t == 0 even where the variance is not 0 (sigma_t^2 = beta_t)", points=1)
def test_p_sample_beta_variance(student, device):
    # The stored schedule's posterior_variance is the betas (Ho et al., 2020, Section 3.2: the other choice).
    x_t, t, noise, tensors = _p_sample_inputs(device, "p_beta")
    T = tensors["betas"].shape[0]
    got = student.run(C.probe_p_sample, x_t, t, noise, tensors)
    expect_close(got, C.stored("p_beta.want", device), name="p_sample with schedule.posterior_variance = betas",
                 mistakes=C.stored_mistakes("p_beta", device),
                 inputs=f"x_t of shape (9, 3), t = {t.tolist()} of T = {T}, a schedule whose variance is beta_t")


# ------------------------------------------------------------------------------------------- sample

@check("sample: Gaussian data: the samples' mean and covariance match the exact reverse process", points=3, core=True)
def test_sample_gaussian(student, device):
    T, n = 40, 20000
    tensors = C.stored_schedule("gaussian.schedule")
    mu = torch.tensor([1.0, -0.5], dtype=torch.float64)
    L = torch.tensor([[0.8, 0.0], [0.3, 0.4]], dtype=torch.float64)
    sigma = L @ L.T
    weights = C.gaussian_denoiser_weights(tensors, sigma)
    dev = {k: v.to(device) for k, v in tensors.items()}
    x = student.run(C.probe_sample_gaussian, n, mu.to(device), weights.to(device), dev, 0, _timeout=30)
    expect_true(isinstance(x, torch.Tensor) and tuple(x.shape) == (n, 2),
                f"sample(model, ({n}, 2), ...) returned {type(x).__name__} "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else ''}, expected a tensor of shape ({n}, 2)")
    m, S = C.gaussian_reverse_moments(tensors, mu, sigma)
    problem = C.moment_mismatch(x, m, S)
    forward_m, forward_S = C.gaussian_reverse_moments(tensors, mu, sigma, forwards=True)
    hint = ""
    if problem and not C.moment_mismatch(x, forward_m, forward_S, z=8.0):
        hint = " This matches a known mistake: the loop runs forwards (t = 0 first); it must go from T - 1 down to 0."
    expect_true(not problem, f"sample() of {n} points with the exact noise predictor of N(mu, Sigma), T = {T}: "
                             f"{problem}.{hint} Check p_sample and the order of the loop.")


@check("sample: float32 of the asked shape; the same generator seed gives the same samples", points=1)
def test_sample_reproducible(student, device):
    tensors = C.stored_schedule("seeds.schedule", device)
    a, b, c = student.run(C.probe_sample_seeds, tensors, [3, 3, 4])
    expect_true(isinstance(a, torch.Tensor) and tuple(a.shape) == (6, 3) and a.dtype == torch.float32,
                f"sample(model, (6, 3), ...) should return a float32 tensor of shape (6, 3), got "
                f"{getattr(a, 'dtype', type(a))} {tuple(getattr(a, 'shape', ()))}")
    expect_true(a.device.type == torch.device(device).type,
                f"the samples are on {a.device.type}, expected {device} (the device of schedule.betas)")
    expect_equal(b, a, name="samples drawn twice with torch.Generator().manual_seed(3) (all randomness must come "
                            "from the generator, the starting noise included)")
    expect_true(not torch.equal(a, c), "seeds 3 and 4 gave the same samples: the generator is not used")


@check("sample: calls the denoiser at every step t = T - 1, ..., 0, once each, in that order", points=1)
def test_sample_steps(student, device):
    T, shape = 7, (3, 2)
    tensors = C.stored_schedule("steps.schedule", device)
    _, calls = student.run(C.probe_sample_steps, tensors, shape, 5)
    want = [[t] * shape[0] for t in reversed(range(T))]
    if not isinstance(calls, list) or calls != want:
        seen = [c[0] if isinstance(c, list) and c and len(set(c)) == 1 else c for c in calls] \
            if isinstance(calls, list) else calls
        hint = ""
        if isinstance(calls, list) and calls == want[:-1]:
            hint = " The loop stops at t = 1: the last step, t = 0, is never applied."
        elif isinstance(calls, list) and calls == want[::-1]:
            hint = " The loop runs forwards: it must go from T - 1 down to 0."
        fail(f"sample(model, {shape}, schedule with T = {T}) called the denoiser at the steps {seen}, expected "
             f"{list(reversed(range(T)))}: each step once, from T - 1 down to 0, with t of shape (B,) filled with "
             f"the step.{hint}")


# ------------------------------------------------------------------------------------------- end to end

@check("sample: end to end, an MLP trained with your functions draws a ring of 6 Gaussians", points=3, timeout=120,
       needs=("cosine_beta_schedule", "NoiseSchedule", "ddpm_loss"))
def test_end_to_end(student, device):
    data = C.ring_data(4096, seed=11, device=device)
    held_out = C.ring_data(C.N_SAMPLES_2D, seed=12)
    out = student.run(C.probe_train_2d, data, C.T_2D, C.STEPS_2D, C.BATCH_2D, C.LR_2D, C.HIDDEN_2D, 0,
                      C.N_SAMPLES_2D, _timeout=90)
    samples = out["samples"]
    expect_true(isinstance(samples, torch.Tensor) and tuple(samples.shape) == (C.N_SAMPLES_2D, 2),
                f"sample() should return a tensor of shape ({C.N_SAMPLES_2D}, 2)")
    # The distance is computed here, in the trusted process, on data the sandbox never saw.
    d = C.mmd(samples, held_out)
    noise = C.mmd(torch.randn(C.N_SAMPLES_2D, 2, generator=_gen(5)), held_out)
    limit = 0.025
    expect_true(d <= limit,
                f"after {C.STEPS_2D} Adam steps on a ring of 6 Gaussians (cosine schedule, T = {C.T_2D}), the squared "
                f"MMD between {C.N_SAMPLES_2D} samples and held-out data is {d:.4f}, expected at most {limit} (pure "
                f"N(0, I) noise scores {noise:.4f}; correct implementations score 0.003 to 0.012). Check the schedule, "
                f"q_sample, ddpm_loss, p_sample and sample.")
