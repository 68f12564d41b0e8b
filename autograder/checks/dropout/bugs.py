"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/dropout/dropout.py, what it becomes, the function or class whose checks must
fail, words its failure message must contain); the text must occur exactly once in the reference.
Every check of dropout must fail for at least one of them. Not shipped to students (it is made from the reference).
tests/checks/dropout/ plants each of them and asserts which checks catch it.
"""

_RAND_ARGS = "generator=generator, device=x.device"
_RAND = "u = torch.rand(x.shape, generator=generator, device=x.device, dtype=u_dtype)"
_SCALE = "scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0"
_RETURN = "return x * mask * scale"
_FORWARD = "return dropout(x, self.p, training=self.training)"
_EARLY_EXIT = "    if not training or p == 0.0:\n        return x\n"

BUGS = [
    # ---------------------------------------------------------------- dropout: values and statistics
    ("no rescaling", _SCALE, "scale = 1.0 if p < 1.0 else 0.0", "dropout", "not rescaled"),
    ("scaled by 1/p", _SCALE, "scale = 1.0 / p if p < 1.0 else 0.0", "dropout",
     "scaled by 1 / p instead of 1 / (1 - p)"),
    ("multiplied by 1 - p", _SCALE, "scale = 1.0 - p", "dropout",
     "multiplied by 1 - p instead of divided by it"),
    ("kept with probability p", "keep = u >= p ", "keep = u < p ", "dropout",
     "kept with probability p instead of 1 - p"),
    ("one mask shared across the batch", _RAND,
     "u = torch.rand(x.shape[1:], generator=generator, device=x.device, dtype=u_dtype)", "dropout",
     "shared across the batch"),
    ("one mask shared across the features", _RAND,
     "u = torch.rand(x.shape[:-1] + (1,), generator=generator, device=x.device, dtype=u_dtype)", "dropout",
     "shared across the features"),
    ("float32 output for half inputs", "mask = keep.to(x.dtype)", "mask = keep.float()", "dropout",
     "keep the input's dtype"),
    # ---------------------------------------------------------------- dropout: special cases, generator, gradient
    ("still active in eval", "if not training or p == 0.0:", "if p == 0.0:", "dropout",
     "switched off when training is False"),
    ("generator ignored", _RAND_ARGS, "device=x.device", "dropout", "randomness must come from `generator`"),
    ("the same mask on every call", _RAND_ARGS,
     "generator=generator or torch.Generator(device=x.device).manual_seed(0), device=x.device", "dropout",
     "do not seed a fresh generator inside dropout"),
    ("input modified in place", _RETURN, "return x.mul_(mask * scale)", "dropout", "do not write into x"),
    ("NaN at p == 1", _RETURN, "return x * mask / torch.tensor(1.0 - p)", "dropout", "contains NaN"),
    ("no ValueError for bad p", 'raise ValueError(f"dropout probability must be in [0, 1], got {p}")', "pass",
     "dropout", "expected a ValueError"),
    ("output detached from x", _RETURN, "return x.detach() * mask * scale", "dropout", "x.grad is None"),
    # ---------------------------------------------------------------- the Dropout module
    ("active in eval mode", _FORWARD, "return dropout(x, self.p)", "Dropout", "still drops elements after .eval()"),
    ("p ignored in forward", _FORWARD, "return dropout(x, 0.5, training=self.training)", "Dropout",
     "is self.p used?"),
    ("p not stored", "self.p = p", "self.p = 0.5", "Dropout", "Dropout(0.3).p is off"),
    ("never drops", _FORWARD, "return x", "Dropout", "did not shrink the train-test accuracy gap"),
    # ---------------------------------------------------------------- PyTorch's own dropout (forbidden)
    ("F.dropout called", _EARLY_EXIT, _EARLY_EXIT + "    return torch.nn.functional.dropout(x, p)\n", "dropout",
     "forbidden"),
    ("torch.dropout called under another name", _EARLY_EXIT,
     _EARLY_EXIT + "    return getattr(torch, 'drop' + 'out')(x, p, True)\n", "dropout", "forbidden"),
    ("F.dropout rebuilt from torch's source with ast and exec", _EARLY_EXIT,
     _EARLY_EXIT + "    import ast\n    import inspect\n    import torch.nn.functional as _F\n"
     "    tree = ast.parse(inspect.getsource(_F.dropout))\n    ns = dict(_F.__dict__)\n"
     "    exec(compile(tree, _F.__file__, 'exec'), ns)\n    return ns['dropout'](x, p)\n", "dropout", "forbidden"),
    ("Dropout subclasses nn.Dropout", "class Dropout(nn.Module):", "class Dropout(nn.Dropout):", "Dropout",
     "forbidden"),
]

# The checks each bug is graded on by the project's tests (tests/checks/test_harness.py), to keep the runs short;
# the engine adds the target's core checks. A bug not listed is graded on every check of its target.
SELECT = {
    "no rescaling": ["dropout: kept values", "dropout: the mean"],
    "scaled by 1/p": ["dropout: kept values"],
    "multiplied by 1 - p": ["dropout: kept values"],
    "kept with probability p": ["dropout: the dropped fraction"],
    "one mask shared across the batch": ["dropout: masks are independent"],
    "one mask shared across the features": ["dropout: masks are independent"],
    "float32 output for half inputs": ["dropout: works in"],
    "still active in eval": ["dropout: the identity"],
    "generator ignored": ["dropout: a generator"],
    "the same mask on every call": ["dropout: a generator"],
    "input modified in place": ["dropout: the input is never"],
    "NaN at p == 1": ["dropout: p == 1"],
    "no ValueError for bad p": ["dropout: p outside"],
    "output detached from x": ["dropout: the gradient"],
    "active in eval mode": ["Dropout: drops in train mode"],
    "p ignored in forward": ["Dropout: drops in train mode"],
    "p not stored": ["Dropout: an nn.Module"],
    "never drops": ["Dropout: shrinks"],
    "F.dropout called": ["dropout: kept values", "dropout: the mean"],
    "torch.dropout called under another name": ["dropout: kept values"],
    "F.dropout rebuilt from torch's source with ast and exec": ["dropout: kept values"],
    "Dropout subclasses nn.Dropout": ["Dropout: an nn.Module"],
}
