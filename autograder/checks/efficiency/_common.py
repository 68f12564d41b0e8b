"""Shared by the public and hidden checks of `efficiency`: the probes (run in the sandbox with the submission, or here
with the reference) and the small decoder's parameters. Nothing here computes attention.

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its body.
`decode_step` is run with a stand-in cache (a plain list of tensors behind the KVCache interface: append, len, .k,
.v), so that it is judged on its own, whatever the submission's KVCache does.
"""

import math

import torch

# ----------------------------------------------------------------------------------------------- probes


def probe_attention(m, q, k, v, block_size, causal=False, watch=False):
    """online_softmax_attention(q, k, v, block_size, causal); with `watch`, also the largest number of elements of
    any tensor a torch function or tensor method produced during the call (recorded with a TorchFunctionMode)."""
    import torch
    from torch.overrides import TorchFunctionMode

    largest = [0]

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(t, torch.Tensor):
                    largest[0] = max(largest[0], t.numel())
            return out

    if watch:
        with Watch():
            out = m.online_softmax_attention(q, k, v, block_size, causal=causal)
    else:
        out = m.online_softmax_attention(q, k, v, block_size, causal=causal)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"online_softmax_attention must return a tensor (..., Lq, dv), got {type(out).__name__}")
    return {"out": out.detach(), "largest": largest[0]}


def probe_attention_error(m, q, k, v, block_size, causal=False):
    """The name of the exception online_softmax_attention raises, or None."""
    try:
        m.online_softmax_attention(q, k, v, block_size, causal=causal)
    except NotImplementedError:
        raise
    except Exception as exc:  # the kind of exception is what the check judges
        return type(exc).__name__
    return None


def probe_cache(m, chunks, max_len=None):
    """A KVCache(max_len) fed the (k, v) chunks in order: after each append, what append returned, len(cache) and
    cache.k, cache.v; before the first, len and k, v."""
    import torch

    cache = m.KVCache(max_len) if max_len is not None else m.KVCache()
    steps = [{"len": len(cache), "k": cache.k, "v": cache.v}]
    for k, v in chunks:
        returned = cache.append(k, v)
        if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
            raise TypeError(f"KVCache.append must return the pair (k, v) of cached tensors, got "
                            f"{type(returned).__name__}")
        steps.append({"returned": [t.detach() if isinstance(t, torch.Tensor) else t for t in returned],
                      "len": len(cache), "k": cache.k, "v": cache.v})
    return steps


def probe_cache_error(m, chunks, max_len=None):
    """The index of the chunk whose append raised, and the exception's name; (None, None) if none did."""
    cache = m.KVCache(max_len) if max_len is not None else m.KVCache()
    for i, (k, v) in enumerate(chunks):
        try:
            cache.append(k, v)
        except NotImplementedError:
            raise
        except Exception as exc:  # the kind of exception is what the check judges
            return [i, type(exc).__name__]
    return [None, None]


def probe_decode(m, parts, tokens):
    """decode_step for tokens[:, 0], tokens[:, 1], ... from an empty stand-in cache per layer: the logits of every
    step (B, T, V) and what each layer's cache holds at the end."""
    import torch

    class ListCache:
        """The KVCache interface (append, len, .k, .v) over a plain list of chunks."""

        def __init__(self):
            self._k, self._v = [], []

        def __len__(self):
            return sum(t.shape[-2] for t in self._k)

        @property
        def k(self):
            return torch.cat(self._k, dim=-2) if self._k else None

        @property
        def v(self):
            return torch.cat(self._v, dim=-2) if self._v else None

        def append(self, k, v):
            self._k.append(k.detach().clone())
            self._v.append(v.detach().clone())
            return self.k, self.v

    caches = [ListCache() for _ in parts["layers"]]
    logits = []
    for t in range(tokens.shape[1]):
        out = m.decode_step(parts, tokens[:, t], caches)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"decode_step must return the logits (B, V) as a tensor, got {type(out).__name__}")
        logits.append(out.detach())
    shapes = [list(out.shape) for out in logits]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"decode_step returned logits of shapes {shapes} over the steps")
    return {"logits": torch.stack(logits, dim=1), "k": [c.k for c in caches], "v": [c.v for c in caches],
            "lengths": [len(c) for c in caches]}


# ----------------------------------------------------------------------------------------------- data


def randn(g, *shape, device="cpu", dtype=torch.float32, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(device=device, dtype=dtype)


def decoder(g, vocab_size, d_model, n_heads, n_layers, max_len, device="cpu", dtype=torch.float32):
    """The small decoder's parameters, drawn here (the same layout as the module's make_decoder)."""
    C = d_model

    def normal(*shape, std=1.0, mean=0.0):
        return (randn(g, *shape, dtype=torch.float64) * std + mean).to(device=device, dtype=dtype)

    layers = []
    for _ in range(n_layers):
        layers.append({
            "ln1_w": normal(C, std=0.1, mean=1.0), "ln1_b": normal(C, std=0.1),
            "qkv_w": normal(3 * C, C, std=3.0 / math.sqrt(C)), "qkv_b": normal(3 * C, std=0.1),
            "proj_w": normal(C, C, std=1 / math.sqrt(C)), "proj_b": normal(C, std=0.1),
            "ln2_w": normal(C, std=0.1, mean=1.0), "ln2_b": normal(C, std=0.1),
            "fc_w": normal(4 * C, C, std=1 / math.sqrt(C)), "fc_b": normal(4 * C, std=0.1),
            "out_w": normal(C, 4 * C, std=1 / math.sqrt(4 * C)), "out_b": normal(C, std=0.1),
        })
    return {"n_heads": n_heads, "tok_emb": normal(vocab_size, C), "pos_emb": normal(max_len, C), "layers": layers,
            "ln_f_w": normal(C, std=0.1, mean=1.0), "ln_f_b": normal(C, std=0.1)}
