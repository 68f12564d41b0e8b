"""Milestone: the Vision Transformer (ViT), an image read as a sequence of patches.

Constraint raised: architecture (and data). A convolutional network builds two assumptions about images into its
layers by hand: locality (a unit sees a small neighbourhood) and weight sharing (the same filter everywhere).
Dosovitskiy et al. (2021), "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale" (ICLR),
dropped nearly all of it: cut the image into non-overlapping patches, embed each patch with one linear map, add
learned position embeddings and a learned classification token, and run a standard Transformer encoder (Vaswani
et al., 2017). The only image-specific step left is the cut into patches. The inductive bias the CNN had for free
must now be learned from data: ViT trails a ResNet of the same size when trained on ImageNet alone and overtakes it
after pre-training on 14M-300M images (Section 4.2 and Figure 3 of the paper).

What you build (PyTorch, without PyTorch's attention functions or Transformer modules):

1. ``patchify(images, patch_size)``: (B, C, H, W) -> (B, N, C * p * p), the patches in raster order (Section 3.1).
2. ``PatchEmbedding``: the patch projection E, the class token x_class and the position embeddings E_pos
   (Equation 1).
3. ``EncoderBlock``: a pre-norm Transformer encoder block with multi-head self-attention and a GELU MLP
   (Equations 2 and 3).
4. ``ViT``: the embedding, a stack of blocks, a final LayerNorm and a linear head on the class token (Equation 4).

Shapes in comments use B (batch), C (channels), H, W (image size), p (patch size), N (number of patches),
T = N + 1 (tokens with the class token), D (model width), nh (heads), hd = D / nh (width of one head).
"""

import math

import torch
import torch.nn as nn


def patchify(images, patch_size):
    """Cut images into non-overlapping square patches, each flattened (Dosovitskiy et al., 2021, Section 3.1).

    An image x of shape (C, H, W) becomes the sequence x_p of N = (H / p) * (W / p) flattened patches, each of
    length C * p * p. Patches come in raster order (row by row, left to right): patch (i, j), the one whose
    top-left pixel is (i * p, j * p), is number n = i * (W / p) + j, and its vector is

        x_p[n] = images[b, :, i*p:(i+1)*p, j*p:(j+1)*p].reshape(-1)

    i.e. flattened channel first, then row, then column (the (C, p, p) order of that slice).

    Args:
        images: (B, C, H, W), any float dtype, any device.
        patch_size: int p; H and W must both be divisible by p.

    Returns:
        (B, N, C * p * p), same dtype and device as ``images``, differentiable.

    Raises:
        ValueError: when H or W is not divisible by p.
    """
    # TODO: check that p divides H and W (ValueError otherwise).
    # TODO: split H into (H / p, p) and W into (W / p, p), bring the two patch-grid axes forward, and flatten
    #       each patch in (C, p, p) order. Reshape and permute are enough; no loop needed.
    raise NotImplementedError("patchify: not implemented yet")


class PatchEmbedding(nn.Module):
    """Patch, class-token and position embeddings (Dosovitskiy et al., 2021, Equation 1).

        z_0 = [x_class; x_p^1 E; x_p^2 E; ...; x_p^N E] + E_pos

    Attributes (the contract):
        proj: ``nn.Linear(C * p * p, dim)``, the patch projection E (with its bias).
        cls_token: ``nn.Parameter`` of shape (1, 1, dim), the learned x_class, prepended at position 0.
        pos_embedding: ``nn.Parameter`` of shape (1, N + 1, dim), one learned vector per position, the class
            token's position (0) included.

    Args:
        image_size: int (square images, H = W = image_size).
        patch_size: int p, dividing image_size (ValueError otherwise).
        in_channels: C.
        dim: D, the model width.

    Forward: images (B, C, H, W) -> tokens (B, N + 1, dim).
    """

    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        # TODO: check that patch_size divides image_size (ValueError), keep patch_size, and create proj,
        #       cls_token and pos_embedding. Initialise the two parameters with small random values
        #       (e.g. normal with std 0.02), not zeros, so the positions start out distinguishable.
        raise NotImplementedError("PatchEmbedding.__init__: not implemented yet")

    def forward(self, images):
        """images (B, C, H, W) -> z_0 (B, N + 1, dim): class token first, then the embedded patches in raster
        order, plus the position embeddings."""
        # TODO: patchify, project, prepend the class token (one copy per image), add the position embeddings.
        raise NotImplementedError("PatchEmbedding.forward: not implemented yet")


class EncoderBlock(nn.Module):
    """A pre-norm Transformer encoder block (Dosovitskiy et al., 2021, Equations 2 and 3).

        z' = z + MSA(LN(z))              (2)   here: x = x + proj(attention(ln1(x)))
        z  = z' + MLP(LN(z'))            (3)   here: x = x + mlp(ln2(x))

    The LayerNorm comes *before* each sub-layer (pre-norm), unlike the original Transformer, which normalised
    after the residual sum (post-norm).

    Multi-head self-attention (Vaswani et al., 2017, Section 3.2): ``qkv`` maps each token to 3 * dim features,
    split in this order into q, k and v (features [0, D), [D, 2D), [2D, 3D)); each of them is split into nh heads,
    head h taking features [h * hd, (h + 1) * hd). For each head,

        A_h = softmax(q_h k_h^T / sqrt(hd))          (T, T), each row sums to 1 over the keys
        o_h = A_h v_h                                (T, hd)

    and the heads' outputs are concatenated back (head h in features [h * hd, (h + 1) * hd)) and mixed by ``proj``.
    Every token attends to every token (no mask).

    Attributes (the contract): ``ln1``, ``ln2`` = nn.LayerNorm(dim); ``qkv`` = nn.Linear(dim, 3 * dim);
    ``proj`` = nn.Linear(dim, dim); ``mlp`` = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(),
    nn.Dropout(dropout), nn.Linear(mlp_dim, dim), nn.Dropout(dropout)).

    Raises:
        ValueError: when dim is not divisible by n_heads.
    """

    def __init__(self, dim, n_heads, mlp_dim, dropout=0.0):
        super().__init__()
        # TODO: check that n_heads divides dim (ValueError otherwise), keep n_heads and the head width, and create
        #       ln1, qkv, proj, ln2 and mlp exactly as the contract lists them.
        raise NotImplementedError("EncoderBlock.__init__: not implemented yet")

    def forward(self, x, return_attention=False):
        """x (B, T, dim) -> (B, T, dim); with ``return_attention=True``, the pair (output, A) where A is the
        attention weights (B, n_heads, T, T) of this call (A[b, h, i, j]: how much token i of image b attends to
        token j in head h)."""
        # TODO: attention sub-layer: normalise with ln1, project with qkv, split q, k, v and the heads
        #       -> (B, nh, T, hd), softmax(q k^T / sqrt(hd)) over the keys, weight the values, merge the heads back
        #       -> (B, T, dim), apply proj, add the residual.
        raise NotImplementedError("EncoderBlock.forward: not implemented yet")
        # TODO: MLP sub-layer: x + mlp(ln2(x)); return the attention weights too when asked.
        raise NotImplementedError("EncoderBlock.forward: not implemented yet")


class ViT(nn.Module):
    """The Vision Transformer classifier (Dosovitskiy et al., 2021, Equations 1 to 4).

        z_0 = PatchEmbedding(images)                        (1)
        z_l = EncoderBlock_l(z_{l-1}),  l = 1..depth        (2), (3)
        y   = head(LN(z_L^0))                               (4)  (z_L^0: the class token's output)

    Attributes (the contract): ``embed`` = PatchEmbedding(image_size, patch_size, in_channels, dim);
    ``blocks`` = nn.ModuleList of ``depth`` EncoderBlock(dim, n_heads, mlp_dim, dropout); ``norm`` =
    nn.LayerNorm(dim); ``head`` = nn.Linear(dim, num_classes).

    Forward: images (B, C, H, W) -> logits (B, num_classes).
    """

    def __init__(self, image_size, patch_size, in_channels, num_classes, dim, depth, n_heads, mlp_dim,
                 dropout=0.0):
        super().__init__()
        # TODO: create embed, blocks (depth of them), norm and head.
        raise NotImplementedError("ViT.__init__: not implemented yet")

    def forward(self, images):
        """images (B, C, H, W) -> logits (B, num_classes), read off the class token (position 0)."""
        # TODO: embed, run the blocks in order, normalise, and classify the class token only.
        raise NotImplementedError("ViT.forward: not implemented yet")


if __name__ == "__main__":
    print("vit.py is checked, not run: `dlcourse check vit` (or `pytest -m vit` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
