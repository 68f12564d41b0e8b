from autograder.spec import Assignment, Forbidden

_OWN = "write attention yourself from matrix products and a softmax"

SPEC = Assignment(
    slug="attention",
    order=60,
    milestone="Bahdanau et al. (2014); Vaswani et al. (2017)",
    lecture="lectures/04-architecture.md#attention",
    budget_s=30,
    title="Attention: additive (Bahdanau et al., 2014) to multi-head (Vaswani et al., 2017)",
    constraint="architecture (and compute efficiency: attention removed recurrence, so training parallelises)",
    framework="torch",
    targets=("scaled_dot_product_attention", "MultiHeadAttention", "AdditiveAttention"),
    forbidden=(
        Forbidden("torch.nn.functional.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch._C._nn.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch.ops.aten.*scaled_dot_product*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._*scaled_dot*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._fused_sdp_choice", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch.nn.functional.multi_head_attention_forward",
                  "build multi-head attention from your own projections and attention function"),
        Forbidden("torch.nn.MultiheadAttention", "build multi-head attention yourself, not with nn.MultiheadAttention"),
        Forbidden("torch.nn.modules.activation.MultiheadAttention",
                  "build multi-head attention yourself, not with nn.MultiheadAttention"),
        Forbidden("torch.nn.Transformer*", "the Transformer layers contain PyTorch's own attention"),
        Forbidden("torch.nn.modules.transformer.Transformer*",
                  "the Transformer layers contain PyTorch's own attention"),
        Forbidden("torch.nn.attention.flex_attention", f"{_OWN}, not with PyTorch's flex_attention"),
    ),
    summary="Scaled dot-product attention with masks, multi-head attention and Bahdanau's additive attention; "
            "a small Transformer built on them learns to reverse digits.",
)
