"""What is specific to the cnn checks (the harness, tests/checks/test_harness.py, grades the reference, the skeleton,
the hollow submissions and every known bug): each target has public and hidden core checks, the end-to-end training
is fast and passes, and a correct solution in another style gets full marks."""

import pytest

from autograder import spec as specs
from autograder.grading import collect_infos, grade
from tests.helpers import write_submission

SLUG = "cnn"

# A correct solution written differently from the reference: windows from as_strided, einsum, amax-free argmax
# pooling, PyTorch's own init functions, modules for the ReLU and the pooling.
OTHER_STYLE = '''
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


def _two(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _windows(x, kh, kw, sh, sw):
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    x = x.contiguous()
    s = x.stride()
    return x.as_strided((n, c, ho, wo, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]))


def conv2d(x, weight, bias=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = _two(stride), _two(padding)
    win = _windows(F.pad(x, (pw, pw, ph, ph)), weight.shape[2], weight.shape[3], sh, sw)
    out = torch.einsum("nchwuv,ocuv->nohw", win, weight)
    return out if bias is None else out + bias[:, None, None]


def max_pool2d(x, kernel_size, stride=None):
    kh, kw = _two(kernel_size)
    sh, sw = _two(kernel_size if stride is None else stride)
    win = _windows(x, kh, kw, sh, sw)
    flat = win.reshape(*win.shape[:4], kh * kw)
    idx = flat.argmax(dim=-1, keepdim=True)
    return flat.gather(-1, idx).squeeze(-1)


class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *_two(kernel_size)))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)


class _Pool(nn.Module):
    def forward(self, x):
        return max_pool2d(x, 2)


class SmallCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = Conv2d(1, 16, 3, padding=1)
        self.conv2 = Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(128, num_classes)
        self.act, self.pool = nn.ReLU(), _Pool()

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))
'''


def test_every_target_has_public_and_hidden_core_checks():
    infos = collect_infos(SLUG)
    for target in specs.load(SLUG).targets:
        mine = [(info, vis) for info, vis in infos if info.target == target]
        assert {vis for _, vis in mine} == {"public", "hidden"}, target
        assert any(info.core for info, vis in mine if vis == "public"), target
        assert any(info.core for info, vis in mine if vis == "hidden"), target


def test_end_to_end_training_is_fast_and_passes():
    report = grade(SLUG, specs.load(SLUG).reference, seed=3, select=["SmallCNN: trained"])
    (e2e,) = [r for r in report.results if r.name.startswith("SmallCNN: trained")]
    assert e2e.passed, e2e.output
    # About 200 Adam steps: a few seconds on an idle core; the bound leaves room for a loaded 2-core machine.
    assert e2e.duration < 120, e2e.duration


@pytest.mark.parametrize("select", [["conv2d:", "max_pool2d:", "Conv2d:"], ["SmallCNN: with", "SmallCNN: logits",
                                                                            "SmallCNN: parameters"]])
def test_another_correct_style_gets_full_marks(tmp_path, select):
    report = grade(SLUG, write_submission(tmp_path, SLUG, OTHER_STYLE), seed=5, select=select)
    assert report.results and report.score == report.max_score, {r.name: r.output for r in report.results
                                                                  if not r.passed}
