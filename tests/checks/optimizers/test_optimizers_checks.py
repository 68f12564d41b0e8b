"""What is specific to the optimizers checks (the harness covers the reference, the skeleton, hollow code and the
bugs): the forbidden list lets torch.optim.Optimizer through and nothing else of torch.optim, another correct style
gets full marks, and the end-to-end thresholds hold with a margin for several grading seeds."""

import pytest
import torch

from autograder import forbidden
from autograder import spec as specs
from autograder.grading import grade
from tests.helpers import load_check_module, load_reference, write_submission

SLUG = "optimizers"


@pytest.mark.parametrize("source", [
    "from torch.optim import Optimizer\nclass SGD(Optimizer):\n    pass\n",
    "import torch\nclass SGD(torch.optim.Optimizer):\n    pass\n",
    "from torch.optim.optimizer import Optimizer\nclass SGD(Optimizer):\n    pass\n",
    "import torch\nclass SGD(torch.optim.Optimizer):\n    def step(self):\n        torch._foreach_add_([], [])\n",
])
def test_the_base_class_is_allowed(source):
    assert forbidden.scan(source, specs.load(SLUG).forbidden, ("SGD",)) == {}


@pytest.mark.parametrize(("source", "api"), [
    ("import torch\nclass SGD(torch.optim.Optimizer):\n    def step(self):\n        torch.optim.SGD([], 0.1)\n",
     "torch.optim.SGD"),
    ("from torch.optim import AdamW\nclass SGD(AdamW):\n    pass\n", "torch.optim.AdamW"),
    ("import torch.optim.adam as A\nclass SGD:\n    def step(self):\n        A.adam([], [], [], [], [], [])\n",
     "torch.optim.adam"),
    ("import torch\nclass SGD:\n    def step(self):\n        torch._fused_adamw_([], [], [], [], [], [])\n",
     "torch._fused_adamw_"),
    ("from torch.optim import _functional as F\nclass SGD:\n    def step(self):\n        F.sgd([], [], [])\n",
     "torch.optim._functional"),
])
def test_the_optimizers_of_torch_optim_are_forbidden(source, api):
    found = forbidden.scan(source, specs.load(SLUG).forbidden, ("SGD",))
    messages = found.get("SGD", []) + found.get("*", [])
    assert any(api in m for m in messages), found


ANOTHER_STYLE = '''
"""Correct, written differently from the reference: explicit bias-corrected moments, other state names, the step
count as a tensor, a shared helper, a while loop over groups."""
import torch


class _Base(torch.optim.Optimizer):
    def _params(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield group, p


class SGD(_Base):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("bad hyper-parameter")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        with torch.no_grad():
            for group, p in self._params():
                d = p.grad + group["weight_decay"] * p
                if group["momentum"]:
                    s = self.state[p]
                    s["velocity"] = d.clone() if "velocity" not in s else group["momentum"] * s["velocity"] + d
                    d = s["velocity"]
                p -= group["lr"] * d
        return loss


def _adam(self, decoupled, closure):
    loss = closure() if closure is not None else None
    with torch.no_grad():
        for group, p in self._params():
            b1, b2 = group["betas"]
            s = self.state[p]
            if not s:
                s["t"] = torch.tensor(0.0)
                s["first"] = torch.zeros_like(p)
                s["second"] = torch.zeros_like(p)
            s["t"] += 1
            t = s["t"].item()
            g = p.grad
            if decoupled:
                p *= 1 - group["lr"] * group["weight_decay"]
            else:
                g = g + group["weight_decay"] * p
            s["first"] = b1 * s["first"] + (1 - b1) * g
            s["second"] = b2 * s["second"] + (1 - b2) * g * g
            m_hat = s["first"] / (1 - b1 ** t)
            v_hat = s["second"] / (1 - b2 ** t)
            p -= group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
    return loss


class Adam(_Base):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError("bad hyper-parameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        return _adam(self, False, closure)


class AdamW(_Base):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError("bad hyper-parameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        return _adam(self, True, closure)
'''


def test_another_correct_style_gets_full_marks(tmp_path):
    report = grade(SLUG, write_submission(tmp_path, SLUG, ANOTHER_STYLE), seed=3)
    assert report.score == report.max_score, {r.name: r.output for r in report.results if not r.passed}


@pytest.mark.parametrize("seed", [11, 123])
def test_end_to_end_thresholds_hold_with_a_margin(seed):
    C, P = load_check_module(SLUG, "_common"), load_check_module(SLUG, "test_public")
    ref = load_reference(SLUG)
    torch.set_num_threads(1)
    x, y = C.digits("cpu")
    state = C.deep_mlp_state(P.DEPTH, P.WIDTH, seed, "cpu")
    batches = P._batches(seed, len(x), "cpu")
    args = (state, x, y, batches, P.DEPTH, P.WIDTH)
    adam, _ = C.loss_of(C.probe_train(ref, "Adam", dict(lr=P.ADAM_LR), *args), x, y, P.DEPTH, P.WIDTH)
    sgd, _ = C.loss_of(C.probe_train(C.torch_optim(), "SGD", dict(lr=P.SGD_LR), *args), x, y, P.DEPTH, P.WIDTH)
    assert adam <= 1.8 - 0.3 and adam <= sgd - 0.4 - 0.3, (adam, sgd)
    xl, yl = x[:P.LIN_N], y[:P.LIN_N]
    start = C.deep_mlp_state(0, 0, seed, "cpu")
    full = torch.arange(P.LIN_N).expand(P.LIN_STEPS, P.LIN_N)
    kwargs = dict(lr=P.LIN_LR, weight_decay=P.LIN_WD)
    decoupled = P._weight_norm(C.probe_train(ref, "AdamW", kwargs, start, xl, yl, full, 0, 0))
    l2 = P._weight_norm(C.probe_train(C.torch_optim(), "Adam", kwargs, start, xl, yl, full, 0, 0))
    assert decoupled > 2 * l2, (decoupled, l2)  # far outside the checks' 2% bands
