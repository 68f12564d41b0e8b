"""Known bugs of the optimizers assignment, planted one at a time in solutions/optimizers/optimizers.py.

(what the bug is, text of the reference, what it becomes, the class whose checks must fail, words its failure message
must contain). Not shipped to students.
"""

_SGD_SKIP = """                if p.grad is None:
                    continue
                g = p.grad  # same shape as p
                if weight_decay != 0:"""
_ADAM_SKIP = """                if p.grad is None:
                    continue
                g = p.grad  # same shape as p
                if wd != 0:"""
_ADAMW_SKIP = """                if p.grad is None:
                    continue
                g = p.grad  # same shape as p; the decay never enters the moments"""
_ADAM_GROUP = """            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad  # same shape as p
                if wd != 0:"""
_ADAM_BIAS = """                bias1 = 1 - beta1**t  # E[m_t] = (1 - beta1^t) E[g] (Section 3)
                bias2 = 1 - beta2**t
"""
_ADAM_STEP = """                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)  # m"""
_ADAMW_BIAS = """                bias1 = 1 - beta1**t
                bias2 = 1 - beta2**t
                denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)
                p.addcdiv_(m, denom, value=-lr / bias1)
"""
_ADAMW_MOMENTS = """                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
"""
_ADAMW_DECAY = "                p.mul_(1 - lr * wd)  # decoupled decay (Loshchilov & Hutter, 2019, Algorithm 2, line 12)\n"

BUGS = [
    # ---------------------------------------------------------------- SGD
    ("SGD: momentum buffer dampened", "buf.mul_(momentum).add_(g)  # heavy ball",
     "buf.mul_(momentum).add_(g, alpha=1 - momentum)  # heavy ball", "SGD", "dampened"),
    ("SGD: momentum ignored", "                    g = buf\n", "", "SGD", "momentum ignored"),
    ("SGD: weight decay ignored", "g = g.add(p, alpha=weight_decay)  # L2", "g = g  # L2", "SGD",
     "weight_decay ignored"),
    ("SGD: momentum buffer starts at zero", 'buf = state["momentum_buffer"] = g.detach().clone()',
     'buf = state["momentum_buffer"] = torch.zeros_like(g)', "SGD", ""),
    ("SGD: lr read from the defaults", 'lr, momentum, weight_decay = group["lr"], group["momentum"]',
     'lr, momentum, weight_decay = self.defaults["lr"], group["momentum"]', "SGD", "every group uses the defaults"),
    ("SGD: a missing gradient taken as zero", _SGD_SKIP,
     "                g = p.grad if p.grad is not None else torch.zeros_like(p)\n                if weight_decay != 0:",
     "SGD", "as if its gradient were zero"),
    ("SGD: momentum buffer kept outside self.state", 'state = self.state[p]\n                    buf = state.get(',
     'state = self.__dict__.setdefault("_buffers", {}).setdefault(p, {})\n                    buf = state.get(',
     "SGD", ""),
    ("SGD: no ValueError for a negative lr", "        _check_hyperparameters(lr, weight_decay=weight_decay, "
     "momentum=momentum)\n", "        _check_hyperparameters(abs(lr), weight_decay=weight_decay, momentum=momentum)\n",
     "SGD", "expected a ValueError"),
    ("SGD: the update done by torch.optim's functional SGD", "                p.add_(g, alpha=-lr)\n",
     "                torch.optim._functional.sgd([p], [g], [None], weight_decay=0.0, momentum=0.0, lr=lr, "
     "dampening=0.0, nesterov=False, maximize=False)\n", "SGD", "forbidden"),
    # ---------------------------------------------------------------- Adam
    ("Adam: no bias correction", _ADAM_BIAS, "                bias1 = 1.0\n                bias2 = 1.0\n", "Adam",
     "bias correction"),
    ("Adam: bias correction of m only", _ADAM_BIAS,
     "                bias1 = 1 - beta1**t\n                bias2 = 1.0\n", "Adam", ""),
    ("Adam: eps inside the square root", "denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)  # sqrt(v^) + eps",
     "denom = (v / bias2).add(eps).sqrt()", "Adam", ""),
    ("Adam: betas swapped", _ADAM_GROUP, _ADAM_GROUP.replace("(beta1, beta2)", "(beta2, beta1)"), "Adam",
     "betas swapped"),
    ("Adam: decoupled decay instead of L2", "g = g.add(p, alpha=wd)  # L2 in the gradient",
     "p.mul_(1 - lr * wd)  # L2 in the gradient", "Adam", "decoupled"),
    ("Adam: |g| instead of g^2 in v", "v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2",
     "v.mul_(beta2).add_(g.abs(), alpha=1 - beta2)  # v = beta2", "Adam", ""),
    ("Adam: one step count for all parameters", _ADAM_STEP,
     '                self._t = getattr(self, "_t", 0) + (p is self.param_groups[0]["params"][0])\n'
     '                state["step"] = self._t\n'
     '                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]\n'
     '                m.lerp_(g, 1 - beta1)  # m', "Adam", ""),
    ("Adam: a missing gradient taken as zero", _ADAM_SKIP,
     "                g = p.grad if p.grad is not None else torch.zeros_like(p)\n                if wd != 0:",
     "Adam", "as if its gradient were zero"),
    ("Adam: default lr 1e-2", "def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)",
     "def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)", "Adam",
     "default lr is not 1e-3"),
    # ---------------------------------------------------------------- AdamW
    ("AdamW: decay through the gradient", _ADAMW_DECAY, "                g = g.add(p, alpha=wd)\n", "AdamW",
     "instead of decoupled"),
    ("AdamW: decay not multiplied by lr", _ADAMW_DECAY, "                p.mul_(1 - wd)\n", "AdamW",
     "not multiplied by lr"),
    ("AdamW: decay applied after the Adam step", _ADAMW_DECAY + _ADAMW_MOMENTS + _ADAMW_BIAS,
     _ADAMW_MOMENTS + _ADAMW_BIAS + "                p.mul_(1 - lr * wd)\n", "AdamW", ""),
    ("AdamW: no bias correction", _ADAMW_BIAS,
     "                denom = v.sqrt().add_(eps)\n                p.addcdiv_(m, denom, value=-lr)\n", "AdamW", ""),
    ("AdamW: default weight_decay 0",
     "def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)",
     "def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)", "AdamW",
     "default weight_decay is not 1e-2"),
    ("AdamW: parameters without a gradient decayed", _ADAMW_SKIP,
     "                if p.grad is None:\n                    p.mul_(1 - lr * wd)\n                    continue\n"
     "                g = p.grad", "AdamW", ""),
    ("AdamW: the closure never called",
     '''"""One AdamW update of every parameter that has a gradient; returns the closure's loss (or None)."""
        loss = None
        if closure is not None:''',
     '''"""One AdamW update of every parameter that has a gradient; returns the closure's loss (or None)."""
        loss = None
        if False:''', "AdamW", "step(closure)"),
    ("AdamW: subclasses torch.optim.AdamW", "class AdamW(Optimizer):", "class AdamW(torch.optim.AdamW):", "AdamW",
     "forbidden"),
]

# The checks each bug is graded on in the project's tests (the target's core checks are always added).
SELECT = {
    "SGD: momentum buffer dampened": ["SGD: updates match"],
    "SGD: momentum ignored": ["SGD: updates match"],
    "SGD: weight decay ignored": ["SGD: updates match"],
    "SGD: momentum buffer starts at zero": ["SGD: updates match"],
    "SGD: lr read from the defaults": ["SGD: parameter groups"],
    "SGD: a missing gradient taken as zero": ["SGD: parameters without"],
    "SGD: momentum buffer kept outside self.state": ["SGD: the momentum buffer is in self.state"],
    "SGD: no ValueError for a negative lr": ["SGD: a negative lr"],
    "SGD: the update done by torch.optim's functional SGD": ["SGD: updates match"],
    "Adam: no bias correction": ["Adam: the first step"],
    "Adam: bias correction of m only": ["Adam: updates match"],
    "Adam: eps inside the square root": ["Adam: updates match"],
    "Adam: betas swapped": ["Adam: updates match"],
    "Adam: decoupled decay instead of L2": ["Adam: updates match"],
    "Adam: |g| instead of g^2 in v": ["Adam: updates match"],
    "Adam: one step count for all parameters": ["Adam: parameters without"],
    "Adam: a missing gradient taken as zero": ["Adam: parameters without"],
    "Adam: default lr 1e-2": ["Adam: updates match"],
    "AdamW: decay through the gradient": ["AdamW: updates match"],
    "AdamW: decay not multiplied by lr": ["AdamW: updates match"],
    "AdamW: decay applied after the Adam step": ["AdamW: updates match"],
    "AdamW: no bias correction": ["AdamW: updates match"],
    "AdamW: default weight_decay 0": ["AdamW: updates match"],
    "AdamW: parameters without a gradient decayed": ["AdamW: parameters without"],
    "AdamW: the closure never called": ["AdamW: parameters without"],
    "AdamW: subclasses torch.optim.AdamW": ["AdamW: updates match"],
}
