"""Public checks for gan: what `dlcourse check gan` runs, and what students can read.

The oracles are PyTorch's own binary cross-entropy on logits (evaluated here, in the trusted process, in float64),
autograd on the contract's MLP, and plain SGD: train_step runs in the sandbox on trusted networks with recording
optimizers, and every gradient it used is compared with the one computed here. The end-to-end run trains trusted
networks with your train_step and losses; the modes it covers are counted here from the returned weights.
"""

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true

C = load_sibling(__file__, "_common")


def _gen(seed):
    return torch.Generator().manual_seed(seed)  # public checks use fixed inputs: the same for every student


EXTREME = torch.tensor([-1e4, -250.0, -40.0, -3.0, 0.0, 3.0, 40.0, 250.0, 1e4])
SIGMOID_LOG = ("a sigmoid followed by a log underflows: sigmoid(-250) is 0 in float32 and log(0) = -inf. Write "
               "-log sigmoid(l) as softplus(-l) and -log(1 - sigmoid(l)) as softplus(l) (or use F.logsigmoid)")


def _finite(value, grads, what):
    values = [value] + [g for g in grads if g is not None]
    bad = [v for v in values if isinstance(v, torch.Tensor) and not bool(torch.isfinite(v).all())]
    expect_true(not bad, f"{what} is not finite (NaN or Inf in the loss or its gradient) for logits "
                         f"{[float(v) for v in EXTREME]} (float32): {SIGMOID_LOG}")


# ------------------------------------------------------------------------------------------- discriminator_loss

@check("discriminator_loss: binary cross-entropy on logits, real labelled 1, fake 0, each averaged over its batch",
       points=2, core=True)
def test_disc_loss_values(student, device):
    g = _gen(1)
    for n_real, n_fake, dtype in [(7, 5, torch.float32), (16, 16, torch.float64)]:
        real = (torch.randn(n_real, generator=g, dtype=torch.float64) * 3).to(dtype).to(device)
        fake = (torch.randn(n_fake, generator=g, dtype=torch.float64) * 3 - 1).to(dtype).to(device)
        loss, g_real, g_fake = student.run(C.probe_disc_loss, real, fake)
        want, (w_real, w_fake) = C.value_and_grads(C.bce_disc, real, fake)
        mistakes = C.disc_loss_mistakes(real, fake)
        inputs = f"real_logits of shape ({n_real},), fake_logits of shape ({n_fake},), {dtype}, on {device}"
        expect_close(loss, want.to(dtype).to(device), name="discriminator_loss(real_logits, fake_logits)",
                     mistakes={k: v[0].to(dtype).to(device) for k, v in mistakes.items()}, inputs=inputs)
        expect_true(g_real is not None, "discriminator_loss returned a loss that does not require grad: keep the "
                                        "computation in torch (no .item(), no .detach())")
        expect_close([g_real, g_fake], [w_real.to(dtype).to(device), w_fake.to(dtype).to(device)],
                     name="[d loss / d real_logits, d loss / d fake_logits]", inputs=inputs,
                     mistakes={k: [v[1].to(dtype).to(device), v[2].to(dtype).to(device)] for k, v in mistakes.items()})


@check("discriminator_loss: finite and exact for logits of any size (no sigmoid followed by a log)", points=1,
       core=True)
def test_disc_loss_extreme(student, device):
    real = EXTREME.to(device)
    fake = EXTREME.flip(0).to(device)
    loss, g_real, g_fake = student.run(C.probe_disc_loss, real, fake)
    _finite(loss, [g_real, g_fake], "discriminator_loss")
    want, (w_real, w_fake) = C.value_and_grads(C.bce_disc, real, fake)
    inputs = f"real_logits = {[float(v) for v in real]}, fake_logits reversed, float32"
    expect_close(loss, want.float().to(device), name="discriminator_loss on extreme logits", inputs=inputs)
    expect_close([g_real, g_fake], [w_real.float().to(device), w_fake.float().to(device)],
                 name="[d loss / d real_logits, d loss / d fake_logits] on extreme logits", inputs=inputs)


@check("discriminator_loss: a scalar (shape ()) with the logits' dtype and device", points=1)
def test_disc_loss_form(student, device):
    for dtype in (torch.float32, torch.float64):
        real = torch.linspace(-2, 2, 6, dtype=dtype).to(device)
        loss, _, _ = student.run(C.probe_disc_loss, real, real[:4] * 0.5)
        expect_true(isinstance(loss, torch.Tensor), f"discriminator_loss returned {type(loss).__name__}, expected a "
                                                    "tensor")
        expect_true(tuple(loss.shape) == (), f"discriminator_loss returned shape {tuple(loss.shape)}, expected () "
                                             "(a scalar: average, then add the two terms)")
        expect_true(loss.dtype == dtype and loss.device.type == torch.device(device).type,
                    f"discriminator_loss returned {loss.dtype} on {loss.device.type} for {dtype} logits on {device}: "
                    "keep the logits' dtype and device")


# ------------------------------------------------------------------------------------------- generator_loss

def _gen_loss_check(student, device, fake, non_saturating, label):
    loss, grad = student.run(C.probe_gen_loss, fake, non_saturating)
    ns = True if non_saturating is None else non_saturating
    want, (w_grad,) = C.value_and_grads(lambda f: C.bce_gen(f, ns), fake)
    mistakes = C.gen_loss_mistakes(fake, ns)
    dtype = fake.dtype
    inputs = f"fake_logits of shape {tuple(fake.shape)}, {dtype}, {label}"
    expect_close(loss, want.to(dtype).to(device), name=f"generator_loss ({label})", inputs=inputs,
                 mistakes={k: v[0].to(dtype).to(device) for k, v in mistakes.items()})
    expect_true(grad is not None, "generator_loss returned a loss that does not require grad")
    expect_close(grad, w_grad.to(dtype).to(device), name=f"d generator_loss / d fake_logits ({label})", inputs=inputs,
                 mistakes={k: v[1].to(dtype).to(device) for k, v in mistakes.items()})


@check("generator_loss: non-saturating -mean log D(G(z)) by default, value and gradient", points=2, core=True)
def test_gen_loss_non_saturating(student, device):
    fake = (torch.randn(9, generator=_gen(2), dtype=torch.float64) * 3).float().to(device)
    _gen_loss_check(student, device, fake, None, "the default non_saturating")
    _gen_loss_check(student, device, fake.double() - 1, True, "non_saturating=True")


@check("generator_loss: minimax mean log(1 - D(G(z))) with non_saturating=False, value and gradient", points=1,
       core=True)
def test_gen_loss_minimax(student, device):
    fake = (torch.randn(9, generator=_gen(3), dtype=torch.float64) * 3).float().to(device)
    _gen_loss_check(student, device, fake, False, "non_saturating=False")


@check("generator_loss: saturation: for a confident discriminator the minimax gradient vanishes, the "
       "non-saturating one does not", points=1, core=True)
def test_gen_loss_saturation(student, device):
    # D rejects every fake with confidence: logits -6 to -12, D(G(z)) between 6e-6 and 2.5e-3.
    fake = torch.linspace(-12.0, -6.0, 6, dtype=torch.float64).to(device)
    B = fake.shape[0]
    sig = torch.sigmoid(fake)
    for ns, want, words in [(True, -(1 - sig) / B, "-(1 - D(G(z))) / B, close to -1/B: strong"),
                            (False, -sig / B, "-D(G(z)) / B, close to 0: the gradient vanishes")]:
        _, grad = student.run(C.probe_gen_loss, fake, ns)
        expect_true(grad is not None, "generator_loss returned a loss that does not require grad")
        other = -sig / B if ns else -(1 - sig) / B
        expect_close(grad, want, name=f"d generator_loss / d fake_logits with non_saturating={ns}, for fake logits "
                                      f"from -12 to -6 (expected {words})",
                     mistakes={"the other form of the generator loss (non_saturating ignored or inverted)": other},
                     inputs=f"fake_logits = {[float(v) for v in fake]}, float64")


@check("generator_loss: finite and exact for logits of any size (no sigmoid followed by a log)", points=1,
       core=True)
def test_gen_loss_extreme(student, device):
    fake = EXTREME.to(device)
    for ns in (True, False):
        loss, grad = student.run(C.probe_gen_loss, fake, ns)
        _finite(loss, [grad], f"generator_loss(non_saturating={ns})")
        want, (w_grad,) = C.value_and_grads(lambda f: C.bce_gen(f, ns), fake)
        inputs = f"fake_logits = {[float(v) for v in fake]}, float32, non_saturating={ns}"
        expect_close(loss, want.float().to(device), name="generator_loss on extreme logits", inputs=inputs)
        expect_close(grad, w_grad.float().to(device), name="d generator_loss / d fake_logits on extreme logits",
                     inputs=inputs)


# ------------------------------------------------------------------------------------------- the two networks

def _module_check(student, device, kind, dims, sizes, batches, seed):
    g = _gen(seed)
    state = C.random_state(sizes, g, scale=2.0)
    inputs = [torch.randn(b, sizes[0], generator=g, dtype=torch.float64) for b in batches]
    got = student.run(C.probe_module, kind, dims, {k: v.to(device) for k, v in state.items()},
                      [x.to(device) for x in inputs])
    expect_equal(got["names"], C.state_shapes(sizes),
                 name=f"{kind}{dims}.state_dict() parameter names and shapes (the contract's net.0, net.2, net.4)")
    squeeze = kind == "Discriminator"
    where = f"{kind}{dims} with given float64 weights"
    for x, out in zip(inputs, got["out"]):
        want = C.mlp(state, x, squeeze)
        mistakes = {"nn.ReLU used instead of nn.LeakyReLU(0.2)": C.mlp(state, x, squeeze, slope=0.0),
                    "nn.LeakyReLU() with its default slope 0.01 instead of 0.2": C.mlp(state, x, squeeze, slope=0.01)}
        if kind == "Generator":
            mistakes["a tanh after the last layer (the data are not in [-1, 1]: no output activation)"] = \
                C.mlp(state, x, final="tanh")
        else:
            mistakes["a sigmoid after the last layer: return logits, not probabilities"] = \
                C.mlp(state, x, True, final="sigmoid")
            mistakes["the last axis of size 1 kept: return shape (B,)"] = C.mlp(state, x, False)
        expect_close(out, want.to(device), name=f"{kind}(x)", mistakes={k: v.to(device) for k, v in mistakes.items()},
                     inputs=f"{where}, input of shape {tuple(x.shape)}")
    x0 = inputs[0].clone().requires_grad_(True)
    C.mlp(state, x0, squeeze).sum().backward()
    expect_true(got["grad"] is not None, f"{kind}'s output does not depend differentiably on its input")
    expect_close(got["grad"], x0.grad.to(device), name=f"d sum({kind}(x)) / d x",
                 inputs=f"{where}, input of shape {tuple(inputs[0].shape)}")


@check("Generator: the contract's MLP (Linear, LeakyReLU(0.2), Linear, LeakyReLU(0.2), Linear) with given weights",
       points=2, core=True)
def test_generator(student, device):
    _module_check(student, device, "Generator", (3, 7, 2), [3, 7, 7, 2], [5, 1], seed=4)


@check("Discriminator: the contract's MLP with given weights returns one logit per sample, shape (B,)", points=2,
       core=True)
def test_discriminator(student, device):
    _module_check(student, device, "Discriminator", (2, 7), [2, 7, 7, 1], [6, 3], seed=5)


@check("Discriminator: a batch of one sample gives logits of shape (1,), not ()", points=1)
def test_discriminator_batch_of_one(student, device):
    g = _gen(6)
    state = C.random_state([2, 5, 5, 1], g)
    x = torch.randn(1, 2, generator=g, dtype=torch.float64)
    got = student.run(C.probe_module, "Discriminator", (2, 5), {k: v.to(device) for k, v in state.items()},
                      [x.to(device)])
    out = got["out"][0]
    expect_true(isinstance(out, torch.Tensor) and tuple(out.shape) == (1,),
                f"Discriminator(x) for x of shape (1, 2) returned shape {tuple(getattr(out, 'shape', ()))}, expected "
                "(1,): .squeeze() without an axis drops the batch axis for B = 1 too; squeeze(-1) drops only the last")


# ------------------------------------------------------------------------------------------- train_step

def _run_case(student, device, seed, non_saturating):
    case = C.train_step_case(_gen(seed), non_saturating)
    return student.run(C.probe_train_step, *C.case_args(case, device)), case


@check("train_step: D's update takes the fresh gradient of the discriminator loss on real and G(z_d)", points=2,
       core=True)
def test_train_step_d(student, device):
    out, case = _run_case(student, device, 7, None)
    C.judge_d_step(out, case)


@check("train_step: G's update takes the fresh gradient of generator_loss(D(G(z_g)), non_saturating) through the "
       "updated D", points=2, core=True)
def test_train_step_g(student, device):
    for seed, ns in [(8, None), (9, True), (10, False)]:
        out, case = _run_case(student, device, seed, ns)
        C.judge_g_step(out, case)


@check("train_step: no gradient reaches G during D's update (the fake batch is detached)", points=1)
def test_train_step_detached(student, device):
    out, case = _run_case(student, device, 11, None)
    C.judge_detached(out, case)


@check("train_step: one update of each network; D's parameters are not changed by G's update", points=1)
def test_train_step_d_untouched(student, device):
    out, case = _run_case(student, device, 12, False)
    C.judge_d_untouched(out, case)


@check("train_step: returns (d_loss, g_loss) as Python floats, each measured before its update", points=1)
def test_train_step_returns(student, device):
    out, case = _run_case(student, device, 13, True)
    C.judge_returned(out, case)


@check("train_step: end to end, trained on a ring of 8 Gaussians the generator covers at least 6 modes", points=3,
       timeout=240)
def test_end_to_end(student, device):
    g_state, d_state, data, z, z_eval = C.e2e_inputs(seed=0)
    to = (lambda s: {k: v.to(device) for k, v in s.items()})
    out = student.run(C.probe_train_gan, to(g_state), to(d_state), data.to(device), z.to(device), C.LR, C.BETAS,
                      _timeout=180)
    try:
        covered, near, _ = C.mode_coverage(out["G"], z_eval)
    except ValueError as exc:
        expect_true(False, str(exc))
    what = (f"after {C.STEPS} calls of your train_step (Adam, lr {C.LR}, batches of {C.BATCH}, the default "
            f"non-saturating loss) on a ring of 8 Gaussians (radius {C.RADIUS}, std {C.STD}), {C.N_EVAL} samples of "
            f"the generator")
    expect_true(covered >= 6 and near > 0.5,
                f"{what} cover {covered} of the 8 modes with {100 * near:.0f}% of the samples within {C.NEAR} of a "
                f"mode; expected at least 6 modes and more than 50% (correct implementations reach 8 modes and "
                f"55 to 70%). Check discriminator_loss, generator_loss and train_step.")
