"""Data-parallel training steps per second on W ranks: ``mpiexec -n W python benchmarks/distributed.py``.

Each rank trains its B/W images of every global batch of B (the same batch every step, AdamW) through
`cnnlab.distributed.DistributedDataParallel`, after warm-up steps; rank 0 prints the global
images per second and the share of its step time spent waiting for the gradients' allreduce
(DDP's ``communication_seconds``), with the buckets reduced during backward and after it. Run by
hand, never as a test. Open MPI as root needs ``--allow-run-as-root`` (or OMPI_ALLOW_RUN_AS_ROOT=1
and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import cnnlab
import cnnlab.distributed as dist
import cnnlab.nn.functional as F
from cnnlab import optim
from cnnlab.models import from_pattern, lenet5

#: name -> (constructor, image shape)
NETWORKS = {
    "lenet5 (MNIST 1x28x28)": (lambda: lenet5(), (1, 28, 28)),
    "VGG-style CIFAR net [[CONV-RELU]*2-POOL]*3-FC-RELU-FC, widths 32-64-128 (3x32x32)": (
        lambda: from_pattern("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> FC -> RELU -> FC", 3, 32, 10,
                             widths=[32, 64, 128]), (3, 32, 32)),
}


def batch(shape, n: int, rank: int):
    """n images of the given shape and their labels: the bundled MNIST's for 1×28×28 (normalised as in
    training), else uniform pixels in [0, 1) standardised. (Not Gaussian noise: cnnlab's LeNet-5 steps
    measured 3.8× slower on standard-normal images than on MNIST-like ones, which is worth a look
    of its own.)"""
    if shape == (1, 28, 28):
        from cnnlab.data import MNIST

        data = MNIST(train=True)
        pixels = np.asarray(data.data[rank * n:(rank + 1) * n], dtype=np.float32)[:, None] / 255
        return (cnnlab.tensor((pixels - 0.1307) / 0.3081),
                cnnlab.tensor(np.asarray(data.targets[rank * n:(rank + 1) * n], dtype=np.int64)))
    rng = np.random.default_rng(rank)
    pixels = rng.random((n, *shape), dtype=np.float32)
    return cnnlab.tensor((pixels - 0.5) / 0.29), cnnlab.tensor(rng.integers(0, 10, n))


def measure(build, shape, batch_size: int, steps: int, warmup: int, rank: int, world: int, overlap: bool) -> dict:
    cnnlab.manual_seed(0)
    model = dist.DistributedDataParallel(build(), overlap=overlap)
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)
    share = batch_size // world
    images, labels = batch(shape, share, rank)
    for step in range(warmup + steps):
        if step == warmup:
            dist.all_reduce(0.0)                     # start the clock together
            start, waited = time.perf_counter(), model.communication_seconds
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    return {"images_per_second": batch_size * steps / seconds,
            "communication": (model.communication_seconds - waited) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch (default: 64)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps (default: 30)")
    parser.add_argument("--warmup", type=int, default=3, help="steps before the clock starts (default: 3)")
    args = parser.parse_args()
    rank, world = dist.init()
    cnnlab.runtime.keep_freed_memory(True)
    if rank == 0:
        print(f"{world} rank(s), {cnnlab.get_num_threads()} thread(s) each, global batch {args.batch_size}")
    for name, (build, shape) in NETWORKS.items():
        for overlap in (True, False) if world > 1 else (True,):
            found = measure(build, shape, args.batch_size, args.steps, args.warmup, rank, world, overlap)
            if rank == 0:
                how = "" if world == 1 else " reduced during backward" if overlap else " reduced after backward"
                print(f"{name}{how}: {found['images_per_second']:.0f} images/s, "
                      f"{found['communication']:.1%} of the step time waiting for the allreduce")


if __name__ == "__main__":
    main()
