"""Hidden checks for parallel: run only by `dlcourse grade`, on sizes and world sizes drawn from the grading seed.

The same simulated cluster runs the submission (in the sandbox) and the reference (here); results are compared with
the reference's, and so is the ring's schedule as the log shows it (how many messages, to whom, of which size).
"""

import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close

C = load_sibling(__file__, "_common")

DTYPES = (torch.float64, torch.float32, torch.int64)


def _inputs(rng, seed):
    world_size = int(rng.integers(2, 7))
    ndim = int(rng.integers(1, 4))
    shape = tuple(int(rng.integers(1, 6)) for _ in range(ndim))
    dtype = DTYPES[int(rng.integers(len(DTYPES)))]
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        xs = [torch.randn(shape, generator=g, dtype=torch.float64).to(dtype) for _ in range(world_size)]
    else:
        xs = [torch.randint(-50, 50, shape, generator=g, dtype=dtype) for _ in range(world_size)]
    return world_size, shape, dtype, xs


@check("ring_allreduce: matches the reference on random world sizes, shapes and dtypes", points=3, core=True)
def test_ring_random(student, reference, rng, seed):
    for trial in range(4):
        world_size, shape, dtype, xs = _inputs(rng, seed + trial)
        got = student.run(C.probe_cluster, "ring", xs, _timeout=30)
        ref = C.probe_cluster(reference, "ring", xs)
        for r in range(world_size):
            expect_close(got["out"][r], ref["out"][r], name=f"ring_allreduce's result on rank {r} of {world_size}",
                         inputs=f"W = {world_size}, {dtype} tensors of shape {shape}")


@check("ring_allreduce: the message schedule (count, destination, chunk sizes) is the ring's", points=2)
def test_ring_schedule(student, reference, rng, seed):
    for trial in range(3):
        world_size, shape, dtype, xs = _inputs(rng, seed + 100 + trial)
        got = student.run(C.probe_cluster, "ring", xs, _timeout=30)
        ref = C.probe_cluster(reference, "ring", xs)
        for r in range(world_size):
            mine = sorted(n for _, n in got["log"][r])
            theirs = sorted(n for _, n in ref["log"][r])
            if [d for d, _ in got["log"][r]] != [d for d, _ in ref["log"][r]] or mine != theirs:
                fail(f"rank {r} of {world_size} sent {len(got['log'][r])} messages of sizes {mine}; the ring sends "
                     f"{len(theirs)} chunk-sized messages to rank {(r + 1) % world_size} (sizes {theirs})\n"
                     f"  input: W = {world_size}, tensors of shape {shape}")


@check("average_gradients: data-parallel SGD on W = 3 ranks with an uneven last step matches one process",
       points=2, needs=("ring_allreduce", "shard"), timeout=120)
def test_data_parallel_hidden(student, reference, seed):
    world_size, steps, lr = 3, 4, 0.05
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(18, 5, generator=g, dtype=torch.float64)
    Y = torch.cos(X[:, :2])
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    got = student.run(C.probe_cluster, "train", state, X, Y, world_size, steps, lr, _timeout=60)
    ref = C.probe_cluster(reference, "train", state, X, Y, world_size, steps, lr)
    for r in range(world_size):
        for name, value in ref["states"][r].items():
            expect_close(got["states"][r][name], value, name=f"parameter {name} on rank {r} after {steps} steps",
                         atol=1e-9, rtol=1e-7, inputs=f"{len(X)} examples, W = {world_size}, lr = {lr}")


@check("shard: matches a partition for random sizes and world sizes", points=1, core=True)
def test_shard_random(student, rng):
    for _ in range(5):
        n, world_size = int(rng.integers(0, 200)), int(rng.integers(1, 9))
        shards = [list(student.shard(n, r, world_size)) for r in range(world_size)]
        flat = sorted(i for s in shards for i in s)
        sizes = [len(s) for s in shards]
        if flat != list(range(n)) or (sizes and max(sizes) - min(sizes) > 1):
            fail(f"shard({n}, r, {world_size}) for r = 0..{world_size - 1} is not a balanced partition of "
                 f"range({n}): sizes {sizes}")
