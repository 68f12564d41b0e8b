"""Realistic bugs planted in the LoRA reference, shared by the bug tests.

Each bug is (name, edits, target, select, named): `edits` is a list of (old, new) replacements applied to the
reference in order (each `old` must occur exactly once, see tests.helpers.mutate); `target` is the function or class
whose checks must lose points; `select` keeps the grading run short; `named` is text that a failing check's message
must contain (the mistake in plain words), or None.
"""

from __future__ import annotations

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "lora"
INIT = "LoRALinear: at initialisation"
FORWARD = "LoRALinear: scaling is alpha / r"
GRADS = "LoRALinear: gradients reach"
TRAINABLE = "LoRALinear: the trainable parameters"
DROPOUT = "LoRALinear: dropout acts"
MERGE = "LoRALinear.merge:"
DTYPE = "LoRALinear: lora_A and lora_B take"
APPLY = "apply_lora: replaces exactly"
FROZEN = "apply_lora: only lora_A"
STATE = "lora_state_dict:"
MERGE_LORA = "merge_lora:"
COUNT = "count_trainable_parameters:"

LAYER_BUGS = [
    ("lora_B random at initialisation",
     [("self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, **factory))",
       "self.lora_B = nn.Parameter(torch.randn(self.out_features, r, **factory) * 0.01)")],
     "LoRALinear", [INIT], "lora_B at initialisation"),
    ("lora_A zero at initialisation",
     [("nn.Parameter(torch.randn(r, self.in_features, **factory) / math.sqrt(self.in_features))",
       "nn.Parameter(torch.zeros(r, self.in_features, **factory))")],
     "LoRALinear", [INIT], "it must be random"),
    ("scaling alpha instead of alpha / r",
     [("self.scaling = alpha / r", "self.scaling = alpha")],
     "LoRALinear", [FORWARD, GRADS], "alpha instead of alpha / r"),
    ("the base not frozen",
     [("p.requires_grad_(False)  # W is frozen", "pass  # W is frozen")],
     "LoRALinear", [GRADS, TRAINABLE], "must be frozen"),
    ("base(x) left out of forward",
     [("return h + self.scaling * (z @ self.lora_B.T)", "return self.scaling * (z @ self.lora_B.T)")],
     "LoRALinear", [FORWARD], "base output base(x) is missing"),
    ("merge mutates the base and returns it",
     [("""        merged = nn.Linear(self.in_features, self.out_features, bias=has_bias,
                           device=W.device, dtype=W.dtype)
        with torch.no_grad():
            delta = self.scaling * (self.lora_B @ self.lora_A)  # (out, r) @ (r, in) -> (out, in)
            merged.weight.copy_(W + delta)
            if has_bias:
                merged.bias.copy_(self.base.bias)
        return merged""",
       """        with torch.no_grad():
            W += self.scaling * (self.lora_B @ self.lora_A)
        return self.base""")],
     "LoRALinear", [MERGE], "returned the base layer itself"),
    ("merge writes W + delta into the base's weight before copying",
     [("merged.weight.copy_(W + delta)", "merged.weight.copy_(W.add_(delta))")],
     "LoRALinear", [MERGE], "merge must not modify"),
    ("merge without the scaling",
     [("delta = self.scaling * (self.lora_B @ self.lora_A)", "delta = self.lora_B @ self.lora_A")],
     "LoRALinear", [MERGE], "merge forgot the alpha / r scaling"),
    ("merge drops the bias",
     [("bias=has_bias,\n", "bias=False,\n"), ("            if has_bias:\n                merged.bias",
                                              "            if False:\n                merged.bias")],
     "LoRALinear", [MERGE], "merged bias"),
    ("dropout applied to the output",
     [("z = self.lora_dropout(x) @ self.lora_A.T", "z = x @ self.lora_A.T"),
      ("return h + self.scaling * (z @ self.lora_B.T)",
       "return self.lora_dropout(h + self.scaling * (z @ self.lora_B.T))")],
     "LoRALinear", [DROPOUT], "must act on the input of the low-rank path only"),
    ("dropout applied to the low-rank output",
     [("z = self.lora_dropout(x) @ self.lora_A.T", "z = x @ self.lora_A.T"),
      ("return h + self.scaling * (z @ self.lora_B.T)",
       "return h + self.lora_dropout(self.scaling * (z @ self.lora_B.T))")],
     "LoRALinear", [DROPOUT], "instead of to its input x"),
    ("dropout never applied",
     [("z = self.lora_dropout(x) @ self.lora_A.T", "z = x @ self.lora_A.T")],
     "LoRALinear", [DROPOUT], "dropout is not applied at all"),
    ("no ValueError for r < 1",
     [("        if r < 1:\n            raise ValueError", "        if r < 0:\n            raise ValueError")],
     "LoRALinear", ["LoRALinear: r < 1"], "raised"),
    ("LoRA parameters created without the base's dtype and device",
     [("factory = dict(device=base.weight.device, dtype=base.weight.dtype)", "factory = dict()")],
     "LoRALinear", [DTYPE], None),
]

MODEL_BUGS = [
    ("apply_lora leaves other parameters trainable",
     [("    for p in model.parameters():\n        p.requires_grad_(False)\n    found", "    found")],
     "apply_lora", [FROZEN], "must be frozen"),
    ("apply_lora only looks at the top level",
     [("             for parent in model.modules()\n             for name, child in parent.named_children()\n"
       "             if name in targets",
       "             for parent in [model]\n             for name, child in parent.named_children()\n"
       "             if name in targets")],
     "apply_lora", [APPLY], "expected a LoRALinear"),
    ("apply_lora wraps every Linear",
     [("if name in targets and isinstance(child, nn.Linear)]", "if isinstance(child, nn.Linear)]")],
     "apply_lora", [APPLY], "is not a target"),
    ("lora_state_dict includes the base weights",
     [("""    return {name: tensor for name, tensor in model.state_dict().items()
            if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")}""",
       "    return dict(model.state_dict())")],
     "lora_state_dict", [STATE], "not LoRA matrices"),
    ("lora_state_dict keys without the module path",
     [("    return {name: tensor for name, tensor", "    return {name.split('.', 1)[-1]: tensor for name, tensor")],
     "lora_state_dict", [STATE], None),
    ("merge_lora only merges the top level",
     [("             if isinstance(child, LoRALinear)]", "             if isinstance(child, LoRALinear)\n"
       "             and parent is model]")],
     "merge_lora", [MERGE_LORA], "still LoRALinear"),
    ("count_trainable_parameters counts frozen parameters too",
     [("sum(p.numel() for p in model.parameters() if p.requires_grad)",
       "sum(p.numel() for p in model.parameters())")],
     "count_trainable_parameters", [COUNT], "count_trainable_parameters ="),
    ("count_trainable_parameters counts shared weights twice",
     [("sum(p.numel() for p in model.parameters() if p.requires_grad)",
       "sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False) if p.requires_grad)")],
     "count_trainable_parameters", [COUNT], "counted twice"),
]


def apply_edits(source: str, edits) -> str:
    for old, new in edits:
        source = mutate(source, old, new)
    return source


def grade_edits(tmp_path, edits, select, seed: int = 5):
    path = write_submission(tmp_path, SLUG, apply_edits(reference_source(SLUG), edits))
    return grade(SLUG, path, seed=seed, select=select)


def assert_loses_points_on(report, target, bug, named=None):
    """At least one check of `target` fails, only checks of `target` fail, each says why (naming the mistake)."""
    assert report.results, f"{bug}: no check selected"
    failing = [r for r in report.results if not r.passed]
    assert failing, f"{bug}: no check of {target} failed"
    assert failed_targets(report) == {target}, (bug, failed_targets(report))
    assert all(r.output for r in failing), f"{bug}: a failing check must say why"
    if named is not None:
        assert any(named in r.output for r in failing), (bug, [r.output for r in failing])
    return failing
