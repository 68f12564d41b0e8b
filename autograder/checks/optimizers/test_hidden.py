"""Hidden checks for optimizers: run only by `dlcourse grade`, on hyper-parameters, shapes and gradients drawn from the
grading seed. The same probe runs on the submission (in the sandbox) and on the reference (here), and the
parameters are compared after every one of 60 steps, with some parameters missing their gradient at random steps.
"""

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close

C = load_sibling(__file__, "_common")

STEPS = 60


def _random_kwargs(rng, cls):
    lr = float(10 ** rng.uniform(-3, -1))
    if cls == "SGD":
        return dict(lr=lr, momentum=float(rng.choice([0.0, rng.uniform(0.5, 0.99)])),
                    weight_decay=float(rng.choice([0.0, 10 ** rng.uniform(-3, -1)])))
    decay = float(10 ** rng.uniform(-3, 0))
    return dict(lr=lr, betas=(float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999))),
                eps=float(10 ** rng.uniform(-8, -3)), weight_decay=decay if cls == "AdamW" else
                float(rng.choice([0.0, decay])))


def _against_reference(student, reference, rng, device, cls):
    for dtype in (torch.float64, torch.float32):
        kwargs = _random_kwargs(rng, cls)
        n = int(rng.integers(2, 5))
        shapes = [tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 4)))) for _ in range(n)]
        scales = [float(10 ** rng.uniform(-3, 2)) for _ in range(n)]
        params, grads = C.random_problem(rng, device, dtype, STEPS, shapes=shapes, scales=scales)
        present = [[int(v) for v in (rng.random(STEPS) > (0.0 if i == 0 else 0.2))] for i in range(n)]
        args = (cls, params, grads, kwargs)
        got = C.trajectories(student.run(C.probe_trajectory, *args, present=present, _timeout=C.TIMEOUT), n,
                             f"{cls}({C.describe_kwargs(kwargs)})")
        want = C.probe_trajectory(reference, *args, present=present)["params"]
        rtol, atol = (1e-9, 1e-11) if dtype == torch.float64 else (1e-4, 1e-6)
        setting = (f"{cls}({C.describe_kwargs(kwargs)}), {str(dtype)[6:]} parameters of shapes {shapes}, gradient "
                   f"scales {[f'{s:.2g}' for s in scales]}, {STEPS} steps, parameters 1.. miss their gradient at "
                   f"about 20% of the steps")
        for i, (g, w) in enumerate(zip(got, want)):
            expect_close(g, w, rtol=rtol, atol=atol, name=f"parameter {i} after each of the {STEPS} steps (T, *shape)",
                         inputs=setting)


@check("SGD: matches the reference on random hyper-parameters, shapes, dtypes and missing gradients", points=2,
       core=True)
def test_sgd_reference(student, reference, rng, device):
    _against_reference(student, reference, rng, device, "SGD")


@check("Adam: matches the reference on random hyper-parameters, shapes, dtypes and missing gradients", points=2,
       core=True)
def test_adam_reference(student, reference, rng, device):
    _against_reference(student, reference, rng, device, "Adam")


@check("AdamW: matches the reference on random hyper-parameters, shapes, dtypes and missing gradients", points=2,
       core=True)
def test_adamw_reference(student, reference, rng, device):
    _against_reference(student, reference, rng, device, "AdamW")
