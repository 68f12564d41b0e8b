"""The vit assignment: the Vision Transformer (Dosovitskiy et al., 2021)."""

from autograder.spec import Assignment, Forbidden

_OWN = "write the attention yourself from matrix products and a softmax"
_MHA = "build multi-head self-attention from your own qkv and proj layers, not with nn.MultiheadAttention"
_TRANSFORMER = "the Transformer layers contain PyTorch's own attention: build the encoder block yourself"

SPEC = Assignment(
    slug="vit",
    order=70,
    milestone="Dosovitskiy et al. (2021)",
    lecture="lectures/04-architecture.md#the-vision-transformer",
    budget_s=30,
    title="The Vision Transformer (Dosovitskiy et al., 2021)",
    constraint="architecture (and data: an inductive bias learned from data)",
    framework="torch",
    targets=("patchify", "PatchEmbedding", "EncoderBlock", "ViT"),
    forbidden=(
        Forbidden("torch.nn.functional.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch.ops.aten.*scaled_dot_product*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._*scaled_dot*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._fused_sdp_choice", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch.nn.attention.flex_attention", f"{_OWN}, not with PyTorch's flex_attention"),
        Forbidden("torch.nn.functional.multi_head_attention_forward", _MHA),
        Forbidden("torch.nn.MultiheadAttention", _MHA),
        Forbidden("torch.nn.modules.activation.MultiheadAttention", _MHA),
        Forbidden("torch.nn.Transformer*", _TRANSFORMER),
        Forbidden("torch.nn.modules.transformer.Transformer*", _TRANSFORMER),
    ),
    summary="patchify, the patch/class-token/position embedding, a pre-norm encoder block with multi-head "
            "self-attention, and a small ViT trained on 8x8 digits (2x2 patches) with torchvision's random shifts.",
)
