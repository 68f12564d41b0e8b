"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/ddpm/ddpm.py, what it becomes, the function whose checks must fail, words its
failure message must contain, or "" where no check names that mistake); the text must occur exactly once.
Every check of ddpm must fail for at least one of them. The project's tests (tests/checks/ddpm/) read this list and
assert that each bug fails checks of its target only. Not shipped to students (it is made from the reference).
"""

MEAN = "mean = (x_t - beta / (1.0 - a_bar).sqrt() * eps) / alpha.sqrt()"
COEFS = "at_t(schedule.alpha_bars), at_t(schedule.posterior_variance)"
BROADCAST = "a_bar = a_bar.reshape(-1, *([1] * (x0.dim() - 1)))"
LOSS = "return ((eps - noise) ** 2).mean()"
STEP_NOISE = "return mean + nonzero * var.sqrt() * noise"

BUGS = [
    # linear_beta_schedule
    ("linear schedule without its end point", "torch.linspace(beta_start, beta_end, T, dtype=torch.float64)",
     "torch.linspace(beta_start, beta_end, T + 1, dtype=torch.float64)[:-1]", "linear_beta_schedule",
     "beta_end left out"),
    # cosine_beta_schedule
    ("cosine schedule unclipped", "return betas.clamp(max=max_beta)", "return betas", "cosine_beta_schedule",
     "not clipped at max_beta"),
    ("cosine schedule without the offset s", "f = torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2",
     "f = torch.cos(u / T * math.pi / 2) ** 2", "cosine_beta_schedule", "s left out"),
    # NoiseSchedule
    ("NoiseSchedule: alpha_bars_prev not shifted", "self.alpha_bars_prev = torch.cat([one, self.alpha_bars[:-1]])",
     "self.alpha_bars_prev = self.alpha_bars.clone()", "NoiseSchedule", "alpha_bars_prev not shifted"),
    ("posterior variance ratio inverted", "(1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars) * self.betas",
     "(1.0 - self.alpha_bars) / (1.0 - self.alpha_bars_prev) * self.betas", "NoiseSchedule", "the ratio inverted"),
    ("NoiseSchedule keeps float32 betas", "self.betas = torch.as_tensor(betas).to(torch.float64)",
     "self.betas = torch.as_tensor(betas)", "NoiseSchedule", "convert the betas to float64"),
    ("alpha_bars as the sum of the alphas", "self.alpha_bars = torch.cumprod(self.alphas, dim=0)",
     "self.alpha_bars = torch.cumsum(self.alphas, dim=0)", "NoiseSchedule", "the sum of the alphas"),
    # q_sample
    ("q_sample: alpha_bar one step off", "a_bar = schedule.alpha_bars.to(x0.device)[t.to(x0.device)]",
     "a_bar = schedule.alpha_bars_prev.to(x0.device)[t.to(x0.device)]", "q_sample", "indexed one step off"),
    ("q_sample: sqrt(1 - alpha_t) on the noise", "+ (1.0 - a_bar).sqrt().to(x0.dtype) * noise)",
     "+ (1.0 - schedule.alphas.to(x0.device)[t.to(x0.device)].reshape(a_bar.shape)).sqrt().to(x0.dtype) * noise)",
     "q_sample", "sqrt(1 - alpha_t) used in place of sqrt(1 - alpha_bar_t)"),
    ("q_sample: t not broadcast at all", BROADCAST, "a_bar = a_bar", "q_sample",
     "broadcast along the last data axis"),
    ("q_sample: t broadcast as (B, 1) only", BROADCAST, "a_bar = a_bar.reshape(-1, 1)", "q_sample", ""),
    ("q_sample returns float64", "return (a_bar.sqrt().to(x0.dtype) * x0\n            + (1.0 - a_bar).sqrt().to("
     "x0.dtype) * noise)", "return (a_bar.sqrt() * x0\n            + (1.0 - a_bar).sqrt() * noise)", "q_sample",
     "dtype"),
    # ddpm_loss
    ("ddpm_loss summed", LOSS, "return ((eps - noise) ** 2).sum()", "ddpm_loss", "summed instead of averaged"),
    ("ddpm_loss against x0", LOSS, "return ((eps - x0) ** 2).mean()", "ddpm_loss", "with x0 instead of the noise"),
    ("ddpm_loss detached", LOSS, "return ((eps - noise) ** 2).mean().detach()", "ddpm_loss", "does not require grad"),
    # p_sample
    ("p_sample: alpha_bar one step off", COEFS, "at_t(schedule.alpha_bars_prev), at_t(schedule.posterior_variance)",
     "p_sample", "indexed one step off"),
    ("p_sample: sqrt(1 - alpha_t) in the mean", MEAN,
     "mean = (x_t - beta / (1.0 - alpha).sqrt() * eps) / alpha.sqrt()", "p_sample",
     "sqrt(1 - alpha_t) used in place of sqrt(1 - alpha_bar_t) in the mean"),
    ("p_sample: mean divided by sqrt(alpha_bar_t)", MEAN,
     "mean = (x_t - beta / (1.0 - a_bar).sqrt() * eps) / a_bar.sqrt()", "p_sample",
     "divided by sqrt(alpha_bar_t) instead of sqrt(alpha_t)"),
    ("p_sample: noise added at t == 0", STEP_NOISE, "return mean + var.sqrt() * noise", "p_sample",
     "noise added at t == 0"),
    ("p_sample: beta_t as the variance", COEFS, "at_t(schedule.alpha_bars), at_t(schedule.betas)", "p_sample",
     "beta_t used as the variance instead of schedule.posterior_variance"),
    ("p_sample: variance as the standard deviation", STEP_NOISE, "return mean + nonzero * var * noise", "p_sample",
     "instead of its square root"),
    # sample
    ("sample stops at t = 1", "for step in reversed(range(schedule.betas.shape[0])):",
     "for step in reversed(range(1, schedule.betas.shape[0])):", "sample", "stops at t = 1"),
    ("sampling loop run forwards", "for step in reversed(range(schedule.betas.shape[0])):",
     "for step in range(schedule.betas.shape[0]):", "sample", "the loop runs forwards"),
    ("sample: starting noise ignores the generator",
     "x = torch.randn(shape, generator=generator, device=device)              # (B, *D), x_{T-1}",
     "x = torch.randn(shape, device=device)", "sample", "the starting noise included"),
    ("sample: no noise added between steps", "x = p_sample(model, x, t, z, schedule)",
     "x = p_sample(model, x, t, torch.zeros_like(x), schedule)", "sample", "covariance"),
]

# The quick checks of each function (no end-to-end training), public and hidden: what the project's tests
# (tests/checks/test_harness.py) grade each bug on; the engine adds the target's core checks.
_QUICK = {
    "linear_beta_schedule": ["linear_beta_schedule:"],
    "cosine_beta_schedule": ["cosine_beta_schedule:"],
    "NoiseSchedule": ["NoiseSchedule:"],
    "q_sample": ["q_sample:"],
    "ddpm_loss": ["ddpm_loss: the mean", "ddpm_loss: differentiable", "ddpm_loss: value"],
    "p_sample": ["p_sample:"],
    "sample": ["sample: Gaussian", "sample: float32", "sample: 3-D", "sample: calls"],
}
SELECT = {name: _QUICK[target] for name, _old, _new, target, _says in BUGS}
