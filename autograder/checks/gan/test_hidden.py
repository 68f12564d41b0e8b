"""Hidden checks for gan: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here) and compares, with
the known wrong variants named; train_step is also held to the trusted SGD computation of `_common`.
"""

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true

C = load_sibling(__file__, "_common")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _logits(g, n, dtype, scale):
    return (torch.randn(n, generator=g, dtype=torch.float64) * scale).to(dtype)


@check("discriminator_loss: matches the reference on random logits and batch sizes, float32 and float64", points=2,
       core=True)
def test_disc_loss(student, reference, rng, seed, device):
    g = _gen(seed)
    for dtype in (torch.float32, torch.float64, torch.float32):
        n_real, n_fake = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        scale = float(rng.choice([0.5, 3.0, 60.0]))
        real, fake = _logits(g, n_real, dtype, scale).to(device), _logits(g, n_fake, dtype, scale).to(device)
        got = student.run(C.probe_disc_loss, real, fake)
        want = C.probe_disc_loss(reference, real, fake)
        mistakes = C.disc_loss_mistakes(real, fake)
        expect_close(list(got), list(want), name="[loss, d loss / d real_logits, d loss / d fake_logits]",
                     mistakes={k: [v[0].to(dtype).to(device), v[1].to(dtype).to(device), v[2].to(dtype).to(device)]
                               for k, v in mistakes.items()},
                     inputs=f"real_logits ({n_real},), fake_logits ({n_fake},), {dtype}, logits of scale {scale:g}")


@check("generator_loss: both forms match the reference on random logits, float32 and float64", points=2, core=True)
def test_gen_loss(student, reference, rng, seed, device):
    g = _gen(seed)
    for dtype, ns in ((torch.float32, True), (torch.float64, False), (torch.float32, None)):
        n = int(rng.integers(1, 50))
        scale = float(rng.choice([0.5, 3.0, 60.0]))
        fake = _logits(g, n, dtype, scale).to(device)
        got = student.run(C.probe_gen_loss, fake, ns)
        want = C.probe_gen_loss(reference, fake, ns)
        mistakes = C.gen_loss_mistakes(fake, True if ns is None else ns)
        expect_close(list(got), list(want), name="[generator_loss, d loss / d fake_logits]",
                     mistakes={k: [v[0].to(dtype).to(device), v[1].to(dtype).to(device)] for k, v in mistakes.items()},
                     inputs=f"fake_logits ({n},), {dtype}, scale {scale:g}, non_saturating={ns}")


def _module(student, reference, rng, seed, device, kind):
    g = _gen(seed)
    latent, hidden, data_dim = int(rng.integers(1, 9)), int(rng.integers(2, 33)), int(rng.integers(1, 6))
    if kind == "Generator":
        dims, sizes = (latent, hidden, data_dim), [latent, hidden, hidden, data_dim]
    else:
        dims, sizes = (data_dim, hidden), [data_dim, hidden, hidden, 1]
    state = {k: v.to(device) for k, v in C.random_state(sizes, g, scale=2.0).items()}
    inputs = [torch.randn(int(rng.integers(1, 20)), sizes[0], generator=g, dtype=torch.float64).to(device)
              for _ in range(2)]
    got = student.run(C.probe_module, kind, dims, state, inputs)
    want = C.probe_module(reference, kind, dims, state, inputs)
    expect_equal(got["names"], want["names"], name=f"{kind}{dims}.state_dict() parameter names and shapes")
    expect_close(got, want, name=f"{kind}{dims}: parameter shapes, outputs and d sum(out) / d input",
                 inputs=f"random float64 weights, inputs of shapes {[tuple(x.shape) for x in inputs]}")


@check("Generator: matches the reference for random sizes and weights", points=1, core=True)
def test_generator(student, reference, rng, seed, device):
    _module(student, reference, rng, seed, device, "Generator")


@check("Discriminator: matches the reference for random sizes and weights", points=1, core=True)
def test_discriminator(student, reference, rng, seed, device):
    _module(student, reference, rng, seed, device, "Discriminator")


@check("train_step: both updates match the reference and plain SGD for random sizes, rates and both losses",
       points=3, core=True)
def test_train_step(student, reference, rng, seed, device):
    for i, ns in enumerate((True, False)):
        case = C.train_step_case(_gen(seed + i), ns, latent=int(rng.integers(1, 6)), hidden=int(rng.integers(2, 12)),
                                 data_dim=int(rng.integers(1, 4)),
                                 sizes=tuple(int(v) for v in rng.integers(1, 12, size=3)),
                                 lr=float(rng.uniform(0.01, 0.5)))
        args = C.case_args(case, device)
        out = student.run(C.probe_train_step, *args)
        want = C.probe_train_step(reference, *args)
        C.judge_d_step(out, case)
        C.judge_g_step(out, case)
        expect_true(len(out["log"]) == len(want["log"]),
                    f"train_step took {len(out['log'])} optimizer steps, the reference {len(want['log'])}")
        expect_close([out["G"], out["D"]], [want["G"], want["D"]],
                     name="[G's, D's] parameters after train_step", inputs=C.describe_case(case))
