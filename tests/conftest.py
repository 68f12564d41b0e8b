"""Project-wide test configuration: tests marked `cuda` skip cleanly on machines without a CUDA device.

The CLI's rich console fixes its width from COLUMNS when it is first imported; a CI shell that exports COLUMNS=80
would then wrap every message that tests read, whatever width a test asks its CliRunner for. The variables are
dropped here, before any test module imports the CLI, so that each test's `env={"COLUMNS": ...}` decides.

The suite grades hundreds of submissions in its own processes: their sandboxes are forked from a zygote that has
imported torch once (autograder/sandbox/spawn.py), not exec'd each time. Tests of the exec'd path say so
(tests/autograder/sandbox: `spawning`), and subprocesses that a test starts exec as the CLI does.
"""

import os

import pytest

from autograder.sandbox import spawn

for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

spawn.enable()


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none available here)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
