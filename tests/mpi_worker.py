"""What each rank runs in tests/test_distributed.py: ``mpiexec -n 2 python mpi_worker.py SCENARIO OUT [ARGS]``.

Each scenario writes what it found to OUT (rank 0's npz or every rank's json, OUT.RANK), and the
test in the pytest process judges it.

- ``steps DTYPE BN OUT [OVERLAP]``: 20 steps of SGD with momentum on the shared data (`make_model`,
  `make_data`), each rank on its 32 of the step's 64 images, with DDP (and SyncBatchNorm with BN=1;
  OVERLAP=0: the buckets reduced after backward).
- ``collectives OUT``: all_reduce, broadcast, all_reduce_metrics, check_same, DDP's checks.
- ``fail OUT STEP``: rank 1 raises at step STEP inside stop_all_on_error; rank 0 would go on.
- ``cli FAULT STEP ARGS...``: ``cnnlab ARGS...`` where rank 1 raises (FAULT=raise) or is killed
  (FAULT=kill) at its optimizer step STEP (counted from 1; FAULT=none: no fault); ``{rank}`` in
  ARGS is replaced by the rank (to give the ranks different settings).
"""
from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import cnnlab
import cnnlab.distributed as dist
import cnnlab.nn.functional as F
from cnnlab import nn, optim

STEPS, GLOBAL_BATCH = 20, 64


def make_model(batch_norm: bool, dtype) -> nn.Module:
    """A small conv net (with a BatchNorm2d after the first conv when batch_norm), seeded init."""
    cnnlab.manual_seed(3)
    layers = [nn.Conv2d(3, 6, 3, padding=1)] + ([nn.BatchNorm2d(6)] if batch_norm else []) + [
        nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 5)]
    return nn.Sequential(*layers).to(dtype=dtype)


def make_data(dtype):
    """(images (STEPS, 64, 3, 8, 8), labels (STEPS, 64)) from a fixed seed."""
    rng = np.random.default_rng(11)
    return (rng.standard_normal((STEPS, GLOBAL_BATCH, 3, 8, 8)).astype(dtype),
            rng.integers(0, 5, (STEPS, GLOBAL_BATCH)))


def train_steps(model, images, labels, rank: int = 0, world: int = 1) -> None:
    """STEPS steps of SGD (momentum 0.9), the rank's share of each global batch, loss the mean over it."""
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    share = GLOBAL_BATCH // world
    for step in range(STEPS):
        x = cnnlab.tensor(images[step, rank * share:(rank + 1) * share])
        y = cnnlab.tensor(labels[step, rank * share:(rank + 1) * share])
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def steps(dtype_name: str, batch_norm: str, out: str, overlap: str = "1") -> None:
    rank, world = dist.init()
    dtype = np.dtype(dtype_name)
    model = make_model(batch_norm == "1", dtype)
    if batch_norm == "1":
        model = dist.convert_sync_batchnorm(model)
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001, overlap=overlap == "1")  # several buckets
    train_steps(ddp, *make_data(dtype), rank, world)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    dist.check_same({k: v.tobytes() for k, v in state.items()}, "the trained weights")  # all ranks equal
    if rank == 0:
        np.savez(out, buckets=len(ddp.buckets), threads=cnnlab.get_num_threads(), **state)


def _error(fn) -> str:
    try:
        fn()
    except (ValueError, RuntimeError, TypeError) as e:
        return f"{type(e).__name__}: {e}"
    return "no error"


def collectives(out: str) -> None:
    rank, world = dist.init(threads=1)
    found = {"rank": rank, "world": world, "rank_again": dist.get_rank(), "initialized": dist.is_initialized(),
             "local": dist.local_world_size(), "threads": cnnlab.get_num_threads()}
    t = cnnlab.tensor([1.0, 2.0]) * (rank + 1)
    found["sum_tensor"] = dist.all_reduce(t).tolist()
    found["sum_tensor_in_place"] = t.tolist()
    found["mean"] = dist.all_reduce(float(rank), "mean")
    found["max"] = dist.all_reduce(rank + 10, "max")
    found["min_array"] = dist.all_reduce(np.array([rank, -rank]), "min").tolist()
    found["broadcast"] = dist.broadcast(np.array([rank + 5.0]), src=1).tolist()
    found["metrics"] = dist.all_reduce_metrics({"loss": 1.0 + rank, "acc": 0.5, "images": 2 + 2 * rank,
                                                "seconds": 1.0 + rank,
                                                "confusion_matrix": np.eye(2, dtype=np.int64)})
    found["metrics"]["confusion_matrix"] = found["metrics"]["confusion_matrix"].tolist()
    found["same_ok"] = _error(lambda: dist.check_same({"lr": 0.1}, "the settings"))
    found["same_bad"] = _error(lambda: dist.check_same({"lr": 0.1 * (rank + 1), "seed": 0}, "the settings"))
    found["bad_op"] = _error(lambda: dist.all_reduce(1.0, "prod"))
    found["bad_value"] = _error(lambda: dist.all_reduce("1"))
    found["bad_src"] = _error(lambda: dist.broadcast(np.zeros(1), src=world))
    found["ddp_other_model"] = _error(lambda: dist.DistributedDataParallel(nn.Linear(3, 2 + rank)))
    found["ddp_not_module"] = _error(lambda: dist.DistributedDataParallel(lambda x: x))
    found["ddp_bad_cap"] = _error(lambda: dist.DistributedDataParallel(nn.Linear(3, 2), bucket_cap_mb=0))
    cnnlab.manual_seed(rank)   # different weights on each rank: DDP gives every rank rank 0's
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model[1].running_mean.data[:] = rank
    ddp = dist.DistributedDataParallel(model)
    found["weights"] = model[0].weight.detach().numpy().tolist()
    found["running_mean"] = model[1].running_mean.numpy().tolist()
    model[1].running_mean.data[:] = 7 + rank     # a forward in training copies rank 0's buffers again
    ddp(cnnlab.ones(4, 3))
    found["running_mean_after_forward"] = model[1].running_mean.numpy().tolist()
    unused = dist.DistributedDataParallel(nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 2)]))
    unused.module[0](cnnlab.ones(1, 3)).sum().backward()     # the second Linear gets no gradient
    found["ddp_unused"] = _error(lambda: unused(cnnlab.ones(1, 3)))
    found["sync_bn_one_value"] = _error(lambda: dist.SyncBatchNorm(2)(cnnlab.ones(1 - rank, 2)))  # 1 in all
    with open(f"{out}.{rank}", "w") as f:
        json.dump(found, f)


def fail(out: str, at_step: str) -> None:
    rank, world = dist.init()
    model = dist.DistributedDataParallel(make_model(False, np.float64))
    images, labels = make_data(np.float64)
    with dist.stop_all_on_error():
        for step in range(STEPS):
            if rank == 1 and step == int(at_step):
                raise RuntimeError(f"injected failure at step {step}")
            loss = F.cross_entropy(model(cnnlab.tensor(images[step, :32])), cnnlab.tensor(labels[step, :32]))
            loss.backward()
            with open(f"{out}.{rank}", "w") as f:
                f.write(str(step))


def cli(fault: str, at_step: str, *args: str) -> None:
    from cnnlab.cli import main

    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0")))
    step, calls = optim.AdamW.step, [0]

    def faulty_step(self, *a, **k):
        calls[0] += 1
        if rank == 1 and calls[0] == int(at_step) and fault == "raise":
            raise RuntimeError(f"injected failure at step {calls[0]}")
        if rank == 1 and calls[0] == int(at_step) and fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        return step(self, *a, **k)

    optim.AdamW.step = faulty_step
    sys.exit(main([a.replace("{rank}", str(rank)) for a in args]))


if __name__ == "__main__":
    {"steps": steps, "collectives": collectives, "fail": fail, "cli": cli}[sys.argv[1]](*sys.argv[2:])
