"""Small 2-D toy distributions for the notebooks, generated on the fly (no files).

* `ring_of_gaussians(n, ...)`: a mixture of Gaussians centred on a circle, the standard test of mode collapse for
  generative adversarial networks (eight modes in Metz et al., 2017, "Unrolled generative adversarial networks").
* `ring_centres(...)`: the centres of its modes.

Checks never import this module (probes in the sandbox cannot import `dlcourse`); they generate their data in the
grader's process with their own code.
"""

from __future__ import annotations

import math

import torch

__all__ = ["ring_centres", "ring_of_gaussians"]


def ring_centres(n_modes: int = 8, radius: float = 2.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (n_modes, 2) centres, evenly spaced on the circle of the given radius, the first on the x axis."""
    angle = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (torch.stack([angle.cos(), angle.sin()], 1) * radius).to(dtype)


def ring_of_gaussians(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                      return_modes: bool = False):
    """n points of an equal-weight mixture of isotropic Gaussians (standard deviation `std`) centred on a ring.

    Returns the (n, 2) points, and with `return_modes=True` also the (n,) index of the mode each point came from.
    All randomness comes from `generator` (a CPU `torch.Generator`; the global one when None).
    """
    modes = torch.randint(0, n_modes, (n,), generator=generator)
    points = ring_centres(n_modes, radius, torch.float64)[modes]
    points = points + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return (points.to(dtype), modes) if return_modes else points.to(dtype)
