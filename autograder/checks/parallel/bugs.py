"""Known bugs of parallel, planted in the reference by `dlcourse verify` and the project's tests (see AUTHORING.md).

(name, text of solutions/parallel/parallel.py, what it becomes, the target whose checks must fail, words its
failure message must contain). Not shipped to students.
"""

_RS_SEND = "        send(chunk(rank - k).clone(), right)\n        incoming = torch.empty_like(chunk(rank - k - 1))"
_AG_SEND = "        send(chunk(rank + 1 - k).clone(), right)"

BUGS = [
    ("the wrong chunk at step k of the reduce-scatter", _RS_SEND,
     "        send(chunk(rank + k).clone(), right)\n        incoming = torch.empty_like(chunk(rank - k - 1))",
     "ring_allreduce", "ring_allreduce's result"),
    ("the all-gather sends the chunk it just received, one step late", _AG_SEND,
     "        send(chunk(rank - k).clone(), right)", "ring_allreduce", "ring_allreduce's result"),
    ("received chunks overwrite instead of adding in the reduce-scatter", "chunk(rank - k - 1).add_(incoming)",
     "chunk(rank - k - 1).copy_(incoming)", "ring_allreduce", "ring_allreduce's result"),
    ("no all-gather", "    for k in range(world_size - 1):  # all-gather\n",
     "    for k in range(0):  # all-gather\n", "ring_allreduce", "ring_allreduce's result"),
    ("one step too few in the reduce-scatter", "    for k in range(world_size - 1):  # reduce-scatter",
     "    for k in range(world_size - 2):  # reduce-scatter", "ring_allreduce", ""),
    ("sends to the left neighbour", "right, left = (rank + 1) % world_size, (rank - 1) % world_size",
     "left, right = (rank + 1) % world_size, (rank - 1) % world_size", "ring_allreduce", ""),
    ("the input is reduced in place", "flat = tensor.detach().reshape(-1).clone()",
     "flat = tensor.detach().reshape(-1)", "ring_allreduce", "must not be modified"),
    ("returns the flat tensor", "    return flat.reshape(tensor.shape)\n", "    return flat\n", "ring_allreduce",
     "shape"),
    ("not divided by world_size", "p.grad = allreduce(p.grad) / world_size", "p.grad = allreduce(p.grad)",
     "average_gradients", "not divided by world_size"),
    ("the reduced gradient is thrown away", "p.grad = allreduce(p.grad) / world_size",
     "allreduce(p.grad) / world_size", "average_gradients", "left as it was"),
    ("parameters without a gradient are not skipped",
     "        if p.grad is None:\n            continue\n        p.grad = allreduce(p.grad) / world_size",
     "        if p.grad is None:\n            p.grad = torch.zeros_like(p)\n"
     "        p.grad = allreduce(p.grad) / world_size", "average_gradients", "skip such parameters"),
    ("overlapping shards", "return list(range(rank, dataset_len, world_size))",
     "return list(range(rank, dataset_len, max(world_size - 1, 1)))", "shard", "not a partition"),
    ("the last examples are dropped", "return list(range(rank, dataset_len, world_size))",
     "return list(range(rank, dataset_len - dataset_len % world_size, world_size))", "shard", "missing"),
    ("contiguous blocks with the remainder all on the last rank", "return list(range(rank, dataset_len, world_size))",
     "size = dataset_len // world_size\n    end = dataset_len if rank == world_size - 1 else (rank + 1) * size\n"
     "    return list(range(rank * size, end))", "shard", "differ by at most one"),
    ("no ValueError for a bad rank", "    if world_size < 1 or not 0 <= rank < world_size:\n        raise ValueError(f\"rank {rank} is not in [0, {world_size})\")\n    return list(",
     "    return list(", "shard", "ValueError"),
]
