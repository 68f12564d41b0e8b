from autograder.spec import Assignment, Forbidden

_OWN = "compute the attention yourself, one block of keys at a time"

SPEC = Assignment(
    slug="efficiency",
    order=150,
    milestone="Dao et al. (2022); Pope et al. (2022)",
    lecture="lectures/06-compute-efficiency.md#flashattention-and-the-kv-cache",
    budget_s=30,
    title="FlashAttention's online softmax and the KV cache (Dao et al., 2022; Pope et al., 2022)",
    constraint="compute efficiency",
    framework="torch",
    targets=("online_softmax_attention", "KVCache", "decode_step"),
    forbidden=(
        Forbidden("torch.nn.functional.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch._C._nn.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch.ops.aten.*scaled_dot_product*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._*scaled_dot*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._fused_sdp_choice", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch.nn.functional.multi_head_attention_forward", f"{_OWN}, not with PyTorch's multi-head code"),
        Forbidden("torch.nn.MultiheadAttention", f"{_OWN}, not with nn.MultiheadAttention"),
        Forbidden("torch.nn.modules.activation.MultiheadAttention", f"{_OWN}, not with nn.MultiheadAttention"),
        Forbidden("torch.nn.Transformer*", "the decoder's blocks are given as tensors: compute them yourself"),
        Forbidden("torch.nn.modules.transformer.Transformer*",
                  "the decoder's blocks are given as tensors: compute them yourself"),
        Forbidden("torch.nn.attention.flex_attention", f"{_OWN}, not with PyTorch's flex_attention"),
    ),
    summary="Exact attention over key blocks with the online softmax (never the whole score matrix), a key-value "
            "cache, and cached decoding that reproduces a full recomputation token for token.",
)
