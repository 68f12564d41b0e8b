"""Public checks for vit: what `dlcourse check vit` runs, and what students can read.

The oracles are PyTorch's own functions, run here in the trusted process: F.unfold (im2col with stride p gives the
patches in raster order), F.linear, F.layer_norm, F.gelu and F.multi_head_attention_forward (which the submission
may not use but the grader may), and autograd through them. The submission runs in the sandbox and only its values
come back. The end-to-end check trains the submission's ViT in the sandbox and measures the accuracy of the weights
it returns here, with those functions.
"""

import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import describe, expect_close, expect_true
from autograder.probes import probe_raised

C = load_sibling(__file__, "_common")
probe_patchify, probe_module = C.probe_patchify, C.probe_module
probe_layout, probe_train_vit = C.probe_layout, C.probe_train_vit


def gen():
    """Public checks use fixed inputs: the same for every student."""
    return torch.Generator().manual_seed(2021)


def randn(g, *shape, device="cpu", dtype=torch.float64):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def patch_mistakes(images, p):
    B, Cin, H, W = images.shape
    grid = images.reshape(B, Cin, H // p, p, W // p, p)
    return {"each patch flattened in (row, column, channel) order instead of (channel, row, column)":
            grid.permute(0, 2, 4, 3, 5, 1).reshape(B, -1, Cin * p * p),
            "the patches listed column by column instead of row by row (raster order)":
            grid.permute(0, 4, 2, 1, 3, 5).reshape(B, -1, Cin * p * p),
            "patches cut by a plain reshape (no permute), so a 'patch' is a run of consecutive pixels":
            images.reshape(B, -1, Cin * p * p)}


# ------------------------------------------------------------------------------------------------- patchify


@check("patchify: patch (i, j) at index i * (W / p) + j is images[b, :, i*p:(i+1)*p, j*p:(j+1)*p].reshape(-1)",
       points=3, core=True)
def test_patchify_order(student, device):
    g = gen()
    for shape, p in (((2, 1, 8, 8), 2), ((2, 3, 6, 9), 3), ((1, 2, 8, 4), 4), ((3, 3, 4, 6), 1)):
        images = randn(g, *shape, device=device)
        got = student.run(probe_patchify, images, p)
        expect_close(got["out"], C.unfold_patches(images, p), name=f"patchify(images, {p})",
                     inputs=f"float64 images {shape}", mistakes=patch_mistakes(images, p))
    # One patch by hand, straight from the contract: the independent construction of a single entry.
    images = randn(g, 2, 3, 6, 9, device=device)
    out = student.run(probe_patchify, images, 3)["out"]
    i, j = 1, 2
    expect_close(out[1, i * 3 + j], images[1, :, i * 3:(i + 1) * 3, j * 3:(j + 1) * 3].reshape(-1),
                 name="patchify(images, 3)[1, 5], the patch at grid row 1, column 2 of image 1",
                 inputs="float64 images (2, 3, 6, 9): a grid of 2 x 3 patches")


@check("patchify: the gradient puts each patch's upstream gradient back on its pixels", points=1)
def test_patchify_gradient(student, device):
    g = gen()
    images = randn(g, 2, 2, 6, 4, device=device)
    grad_out = randn(g, 2, 6, 8, device=device)
    got = student.run(probe_patchify, images, 2, grad_out)
    if got.get("dimages") is None:
        fail("images.grad is None after patchify(images, 2).backward(g): the patches were cut off from the images")
    xr = images.clone().requires_grad_(True)
    (C.unfold_patches(xr, 2) * grad_out).sum().backward()
    expect_close(got["dimages"], xr.grad, name="gradient of patchify for the images",
                 inputs="float64 images (2, 2, 6, 4), patch size 2, a random upstream gradient (2, 6, 8)")


@check("patchify: raises ValueError when H or W is not divisible by the patch size", points=1)
def test_patchify_error(student, device):
    for shape, p in (((1, 1, 8, 6), 4), ((1, 3, 7, 7), 2)):
        raised = student.run(probe_raised, "patchify", torch.zeros(shape, device=device), p)
        expect_true(raised == "ValueError", f"patchify(images of shape {shape}, {p}) should raise ValueError ("
                    f"{shape[2]} x {shape[3]} does not split into {p} x {p} patches), but "
                    + (f"it raised {raised}" if raised else "it returned normally"))


# ------------------------------------------------------------------------------------------------- PatchEmbedding


@check("PatchEmbedding: [cls; proj(patches)] + pos_embedding with given weights, gradients included", points=3,
       core=True)
def test_embedding_values(student, device):
    g = gen()
    for args, B in (((8, 2, 1, 6), 3), ((6, 3, 3, 8), 2)):
        state = C.random_state(g, C.embedding_shapes(*args), device, torch.float64)
        images = randn(g, B, args[2], args[0], args[0], device=device)
        n_tokens = (args[0] // args[1]) ** 2 + 1
        grad_out = randn(g, B, n_tokens, args[3], device=device)
        words = f"PatchEmbedding{args} in float64 with random weights, images ({B}, {args[2]}, {args[0]}, {args[0]})"
        got = student.run(probe_module, "PatchEmbedding", args, None, state, images, grad_out)
        want = C.trusted_embedding(state, images, args[1])
        patches = C.unfold_patches(images, args[1])
        mistakes = {"the class token was given no position embedding (pos_embedding added to the patches only)":
                    want - torch.cat([state["pos_embedding"][:, :1].expand(B, -1, -1),
                                      torch.zeros_like(want[:, 1:])], dim=1),
                    "the class token appended last instead of first": torch.cat(
                        [torch.nn.functional.linear(patches, state["proj.weight"], state["proj.bias"]),
                         state["cls_token"].expand(B, -1, -1)], dim=1) + state["pos_embedding"]}
        expect_close(got["out"], want, name="PatchEmbedding output", inputs=words, mistakes=mistakes)
        params = {k: v.clone().requires_grad_(True) for k, v in state.items()}
        xr = images.clone().requires_grad_(True)
        (C.trusted_embedding(params, xr, args[1]) * grad_out).sum().backward()
        expect_close(got["dx"], xr.grad, name="gradient for the images", inputs=words)
        expect_close(got["dparams"], {k: v.grad for k, v in params.items()}, name="gradients of the parameters",
                     inputs=words)


@check("PatchEmbedding: proj, cls_token (1, 1, dim) and pos_embedding (1, N + 1, dim); ValueError for a bad size",
       points=1)
def test_embedding_layout(student):
    got = student.run(probe_module, "PatchEmbedding", (8, 2, 3, 16))
    want = {k: list(v) for k, v in C.embedding_shapes(8, 2, 3, 16).items()}
    expect_true("Module" in got["classes"], "PatchEmbedding must be a torch.nn.Module")
    expect_true(got["shapes"] == want, f"PatchEmbedding(8, 2, 3, 16) has parameters {got['shapes']}, expected "
                f"exactly {want} (16 patches plus the class token make 17 positions)")
    raised = student.run(probe_raised, "PatchEmbedding", 10, 4, 1, 8)
    expect_true(raised == "ValueError", "PatchEmbedding(image_size=10, patch_size=4, ...) should raise ValueError "
                "(10 is not divisible by 4), but " + (f"it raised {raised}" if raised else "it was created"))


# ------------------------------------------------------------------------------------------------- EncoderBlock


@check("EncoderBlock: pre-norm block with given weights agrees with PyTorch's multi-head attention, LayerNorm "
       "and GELU MLP", points=4, core=True)
def test_block_values(student, device):
    g = gen()
    for dim, heads, mlp, B, T in ((16, 4, 32, 2, 5), (12, 1, 20, 3, 4), (24, 6, 48, 1, 9)):
        state = C.random_state(g, C.block_shapes(dim, mlp), device, torch.float64)
        x = randn(g, B, T, dim, device=device)
        got = student.run(probe_module, "EncoderBlock", (dim, heads, mlp), None, state, x)
        expect_close(got["out"], C.trusted_block(state, x, heads), name=f"EncoderBlock({dim}, {heads}, {mlp}) output",
                     inputs=f"float64 x ({B}, {T}, {dim}), random weights, eval mode",
                     mistakes=C.block_mistakes(state, x, heads))


@check("EncoderBlock: gradients for x and every parameter agree with autograd", points=2, core=True)
def test_block_gradients(student, device):
    g = gen()
    state = C.random_state(g, C.block_shapes(12, 24), device, torch.float64)
    x, grad_out = randn(g, 2, 5, 12, device=device), randn(g, 2, 5, 12, device=device)
    got = student.run(probe_module, "EncoderBlock", (12, 3, 24), None, state, x, grad_out)
    params = {k: v.clone().requires_grad_(True) for k, v in state.items()}
    xr = x.clone().requires_grad_(True)
    (C.trusted_block(params, xr, 3) * grad_out).sum().backward()
    words = "EncoderBlock(12, 3, 24) in float64 with random weights, x (2, 5, 12), a random upstream gradient"
    expect_close(got["out"], C.trusted_block(state, x, 3), name="EncoderBlock output", inputs=words)
    expect_close(got["dx"], xr.grad, name="gradient for x", inputs=words)
    expect_close(got["dparams"], {k: v.grad for k, v in params.items()}, name="gradients of the parameters",
                 inputs=words)


@check("EncoderBlock: return_attention=True gives each head's attention weights; every row sums to 1", points=2)
def test_block_attention(student, device):
    g = gen()
    state = C.random_state(g, C.block_shapes(16, 32), device, torch.float64)
    x = randn(g, 2, 6, 16, device=device)
    got = student.run(probe_module, "EncoderBlock", (16, 4, 32), None, state, x, extra={"return_attention": True})
    a = got["attention"]
    words = "EncoderBlock(16, 4, 32), float64 x (2, 6, 16), return_attention=True"
    if not isinstance(a, torch.Tensor) or tuple(a.shape) != (2, 4, 6, 6):
        fail(f"the attention weights are {describe(a)}, expected a tensor of shape (B, n_heads, T, T) = (2, 4, 6, "
             f"6)\n  input: {words}")
    expect_true(bool((a >= 0).all()), f"some attention weights are negative\n  input: {words}")
    expect_close(a.sum(-1), torch.ones(2, 4, 6, dtype=a.dtype, device=a.device),
                 name="the sums of the attention weights over the keys (last axis), for every head and query",
                 inputs=words)
    _, want = C.trusted_attention(state, C.ln(state, "ln1", x), 4, need_weights=True)
    expect_close(a, want, name="attention weights", inputs=words)
    expect_close(got["out"], C.trusted_block(state, x, 4), name="EncoderBlock output (with return_attention=True)",
                 inputs=words)


@check("EncoderBlock: dropout is active in train mode only; ValueError when n_heads does not divide dim", points=1)
def test_block_dropout_and_heads(student, device):
    g = gen()
    state = C.random_state(g, C.block_shapes(16, 32), device, torch.float64)
    x = randn(g, 4, 5, 16, device=device)
    want = C.trusted_block(state, x, 4)
    evaluated = student.run(probe_module, "EncoderBlock", (16, 4, 32), {"dropout": 0.5}, state, x)["out"]
    expect_close(evaluated, want, name="EncoderBlock(16, 4, 32, dropout=0.5) in eval mode",
                 inputs="float64 x (4, 5, 16): in eval mode dropout is the identity")
    trained = student.run(probe_module, "EncoderBlock", (16, 4, 32), {"dropout": 0.5}, state, x, train=True)["out"]
    expect_true(isinstance(trained, torch.Tensor) and not torch.allclose(trained, want),
                "EncoderBlock(16, 4, 32, dropout=0.5) gives the same output in train mode as in eval mode: the "
                "MLP's two nn.Dropout(dropout) layers should drop units in train mode")
    raised = student.run(probe_raised, "EncoderBlock", 10, 4, 16)
    expect_true(raised == "ValueError", "EncoderBlock(dim=10, n_heads=4, mlp_dim=16) should raise ValueError (10 is "
                "not divisible by 4), but " + (f"it raised {raised}" if raised else "it was created"))


# ------------------------------------------------------------------------------------------------- ViT

SMALL = dict(image_size=8, patch_size=2, in_channels=1, num_classes=5, dim=16, depth=2, n_heads=4, mlp_dim=32)


@check("ViT: logits with given weights agree with the same network built from PyTorch's functions", points=3,
       core=True)
def test_vit_logits(student, device):
    g = gen()
    for cfg in (SMALL, dict(SMALL, image_size=6, patch_size=3, in_channels=3, num_classes=3, depth=1, n_heads=2)):
        state = C.random_state(g, C.vit_shapes(cfg), device, torch.float64)
        images = torch.rand(3, cfg["in_channels"], cfg["image_size"], cfg["image_size"], generator=g,
                            dtype=torch.float64).to(device)
        grad_out = randn(g, 3, cfg["num_classes"], device=device)
        words = f"ViT({', '.join(f'{k}={v}' for k, v in cfg.items())}) in float64 with random weights, 3 images"
        got = student.run(probe_module, "ViT", (), cfg, state, images, grad_out)
        expect_close(got["out"], C.trusted_vit(state, images, cfg), name="ViT logits", inputs=words,
                     mistakes={"the head reads the mean of all tokens instead of the class token (position 0)":
                               C.trusted_vit(state, images, cfg, "mean of tokens")})
        params = {k: v.clone().requires_grad_(True) for k, v in state.items()}
        (C.trusted_vit(params, images, cfg) * grad_out).sum().backward()
        expect_close(got["dparams"], {k: v.grad for k, v in params.items()}, name="gradients of the parameters",
                     inputs=words)


@check("ViT: embed, depth EncoderBlocks in blocks, norm and head as the contract lists them, dropout passed on",
       points=1)
def test_vit_layout(student):
    cfg = dict(SMALL, depth=3, dropout=0.25)
    got = student.run(probe_layout, (), cfg)
    words = f"ViT({', '.join(f'{k}={v}' for k, v in cfg.items())})"
    want = {"embed": "PatchEmbedding", "norm": "LayerNorm((16,))", "head": "Linear(16, 5)", "blocks": "ModuleList",
            "n_blocks": 3}
    for key, value in want.items():
        expect_true(got[key] == value, f"{words}.{key.replace('n_blocks', 'blocks (how many)')} is {got[key]!r}, "
                                       f"expected {value!r}")
    expect_true(got["embedding"] == {"proj": "Linear(4, 16)", "cls_token": "Parameter(1, 1, 16)",
                                     "pos_embedding": "Parameter(1, 17, 16)"},
                f"{words}.embed holds {got['embedding']}, expected proj Linear(4, 16), cls_token (1, 1, 16) and "
                "pos_embedding (1, 17, 16)")
    block = {"ln1": "LayerNorm((16,))", "ln2": "LayerNorm((16,))", "qkv": "Linear(16, 48)", "proj": "Linear(16, 16)",
             "mlp": ["Linear(16, 32)", "GELU", "Dropout(0.25)", "Linear(32, 16)", "Dropout(0.25)"],
             "type": "EncoderBlock"}
    expect_true(got["block"] == block, f"{words}.blocks[0] holds {got['block']}, expected {block}")


_E2E = {}


@check("ViT: with 2x2 patches, trained on the digits with torchvision's random shifts, reaches >= 90% test "
       "accuracy", points=4, timeout=300, needs=("PatchEmbedding", "EncoderBlock"))
def test_vit_trains(student, seed, device):
    from dlcourse.datasets import digits_tensors

    x_tr, y_tr = digits_tensors(train=True)
    x_te, y_te = digits_tensors(train=False)
    init_seed = seed % 100_000
    cfg = C.E2E_CONFIG
    epochs = C.shifted_epochs(x_tr, C.EPOCHS, init_seed).to(device)
    state = C.random_state(torch.Generator().manual_seed(init_seed), C.vit_shapes(cfg), device, init=True)
    trained = student.run(probe_train_vit, cfg, state, epochs, y_tr.to(device), C.BATCH, C.LR, C.WEIGHT_DECAY,
                          init_seed, _timeout=150)
    clean, problem = C.check_state(trained, C.vit_shapes(cfg), device)
    if problem:
        fail(problem)
    # Measured here, with PyTorch's functions: only the trained weights come from the sandbox.
    with torch.no_grad():
        acc = (C.trusted_vit(clean, x_te.to(device), cfg).argmax(1) == y_te.to(device)).double().mean().item()
    expect_true(acc >= 0.90,
                f"after {C.EPOCHS} epochs of AdamW (batches of {C.BATCH}, learning rate {C.LR} with a short warm-up, "
                f"decaying to 0) on the 1438 training digits, each group of {C.SHIFT_GROUP} images shifted by up to "
                f"one pixel with probability 1/2 (torchvision's RandomCrop(8, padding=1)), your ViT (2x2 patches, "
                f"dim {cfg['dim']}, depth {cfg['depth']}, {cfg['n_heads']} heads) reaches {acc:.1%} test accuracy on "
                f"the 359 test digits, measured with PyTorch's attention on the trained weights; at least 90% is "
                f"expected. Check that training through your modules computes what the contract describes.")
