"""Shared by the public and hidden checks of `gpt`: the probes (run in the sandbox with the submission, or here with
the reference), the stand-ins that isolate one module from the others, and the synthetic task of the end-to-end
check. Nothing here computes attention, a block or a GPT.

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body (the stand-in modules are defined inside the probes that use them).

Stand-ins, so that each target is judged on its own:
- a Block is checked with its ``attn`` replaced by a "prefix mean" mixer, proj(mean_{s <= t} v(x_s)), which is what
  causal attention computes when its queries and keys are zero (every allowed key gets the same weight);
- a GPT is checked with its ``blocks`` replaced by position-wise maps x + tanh(x A_l^T) (one A_l per layer);
- ``generate`` is checked with a bigram "model": logits[b, t] = table[idx[b, t]], which records the length of every
  context it is given, whether it was in training mode and whether autograd was on.
"""

import math

import torch

# ----------------------------------------------------------------------------------------------- probes


def probe_attn(m, d_model, n_heads, block_size, state, x, dropout=0.0, train=False, seed=0, grad_out=None):
    """CausalSelfAttention(d_model, n_heads, block_size, dropout) with the parameters in `state`, applied to x;
    with `grad_out`, also the gradients of sum(out * grad_out) for x and the parameters named in `state`."""
    import torch

    mod = m.CausalSelfAttention(d_model, n_heads, block_size, dropout=dropout).to(device=x.device, dtype=x.dtype)
    with torch.no_grad():
        for name, value in state.items():
            mod.get_parameter(name).copy_(value)
    mod.train(train)
    if grad_out is not None:
        x = x.detach().clone().requires_grad_(True)
    torch.manual_seed(seed)
    out = mod(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"CausalSelfAttention.forward must return a tensor (B, T, C), got {type(out).__name__}")
    answer = {"out": out.detach()}
    if grad_out is not None:
        (out * grad_out).sum().backward()
        answer["dx"] = x.grad
        answer["dparams"] = {n: mod.get_parameter(n).grad for n in state}
    return answer


def probe_attn_layout(m, d_model, n_heads, block_size):
    """The parameters CausalSelfAttention(d_model, n_heads, block_size) holds: {name: shape}."""
    mod = m.CausalSelfAttention(d_model, n_heads, block_size)
    return {n: list(p.shape) for n, p in mod.named_parameters()}


def probe_block(m, d_model, n_heads, block_size, state, x, mixer=None, dropout=0.0, train=False, seed=0,
                grad_out=None):
    """Block(d_model, n_heads, block_size, dropout) with the parameters in `state`, applied to x. With `mixer` =
    (Wv, bv, Wp, bp), the block's ``attn`` is replaced by the prefix-mean stand-in proj(mean_{s<=t} v(x_s)).
    With `grad_out`, also the gradients for x and the parameters named in `state`."""
    import torch

    class PrefixMean(torch.nn.Module):
        def __init__(self, wv, bv, wp, bp):
            super().__init__()
            self.wv, self.bv, self.wp, self.bp = wv, bv, wp, bp

        def forward(self, h):
            v = h @ self.wv.T + self.bv  # (B, T, C)
            count = torch.arange(1, h.shape[1] + 1, device=h.device, dtype=h.dtype).view(1, -1, 1)
            return (v.cumsum(dim=1) / count) @ self.wp.T + self.bp

    blk = m.Block(d_model, n_heads, block_size, dropout=dropout).to(device=x.device, dtype=x.dtype)
    if mixer is not None:
        blk.attn = PrefixMean(*mixer)
    with torch.no_grad():
        for name, value in state.items():
            blk.get_parameter(name).copy_(value)
    blk.train(train)
    if grad_out is not None:
        x = x.detach().clone().requires_grad_(True)
    torch.manual_seed(seed)
    out = blk(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"Block.forward must return a tensor (B, T, C), got {type(out).__name__}")
    answer = {"out": out.detach()}
    if grad_out is not None:
        (out * grad_out).sum().backward()
        answer["dx"] = x.grad
        answer["dparams"] = {n: blk.get_parameter(n).grad for n in state}
    return answer


def probe_gpt(m, config, state, idx, targets=None, stubs=None, train=False, seed=0, backward=False):
    """GPT(**config) with the parameters in `state`, run on idx (and targets). With `stubs` = [A_1, ..., A_L], its
    ``blocks`` are replaced by the position-wise stand-ins x + tanh(x A_l^T). With `backward`, also the gradients
    of the loss (or of the sum of the logits without targets) for the parameters named in `state`."""
    import torch

    class Pointwise(torch.nn.Module):
        def __init__(self, a):
            super().__init__()
            self.a = a

        def forward(self, x):
            return x + torch.tanh(x @ self.a.T)

    model = m.GPT(**config).to(idx.device)
    if stubs is not None:
        model.blocks = torch.nn.ModuleList([Pointwise(a) for a in stubs])
    dtype = next(iter(state.values())).dtype
    model = model.to(dtype=dtype)
    with torch.no_grad():
        for name, value in state.items():
            model.get_parameter(name).copy_(value)
    model.train(train)
    torch.manual_seed(seed)
    result = model(idx, targets) if targets is not None else model(idx)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError("GPT.forward must return a pair (logits, loss)")
    logits, loss = result
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"GPT.forward must return logits as a tensor, got {type(logits).__name__}")
    answer = {"logits": logits.detach(), "loss": loss.detach() if isinstance(loss, torch.Tensor) else loss}
    head = getattr(getattr(model, "lm_head", None), "weight", None)
    answer["head_weight"] = head.detach() if isinstance(head, torch.Tensor) else None
    if backward:
        (loss if targets is not None else logits.sum()).backward()
        answer["dparams"] = {n: model.get_parameter(n).grad for n in state}
    return answer


def probe_gpt_count(m, config):
    """How many numbers GPT(**config) trains (each Parameter once), and the number of Parameters."""
    model = m.GPT(**config)
    params = list(model.parameters())
    return {"numel": sum(p.numel() for p in params), "tensors": len(params),
            "block_size": getattr(model, "block_size", None)}


def probe_gpt_error(m, config, idx):
    """The name of the exception GPT(**config)(idx) raises, or None."""
    model = m.GPT(**config)
    try:
        model(idx)
    except NotImplementedError:
        raise
    except Exception as exc:  # the kind of exception is what the check judges
        return type(exc).__name__
    return None


def probe_generate(m, table, block_size, idx, max_new_tokens, temperature=1.0, top_k=None, gen_seed=None,
                   global_seed=0, train=False, calls=1):
    """m.generate(stand-in bigram model, idx, ...) `calls` times in a row (the same generator object); the outputs
    and what the stand-in saw: the context lengths, whether it was in training mode, whether autograd was on."""
    import torch

    class Bigram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.table = torch.nn.Parameter(table.clone())
            self.lengths, self.modes, self.grad = [], [], []

        def forward(self, idx, targets=None):
            self.lengths.append(int(idx.shape[1]))
            self.modes.append(int(self.training))
            self.grad.append(int(torch.is_grad_enabled()))
            return self.table[idx], None  # (B, T, V)

    model = Bigram().to(idx.device)
    model.train(train)
    torch.manual_seed(global_seed)
    gen = None if gen_seed is None else torch.Generator(device=idx.device).manual_seed(gen_seed)
    outs = []
    for _ in range(calls):
        out = m.generate(model, idx, max_new_tokens, temperature=temperature, top_k=top_k, generator=gen)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"generate must return a LongTensor (B, T + max_new_tokens), got {type(out).__name__}")
        outs.append(out.detach())
    return {"out": outs, "lengths": model.lengths, "modes": model.modes, "grad": model.grad,
            "training_after": int(model.training), "requires_grad": int(outs[-1].requires_grad),
            "prompt_after": idx}


def probe_train_reverse(m, config, start, xs, ys, n_digits, lr):
    """Train the submission's GPT(**config), started from the parameters `start`, with Adam on the batches xs[i],
    ys[i] (B, T) for the cross-entropy of the answer positions (the last n_digits targets); return the trained
    parameters."""
    import torch
    import torch.nn.functional as F

    model = m.GPT(**config).to(xs.device)
    with torch.no_grad():
        for name, value in start.items():
            model.get_parameter(name).copy_(value)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for x, y in zip(xs, ys):
        result = model(x)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError("GPT.forward must return a pair (logits, loss)")
        logits = result[0][:, -n_digits:]  # (B, n_digits, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, -n_digits:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {name: model.get_parameter(name).detach() for name in start}


# ----------------------------------------------------------------------------------------------- data


def randn(g, *shape, device="cpu", dtype=torch.float32, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(device=device, dtype=dtype)


def linear_state(g, prefix, n_in, n_out, device, dtype, bias=True):
    state = {f"{prefix}.weight": randn(g, n_out, n_in, device=device, dtype=dtype, scale=1 / math.sqrt(n_in))}
    if bias:
        state[f"{prefix}.bias"] = randn(g, n_out, device=device, dtype=dtype, scale=0.2)
    return state


def norm_state(g, prefix, n, device, dtype):
    return {f"{prefix}.weight": (1 + randn(g, n, scale=0.3)).to(device=device, dtype=dtype),
            f"{prefix}.bias": randn(g, n, device=device, dtype=dtype, scale=0.2)}


def attn_state(g, d_model, device, dtype, prefix=""):
    return {**linear_state(g, f"{prefix}qkv", d_model, 3 * d_model, device, dtype),
            **linear_state(g, f"{prefix}proj", d_model, d_model, device, dtype)}


def block_state(g, d_model, device, dtype, prefix="", with_attn=True):
    state = {**norm_state(g, f"{prefix}ln1", d_model, device, dtype),
             **norm_state(g, f"{prefix}ln2", d_model, device, dtype),
             **linear_state(g, f"{prefix}mlp.0", d_model, 4 * d_model, device, dtype),
             **linear_state(g, f"{prefix}mlp.2", 4 * d_model, d_model, device, dtype)}
    if with_attn:
        state.update(attn_state(g, d_model, device, dtype, prefix=f"{prefix}attn."))
    return state


def mixer(g, d_model, device, dtype):
    """(Wv, bv, Wp, bp) of the prefix-mean stand-in for a block's attention."""
    s = 1 / math.sqrt(d_model)
    return (randn(g, d_model, d_model, device=device, dtype=dtype, scale=s), randn(g, d_model, device=device,
                                                                                  dtype=dtype, scale=0.2),
            randn(g, d_model, d_model, device=device, dtype=dtype, scale=s), randn(g, d_model, device=device,
                                                                                  dtype=dtype, scale=0.2))


def gpt_state(g, config, device, dtype, with_blocks=False):
    V, C, P = config["vocab_size"], config["d_model"], config["block_size"]
    state = {"tok_emb.weight": randn(g, V, C, device=device, dtype=dtype),
             "pos_emb.weight": randn(g, P, C, device=device, dtype=dtype),
             **norm_state(g, "ln_f", C, device, dtype)}
    if with_blocks:
        for i in range(config["n_layers"]):
            state.update(block_state(g, C, device, dtype, prefix=f"blocks.{i}."))
    return state


def stubs(g, config, device, dtype):
    C = config["d_model"]
    return [randn(g, C, C, device=device, dtype=dtype, scale=1 / math.sqrt(C)) for _ in range(config["n_layers"])]


def gpt_param_count(vocab_size, block_size, n_layers, d_model):
    """Token and position embeddings, n_layers blocks of 12 C^2 + 13 C, the final LayerNorm; the head is tied."""
    C = d_model
    per_block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C) + (4 * C * C + C)
    return vocab_size * C + block_size * C + n_layers * per_block + 2 * C


# ----------------------------------------------------------------------------------------------- the task

SEP = 10  # the separator token; 0..9 are the digits


def reverse_task(n, n_digits, gen, device="cpu"):
    """Sequences "d_1 .. d_n SEP d_n .. d_1": inputs x = seq[:-1], targets y = seq[1:], both (n, 2 * n_digits)."""
    digits = torch.randint(0, 10, (n, n_digits), generator=gen)
    seq = torch.cat([digits, torch.full((n, 1), SEP), digits.flip(1)], dim=1)
    return seq[:, :-1].to(device), seq[:, 1:].to(device)
