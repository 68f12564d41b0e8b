"""Milestone: dropout, the regularizer that trains an ensemble of subnetworks for the price of one.

Constraint raised: optimization & regularization.

Paper: N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever and R. Salakhutdinov, "Dropout: A Simple Way to
Prevent Neural Networks from Overfitting", JMLR 15, 2014 (first described in Hinton et al., 2012,
arXiv:1207.0580).

During training, every unit is removed from the network independently with probability ``p``; each training step
therefore updates a different "thinned" subnetwork, and all of them share weights. At test time the paper keeps
every unit and multiplies the outgoing weights by the keep probability ``1 - p`` (Section 4), so that the expected
input of each unit is the same as during training. Here you build the *inverted* form used by modern libraries:
the kept activations are divided by ``1 - p`` during training, and test time is the plain identity. Both forms give
the same expectation:

    m_i ~ Bernoulli(1 - p)           (independently for every element i)
    y_i = m_i * x_i / (1 - p)        so  E[y_i] = x_i

What to build:

* ``dropout(x, p, training=True, generator=None)``: the function above, written with your own mask.
* ``Dropout(p=0.5)``: an ``nn.Module`` that applies it in training mode and is the identity in evaluation mode.

PyTorch's own dropout (``F.dropout``, ``nn.Dropout``, ``torch.dropout`` and their relatives) is off limits.
"""

import torch
from torch import nn


def dropout(x, p, training=True, generator=None):
    """Inverted dropout (Srivastava et al., 2014, Section 4, with the scaling moved to training time).

    Every element of ``x`` is dropped (set to zero) independently with probability ``p``; the kept elements are
    divided by the keep probability ``1 - p`` so that the expectation is unchanged:

        m ~ Bernoulli(1 - p),  elementwise, same shape as x
        y = x * m / (1 - p)

    Special cases:

    * ``training`` is False, or ``p == 0``: return ``x`` unchanged (the identity).
    * ``p == 1``: every element is dropped; the result is all zeros (never NaN, so no ``0 / 0``).
    * ``p`` outside ``[0, 1]``: raise ``ValueError``.

    Args:
        x: tensor of any shape ``(*)``, any floating dtype, on any device. Never modified in place.
        p: probability of dropping an element, a float in ``[0, 1]``.
        training: apply dropout when True; identity when False.
        generator: optional ``torch.Generator`` (on ``x``'s device). When given, *all* the randomness comes from
            it, so the same seed gives the same output; when None, PyTorch's global generator is used.

    Returns:
        y: tensor of shape ``(*)``, same dtype and device as ``x``. The gradient of ``y`` with respect to ``x`` is
        ``m / (1 - p)`` (elementwise).
    """
    # TODO: reject p outside [0, 1] with a ValueError; return x itself when not training or when p == 0.
    raise NotImplementedError("dropout: not implemented yet")
    # TODO: draw one independent uniform number per element of x (use `generator`, on x's device) and keep the
    #       element when it is >= p, so that it is kept with probability 1 - p. Draw the uniforms in float32 (or
    #       float64), not in float16/bfloat16: their coarse grid would bias the keep probability.
    raise NotImplementedError("dropout: not implemented yet")
    # TODO: scale the kept elements by 1 / (1 - p) and zero the others, without touching x in place. At p == 1
    #       there is nothing to keep: return zeros, not 0 / 0.
    raise NotImplementedError("dropout: not implemented yet")


class Dropout(nn.Module):
    """Dropout layer: ``dropout(x, self.p, training=self.training)``.

    ``model.train()`` switches it on, ``model.eval()`` turns it into the identity (PyTorch sets ``self.training``
    on every submodule). It has no parameters.

    Args:
        p: probability of dropping an element, stored as the attribute ``p``.

    Shapes: input ``(*)``, output ``(*)``.
    """

    def __init__(self, p=0.5):
        super().__init__()
        # TODO: store p as the attribute `p`.
        raise NotImplementedError("Dropout.__init__: not implemented yet")

    def forward(self, x):
        """Apply dropout to ``x`` of shape ``(*)`` in training mode; return ``x`` in evaluation mode."""
        # TODO: call your dropout with this module's p and training flag.
        raise NotImplementedError("Dropout.forward: not implemented yet")

    def extra_repr(self):
        return f"p={self.p}"


if __name__ == "__main__":
    print("dropout.py is checked, not run: `dlcourse check dropout` (or `pytest -m dropout` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
