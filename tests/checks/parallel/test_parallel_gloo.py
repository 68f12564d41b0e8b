"""The reference ring all-reduce over real torch.distributed (gloo on loopback), in separate processes: what the
checks simulate with threads holds on a real process group too, and data-parallel training with it matches one
process on the combined batch (W = 2 and 4)."""

import os
import socket

import pytest
import torch

from autograder import spec as specs
from autograder.paths import load_module

dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available in this build", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_reference():
    return load_module(specs.load("parallel").reference, "parallel_reference_gloo")


def _worker(rank, world_size, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        P = _load_reference()
        pending = []

        def send(t, dst):  # buffered, as the contract says: the handle is waited on at the end
            pending.append(dist.isend(t.clone(), dst))

        def recv(t, src):
            dist.recv(t, src)

        g = torch.Generator().manual_seed(rank)
        x = torch.randn(3, 7, generator=g, dtype=torch.float64)
        ring = P.ring_allreduce(x, rank, world_size, send, recv)
        builtin = x.clone()
        dist.all_reduce(builtin)  # the oracle: torch.distributed's own all-reduce

        torch.manual_seed(0)
        X = torch.randn(16, 4, dtype=torch.float64)
        Y = X[:, :1] ** 2
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
        idx = torch.tensor(P.shard(len(X), rank, world_size))
        for _ in range(3):
            model.zero_grad()
            ((model(X[idx]) - Y[idx]) ** 2).mean().backward()
            P.average_gradients(model, world_size, lambda t: P.ring_allreduce(t, rank, world_size, send, recv))
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
        for work in pending:
            work.wait()
        torch.save({"ring": ring, "builtin": builtin, "state": model.state_dict()}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world_size", [2, 4])
def test_ring_allreduce_over_gloo_matches_all_reduce_and_single_process(tmp_path, world_size):
    mp = pytest.importorskip("torch.multiprocessing")
    mp.spawn(_worker, args=(world_size, _free_port(), str(tmp_path)), nprocs=world_size, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world_size)]
    for res in results:
        torch.testing.assert_close(res["ring"], res["builtin"])

    torch.manual_seed(0)
    X = torch.randn(16, 4, dtype=torch.float64)
    Y = X[:, :1] ** 2
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    for _ in range(3):
        model.zero_grad()
        ((model(X) - Y) ** 2).mean().backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    for res in results:
        for name, value in model.state_dict().items():
            torch.testing.assert_close(res["state"][name], value, rtol=1e-9, atol=1e-12)
