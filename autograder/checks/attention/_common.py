"""Shared by the public and hidden checks of `attention`: the probes (run in the sandbox with the submission, or here
with the reference) and small helpers for random parameters. Nothing here computes attention.

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body and calls nothing else from this file. The check files load this module by path (`load_common()` there).
"""

import math

import torch

# ----------------------------------------------------------------------------------------------- probes


def probe_sdpa(m, q, k, v, mask=None, causal=False, grad_out=None):
    """scaled_dot_product_attention(q, k, v, mask=, causal=); with `grad_out`, also the gradients of
    sum(out * grad_out) with respect to q, k and v."""
    import torch

    if grad_out is not None:
        q, k, v = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    result = m.scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"scaled_dot_product_attention must return a pair (out, weights), got {type(result).__name__}"
                        + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    out, weights = result
    answer = {"out": out.detach() if isinstance(out, torch.Tensor) else out,
              "weights": weights.detach() if isinstance(weights, torch.Tensor) else weights}
    if grad_out is not None:
        (out * grad_out).sum().backward()
        answer.update(dq=q.grad, dk=k.grad, dv=v.grad)
    return answer


def probe_sdpa_error(m, q, k, v, mask=None, causal=False):
    """The name of the exception scaled_dot_product_attention raises, or None."""
    try:
        m.scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    except NotImplementedError:
        raise
    except Exception as exc:  # the kind of exception is what the check judges
        return type(exc).__name__
    return None


def probe_mha_layout(m, d_model, n_heads, bias=True):
    """The parameters MultiHeadAttention(d_model, n_heads, bias) holds: their names and shapes (its state_dict is
    the contract: the checks load weights into it by these names)."""
    mha = m.MultiHeadAttention(d_model, n_heads, bias=bias)
    return {"shapes": {n: list(p.shape) for n, p in mha.named_parameters()}}


def probe_mha_error(m, d_model, n_heads):
    """The name of the exception MultiHeadAttention(d_model, n_heads) raises, or None."""
    try:
        m.MultiHeadAttention(d_model, n_heads)
    except NotImplementedError:
        raise
    except Exception as exc:  # the kind of exception is what the check judges
        return type(exc).__name__
    return None


def probe_mha(m, d_model, n_heads, state, query, key=None, value=None, mask=None, causal=False, bias=True,
              grad_out=None):
    """MultiHeadAttention(d_model, n_heads, bias) loaded with `state`, applied to the inputs; with `grad_out`, also
    the gradients of sum(out * grad_out) with respect to the inputs and to the parameters named in `state`."""
    import torch

    mha = m.MultiHeadAttention(d_model, n_heads, bias=bias).to(device=query.device, dtype=query.dtype)
    mha.load_state_dict(state)
    if grad_out is not None:
        query = query.detach().clone().requires_grad_(True)
        key = None if key is None else key.detach().clone().requires_grad_(True)
        value = None if value is None else value.detach().clone().requires_grad_(True)
    out = mha(query, key=key, value=value, mask=mask, causal=causal)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"MultiHeadAttention.forward must return a tensor (B, Lq, d_model), got {type(out).__name__}")
    answer = {"out": out.detach()}
    if grad_out is not None:
        (out * grad_out).sum().backward()
        answer["dquery"] = query.grad
        if key is not None:
            answer["dkey"] = key.grad
        if value is not None:
            answer["dvalue"] = value.grad
        answer["dparams"] = {n: p.grad for n, p in mha.named_parameters() if n in state}
    return answer


def probe_additive_layout(m, query_dim, key_dim, hidden_dim):
    """The parameters AdditiveAttention(query_dim, key_dim, hidden_dim) holds: their names and shapes."""
    add = m.AdditiveAttention(query_dim, key_dim, hidden_dim)
    return {"shapes": {n: list(p.shape) for n, p in add.named_parameters()}}


def probe_additive(m, dims, state, query, keys, mask=None, grad_out=None):
    """AdditiveAttention(*dims) loaded with `state`, applied to (query, keys, mask); with `grad_out` = (g_context,
    g_weights), also the gradients of sum(context * g_context) + sum(weights * g_weights)."""
    import torch

    add = m.AdditiveAttention(*dims).to(device=query.device, dtype=query.dtype)
    add.load_state_dict(state)
    if grad_out is not None:
        query = query.detach().clone().requires_grad_(True)
        keys = keys.detach().clone().requires_grad_(True)
    result = add(query, keys, mask=mask)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError("AdditiveAttention.forward must return a pair (context, weights)")
    context, weights = result
    answer = {"context": context.detach(), "weights": weights.detach()}
    if grad_out is not None:
        ((context * grad_out[0]).sum() + (weights * grad_out[1]).sum()).backward()
        answer.update(dquery=query.grad, dkeys=keys.grad,
                      dparams={n: p.grad for n, p in add.named_parameters() if n in state})
    return answer


# ----------------------------------------------------------------------------------------------- parameters


def random_state(gen, shapes, device, dtype, scale=None):
    """A state_dict of normal random tensors with the given shapes (weights scaled by 1/sqrt(fan_in))."""
    state = {}
    for name, shape in shapes.items():
        fan_in = shape[-1] if len(shape) > 1 else 1
        s = scale if scale is not None else (1.0 / math.sqrt(fan_in) if len(shape) > 1 else 0.1)
        state[name] = (torch.randn(*shape, generator=gen, dtype=torch.float64) * s).to(device=device, dtype=dtype)
    return state


def mha_shapes(d_model, bias=True):
    shapes = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        shapes[f"{name}.weight"] = (d_model, d_model)
        if bias:
            shapes[f"{name}.bias"] = (d_model,)
    return shapes


def additive_shapes(query_dim, key_dim, hidden_dim):
    return {"W_q.weight": (hidden_dim, query_dim), "W_k.weight": (hidden_dim, key_dim), "v.weight": (1, hidden_dim)}
