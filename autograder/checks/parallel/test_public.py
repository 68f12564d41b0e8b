"""Public checks for parallel: what `dlcourse check parallel` runs, and what students can read.

The ranks are simulated in the sandbox (one thread each, `_common.probe_cluster`); what comes back is each rank's
result and the log of the messages it sent. The oracles are PyTorch built-ins (the sum of the ranks' tensors is
`torch.stack(xs).sum(0)`), the ring's message counts and sizes (which follow from the algorithm's definition), and,
end to end, the same training run in one process on the combined batch, computed here.
"""

import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_equal

C = load_sibling(__file__, "_common")


def _xs(world_size, shape, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype) for _ in range(world_size)]


def _ring(student, xs):
    got = student.run(C.probe_cluster, "ring", xs, _timeout=30)
    if not isinstance(got, dict) or not isinstance(got.get("out"), list):
        fail("ring_allreduce: the simulated ranks did not all return a result")
    for r, out in enumerate(got["out"]):
        if not isinstance(out, torch.Tensor):
            fail(f"ring_allreduce on rank {r} returned {type(out).__name__}, expected a torch.Tensor")
    return got


def _chunk_sizes(numel, world_size):
    base, extra = divmod(numel, world_size)
    return [base + (1 if i < extra else 0) for i in range(world_size)]


# ------------------------------------------------------------------------------------------- ring_allreduce

@check("ring_allreduce: every rank gets the sum of all ranks' tensors (W = 2, 3, 4)", points=3, core=True)
def test_ring_sum(student, seed):
    for world_size, shape in ((2, (6,)), (3, (4, 5)), (4, (2, 3, 4))):
        xs = _xs(world_size, shape, seed + world_size)
        got = _ring(student, xs)
        total = torch.stack(xs).sum(0)
        for r, out in enumerate(got["out"]):
            expect_close(out, total, name=f"ring_allreduce's result on rank {r} of {world_size}",
                         inputs=f"W = {world_size} ranks, each with a float64 tensor of shape {shape} from randn",
                         mistakes={"only this rank's own tensor came back (nothing was reduced)": xs[r],
                                   "the average came back instead of the sum": total / world_size})


@check("ring_allreduce: each rank sends 2 (W - 1) messages of one chunk each, to its right neighbour", points=2)
def test_ring_messages(student, seed):
    for world_size, numel in ((3, 12), (4, 10), (5, 7)):
        xs = _xs(world_size, (numel,), seed + numel)
        got = _ring(student, xs)
        sizes = _chunk_sizes(numel, world_size)
        for r, sent in enumerate(got["log"]):
            if len(sent) != 2 * (world_size - 1):
                naive = " (the whole tensor each time)" if any(n == numel for _, n in sent) else ""
                fail(f"rank {r} of {world_size} sent {len(sent)} messages{naive}, expected 2 (W - 1) = "
                     f"{2 * (world_size - 1)}: W - 1 in the reduce-scatter, then W - 1 in the all-gather"
                     f"\n  input: W = {world_size}, tensors of {numel} elements")
            wrong_dst = [d for d, _ in sent if d != (r + 1) % world_size]
            if wrong_dst:
                fail(f"rank {r} of {world_size} sent to rank(s) {sorted(set(wrong_dst))}: in the ring, rank r sends "
                     f"only to its right neighbour (r + 1) % W = {(r + 1) % world_size}")
            bad = [n for _, n in sent if n not in sizes]
            if bad:
                fail(f"rank {r} of {world_size} sent messages of {bad} elements; each message is one chunk of the "
                     f"flattened tensor, of {sorted(set(sizes))} elements (chunk_bounds({numel}, {world_size}))")
            per_rank = sum(n for _, n in sent)
            expected = sum(sizes) * 2 * (world_size - 1) / world_size
            if abs(per_rank - expected) > 2 * (world_size - 1):
                fail(f"rank {r} sent {per_rank} elements in all; the ring sends about 2 (W - 1) / W of the tensor "
                     f"= {expected:.1f} elements per rank")


@check("ring_allreduce: W = 1, uneven chunks and tensors smaller than W", points=2)
def test_ring_edge_cases(student, seed):
    for world_size, shape in ((1, (3, 2)), (3, (10,)), (4, (2,)), (4, (3, 3))):
        xs = _xs(world_size, shape, seed + 31 * world_size + shape[0])
        got = _ring(student, xs)
        total = torch.stack(xs).sum(0)
        for r, out in enumerate(got["out"]):
            expect_close(out, total, name=f"ring_allreduce's result on rank {r} of {world_size}",
                         inputs=f"W = {world_size}, tensors of shape {shape} ({xs[0].numel()} elements: chunks of "
                                f"{_chunk_sizes(xs[0].numel(), world_size)} elements)")


@check("ring_allreduce: keeps shape, dtype and device, and never modifies its input", points=1)
def test_ring_leaves_input(student, seed):
    xs = _xs(3, (3, 4), seed, dtype=torch.float32)
    got = _ring(student, xs)
    for r in range(3):
        out = got["out"][r]
        if out.shape != xs[r].shape or out.dtype != xs[r].dtype:
            fail(f"rank {r}'s result has shape {tuple(out.shape)} and dtype {out.dtype}, expected the input's "
                 f"{tuple(xs[r].shape)} and {xs[r].dtype}")
        expect_equal(got["inputs_after"][r], xs[r], name=f"rank {r}'s input tensor after ring_allreduce "
                     "(it must not be modified: work on a copy)")


# ------------------------------------------------------------------------------------------- average_gradients

def _small_state(seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@check("average_gradients: every gradient becomes allreduce(grad) / world_size", points=2, core=True)
def test_average(student, seed):
    state = _small_state(seed)
    g = torch.Generator().manual_seed(seed)
    grads = {k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in state.items()}
    for world_size in (2, 4):
        got = student.run(C.probe_average, state, grads, [], world_size)
        for name, grad in grads.items():
            expected = (grad * world_size + 1.0) / world_size
            expect_close(got["grads"][name], expected, name=f"the gradient of {name} after average_gradients",
                         inputs=f"world_size = {world_size}, an allreduce that returns W * t + 1",
                         mistakes={"the reduced gradient was not divided by world_size": grad * world_size + 1.0,
                                   "the gradient was left as it was (allreduce's result not stored in .grad)": grad})


@check("average_gradients: parameters without a gradient are skipped", points=1)
def test_average_skips(student, seed):
    state = _small_state(seed)
    grads = {k: torch.ones_like(v) for k, v in state.items()}
    got = student.run(C.probe_average, state, grads, ["0.bias", "2.weight"], 2)
    for name in ("0.bias", "2.weight"):
        if got["grads"][name] is not None:
            fail(f"{name} had no gradient (.grad is None) but has one after average_gradients: skip such parameters")
    if len(got["calls"]) != 2:
        fail(f"allreduce was called {len(got['calls'])} times for a model with 2 parameters that have gradients "
             "(and 2 without): call it once per parameter that has a gradient")


def _regression(seed, n=24):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 5, generator=g, dtype=torch.float64)
    Y = torch.sin(X[:, :2]) + 0.1 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
    return X, Y, model


@check("average_gradients: data-parallel SGD on W = 2 and 4 ranks matches one process on the combined batch",
       points=3, needs=("ring_allreduce", "shard"), timeout=120)
def test_data_parallel_matches_single(student, seed):
    steps, lr = 5, 0.1
    for world_size in (2, 4):
        X, Y, model = _regression(seed + world_size)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        got = student.run(C.probe_cluster, "train", state, X, Y, world_size, steps, lr, _timeout=60)
        for _ in range(steps):  # the trusted run: one process, the whole batch
            model.zero_grad()
            ((model(X) - Y) ** 2).mean().backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
        for r, trained in enumerate(got["states"]):
            for name, value in model.state_dict().items():
                expect_close(trained[name], value, name=f"parameter {name} on rank {r} of {world_size} after "
                             f"{steps} data-parallel SGD steps", atol=1e-9, rtol=1e-7,
                             inputs=f"{len(X)} examples split by shard() into {world_size} shards, lr = {lr}; the "
                                    "expected values come from one process training on the combined batch")


# ------------------------------------------------------------------------------------------- shard

@check("shard: the ranks' shards are disjoint, cover every index, and differ in size by at most one", points=2,
       core=True)
def test_shard_partition(student):
    for n, world_size in ((10, 1), (12, 3), (10, 4), (3, 5), (101, 8)):
        shards = [student.shard(n, r, world_size) for r in range(world_size)]
        flat = []
        for r, s in enumerate(shards):
            if not isinstance(s, (list, tuple)) or not all(isinstance(i, int) for i in s):
                fail(f"shard({n}, {r}, {world_size}) returned {type(s).__name__}, expected a list of ints")
            flat += list(s)
        if sorted(flat) != list(range(n)):
            dup = sorted({i for i in flat if flat.count(i) > 1})
            miss = sorted(set(range(n)) - set(flat))
            fail(f"the shards of {n} examples over {world_size} ranks are not a partition of range({n}): "
                 f"repeated {dup[:10]}, missing {miss[:10]}\n  shards: {[list(s)[:12] for s in shards]}")
        sizes = [len(s) for s in shards]
        if max(sizes) - min(sizes) > 1:
            fail(f"the shard sizes for {n} examples over {world_size} ranks are {sizes}: they may differ by at most "
                 "one, so that no rank waits long for the others")


@check("shard: a rank outside [0, world_size) raises ValueError", points=1)
def test_shard_bad_rank(student):
    from autograder.sandbox import StudentError

    for args in ((10, 4, 4), (10, -1, 4)):
        try:
            student.shard(*args)
        except StudentError as exc:
            if "ValueError" not in str(exc):
                fail(f"shard{args} raised something else than ValueError:\n{str(exc)[:300]}")
            continue
        fail(f"shard{args} returned normally: raise ValueError for a rank outside [0, world_size)")
