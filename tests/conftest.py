"""Project-wide test configuration: tests marked `cuda` skip cleanly on machines without a CUDA device."""

import pytest


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
