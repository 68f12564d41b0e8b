from autograder.spec import Assignment, Forbidden

_NO_AUTODIFF = "backprop is about deriving gradients by hand, in NumPy: no autodiff library"

SPEC = Assignment(
    slug="backprop",
    order=10,
    milestone="Rumelhart, Hinton & Williams (1986)",
    lecture="lectures/03-optimization-and-regularization.md#backpropagation-and-the-multilayer-perceptron",
    budget_s=15,
    title="Backpropagation (Rumelhart, Hinton & Williams, 1986)",
    constraint="optimization & regularization (the foundation: learning hidden representations)",
    framework="numpy",
    targets=(
        "linear_forward", "linear_backward", "relu_forward", "relu_backward", "sigmoid_forward",
        "sigmoid_backward", "tanh_forward", "tanh_backward", "softmax_cross_entropy", "MLP", "sgd_step",
    ),
    forbidden=tuple(Forbidden(m, _NO_AUTODIFF) for m in
                    ("torch", "jax", "autograd", "tensorflow", "mxnet", "chainer", "micrograd", "tinygrad")),
    summary="Forward and backward passes of an MLP in NumPy; train it on digits and XOR.",
)
