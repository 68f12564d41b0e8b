"""Data-parallel training: the ring all-reduce, gradient averaging and sharding.

AlexNet was split across two GPUs because one GPU did not have the memory for it (Krizhevsky, Sutskever & Hinton,
2012, Section 3.2). Today's usual way to spend many devices is simpler: data parallelism. Every worker (rank) holds a
full copy of the model, computes the gradient on its own shard of the batch, and the workers then sum their gradients
so that every copy takes the same step. The sum is an all-reduce, and the ring algorithm (Patarasuk & Yuan, 2009;
popularised for deep learning by Baidu in 2017 and by Horovod, Sergeev & Del Balso, 2018) makes its cost per rank
almost independent of the number of ranks: each rank sends 2 (W - 1) / W times the tensor's size, instead of the
W - 1 full copies that the root of a naive reduce-then-broadcast receives.

Communication is given to you as two functions, the point-to-point primitives of torch.distributed:
    send(tensor, dst)   hands a copy of `tensor` to rank `dst`; it may return before `dst` has received it;
    recv(tensor, src)   waits for the next tensor from rank `src` and writes it into `tensor` (same shape, dtype).
In the checks they are simulated in one process, with one thread per rank; in the project's tests they are
torch.distributed over gloo, in separate processes.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def chunk_bounds(numel: int, world_size: int) -> list[tuple[int, int]]:
    """[start, end) of each of the `world_size` chunks of a flat tensor of `numel` elements.

    The first `numel % world_size` chunks hold one element more than the others (as torch.tensor_split does), so
    the sizes differ by at most one; a chunk may be empty when numel < world_size. Given to you (not graded).
    """
    base, extra = divmod(numel, world_size)
    bounds, start = [], 0
    for i in range(world_size):
        end = start + base + (1 if i < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def ring_allreduce(tensor: torch.Tensor, rank: int, world_size: int, send, recv) -> torch.Tensor:
    """The sum of `tensor` over all ranks, by the ring algorithm; every rank calls it with its own tensor.

    Let W = world_size, flatten the tensor and cut it into W chunks with `chunk_bounds`. Rank r sends only to its
    right neighbour (r + 1) % W and receives only from its left neighbour (r - 1) % W.

    1. Reduce-scatter, W - 1 steps. At step k (k = 0 .. W-2) rank r sends chunk (r - k) % W and receives chunk
       (r - k - 1) % W, which it adds to its own copy of that chunk. Afterwards rank r holds the complete sum of
       chunk (r + 1) % W.
    2. All-gather, W - 1 steps. At step k rank r sends chunk (r + 1 - k) % W (a complete sum) and receives chunk
       (r - k) % W, which replaces its own copy.

    That is 2 (W - 1) sends per rank, each of one chunk (about numel / W elements). Returns a new tensor of
    `tensor`'s shape, dtype and device; `tensor` itself is not modified. With W == 1 it returns a copy.
    """
    raise NotImplementedError("ring_allreduce: not implemented yet")


def average_gradients(model: nn.Module, world_size: int, allreduce) -> None:
    """Replace every parameter's gradient by its average over the ranks: grad <- allreduce(grad) / world_size.

    `allreduce(tensor) -> Tensor` returns the sum of `tensor` over the ranks (e.g. your ring_allreduce with this
    rank's send and recv bound in). Parameters whose .grad is None are skipped (they took no part in the loss).
    After it, every rank's model holds the gradient of the mean loss over the combined batch, when the shards have
    equal sizes and each rank's loss is a mean over its shard.
    """
    raise NotImplementedError("average_gradients: not implemented yet")


def shard(dataset_len: int, rank: int, world_size: int) -> list[int]:
    """The indices of the examples that rank `rank` trains on: the shards of the W ranks are disjoint, together
    cover range(dataset_len), and their sizes differ by at most one. Any such split is accepted (contiguous blocks,
    or every W-th index as torch's DistributedSampler does without shuffling). Raises ValueError for a rank outside
    [0, world_size) or world_size < 1.
    """
    raise NotImplementedError("shard: not implemented yet")


if __name__ == "__main__":
    print("parallel.py is checked, not run: `dlcourse check parallel` (or `pytest -m parallel` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
