"""The static scan finds forbidden APIs through aliases and helpers and attributes them to the right target."""

import pytest

from autograder.forbidden import scan
from autograder.spec import Forbidden

DROPOUT_RULES = (Forbidden("torch.nn.functional.*dropout*", "write the mask yourself"),
                 Forbidden("torch.nn.Dropout*", "write the module yourself"), Forbidden("torch.dropout", "no"))


def test_aliases_and_helpers():
    src = """
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.functional import alpha_dropout as ad

def _mask(x, p):
    return F.dropout(x, p)

def dropout(x, p, training=True, generator=None):
    return _mask(x, p)

class Dropout(nn.Module):
    def forward(self, x):
        return ad(x)

def clean(x):
    return torch.relu(x)
"""
    found = scan(src, DROPOUT_RULES, ("dropout", "Dropout", "clean"))
    assert set(found) == {"dropout", "Dropout"}
    assert "through _mask" in found["dropout"][0] and "torch.nn.functional.dropout" in found["dropout"][0]
    assert "torch.nn.functional.alpha_dropout" in found["Dropout"][0]
    assert "write the mask yourself" in found["Dropout"][0]


def test_module_rule_flags_imports_at_module_level():
    rules = (Forbidden("torch", "NumPy only"),)
    found = scan("import numpy as np\nfrom torch import tensor\ndef f(x):\n    return np.tanh(x)\n", rules, ("f",))
    assert list(found) == ["*"] and "NumPy only" in found["*"][0]
    assert scan("import numpy as np\ndef f(x):\n    return np.tanh(x)\n", rules, ("f",)) == {}


def test_module_level_alias_assignment_is_followed():
    src = "import torch.nn.functional as F\ndrop = F.dropout\ndef dropout(x, p):\n    return drop(x, p)\n"
    found = scan(src, DROPOUT_RULES, ("dropout",))
    assert "dropout" in found


def test_attribute_rules_do_not_flag_lookalikes():
    src = "import torch\ndef dropout(x, p):\n    mask = torch.rand_like(x) > p\n    return x * mask / (1 - p)\n"
    assert scan(src, DROPOUT_RULES, ("dropout",)) == {}


def test_syntax_errors_propagate():
    with pytest.raises(SyntaxError):
        scan("def f(:\n", DROPOUT_RULES, ("f",))


TORCH_RULES = (Forbidden("torch.nn.functional.layer_norm", "write it yourself"),)


@pytest.mark.parametrize("body", [
    "return getattr(torch.ops.aten, 'native_' + 'layer_norm')(x, (4,), None, None, 1e-5)[0]",
    "return torch.ops.aten.native_layer_norm(x, (4,), None, None, 1e-5)[0]",
    "return torch._C._nn.layer_norm(x)",
    "ns = {}\n    exec(compile('y = 1', 'f', 'exec'), ns)\n    return x",
    "return eval('x')",
    "import ast\n    return ast.parse('x')",
    "import importlib\n    return importlib.import_module('torch.nn.functional')",
    "return open(F.__file__).read()",
    "return vars(F)['layer_' + 'norm'](x, (4,))",
    "name = 'layer' + '_norm'\n    return getattr(F, name)(x, (4,))",
    "f = F\n    return getattr(f, 'layer' + '_norm')(x, (4,))",
    "return F.__dict__['layer_norm'](x, (4,))",
    "import sys\n    return sys.modules['torch.nn.functional'].layer_norm(x, (4,))",
    "return open('/usr/lib/python3/site-packages/torch/nn/functional.py').read()",
])
def test_ways_around_the_scan_are_violations(body):
    src = f"import torch\nimport torch.nn.functional as F\n\ndef layer_norm(x):\n    {body}\n"
    found = scan(src, TORCH_RULES, ("layer_norm",))
    assert "layer_norm" in found, body
    assert "forbidden here" in found["layer_norm"][0]


def test_honest_code_is_not_a_violation():
    src = ("import math\nimport torch\nimport torch.nn.functional as F\n\n"
           "def layer_norm(x, eps=1e-5):\n    mu = x.mean(-1, keepdim=True)\n"
           "    y = getattr(x, 'shape')\n    return (x - mu) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)"
           "\n")
    assert scan(src, TORCH_RULES, ("layer_norm",)) == {}


def test_main_block_and_unused_imports_are_notes_not_violations():
    src = ("import torch\nimport torch.nn.functional as F\nfrom torch.nn.functional import layer_norm as ln\n\n"
           "def layer_norm(x):\n    return x - x.mean(-1, keepdim=True)\n\n"
           "if __name__ == '__main__':\n    print(F.layer_norm(torch.ones(2, 4), (4,)))\n")
    found = scan(src, TORCH_RULES, ("layer_norm",))
    assert set(found) == {"notes"}
    notes = " ".join(found["notes"])
    assert "__main__" in notes and "never used" in notes and "not counted" in notes


def test_the_dispatcher_tripwire_stops_the_aten_operator_behind_a_forbidden_api(tmp_path):
    """torch.ops.aten.native_dropout is what F.dropout runs: the worker's dispatcher tripwire stops it however it is
    reached, while honest tensor arithmetic runs as before."""
    import torch

    from autograder.sandbox import Sandbox, SandboxConfig, StudentError

    module = tmp_path / "dropout.py"
    module.write_text("import torch\n\ndef fused(x):\n    return torch.ops.aten.native_dropout(x, 0.5, True)[0]\n\n"
                      "def honest(x):\n    return x * (torch.rand_like(x) > 0.5) / 0.5\n")
    rules = [("torch.nn.functional.*dropout*", "write the mask yourself"), ("torch.*dropout*", "no")]
    with Sandbox(SandboxConfig(module_path=module, module_file="dropout.py", framework="torch",
                               forbidden=rules)) as sbx:
        x = torch.ones(4, 4)
        assert sbx.call("honest", x).shape == (4, 4)
        with pytest.raises(StudentError, match="forbidden API.*native_dropout"):
            sbx.call("fused", x)
