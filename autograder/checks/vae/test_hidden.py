"""Hidden checks for vae: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here) and compares, with the
known wrong variants named; the sampler is judged by the law of the noise behind its samples, and the end-to-end run
against the reference trained the same way.
"""

from concurrent.futures import ThreadPoolExecutor

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true

C = load_sibling(__file__, "_common")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _shape(rng):
    return (int(rng.integers(1, 17)), int(rng.integers(1, 9)))


@check("reparameterize: matches the reference on random shapes, float32 and float64, with gradients", points=2,
       core=True)
def test_reparameterize(student, reference, rng, seed, device):
    g = _gen(seed)
    for dtype in (torch.float32, torch.float64):
        shape = _shape(rng)
        mu, eps, w = [torch.randn(shape, generator=g, dtype=dtype).to(device) for _ in range(3)]
        logvar = (torch.randn(shape, generator=g, dtype=dtype) * 2).to(device)
        got = student.run(C.probe_reparam, mu, logvar, eps, w)
        want = C.probe_reparam(reference, mu, logvar, eps, w)
        expect_close(list(got), list(want), name="[z, d sum(w z) / d mu, d sum(w z) / d logvar]",
                     inputs=f"mu, logvar, eps of shape {shape}, {dtype}",
                     mistakes={"exp(logvar) used as the standard deviation":
                               [(mu.double() + torch.exp(logvar.double()) * eps.double()).to(dtype)]})


@check("kl_divergence: matches the reference on random shapes, float32 and float64, with gradients", points=2,
       core=True)
def test_kl(student, reference, rng, seed, device):
    g = _gen(seed)
    for dtype in (torch.float32, torch.float64):
        shape = _shape(rng)
        mu = (torch.randn(shape, generator=g, dtype=dtype) * 2).to(device)
        logvar = (torch.randn(shape, generator=g, dtype=dtype) * 2).to(device)
        w = torch.randn(shape[0], generator=g, dtype=dtype).to(device)
        got = student.run(C.probe_kl, mu, logvar, w)
        want = C.probe_kl(reference, mu, logvar, w)
        expect_close(list(got), list(want), name="[kl, d sum(w kl) / d mu, d sum(w kl) / d logvar]",
                     inputs=f"mu, logvar of shape {shape}, {dtype}",
                     mistakes={k: [v.to(dtype).to(device)] for k, v in C.kl_mistakes(mu, logvar).items()})


@check("VAE: matches the reference for random sizes, weights and eps", points=2, core=True)
def test_vae(student, reference, rng, seed, device):
    g = _gen(seed)
    D, H, L = int(rng.integers(2, 70)), int(rng.integers(2, 40)), int(rng.integers(1, 9))
    B = int(rng.integers(1, 12))
    state = {k: v.to(device) for k, v in C.random_vae_state(D, H, L, g, scale=2.0).items()}
    x = torch.rand(B, D, generator=g, dtype=torch.float64).to(device)
    eps = torch.randn(B, L, generator=g, dtype=torch.float64).to(device)
    got = student.run(C.probe_vae, (D, H, L), state, x, eps, 0)
    want = C.probe_vae(reference, (D, H, L), state, x, eps, 0)
    expect_equal(got["names"], want["names"], name=f"VAE({D}, {H}, {L}).state_dict() parameter names and shapes")
    expect_close(got, want, name=f"VAE({D}, {H}, {L}): parameter shapes, (recon_logits, mu, logvar) and "
                                 "d sum(recon_logits) / d x",
                 inputs=f"x of shape ({B}, {D}), eps of shape ({B}, {L}), random float64 weights")


@check("elbo_loss: matches the reference on random batches, logits of every scale, with gradients", points=2,
       core=True)
def test_elbo(student, reference, rng, seed, device):
    g = _gen(seed)
    for dtype in (torch.float32, torch.float64):
        B, D, L = int(rng.integers(1, 12)), int(rng.integers(1, 70)), int(rng.integers(1, 9))
        scale = float(rng.choice([1.0, 5.0, 200.0]))
        logits = (torch.randn(B, D, generator=g, dtype=torch.float64) * scale)
        x = torch.rand(B, D, generator=g, dtype=torch.float64)
        mu = torch.randn(B, L, generator=g, dtype=torch.float64)
        logvar = torch.randn(B, L, generator=g, dtype=torch.float64)
        args = [t.to(dtype).to(device) for t in (logits, x, mu, logvar)]
        kl = C.given_kl(args[2], args[3])
        got = student.run(C.probe_elbo, *args, kl)
        want = C.probe_elbo(reference, *args, kl)
        mistakes = C.elbo_mistakes(*args)
        expect_close(list(got), list(want), name="[elbo_loss, [d / d recon_logits, d / d mu, d / d logvar]]",
                     inputs=f"recon_logits and x of shape ({B}, {D}), latent {L}, logits of scale {scale:g}, {dtype}",
                     mistakes={k: [v[0].to(dtype).to(device)] for k, v in mistakes.items()})


@check("sample: z ~ N(0, I) of a random latent size behind the samples, seeded by the generator", points=2,
       core=True)
def test_sample(student, seed, rng, device):
    L, n = int(rng.integers(2, 6)), 5000
    state, _ = C.invertible_decoder_state(L, _gen(seed))
    (x,) = student.run(C.probe_sample, {k: v.to(device) for k, v in state.items()}, n, [seed % 10000], 0)
    expect_true(isinstance(x, torch.Tensor) and tuple(x.shape) == (n, L),
                f"sample(model, {n}) should return shape ({n}, {L}), got {tuple(getattr(x, 'shape', ()))}")
    expect_true(0.0 <= float(x.min()) and float(x.max()) <= 1.0, "the samples should be probabilities in [0, 1]")
    z = C.recover_z(state, torch.logit(x.double().cpu().clamp(1e-12, 1 - 1e-12)))
    problem = C.standard_normal_mismatch(z)
    expect_true(not problem, f"sample(model, {n}) with latent size {L}: the z behind the samples do not look like "
                             f"N(0, I): {problem}")


@check("elbo_loss: end to end, the held-out negative ELBO comes within 1.1x the reference's trained the same way",
       points=3, timeout=300)
def test_end_to_end(student, reference, seed, device):
    state, batches, eps, held_out, eps_eval = C.e2e_inputs(seed=seed % 100000)
    args = ({k: v.to(device) for k, v in state.items()}, batches.to(device), eps.to(device), C.BATCH, C.LR)
    # The submission trains in the sandbox while the reference trains here: two processes, two cores.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(student.run, C.probe_train_vae, *args, _timeout=180)
        want = C.probe_train_vae(reference, *args)
        got = pending.result()
    ref_value = C.held_out_neg_elbo(want, held_out, eps_eval)
    try:
        value = C.held_out_neg_elbo(got, held_out, eps_eval)
    except ValueError as exc:
        expect_true(False, str(exc))
    limit = 1.1 * ref_value
    expect_true(value <= limit,
                f"a VAE trained with your elbo_loss ({C.EPOCHS} epochs of 8x8 digits, Adam, lr {C.LR}) reaches a "
                f"held-out negative ELBO of {value:.2f} nats per digit, computed here; the reference trained the same "
                f"way reaches {ref_value:.2f}, and the limit is 1.1 x {ref_value:.2f} = {limit:.2f}.")
