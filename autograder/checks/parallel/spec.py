"""The parallel assignment: data-parallel training with a ring all-reduce (compute)."""

from autograder.spec import Assignment, Forbidden

_OWN_RING = "write the all-reduce yourself from the send and recv you are given"

SPEC = Assignment(
    slug="parallel",
    order=140,
    milestone="Krizhevsky, Sutskever & Hinton (2012); Patarasuk & Yuan (2009); Sergeev & Del Balso (2018)",
    lecture="lectures/05-compute.md#data-parallel-training",
    budget_s=30,
    title="Data-parallel training: the ring all-reduce",
    constraint="compute (many devices, one model: spend more operations per second)",
    framework="torch",
    targets=("ring_allreduce", "average_gradients", "shard"),
    forbidden=(
        Forbidden("torch.distributed.all_reduce*", _OWN_RING),
        Forbidden("torch.distributed.reduce*", _OWN_RING),
        Forbidden("torch.distributed.all_gather*", _OWN_RING),
        Forbidden("torch.distributed.broadcast*", _OWN_RING),
        Forbidden("torch.distributed.all_to_all*", _OWN_RING),
        Forbidden("torch.distributed.nn*", _OWN_RING),
        Forbidden("torch.nn.parallel*", "average the gradients yourself, not with DistributedDataParallel"),
        Forbidden("torch.utils.data.distributed*", "split the indices yourself, not with DistributedSampler"),
    ),
    summary="ring_allreduce from send/recv (reduce-scatter then all-gather), average_gradients, shard; "
            "W simulated ranks train to the same parameters as one process on the combined batch.",
)
