"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/layernorm/layernorm.py, what it becomes, the function or class whose checks
must fail, words its failure message must contain or ""); the text must occur exactly once. A mistake that spans
several lines is written as one edit of the block that holds them. Every check of layernorm must fail for at
least one of them. Submissions that call a forbidden built-in (F.layer_norm, F.batch_norm) are not listed here:
they fail every check of their function and would hide the checks no real mistake reaches; they are written in
tests/checks/layernorm/test_layernorm_forbidden.py. Not shipped to students (it is made from the reference).
"""

# layer_norm
_VAR = "var = (xc * xc).mean(dim=dims, keepdim=True)                # (*, 1, ..., 1) biased variance"
_XHAT = "x_hat = xc * torch.rsqrt(var + eps)                         # (*, *S)"
_DIMS = "dims = tuple(range(-len(shape), 0))                         # the trailing len(S) dims"

# LayerNorm
_W_INIT = "self.weight = nn.Parameter(torch.ones(self.normalized_shape))   # (*S) gain"
_B_INIT = "self.bias = nn.Parameter(torch.zeros(self.normalized_shape))    # (*S)"
_INIT = _W_INIT + "\n            " + _B_INIT
_FWD = "return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)"

# LayerNormFunction
_DX_MU = "- dx_hat.mean(dim=-1, keepdim=True)           # through mu"
_DX_VAR = "- x_hat * (dx_hat * x_hat).mean(dim=-1, keepdim=True))  # through sigma^2"
_DW = "dweight = (rows * x_hat.reshape(-1, D)).sum(dim=0)      # (D,)"
_SAVED = "x_hat, r, weight = ctx.saved_tensors                    # (*, D), (*, 1), (D,)"
_FN_OUT = "return x_hat * weight + bias                            # (*, D)"

# batch_norm
_RM = "running_mean.mul_(1 - momentum).add_(momentum * mean)"
_RV = "running_var.mul_(1 - momentum).add_(momentum * var * n / max(n - 1, 1))"
_RUNNING = _RM + "\n            if running_var is not None:\n                " + _RV
_EVAL = "mean, var = running_mean, running_var                   # (C,)"
_BN_VAR = "var = ((x - mean.view(view)) ** 2).mean(dim=dims)       # (C,) biased"
_BN_STATS = "mean = x.mean(dim=dims)                                 # (C,)\n        " + _BN_VAR

BUGS = [
    ("unbiased variance", _VAR, "var = x.var(dim=dims, keepdim=True)", "layer_norm", "unbiased variance"),
    ("eps outside the square root", _XHAT, "x_hat = xc / (torch.sqrt(var) + eps)", "layer_norm",
     "eps added outside the square root"),
    ("normalized over the last dim only", _DIMS, "dims = (-1,)", "layer_norm", "normalized over the last dim only"),
    ("variance as E(x^2) - E(x)^2", _VAR, "var = (x * x).mean(dim=dims, keepdim=True) - mu * mu", "layer_norm",
     "E[x^2] - E[x]^2"),

    ("the built-in kernel through getattr(torch.ops.aten, a built name)", _DIMS,
     _DIMS + "\n    if x.dim() > 0:\n        op = getattr(torch.ops.aten, 'native_' + 'layer_norm')\n"
     "        return op(x, list(shape), weight, bias, eps)[0]", "layer_norm", "forbidden"),

    ("weight and bias initialised the wrong way round", _INIT,
     _W_INIT.replace("ones", "zeros") + "\n            " + _B_INIT.replace("zeros", "ones"), "LayerNorm",
     "initialised the wrong way round"),
    ("LayerNorm ignores its eps", _FWD, _FWD.replace(", self.eps)", ")"), "LayerNorm", "eps ignored"),
    ("LayerNorm forward returns its input", _FWD, "return x", "LayerNorm", "gradient norms"),

    ("backward without the mean terms", _DX_MU + "\n                  " + _DX_VAR, ")", "LayerNormFunction",
     "the terms flowing through the mean and the variance are missing"),
    ("backward without the variance term", _DX_VAR, ")", "LayerNormFunction", "the term through the variance"),
    ("dweight not summed over the batch", _DW, "dweight = g * x_hat", "LayerNormFunction", "dweight"),
    ("autograd inside backward", _SAVED,
     "x_hat, r, weight = ctx.saved_tensors\n"
     "        with torch.enable_grad():\n"
     "            xh = x_hat.detach().requires_grad_()\n"
     "            (xh * weight * g).sum().backward()", "LayerNormFunction", "uses autograd"),
    ("LayerNormFunction adds the bias before the weight", _FN_OUT, "return (x_hat + bias) * weight",
     "LayerNormFunction", "bias added before the weight multiplies"),

    ("running_var updated with the biased variance", _RV, "running_var.mul_(1 - momentum).add_(momentum * var)",
     "batch_norm", "biased variance"),
    ("batch statistics used in eval", _EVAL, "mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)",
     "batch_norm", "batch statistics used in eval"),
    ("momentum the wrong way round", _RUNNING,
     "running_mean.mul_(momentum).add_((1 - momentum) * mean)\n            if running_var is not None:\n"
     "                running_var.mul_(momentum).add_((1 - momentum) * var * n / max(n - 1, 1))", "batch_norm",
     "running_mean after step 1"),
    ("batch normalized with the unbiased variance", _BN_VAR, "var = x.var(dim=dims)  # (C,)", "batch_norm",
     "normalized with the unbiased variance"),
    # The statistics treated as constants: the output is right, the gradient through mean and var is lost
    # (Ioffe & Szegedy, 2015, Sec. 2: the normalization must be part of the gradient step).
    ("batch statistics detached from the graph", _BN_STATS,
     "mean = x.mean(dim=dims).detach()\n        var = ((x - mean.view(view)) ** 2).mean(dim=dims).detach()",
     "batch_norm", "dL/dx"),
]

# The checks some bugs are graded on by the project's tests (tests/checks/test_harness.py) instead of every check
# of their target (the others are slow, or are checks the bug does not reach); the engine adds the core checks.
SELECT = {
    "variance as E(x^2) - E(x)^2": ["layer_norm: stays accurate", "layer_norm: matches the reference for a large offset"],
    "weight and bias initialised the wrong way round": ["LayerNorm: weight", "LayerNorm: forward"],
    "LayerNorm ignores its eps": ["LayerNorm: loads", "LayerNorm: forward"],
    "LayerNorm forward returns its input": ["LayerNorm: keeps the gradient", "LayerNorm: gradient norms"],
    "autograd inside backward": ["LayerNormFunction: backward is derived"],
    "the built-in kernel through getattr(torch.ops.aten, a built name)": ["layer_norm: weight and bias"],
}
