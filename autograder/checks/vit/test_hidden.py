"""Hidden checks for vit: run only at grading. Random sizes and weights drawn from the grading seed; the submission
is compared with the reference solution running the same probe here, in the trusted process, and with PyTorch's
own functions. Not shipped to students."""

import torch

from autograder.checking import check, load_sibling
from autograder.compare import expect_close

C = load_sibling(__file__, "_common")
probe_patchify, probe_module = C.probe_patchify, C.probe_module


def randn(g, *shape, device="cpu", dtype=torch.float64):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def ri(g, lo, hi):
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def same(student, reference, probe, *args, name, inputs, mistakes=None, **kwargs):
    got = student.run(probe, *args, **kwargs)
    want = probe(reference, *args, **kwargs)
    if isinstance(got, dict) and isinstance(want, dict):  # the values only, not the class names
        got = {k: v for k, v in got.items() if k not in ("classes", "shapes")}
        want = {k: v for k, v in want.items() if k not in ("classes", "shapes")}
    expect_close(got, want, name=name, inputs=inputs, mistakes=mistakes)


@check("patchify: values and gradients match the reference on random image and patch sizes", points=2, core=True)
def test_patchify_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for i in range(4):
        p = ri(g, 1, 4)
        shape = (ri(g, 1, 3), ri(g, 1, 4), p * ri(g, 1, 4), p * ri(g, 1, 4))
        dtype = (torch.float64, torch.float32)[i % 2]
        images = randn(g, *shape, device=device, dtype=dtype)
        grad_out = randn(g, shape[0], (shape[2] // p) * (shape[3] // p), shape[1] * p * p, device=device, dtype=dtype)
        same(student, reference, probe_patchify, images, p, grad_out, name=f"patchify(images, {p})",
             inputs=f"{str(dtype)[6:]} images {shape}")


@check("PatchEmbedding: output and gradients match the reference with random sizes and weights", points=2, core=True)
def test_embedding_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for _ in range(2):
        p = ri(g, 1, 3)
        args = (p * ri(g, 1, 4), p, ri(g, 1, 3), ri(g, 2, 12))
        state = C.random_state(g, C.embedding_shapes(*args), device, torch.float64)
        images = randn(g, ri(g, 1, 3), args[2], args[0], args[0], device=device)
        grad_out = randn(g, images.shape[0], (args[0] // p) ** 2 + 1, args[3], device=device)
        same(student, reference, probe_module, "PatchEmbedding", args, None, state, images, grad_out,
             name=f"PatchEmbedding{args}", inputs=f"float64 images {tuple(images.shape)}, random weights")


@check("EncoderBlock: output, attention weights and gradients match the reference with random sizes", points=3,
       core=True)
def test_block_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for i in range(3):
        heads = ri(g, 1, 4)
        dim, mlp = heads * ri(g, 2, 6), ri(g, 4, 24)
        state = C.random_state(g, C.block_shapes(dim, mlp), device, torch.float64)
        x = randn(g, ri(g, 1, 3), ri(g, 1, 9), dim, device=device)
        words = f"EncoderBlock({dim}, {heads}, {mlp}) with random weights, float64 x {tuple(x.shape)}"
        mistakes = {d: {"out": v} for d, v in C.block_mistakes(state, x, heads).items()}
        if i == 0:
            same(student, reference, probe_module, "EncoderBlock", (dim, heads, mlp), None, state, x,
                 extra={"return_attention": True}, name="EncoderBlock", inputs=words + ", return_attention=True",
                 mistakes=mistakes)
        else:
            same(student, reference, probe_module, "EncoderBlock", (dim, heads, mlp), None, state, x,
                 randn(g, *x.shape, device=device), name="EncoderBlock", inputs=words, mistakes=mistakes)


@check("ViT: logits and gradients match the reference with random configurations and weights", points=2, core=True)
def test_vit_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    p = ri(g, 1, 3)
    heads = ri(g, 1, 3)
    cfg = dict(image_size=p * ri(g, 1, 3), patch_size=p, in_channels=ri(g, 1, 3), num_classes=ri(g, 2, 7),
               dim=heads * ri(g, 2, 5), depth=ri(g, 1, 3), n_heads=heads, mlp_dim=ri(g, 4, 16))
    state = C.random_state(g, C.vit_shapes(cfg), device, torch.float64)
    images = torch.rand(3, cfg["in_channels"], cfg["image_size"], cfg["image_size"], generator=g,
                        dtype=torch.float64).to(device)
    words = f"ViT({', '.join(f'{k}={v}' for k, v in cfg.items())}) with random weights, 3 float64 images"
    mistakes = {"the head reads the mean of all tokens instead of the class token (position 0)":
                {"out": C.trusted_vit(state, images, cfg, "mean of tokens")}}
    same(student, reference, probe_module, "ViT", (), cfg, state, images, randn(g, 3, cfg["num_classes"],
                                                                                device=device),
         name="ViT", inputs=words, mistakes=mistakes)
