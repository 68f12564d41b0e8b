"""The optimizers assignment: SGD with momentum, Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019)."""

from autograder.spec import Assignment, Forbidden

_OWN = ("write the update yourself: of torch.optim only the base class torch.optim.Optimizer may be used, not its "
        "optimizers or their functional forms")
_FUSED = "the fused optimizer kernels do the update for you"

# Every optimizer of torch.optim (the classes and the modules holding their functional forms), named one by one:
# torch.optim.Optimizer, the base class the contract asks for, stays allowed (as does torch.optim.optimizer).
_CLASSES = ("SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad", "Adadelta", "Adafactor", "ASGD", "LBFGS",
            "Muon", "RMSprop", "Rprop", "SparseAdam")
_MODULES = ("sgd", "adam", "adamw", "adamax", "nadam", "radam", "adagrad", "adadelta", "_adafactor", "asgd", "lbfgs",
            "_muon", "rmsprop", "rprop", "sparse_adam", "_functional", "_multi_tensor")

SPEC = Assignment(
    slug="optimizers",
    order=20,
    milestone="Kingma & Ba (2015); Loshchilov & Hutter (2019)",
    lecture="lectures/03-optimization-and-regularization.md#adam",
    budget_s=30,
    title="Adam and AdamW (Kingma & Ba, 2015; Loshchilov & Hutter, 2019)",
    constraint="optimization & regularization",
    framework="torch",
    targets=("SGD", "Adam", "AdamW"),
    forbidden=(
        *(Forbidden(f"torch.optim.{name}", _OWN) for name in _CLASSES + _MODULES),
        *(Forbidden(f"torch._fused_{name}_", _FUSED) for name in ("sgd", "adam", "adamw", "adagrad")),
    ),
    summary="SGD with momentum, Adam with L2 and AdamW with decoupled weight decay, as torch.optim.Optimizer "
            "subclasses matching torch.optim's updates.",
)
