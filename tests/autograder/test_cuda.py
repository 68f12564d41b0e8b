"""GPU: tensors keep their device across the sandbox, and every torch assignment's reference gets full marks on
CUDA. Skipped without a CUDA device."""

import textwrap

import pytest

from autograder import spec as specs
from autograder.grading import _readonly_paths, grade
from autograder.paths import secret_paths
from autograder.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.cuda


def test_cuda_tensors_cross_the_sandbox_on_their_device(tmp_path):
    import torch

    path = tmp_path / "mod.py"
    path.write_text(textwrap.dedent("""
        import torch
        def double(x):
            return 2 * x
        def on_cpu(x):
            return x.cpu()
    """))
    with Sandbox(SandboxConfig(module_path=path, module_file="mod.py", framework="torch", device="cuda",
                               hidden=secret_paths(), readonly=_readonly_paths())) as sb:
        x = torch.arange(4.0, device="cuda")
        y = sb.call("double", x)
        assert y.device.type == "cuda" and torch.equal(y, 2 * x)
        assert sb.call("on_cpu", x).device.type == "cpu"


@pytest.mark.parametrize("slug", [s.slug for s in specs.all_specs() if s.framework == "torch"])
def test_reference_full_marks_on_cuda(slug):
    report = grade(slug, specs.load(slug).reference, device="cuda", seed=1)
    assert report.score == report.max_score, report.failed_names()
