"""Hidden checks for ddpm: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here), and compares; the
sampler is judged against the exact statistics of the reverse process, and the end-to-end run against the
reference trained the same way.
"""

from concurrent.futures import ThreadPoolExecutor

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close, expect_true

C = load_sibling(__file__, "_common")
E = load_sibling(__file__, "expected_values")  # the formulas' known wrong variants (not shipped to students)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _random_betas(reference, rng, T):
    if rng.random() < 0.5:
        return reference.linear_beta_schedule(T, float(rng.uniform(1e-4, 0.01)), float(rng.uniform(0.05, 0.4)))
    return reference.cosine_beta_schedule(T)


def _random_t(rng, B, T):
    t = torch.as_tensor(rng.integers(0, T, size=B), dtype=torch.long)
    t[0], t[-1] = 0, T - 1
    return t


def _data_shapes(rng):
    B = int(rng.integers(3, 17))
    return [(B, 2), (B, 1, 8, 8), (int(rng.integers(2, 9)), 3, 4, 5)]


@check("linear_beta_schedule: matches the reference for random T and end points", points=1, core=True)
def test_linear_schedule(student, reference, rng):
    for _ in range(3):
        T = int(rng.integers(2, 2000))
        start, end = float(rng.uniform(1e-5, 0.01)), float(rng.uniform(0.02, 0.5))
        expect_close(student.linear_beta_schedule(T, start, end), reference.linear_beta_schedule(T, start, end),
                     name=f"linear_beta_schedule({T}, {start:.4g}, {end:.4g})")


@check("cosine_beta_schedule: matches the reference for random T, s and max_beta", points=1, core=True)
def test_cosine_schedule(student, reference, rng):
    for T, s, max_beta in [(int(rng.integers(2, 2000)), float(rng.uniform(0.0, 0.05)), 0.999),
                           (int(rng.integers(5, 100)), 0.008, float(rng.uniform(0.2, 0.9)))]:
        want = reference.cosine_beta_schedule(T, s=s, max_beta=max_beta)
        f = E.cosine_f(T, s)
        expect_close(student.cosine_beta_schedule(T, s=s, max_beta=max_beta), want,
                     name=f"cosine_beta_schedule({T}, s={s:.4g}, max_beta={max_beta:.3g})",
                     mistakes={"the betas are not clipped at max_beta": 1 - f[1:] / f[:-1]})


@check("NoiseSchedule: every attribute matches the reference, linear and cosine betas", points=2, core=True)
def test_noise_schedule(student, reference, rng, device):
    for make in ("linear", "cosine"):
        T = int(rng.integers(2, 500))
        betas = (reference.linear_beta_schedule(T) if make == "linear" else reference.cosine_beta_schedule(T))
        betas = betas.to(device)
        got = student.run(C.probe_schedule, betas)
        want = C.probe_schedule(reference, betas)
        expect_close(got, want, name=f"NoiseSchedule({make} betas, T = {T})")


@check("q_sample: matches the reference for random shapes and steps, float32 and float64", points=2, core=True)
def test_q_sample(student, reference, rng, seed, device):
    g = _gen(seed)
    for shape in _data_shapes(rng):
        T = int(rng.integers(2, 300))
        tensors = C.probe_schedule(reference, _random_betas(reference, rng, T).to(device))
        dtype = torch.float64 if shape[1] == 3 else torch.float32
        x0 = torch.randn(shape, generator=g, dtype=dtype).to(device)
        noise = torch.randn(shape, generator=g, dtype=dtype).to(device)
        t = _random_t(rng, shape[0], T).to(device)
        got = student.run(C.probe_q_sample, x0, t, noise, tensors)
        want = C.probe_q_sample(reference, x0, t, noise, tensors)
        expect_close(got, want, name="q_sample(x0, t, noise, schedule)",
                     mistakes=E.q_sample_mistakes(x0, t, noise, tensors),
                     inputs=f"x0 of shape {shape} ({dtype}), T = {T}, t = {t.tolist()}")


@check("ddpm_loss: value and gradient match the reference on random batches", points=2, core=True)
def test_ddpm_loss(student, reference, rng, seed, device):
    g = _gen(seed)
    for shape in _data_shapes(rng)[:2]:
        T = int(rng.integers(2, 300))
        tensors = C.probe_schedule(reference, _random_betas(reference, rng, T).to(device))
        x0 = torch.randn(shape, generator=g).to(device)
        noise = torch.randn(shape, generator=g).to(device)
        w = torch.randn(shape[1:], generator=g).to(device)
        t = _random_t(rng, shape[0], T).to(device)
        loss, grad = student.run(C.probe_loss, x0, t, noise, tensors, w)
        want_loss, want_grad = C.probe_loss(reference, x0, t, noise, tensors, w)
        inputs = f"x0 of shape {shape}, T = {T}, eps(x, t) = tanh(w * x + t / T)"
        expect_close(loss, want_loss, name="ddpm_loss", inputs=inputs)
        expect_true(grad is not None, "ddpm_loss returned a loss that does not require grad")
        expect_close(grad, want_grad, name="d ddpm_loss / d w", inputs=inputs)


@check("p_sample: matches the reference for random shapes, t == 0 rows included", points=2, core=True)
def test_p_sample(student, reference, rng, seed, device):
    g = _gen(seed)
    for shape in _data_shapes(rng):
        T = int(rng.integers(2, 300))
        tensors = C.probe_schedule(reference, _random_betas(reference, rng, T).to(device))
        x_t = torch.randn(shape, generator=g).to(device)
        noise = torch.randn(shape, generator=g).to(device)
        t = _random_t(rng, shape[0], T)
        t[rng.random(shape[0]) < 0.3] = 0
        t = t.to(device)
        got = student.run(C.probe_p_sample, x_t, t, noise, tensors)
        want = C.probe_p_sample(reference, x_t, t, noise, tensors)
        expect_close(got, want, name="p_sample(model, x_t, t, noise, schedule)",
                     mistakes=E.p_sample_mistakes(x_t, t, noise, tensors),
                     inputs=f"x_t of shape {shape}, T = {T}, t = {t.tolist()}")


@check("sample: 3-D Gaussian data, random mean and covariance, linear schedule: exact moments", points=2, core=True)
def test_sample_gaussian_3d(student, reference, rng, seed, device):
    T, n = int(rng.integers(30, 80)), 20000
    tensors = C.probe_schedule(reference, reference.linear_beta_schedule(T, 1e-3, 10.0 / T))
    mu = torch.as_tensor(rng.normal(size=3), dtype=torch.float64)
    A = torch.as_tensor(rng.normal(size=(3, 3)), dtype=torch.float64)
    sigma = A @ A.T / 3 + 0.1 * torch.eye(3, dtype=torch.float64)
    weights = C.gaussian_denoiser_weights(tensors, sigma)
    dev = {k: v.to(device) for k, v in tensors.items()}
    x = student.run(C.probe_sample_gaussian, n, mu.to(device), weights.to(device), dev, seed, _timeout=30)
    expect_true(isinstance(x, torch.Tensor) and tuple(x.shape) == (n, 3),
                f"sample(model, ({n}, 3), ...) should return a tensor of shape ({n}, 3)")
    m, S = C.gaussian_reverse_moments(tensors, mu, sigma)
    problem = C.moment_mismatch(x, m, S)
    expect_true(not problem, f"sample() of {n} points with the exact noise predictor of a 3-D Gaussian, T = {T}: "
                             f"{problem}. Check p_sample and the order of the loop.")


@check("ddpm_loss: end to end, the trained MLP comes within 3x the reference's distance to the data", points=3,
       timeout=180, needs=("cosine_beta_schedule", "NoiseSchedule"))
def test_end_to_end(student, reference, seed, device):
    data = C.ring_data(4096, seed=seed % 100000, device=device)
    held_out = C.ring_data(C.N_SAMPLES_2D, seed=seed % 100000 + 1)
    args = (data, C.T_2D, C.STEPS_2D, C.BATCH_2D, C.LR_2D, C.HIDDEN_2D, seed % 1000, 0)
    # The submission trains in the sandbox while the reference trains here: two processes, two cores.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(student.run, C.probe_train_2d, *args, _timeout=90)
        want = C.probe_train_2d(reference, *args)
        got = pending.result()
    # Both trained networks are sampled here, with the reference sampler and schedule and the same noise, so
    # only the training (schedule, q_sample, ddpm_loss) is judged, and nothing computed in the sandbox is trusted.
    schedule = reference.NoiseSchedule(reference.cosine_beta_schedule(C.T_2D).to(device))
    distances = []
    for state in (got["state"], want["state"]):
        try:
            model = C.trusted_denoiser(state, C.T_2D)
        except ValueError as exc:
            expect_true(False, str(exc))
        g = torch.Generator(device=device).manual_seed(seed)
        x = reference.sample(model, (C.N_SAMPLES_2D, 2), schedule, generator=g)
        distances.append(C.mmd(x, held_out))
    d, d_ref = distances
    limit = 3 * d_ref + 0.01
    expect_true(d <= limit,
                f"an MLP trained with your cosine_beta_schedule, NoiseSchedule, q_sample and ddpm_loss ({C.STEPS_2D} "
                f"Adam steps, T = {C.T_2D}) draws samples at squared MMD {d:.4f} from held-out data; the reference "
                f"trained the same way is at {d_ref:.4f}, and the limit is 3 x {d_ref:.4f} + 0.01 = {limit:.4f}.")
