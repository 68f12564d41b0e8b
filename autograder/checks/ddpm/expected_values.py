"""The public checks' inputs and expected values for ddpm, generated from the reference: never shipped to students.

The public checks of ddpm judge with stored data (`public_expected.npz`, next to them): the fixed inputs they send
and the values the reference gives for them, with the known wrong variants that name a mistake. Stored data answers
only these inputs, where a formula in the checks would answer every input (a student reading the checks would find
the answer): so the formulas of the schedule, q_sample and p_sample live here, in a file that stays with the course
staff, as do the wrong variants (the hidden checks use those too).

`dlcourse release` regenerates the file into the bundle from the reference (autograder.instructor.release.bundle,
`write(reference, path)`); a test of the project fails when the course's copy is stale
(tests/autograder/instructor/test_release.py). Regenerate it with
`python -m autograder.checks.ddpm.expected_values` (or `write()`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

FILE = "public_expected.npz"


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def linear(T, start, end):
    """The linear betas as inputs: torch's own linspace, float64."""
    return torch.linspace(start, end, T, dtype=torch.float64)


# ------------------------------------------------------------------------------------------- the formulas

def cosine_f(T, s=0.008):
    """f(u) = cos((u/T + s)/(1 + s) * pi/2)^2 for u = 0..T (Nichol & Dhariwal, 2021, eq. 17), float64."""
    u = torch.arange(T + 1, dtype=torch.float64)
    return torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2


def schedule_tensors(betas):
    """The five schedule tensors (Ho et al., 2020, eqs. 4 and 7), float64, step by step."""
    betas = betas.to(torch.float64).cpu()
    alphas = 1 - betas
    prods, running = [], 1.0
    for a in alphas.tolist():
        running *= a
        prods.append(running)
    alpha_bars = torch.tensor(prods, dtype=torch.float64)
    prev = torch.tensor([1.0] + prods[:-1], dtype=torch.float64)
    post = (1 - prev) / (1 - alpha_bars) * betas
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars, "alpha_bars_prev": prev,
            "posterior_variance": post}


def _at(values, t, like):
    v = values.to(like.device)[t.to(like.device)]
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def expected_q_sample(x0, t, noise, tensors, variant=None):
    key = {"alpha": "alphas", "prev": "alpha_bars_prev"}.get(variant, "alpha_bars")
    if variant == "noise_alpha":
        a, b = _at(tensors["alpha_bars"], t, x0), _at(tensors["alphas"], t, x0)
        return (a.sqrt() * x0.double() + (1 - b).sqrt() * noise.double()).to(x0.dtype)
    a = _at(tensors[key], t, x0)
    if variant == "last_axis":
        a = tensors["alpha_bars"].to(x0.device)[t.to(x0.device)]
    if variant == "no_sqrt":
        return (a * x0.double() + (1 - a) * noise.double()).to(x0.dtype)
    return (a.sqrt() * x0.double() + (1 - a).sqrt() * noise.double()).to(x0.dtype)


def q_sample_mistakes(x0, t, noise, tensors):
    out = {
        "sqrt(1 - alpha_t) used in place of sqrt(1 - alpha_bar_t) on the noise":
            expected_q_sample(x0, t, noise, tensors, "noise_alpha"),
        "alpha_t used in place of alpha_bar_t (the single step, not the product up to t)":
            expected_q_sample(x0, t, noise, tensors, "alpha"),
        "alpha_bar indexed one step off (alpha_bar_{t-1} used in place of alpha_bar_t)":
            expected_q_sample(x0, t, noise, tensors, "prev"),
        "the square roots are missing (alpha_bar_t x0 + (1 - alpha_bar_t) noise)":
            expected_q_sample(x0, t, noise, tensors, "no_sqrt"),
    }
    if x0.dim() > 1 and x0.shape[-1] == x0.shape[0]:
        out["alpha_bar_t of shape (B,) broadcast along the last data axis, not the batch axis: reshape it to "
            "(B, 1, ..., 1)"] = expected_q_sample(x0, t, noise, tensors, "last_axis")
    return out


def toy_eps_p_sample(x, t, T):
    """The denoiser of probe_p_sample (autograder/checks/ddpm/_common.py)."""
    tt = (t.to(x.dtype) / T).reshape(-1, *([1] * (x.dim() - 1)))
    return 0.5 * torch.tanh(x) + 0.3 * torch.cos(3.0 * tt)


def expected_p_sample(x_t, t, noise, tensors, variant=None):
    T = tensors["betas"].shape[0]
    eps = toy_eps_p_sample(x_t, t, T).double()
    x, z = x_t.double(), noise.double()
    beta, alpha = _at(tensors["betas"], t, x), _at(tensors["alphas"], t, x)
    a_bar, var = _at(tensors["alpha_bars"], t, x), _at(tensors["posterior_variance"], t, x)
    keep = (t.to(x.device) > 0).double().reshape(a_bar.shape)
    if variant == "sqrt_alpha_bar":
        mean = (x - beta / (1 - a_bar).sqrt() * eps) / a_bar.sqrt()
    elif variant == "one_minus_alpha":
        mean = (x - beta / (1 - alpha).sqrt() * eps) / alpha.sqrt()
    elif variant == "prev":
        prev = _at(tensors["alpha_bars_prev"], t, x)
        mean = (x - beta / (1 - prev).sqrt() * eps) / alpha.sqrt()
    else:
        mean = (x - beta / (1 - a_bar).sqrt() * eps) / alpha.sqrt()
    if variant == "beta_variance":
        var = beta
    if variant == "noise_at_0":
        keep = torch.ones_like(keep)
    if variant == "no_sqrt_var":
        return (mean + keep * var * z).to(x_t.dtype)
    return (mean + keep * var.sqrt() * z).to(x_t.dtype)


def p_sample_mistakes(x_t, t, noise, tensors):
    v = lambda name: expected_p_sample(x_t, t, noise, tensors, name)  # noqa: E731
    return {
        "the mean divided by sqrt(alpha_bar_t) instead of sqrt(alpha_t)": v("sqrt_alpha_bar"),
        "sqrt(1 - alpha_t) used in place of sqrt(1 - alpha_bar_t) in the mean": v("one_minus_alpha"),
        "alpha_bar indexed one step off (alpha_bar_{t-1} used in place of alpha_bar_t)": v("prev"),
        "beta_t used as the variance instead of schedule.posterior_variance": v("beta_variance"),
        "noise added at t == 0 too (the last step must return the mean)": v("noise_at_0"),
        "the variance multiplied the noise instead of its square root (the standard deviation)": v("no_sqrt_var"),
    }


# ------------------------------------------------------------------------------------------- the stored data

class _Store(dict):
    def put(self, key, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        self[key] = np.asarray(value)

    def put_schedule(self, key, tensors):
        for name, value in tensors.items():
            self.put(f"{key}.{name}", value)

    def put_mistakes(self, key, mistakes):
        self.put(f"{key}.mistake_names", np.array(list(mistakes), dtype=str))
        for i, value in enumerate(mistakes.values()):
            self.put(f"{key}.mistake{i}", value)


def _schedule(reference, betas):
    s = reference.NoiseSchedule(betas)
    return {k: getattr(s, k).to(torch.float64).cpu() for k in ("betas", "alphas", "alpha_bars", "alpha_bars_prev",
                                                                 "posterior_variance")}


def _q_inputs(shape, T, seed):
    g = _gen(seed)
    x0 = torch.randn(shape, generator=g)
    noise = torch.randn(shape, generator=g)
    t = torch.randint(0, T, (shape[0],), generator=g)
    t[:3] = torch.tensor([0, T - 1, T // 2])
    return x0, t, noise


def _p_inputs(shape, T, seed):
    g = _gen(seed)
    x_t = torch.randn(shape, generator=g)
    noise = torch.randn(shape, generator=g)
    t = torch.randint(1, T, (shape[0],), generator=g)
    t[::3] = 0  # t == 0 rows mixed in with t > 0 rows
    t[1] = T - 1
    return x_t, t, noise


def _toy_p_model(T):
    def model(x, t):
        return toy_eps_p_sample(x, t, T)

    return model


def generate(reference) -> dict[str, np.ndarray]:
    """Every input and expected value the public checks use, from the reference module `reference`."""
    d = _Store()
    # linear_beta_schedule
    for i, (T, start, end) in enumerate([(1000, 1e-4, 0.02), (10, 1e-3, 0.3), (100, 1e-4, 0.02)]):
        d.put(f"linear{i}.want", reference.linear_beta_schedule(T, start, end))
        d.put(f"linear{i}.end_left_out", torch.tensor([start + k / T * (end - start) for k in range(T)],
                                                      dtype=torch.float64))
    # cosine_beta_schedule
    for i, (T, s, max_beta) in enumerate([(1000, 0.008, 0.999), (20, 0.02, 0.5)]):
        f, f0 = cosine_f(T, s), cosine_f(T, 0.0)
        raw = 1 - f[1:] / f[:-1]
        shifted = torch.cat([f[:1], f[:-1]])
        d.put(f"cosine{i}.want", reference.cosine_beta_schedule(T, s=s, max_beta=max_beta))
        d.put_mistakes(f"cosine{i}", {
            "the betas are not clipped at max_beta (the last one is 1 without the clip)": raw,
            "s left out of the cosine": (1 - f0[1:] / f0[:-1]).clamp(max=max_beta),
            "alpha_bar returned instead of the betas": (f / f[0])[1:],
            "the ratio taken one step off (alpha_bar(t) / alpha_bar(t - 1) with alpha_bar(-1) = 1)":
                (1 - shifted[1:] / shifted[:-1]).clamp(max=max_beta),
        })
    # NoiseSchedule
    d.put_schedule("schedule", _schedule(reference, linear(20, 0.01, 0.4)))
    # q_sample
    for key, shape, T, seed in [("q_points", (16, 2), 12, 1), ("q_images", (8, 1, 8, 8), 30, 2)]:
        tensors = _schedule(reference, linear(T, 0.02, 0.3))
        x0, t, noise = _q_inputs(shape, T, seed)
        d.put_schedule(f"{key}.schedule", tensors)
        d.put(f"{key}.x0", x0), d.put(f"{key}.t", t), d.put(f"{key}.noise", noise)
        d.put(f"{key}.want", reference.q_sample(x0, t, noise, _namespace(tensors)))
        d.put_mistakes(key, q_sample_mistakes(x0, t, noise, tensors))
    # ddpm_loss: inputs, the loss and its gradient with the trusted denoiser, the prediction (for the mistakes)
    for key, shape, seed in [("loss0", (32, 2), 3), ("loss1", (6, 1, 8, 8), 3), ("loss_grad", (32, 2), 4)]:
        T = 25
        g = _gen(seed)
        tensors = _schedule(reference, linear(T, 0.01, 0.3))
        x0 = torch.randn(shape, generator=g)
        noise = torch.randn(shape, generator=g)
        t = torch.randint(0, T, (shape[0],), generator=g)
        w = torch.randn(shape[1:], generator=g) * 0.7
        wg = w.clone().requires_grad_(True)
        x_t = reference.q_sample(x0, t, noise, _namespace(tensors))
        tt = (t.to(x0.dtype) / T).reshape(-1, *([1] * (x0.dim() - 1)))
        pred = torch.tanh(wg * x_t + tt)
        loss = ((pred - noise) ** 2).mean()
        loss.backward()
        d.put_schedule(f"{key}.schedule", tensors)
        for name, value in (("x0", x0), ("t", t), ("noise", noise), ("w", w), ("want", loss), ("grad", wg.grad),
                            ("pred", pred)):
            d.put(f"{key}.{name}", value)
    # p_sample
    for key, shape, T, seed, variance_is_beta in [("p0", (12, 2), 15, 5, False), ("p1", (6, 1, 8, 8), 40, 6, False),
                                                  ("p_beta", (9, 3), 10, 7, True)]:
        betas = linear(T, 0.05, 0.3) if variance_is_beta else linear(T, 0.02, 0.35)
        tensors = _schedule(reference, betas)
        if variance_is_beta:  # Ho et al. (2020), Section 3.2: the other choice of variance
            tensors["posterior_variance"] = tensors["betas"].clone()
        x_t, t, noise = _p_inputs(shape, T, seed)
        d.put_schedule(f"{key}.schedule", tensors)
        d.put(f"{key}.x_t", x_t), d.put(f"{key}.t", t), d.put(f"{key}.noise", noise)
        with torch.no_grad():
            d.put(f"{key}.want", reference.p_sample(_toy_p_model(T), x_t, t, noise, _namespace(tensors)))
        mistakes = p_sample_mistakes(x_t, t, noise, tensors)
        if variance_is_beta:
            mistakes = {"noise added at t == 0 (the last step must return the mean, whatever the variance)":
                        expected_p_sample(x_t, t, noise, tensors, "noise_at_0")}
        d.put_mistakes(key, mistakes)
    # sample: the schedules its checks use
    d.put_schedule("gaussian.schedule", _schedule(reference, linear(40, 1e-3, 0.25)))
    d.put_schedule("seeds.schedule", _schedule(reference, linear(8, 0.05, 0.4)))
    d.put_schedule("steps.schedule", _schedule(reference, linear(7, 0.05, 0.3)))
    return dict(d)


def _namespace(tensors):
    import types

    return types.SimpleNamespace(**tensors, T=tensors["betas"].shape[0])


def write(reference=None, path: Path | None = None) -> Path:
    """Write the stored values (from the course's reference, by default) next to the public checks."""
    if reference is None:
        from autograder import spec as specs
        from autograder.paths import load_module

        reference = load_module(specs.load("ddpm").reference, "dlcourse_reference_ddpm_expected")
    path = Path(path) if path else Path(__file__).with_name(FILE)
    with open(path, "wb") as f:
        np.savez_compressed(f, **generate(reference))
    return path


if __name__ == "__main__":
    print(write())
