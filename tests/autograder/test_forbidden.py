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
