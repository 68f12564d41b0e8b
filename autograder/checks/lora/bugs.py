"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/lora/lora.py, what it becomes, the function or class whose checks must fail,
words its failure message must contain, or ""); the text must occur exactly once in the reference.
Every check of lora must fail for at least one of them. The project's tests (tests/checks/lora/) plant each one and
assert that it loses points on its target only, naming the mistake. Not shipped to students (made from the
reference).
"""

_DOWN = "z = self.lora_dropout(x) @ self.lora_A.T   # (..., r)    down-projection\n        "
_UP = "return h + self.scaling * (z @ self.lora_B.T)"
_MERGE_BODY = """        merged = nn.Linear(self.in_features, self.out_features, bias=has_bias,
                           device=W.device, dtype=W.dtype)
        with torch.no_grad():
            delta = self.scaling * (self.lora_B @ self.lora_A)  # (out, r) @ (r, in) -> (out, in)
            merged.weight.copy_(W + delta)
            if has_bias:
                merged.bias.copy_(self.base.bias)
        return merged"""
_STATE_BODY = """    return {name: tensor for name, tensor in model.state_dict().items()
            if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")}"""
_COUNT = "sum(p.numel() for p in model.parameters() if p.requires_grad)"

BUGS = [
    # LoRALinear: initialisation, scaling, freezing, forward
    ("lora_B random at initialisation",
     "self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, **factory))",
     "self.lora_B = nn.Parameter(torch.randn(self.out_features, r, **factory) * 0.01)",
     "LoRALinear", "lora_B at initialisation"),
    ("lora_A zero at initialisation",
     "nn.Parameter(torch.randn(r, self.in_features, **factory) / math.sqrt(self.in_features))",
     "nn.Parameter(torch.zeros(r, self.in_features, **factory))",
     "LoRALinear", "it must be random"),
    ("scaling alpha instead of alpha / r",
     "self.scaling = alpha / r", "self.scaling = alpha",
     "LoRALinear", "alpha instead of alpha / r"),
    ("the base not frozen",
     "p.requires_grad_(False)  # W is frozen", "pass  # W is frozen",
     "LoRALinear", "must be frozen"),
    ("base(x) left out of forward",
     _UP, "return self.scaling * (z @ self.lora_B.T)",
     "LoRALinear", "base output base(x) is missing"),
    # LoRALinear.merge
    ("merge mutates the base and returns it",
     _MERGE_BODY,
     """        with torch.no_grad():
            W += self.scaling * (self.lora_B @ self.lora_A)
        return self.base""",
     "LoRALinear", "returned the base layer itself"),
    ("merge writes W + delta into the base's weight before copying",
     "merged.weight.copy_(W + delta)", "merged.weight.copy_(W.add_(delta))",
     "LoRALinear", "merge must not modify"),
    ("merge without the scaling",
     "delta = self.scaling * (self.lora_B @ self.lora_A)", "delta = self.lora_B @ self.lora_A",
     "LoRALinear", "merge forgot the alpha / r scaling"),
    ("merge drops the bias",
     "has_bias = self.base.bias is not None", "has_bias = False",
     "LoRALinear", "merged bias"),
    # LoRALinear: dropout, rank validation, dtype and device
    ("dropout applied to the output",
     _DOWN + _UP,
     "z = x @ self.lora_A.T\n        return self.lora_dropout(h + self.scaling * (z @ self.lora_B.T))",
     "LoRALinear", "must act on the input of the low-rank path only"),
    ("dropout applied to the low-rank output",
     _DOWN + _UP,
     "z = x @ self.lora_A.T\n        return h + self.lora_dropout(self.scaling * (z @ self.lora_B.T))",
     "LoRALinear", "instead of to its input x"),
    ("dropout never applied",
     "z = self.lora_dropout(x) @ self.lora_A.T", "z = x @ self.lora_A.T",
     "LoRALinear", "dropout is not applied at all"),
    ("no ValueError for r < 1",
     "        if r < 1:\n            raise ValueError", "        if r < 0:\n            raise ValueError",
     "LoRALinear", "raised"),
    ("LoRA parameters created without the base's dtype and device",
     "factory = dict(device=base.weight.device, dtype=base.weight.dtype)", "factory = dict()",
     "LoRALinear", ""),
    # apply_lora
    ("apply_lora leaves other parameters trainable",
     "    for p in model.parameters():\n        p.requires_grad_(False)\n    found", "    found",
     "apply_lora", "must be frozen"),
    ("apply_lora only looks at the top level",
     "             for parent in model.modules()\n             for name, child in parent.named_children()\n"
     "             if name in targets",
     "             for parent in [model]\n             for name, child in parent.named_children()\n"
     "             if name in targets",
     "apply_lora", "expected a LoRALinear"),
    ("apply_lora wraps every Linear",
     "if name in targets and isinstance(child, nn.Linear)]", "if isinstance(child, nn.Linear)]",
     "apply_lora", "is not a target"),
    ("apply_lora does not pass dropout on",
     "LoRALinear(child, r, alpha=alpha, dropout=dropout)", "LoRALinear(child, r, alpha=alpha)",
     "apply_lora", "did not reach"),
    # lora_state_dict
    ("lora_state_dict includes the base weights",
     _STATE_BODY, "    return dict(model.state_dict())",
     "lora_state_dict", "not LoRA matrices"),
    ("lora_state_dict keys without the module path",
     "    return {name: tensor for name, tensor", "    return {name.split('.', 1)[-1]: tensor for name, tensor",
     "lora_state_dict", ""),
    # merge_lora
    ("merge_lora only merges the top level",
     "             if isinstance(child, LoRALinear)]",
     "             if isinstance(child, LoRALinear)\n             and parent is model]",
     "merge_lora", "still LoRALinear"),
    # count_trainable_parameters
    ("count_trainable_parameters counts frozen parameters too",
     _COUNT, "sum(p.numel() for p in model.parameters())",
     "count_trainable_parameters", "count_trainable_parameters ="),
    ("count_trainable_parameters counts shared weights twice",
     _COUNT, "sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False) if p.requires_grad)",
     "count_trainable_parameters", "counted twice"),
]

# The checks each bug is graded on by the project's tests (tests/checks/test_harness.py), to keep the runs short;
# the engine adds the target's core checks. A bug not listed is graded on every check of its target.
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

SELECT = {
    "lora_B random at initialisation": [INIT],
    "lora_A zero at initialisation": [INIT],
    "scaling alpha instead of alpha / r": [FORWARD, GRADS],
    "the base not frozen": [GRADS, TRAINABLE],
    "base(x) left out of forward": [FORWARD],
    "merge mutates the base and returns it": [MERGE],
    "merge writes W + delta into the base's weight before copying": [MERGE],
    "merge without the scaling": [MERGE],
    "merge drops the bias": [MERGE],
    "dropout applied to the output": [DROPOUT],
    "dropout applied to the low-rank output": [DROPOUT],
    "dropout never applied": [DROPOUT],
    "no ValueError for r < 1": ["LoRALinear: r < 1"],
    "LoRA parameters created without the base's dtype and device": [DTYPE],
    "apply_lora leaves other parameters trainable": [FROZEN],
    "apply_lora only looks at the top level": [APPLY],
    "apply_lora wraps every Linear": [APPLY],
    "apply_lora does not pass dropout on": ["apply_lora: passes dropout on"],
    "lora_state_dict includes the base weights": [STATE],
    "lora_state_dict keys without the module path": [STATE],
    "merge_lora only merges the top level": [MERGE_LORA],
    "count_trainable_parameters counts frozen parameters too": [COUNT],
    "count_trainable_parameters counts shared weights twice": [COUNT],
}
