"""Probes shared by the public and hidden checks of parallel: a simulated cluster of W ranks in one process.

Each rank is a thread; `send(tensor, dst)` puts a copy on the (src, dst) queue and `recv(tensor, src)` takes the next
tensor from it (waiting at most a few seconds, so that a schedule that deadlocks fails with a message instead of
hanging). The probes return data only: each rank's result and the log of what it sent; the checks judge it.
Nothing here implements the graded functions: the ring's schedule is the student's.
"""

def probe_cluster(m, task, *args):
    """Run `task` on a simulated cluster of W ranks (one thread each) with the student's module `m`.

    task "ring", args (xs,): every rank r calls m.ring_allreduce(xs[r], r, W, send, recv). Returns each rank's
    result, the inputs as they are afterwards (to see whether they were modified), and the log of messages
    [[dst, numel], ...] per rank.
    task "train", args (state, X, Y, W, steps, lr): data-parallel SGD: every rank builds the same small MLP from
    `state`, trains on X[m.shard(len(X), rank, W)] with a mean squared error, averages its gradients with
    m.average_gradients over m.ring_allreduce, and takes the SGD step p <- p - lr * grad. Returns each rank's final
    state_dict and the shards.
    """
    import torch

    WAIT = 3.0  # seconds a recv waits before it reports a deadlock

    def _cluster(world_size):
        """(send_for(rank), recv_for(rank), log): simulated point-to-point links, and the log of every message."""
        import queue

        links = {(s, d): queue.Queue() for s in range(world_size) for d in range(world_size)}
        log = [[] for _ in range(world_size)]  # log[src] = [[dst, numel], ...] in the order sent

        def send_for(rank):
            def send(tensor, dst):
                dst = int(dst)
                if not 0 <= dst < world_size:
                    raise ValueError(f"rank {rank} sent to rank {dst}, but the ranks are 0..{world_size - 1}")
                t = tensor.detach().clone()
                log[rank].append([dst, int(t.numel())])
                links[(rank, dst)].put(t)
            return send

        def recv_for(rank):
            def recv(tensor, src):
                src = int(src)
                if not 0 <= src < world_size:
                    raise ValueError(f"rank {rank} received from rank {src}, but the ranks are 0..{world_size - 1}")
                try:
                    t = links[(src, rank)].get(timeout=WAIT)
                except queue.Empty:
                    raise RuntimeError(f"rank {rank} waited {WAIT:g} s in recv(..., src={src}) for a message that "
                                       f"rank {src} never sent: the schedules do not match (a deadlock)") from None
                if t.shape != tensor.shape:
                    raise RuntimeError(f"rank {rank} called recv with a tensor of shape {tuple(tensor.shape)}, but "
                                       f"rank {src} sent one of shape {tuple(t.shape)}")
                tensor.copy_(t)
            return recv

        return send_for, recv_for, log

    def _run_ranks(world_size, body):
        """Run body(rank) on one thread per rank; re-raise the first rank's error."""
        import threading

        errors = [None] * world_size
        results = [None] * world_size

        def target(rank):
            try:
                results[rank] = body(rank)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors[rank] = exc

        threads = [threading.Thread(target=target, args=(r,), daemon=True) for r in range(world_size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=4 * WAIT + 5)
        for rank, exc in enumerate(errors):
            if exc is not None:
                raise exc
        return results

    if task == "ring":
        (xs,) = args
        world_size = len(xs)
        send_for, recv_for, log = _cluster(world_size)
        inputs = [x.clone() for x in xs]
        out = _run_ranks(world_size, lambda r: m.ring_allreduce(inputs[r], r, world_size, send_for(r), recv_for(r)))
        return {"out": out, "inputs_after": inputs, "log": log}
    if task == "train":
        state, X, Y, world_size, steps, lr = args
        import torch.nn as nn

        send_for, recv_for, _log = _cluster(world_size)
        shards = [list(m.shard(len(X), r, world_size)) for r in range(world_size)]

        def body(rank):
            model = nn.Sequential(nn.Linear(X.shape[1], 16), nn.Tanh(), nn.Linear(16, Y.shape[1])).double()
            model.load_state_dict(state)
            idx = torch.tensor(shards[rank], dtype=torch.long)
            send, recv = send_for(rank), recv_for(rank)

            def allreduce(t):
                return m.ring_allreduce(t, rank, world_size, send, recv)

            for _ in range(steps):
                model.zero_grad()
                loss = ((model(X[idx]) - Y[idx]) ** 2).mean()
                loss.backward()
                m.average_gradients(model, world_size, allreduce)
                with torch.no_grad():
                    for p in model.parameters():
                        if p.grad is not None:
                            p -= lr * p.grad
            return {k: v.detach().clone() for k, v in model.state_dict().items()}

        return {"states": _run_ranks(world_size, body), "shards": shards}
    raise ValueError(f"unknown task {task!r}")


def probe_average(m, state, grads, frozen, world_size):
    """m.average_gradients on a small model whose gradients are set to `grads` (a parameter named in `frozen` has
    no gradient), with an all-reduce that returns W * t + 1 (as if the other ranks held the same gradient plus a
    known offset). Returns the gradients afterwards (None for a parameter without one) and how often the all-reduce
    was called."""
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    model.load_state_dict(state)
    calls = []
    for name, p in model.named_parameters():
        p.grad = None if name in frozen else grads[name].clone()

    def allreduce(t):
        calls.append(int(t.numel()))
        return t * world_size + 1.0

    m.average_gradients(model, world_size, allreduce)
    return {"grads": {n: (None if p.grad is None else p.grad.detach().clone()) for n, p in model.named_parameters()},
            "calls": calls}
