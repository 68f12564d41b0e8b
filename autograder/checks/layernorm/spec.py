"""The layernorm assignment: layer normalization (Ba, Kiros & Hinton, 2016), batch normalization (Ioffe & Szegedy,
2015) as its contrast."""

from autograder.spec import Assignment, Forbidden

_NO_BUILTIN = "write the normalization yourself from tensor arithmetic, not with PyTorch's built-in op"

SPEC = Assignment(
    slug="layernorm",
    order=40,
    milestone="Ba, Kiros & Hinton (2016); Ioffe & Szegedy (2015)",
    lecture="lectures/03-optimization-and-regularization.md#layer-normalization",
    budget_s=30,
    title="Normalization: LayerNorm (Ba, Kiros & Hinton, 2016), with BatchNorm (Ioffe & Szegedy, 2015)",
    constraint="optimization & regularization",
    framework="torch",
    targets=("layer_norm", "LayerNorm", "LayerNormFunction", "batch_norm"),
    forbidden=(
        Forbidden("torch.nn.functional.layer_norm", _NO_BUILTIN),
        Forbidden("torch.nn.LayerNorm", "build your own LayerNorm module, not PyTorch's"),
        Forbidden("torch.layer_norm", _NO_BUILTIN),
        Forbidden("torch.native_layer_norm", _NO_BUILTIN),
        Forbidden("torch.nn.functional.batch_norm", _NO_BUILTIN),
        Forbidden("torch.nn.BatchNorm*", "write batch_norm yourself, not with PyTorch's BatchNorm modules"),
        Forbidden("torch.batch_norm", _NO_BUILTIN),
        Forbidden("torch.native_batch_norm", _NO_BUILTIN),
        Forbidden("torch.nn.functional.group_norm", _NO_BUILTIN),
        Forbidden("torch.nn.functional.instance_norm", _NO_BUILTIN),
    ),
    summary="layer_norm, a LayerNorm module, a LayerNormFunction with a hand-derived backward, and batch_norm.",
)
