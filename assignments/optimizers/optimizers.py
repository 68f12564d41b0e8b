"""Milestone: Adam and AdamW, the optimizers that train nearly every deep network today.

Constraint raised: optimization & regularization.

Papers:
* D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015 (arXiv:1412.6980).
* I. Loshchilov and F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019 (arXiv:1711.05101).
* Momentum: B. T. Polyak, "Some methods of speeding up the convergence of iteration methods", 1964; in the form
  used by deep learning libraries, I. Sutskever, J. Martens, G. Dahl and G. Hinton, ICML 2013.

Plain stochastic gradient descent moves every parameter by the same multiple of its gradient. In a deep network the
gradients of different layers differ by orders of magnitude, so one learning rate is too small for some layers and
too large for others. Adam keeps two exponential moving averages per parameter, of the gradient (m) and of its
square (v), corrects both for their start at zero, and moves each parameter by about ``lr`` in the direction of
m / sqrt(v), whatever the scale of its gradient. AdamW then fixes how weight decay combines with that rescaling.

What to build (each a subclass of ``torch.optim.Optimizer``; its updates must match torch.optim's):

* ``SGD(params, lr, momentum=0.0, weight_decay=0.0)``
* ``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)``: weight decay as an L2 term added to
  the gradient.
* ``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)``: decoupled weight decay.

Everything in ``torch.optim`` except the base class ``torch.optim.Optimizer`` is off limits.
"""

import math

import torch
from torch.optim import Optimizer


def _check_hyperparameters(lr, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0, momentum=0.0):
    """Raise ValueError for a hyper-parameter outside its valid range (as torch.optim does)."""
    # TODO: raise ValueError when lr < 0, eps < 0, weight_decay < 0, momentum < 0, or a beta is outside [0, 1).
    raise NotImplementedError("_check_hyperparameters: not implemented yet")


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay, as torch.optim.SGD computes it.

    For every parameter ``p`` with a gradient ``g`` (parameters whose ``.grad`` is None are skipped):

        g <- g + weight_decay * p                      (L2 penalty weight_decay / 2 * ||p||^2, through the gradient)
        b <- g                  at the first step      (momentum > 0 only; b is the momentum buffer)
        b <- momentum * b + g   afterwards
        p <- p - lr * b         (p <- p - lr * g when momentum == 0)

    The buffer ``b`` is the parameter's state: keep it in ``self.state[p]`` (a dict per parameter, created by
    ``torch.optim.Optimizer``), so that ``state_dict()`` and ``load_state_dict()`` save and restore it.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) such as ``[{"params": [...], "lr": 0.1}]``;
            a group's own hyper-parameters override the defaults.
        lr: learning rate (>= 0).
        momentum: momentum factor (>= 0); 0 means plain SGD.
        weight_decay: L2 coefficient (>= 0).

    Raises:
        ValueError: for a negative lr, momentum or weight_decay.
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        # TODO: validate the hyper-parameters, then hand them to Optimizer.__init__ as the defaults dict.
        raise NotImplementedError("SGD.__init__: not implemented yet")

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss; when given, call it
                (with gradients enabled) before the update and return its value.

        Returns:
            the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # TODO: for every group and every parameter p of the group with p.grad not None: add the weight decay
        #       term, update the momentum buffer kept in self.state[p], and move p in place (under no_grad).
        raise NotImplementedError("SGD.step: not implemented yet")
        return loss


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1), with L2 weight decay added to the gradient, as torch.optim.Adam.

    For every parameter ``p`` with a gradient ``g`` (parameters whose ``.grad`` is None are skipped and their
    step count ``t`` does not advance), with ``t`` the number of updates of ``p`` so far, this one included:

        g   <- g + weight_decay * p                  (L2 penalty, through the gradient)
        m   <- beta1 * m + (1 - beta1) * g           (first moment, m = 0 before the first step)
        v   <- beta2 * v + (1 - beta2) * g * g       (second raw moment, v = 0 before the first step)
        m^  = m / (1 - beta1 ** t)                   (bias corrections, Kingma & Ba, 2015, Section 3)
        v^  = v / (1 - beta2 ** t)
        p   <- p - lr * m^ / (sqrt(v^) + eps)

    ``t``, ``m`` and ``v`` are the parameter's state: keep them in ``self.state[p]`` (``t`` per parameter).

    Args:
        params: an iterable of tensors or of parameter-group dicts (see SGD).
        lr: learning rate (>= 0).
        betas: (beta1, beta2), each in [0, 1): decay rates of the two moving averages.
        eps: added to sqrt(v^) in the denominator (>= 0).
        weight_decay: L2 coefficient (>= 0), added to the gradient.

    Raises:
        ValueError: for a negative lr, eps or weight_decay, or a beta outside [0, 1).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        # TODO: validate the hyper-parameters and pass them to Optimizer.__init__ as the defaults dict.
        raise NotImplementedError("Adam.__init__: not implemented yet")

    @torch.no_grad()
    def step(self, closure=None):
        """One Adam update of every parameter that has a gradient; returns the closure's loss (or None)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # TODO: for every parameter with a gradient: create its state on first use (t = 0, m = v = zeros like p),
        #       feed the decayed gradient to the two moving averages, correct their bias, update p in place.
        raise NotImplementedError("Adam.step: not implemented yet")
        return loss


class AdamW(Optimizer):
    """AdamW (Loshchilov & Hutter, 2019, Algorithm 2): Adam with decoupled weight decay, as torch.optim.AdamW.

    The decay is taken out of the gradient: the moments see the loss gradient only, and the parameter shrinks by
    the factor ``1 - lr * weight_decay`` before the Adam step (on its value from before the step):

        p   <- p * (1 - lr * weight_decay)           (decoupled decay, Algorithm 2, line 12)
        m   <- beta1 * m + (1 - beta1) * g           (g: the gradient as it is, no decay term in it)
        v   <- beta2 * v + (1 - beta2) * g * g
        p   <- p - lr * m^ / (sqrt(v^) + eps)        (m^, v^: bias-corrected as in Adam, t per parameter)

    With an L2 term in the gradient (class Adam), the decay is divided by sqrt(v^) like the rest of the gradient,
    so weights with large gradients are barely regularised and weights with tiny gradients are pulled to zero at
    a speed of about lr per step; decoupling makes every weight decay at the same relative rate. (The paper writes
    the decay as eta_t * lambda with a schedule multiplier eta_t; torch.optim, and this assignment, use
    lr * weight_decay.) You may share code with your Adam.

    Args: as Adam, with ``weight_decay`` (>= 0) defaulting to 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        # TODO: validate the hyper-parameters and pass them to Optimizer.__init__ as the defaults dict.
        raise NotImplementedError("AdamW.__init__: not implemented yet")

    @torch.no_grad()
    def step(self, closure=None):
        """One AdamW update of every parameter that has a gradient; returns the closure's loss (or None)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # TODO: as Adam.step, but shrink p by (1 - lr * weight_decay) first and feed the moments the plain gradient.
        raise NotImplementedError("AdamW.step: not implemented yet")
        return loss


if __name__ == "__main__":
    print("optimizers.py is checked, not run: `dlcourse check optimizers` (or `pytest -m optimizers` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
