"""The dropout assignment: inverted dropout (Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov, 2014)."""

from autograder.spec import Assignment, Forbidden

_OWN_MASK = "draw your own mask with torch.rand; PyTorch's dropout does the assignment for you"
_OWN_MODULE = "build your own Dropout module, not on PyTorch's dropout modules"

SPEC = Assignment(
    slug="dropout",
    order=30,
    milestone="Srivastava, Hinton et al. (2014)",
    lecture="lectures/03-optimization-and-regularization.md#dropout",
    budget_s=30,
    title="Dropout (Srivastava, Hinton et al., 2014)",
    constraint="optimization & regularization",
    framework="torch",
    targets=("dropout", "Dropout"),
    forbidden=(
        Forbidden("torch.nn.functional.*dropout*", _OWN_MASK),
        Forbidden("torch.nn.*Dropout*", _OWN_MODULE),
        Forbidden("torch.nn.modules.dropout.*Dropout*", _OWN_MODULE),
        Forbidden("torch.*dropout*", _OWN_MASK),  # torch.dropout, torch.native_dropout, torch._VF.dropout, ...
    ),
    summary="dropout(x, p, training, generator) with your own Bernoulli mask, and a Dropout module.",
)
