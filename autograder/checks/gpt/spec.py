from autograder.spec import Assignment, Forbidden

_OWN = "write the attention yourself from matrix products, a mask and a softmax"

SPEC = Assignment(
    slug="gpt",
    order=120,
    milestone="Radford et al. (2018, 2019); Vaswani et al. (2017)",
    lecture="lectures/02-parameters.md#gpt-2-and-gpt-3",
    budget_s=30,
    title="GPT: a decoder-only Transformer language model (Radford et al., 2018, 2019)",
    constraint="parameters (and architecture: the decoder-only Transformer that scaled)",
    framework="torch",
    targets=("CausalSelfAttention", "Block", "GPT", "generate"),
    forbidden=(
        Forbidden("torch.nn.functional.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch._C._nn.scaled_dot_product_attention", f"{_OWN}, not with PyTorch's fused kernel"),
        Forbidden("torch.ops.aten.*scaled_dot_product*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._*scaled_dot*", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch._fused_sdp_choice", f"{_OWN}, not with PyTorch's fused kernels"),
        Forbidden("torch.nn.functional.multi_head_attention_forward", f"{_OWN}, not with PyTorch's multi-head code"),
        Forbidden("torch.nn.MultiheadAttention", f"{_OWN}, not with nn.MultiheadAttention"),
        Forbidden("torch.nn.modules.activation.MultiheadAttention", f"{_OWN}, not with nn.MultiheadAttention"),
        Forbidden("torch.nn.Transformer*", "build the blocks yourself: PyTorch's Transformer layers are the answer"),
        Forbidden("torch.nn.modules.transformer.Transformer*",
                  "build the blocks yourself: PyTorch's Transformer layers are the answer"),
        Forbidden("torch.nn.attention.flex_attention", f"{_OWN}, not with PyTorch's flex_attention"),
    ),
    summary="Causal self-attention, pre-norm blocks, a GPT with tied embeddings and its loss, and sampling with "
            "temperature and top-k; the GPT learns to reverse digits and writes text in the style of the lectures.",
)
