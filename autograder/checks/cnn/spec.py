"""The cnn assignment: convolution, max pooling and a LeNet-style network (LeCun et al., 1989; Krizhevsky et al.,
2012)."""

from autograder.spec import Assignment, Forbidden

_CONV = "write the convolution yourself (im2col and one matrix product), not with PyTorch's convolutions"
_IM2COL = "build the im2col columns yourself from slices of the padded input, not with PyTorch's unfold/fold"
_POOL = "write max pooling yourself from slices of the input, not with PyTorch's pooling"

SPEC = Assignment(
    slug="cnn",
    order=50,
    milestone="LeCun et al. (1989); Krizhevsky, Sutskever & Hinton (2012)",
    lecture="lectures/04-architecture.md#convolutional-networks-and-lenet",
    budget_s=30,
    title="Convolutional networks: LeNet (LeCun et al., 1989) to AlexNet (Krizhevsky et al., 2012)",
    constraint="architecture",
    framework="torch",
    targets=("conv2d", "max_pool2d", "Conv2d", "SmallCNN"),
    forbidden=(
        Forbidden("torch.nn.functional.conv*", _CONV),
        Forbidden("torch.conv*", _CONV),
        Forbidden("torch.*convolution*", _CONV),  # torch.convolution, torch._convolution, cudnn/mkldnn variants
        Forbidden("torch.nn.grad.conv*", _CONV),
        Forbidden("torch.ops.aten.*conv*", _CONV),
        Forbidden("torch.nn.Conv*", "build your own Conv2d module on your conv2d, not on nn.Conv2d"),
        Forbidden("torch.nn.LazyConv*", "build your own Conv2d module on your conv2d, not on nn.Conv2d"),
        Forbidden("torch.nn.modules.conv.*Conv*", "build your own Conv2d module on your conv2d, not on nn.Conv2d"),
        Forbidden("torch.nn.functional.unfold", _IM2COL),
        Forbidden("torch.nn.functional.fold", _IM2COL),
        Forbidden("torch.nn.Unfold", _IM2COL),
        Forbidden("torch.nn.Fold", _IM2COL),
        Forbidden("torch.nn.modules.fold.*", _IM2COL),
        Forbidden("torch._C._nn.im2col", _IM2COL),
        Forbidden("torch._C._nn.col2im", _IM2COL),
        Forbidden("torch.nn.functional.*max_pool*", _POOL),
        Forbidden("torch.*max_pool*", _POOL),
        Forbidden("torch._C._nn.*max_pool*", _POOL),
        Forbidden("torch.ops.aten.*max_pool*", _POOL),
        Forbidden("torch.nn.*MaxPool*", _POOL),
        Forbidden("torch.nn.modules.pooling.*MaxPool*", _POOL),
    ),
    summary="conv2d as im2col and a matrix product, max_pool2d, a Conv2d module interchangeable with nn.Conv2d, "
            "and a small LeNet-style CNN trained on 8x8 digits with torchvision's random shifts.",
)
