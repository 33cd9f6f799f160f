"""Data-parallel training on MPI, as ``torch.distributed`` with DDP: every process (rank) holds the
whole model and works on its share of every batch; the gradients are averaged before each step.

    mpiexec -n 2 python script.py                 (or mpirun; both run the same program W times)

    rank, world_size = init()                     MPI's COMM_WORLD; cnnlab's threads fitted to the cores
    sampler = DistributedSampler(train_set)       rank r: positions r, r + W, r + 2W, ... of every
                                                  epoch's seeded permutation (the same on all ranks)
    loader = DataLoader(train_set, batch_size=B // W, sampler=sampler)
    model = DistributedDataParallel(model)        rank 0's parameters and buffers on every rank
    for images, labels in loader:                 each rank its B / W images of the global batch
        loss = cross_entropy(model(images), labels)     the mean over the rank's images
        loss.backward()                           gradients summed across ranks bucket by bucket with
                                                  MPI's non-blocking allreduce, each bucket started as
                                                  soon as backward has finished its gradients, / W
        optimizer.step()                          the same update on every rank: the models stay equal

The mean over the ranks of the per-rank means is the mean over the global batch (each rank has
as many images), so W ranks × B/W images compute what one process × B images does, up to the
rounding of sums. BatchNorm keeps per-rank statistics (and DDP copies rank 0's running
statistics to the others before each training forward, as PyTorch); `SyncBatchNorm` (or
`convert_sync_batchnorm`) reduces the statistics across ranks instead, which makes a model with
batch norm compute what one process does too.

Faults: `stop_all_on_error` turns an exception on one rank into MPI's Abort, which stops every
rank (a rank waiting in a collective would otherwise wait forever), and `check_same` reports
ranks that disagree (another model, other settings) before any work.

mpi4py (and an MPI library: the `[distributed]` extra installs Open MPI's wheel) is imported
only by the functions that talk to other ranks; the rest of cnnlab never needs it.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import time
import traceback

import numpy as np

from cnnlab import runtime
from cnnlab.autograd import Function, Tensor, no_grad
from cnnlab.messages import MissingExtraError
from cnnlab.nn.modules.batchnorm import BatchNormBase
from cnnlab.nn.modules.module import Module

__all__ = ["init", "is_initialized", "get_rank", "get_world_size", "local_world_size", "all_reduce", "broadcast",
           "all_reduce_metrics", "check_same", "stop_all_on_error", "DistributedSampler", "DistributedDataParallel",
           "SyncBatchNorm", "convert_sync_batchnorm"]

_world = {"comm": None}  # the communicator `init` joined (COMM_WORLD unless given)
_OPS = ("sum", "mean", "max", "min")


def _mpi():
    """mpi4py's MPI module (importing it initialises MPI), or a MissingExtraError naming the extra."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise MissingExtraError("cnnlab.distributed needs mpi4py and an MPI library: "
                                f"pip install 'cnnlab[distributed]' ({e})") from None
    return MPI


def _comm(owner: str):
    comm = _world["comm"]
    if comm is None:
        raise RuntimeError(f"{owner}: call cnnlab.distributed.init() first (in every rank)")
    return comm


# ---------------------------------------------------------------- the world
def init(threads: int | None = None) -> tuple[int, int]:
    """Join the MPI world and return ``(rank, world_size)``, as ``torch.distributed.init_process_group``.

    Every rank of ``mpiexec -n W`` calls it once. It also sets cnnlab's threads
    (`cnnlab.set_num_threads`) and BLAS's (with threadpoolctl) so that the ranks
    on one machine share its cores instead of each taking all of them.

    Args:
        threads: threads per rank; None: the CPUs this process may use // the ranks on this
            machine (at least 1). Default: None.

    Raises:
        MissingExtraError: mpi4py or MPI is not installed.
        ValueError: threads is not an int >= 1.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, numbers.Integral)
                                or threads < 1):
        raise ValueError(f"init: threads must be an int >= 1 or None, got {threads!r}")
    MPI = _mpi()
    _world["comm"] = MPI.COMM_WORLD
    if threads is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = max(1, cores // local_world_size())
    runtime.set_num_threads(int(threads))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(int(threads), user_api="blas")
    return get_rank(), get_world_size()


def is_initialized() -> bool:
    """Whether `init` was called in this process."""
    return _world["comm"] is not None


def get_rank() -> int:
    """This process's rank, 0 .. world_size - 1 (after `init`)."""
    return _comm("get_rank").Get_rank()


def get_world_size() -> int:
    """The number of ranks W (after `init`)."""
    return _comm("get_world_size").Get_size()


def local_world_size() -> int:
    """The number of ranks on this machine (those that share its memory), after `init`."""
    MPI = _mpi()
    local = _comm("local_world_size").Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return local.Get_size()
    finally:
        local.Free()


def _array(owner: str, value):
    """(the array to reduce in place, how to give it back) for a Tensor, an ndarray or a number."""
    if isinstance(value, Tensor):
        return np.ascontiguousarray(value.data), lambda a: value.data.__setitem__(..., a) or value
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value), lambda a: value.__setitem__(..., a) or value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.array([value], dtype=np.float64 if isinstance(value, float) else np.int64), lambda a: a[0].item()
    raise TypeError(f"{owner}: value must be a Tensor, a numpy array or a number, got {type(value).__name__}")


def all_reduce(value, op: str = "sum"):
    """Combine ``value`` over the ranks, as ``torch.distributed.all_reduce``: every rank gets the result.

    A Tensor or an ndarray is changed in place (and returned); a number comes back as the result.

    Args:
        value: a Tensor, a numpy array (the same shape and dtype on every rank) or a number.
        op: 'sum', 'mean' (the sum / world size), 'max' or 'min'. Default: 'sum'.

    Example:
        >>> all_reduce(1, "sum")        # in each of 2 ranks              # doctest: +SKIP
        2
    """
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
    array, give_back = _array("all_reduce", value)
    comm, MPI = _comm("all_reduce"), _mpi()
    comm.Allreduce(MPI.IN_PLACE, array, op={"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op])
    if op == "mean":
        array = array / comm.Get_size() if array.dtype.kind == "f" else array // comm.Get_size()
    return give_back(array)


def broadcast(value, src: int = 0):
    """Rank ``src``'s ``value`` on every rank, as ``torch.distributed.broadcast`` (arrays in place)."""
    array, give_back = _array("broadcast", value)
    comm = _comm("broadcast")
    if isinstance(src, bool) or not isinstance(src, numbers.Integral) or not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src must be a rank in [0, {comm.Get_size() - 1}], got {src!r}")
    comm.Bcast(array, root=int(src))
    return give_back(array)


def all_reduce_metrics(metrics: dict) -> dict:
    """The metrics of the whole world from each rank's: means weighted by ``images``, ``images``
    summed, ``seconds`` rank 0's (each rank passes the dict of `cnnlab.train.train_one_epoch` or
    `evaluate` for its shard). The ranks go in step, so rank 0's seconds are the step time of all;
    another rank's also count the time it waits while rank 0 writes the run's files.

    Args:
        metrics: a dict with ``images`` (int) and number values; the arrays 'totals' (a task's meter, see
            `cnnlab.train.tasks.Meter`: the caller recomputes the metrics from their sum) and
            'confusion_matrix' are summed.

    Example:
        >>> all_reduce_metrics({"loss": 0.5, "acc": 0.75, "images": 4})   # rank 1 had 0.25, 1.0, 4  # doctest: +SKIP
        {'loss': 0.375, 'acc': 0.875, 'images': 8}
    """
    if not isinstance(metrics, dict) or not isinstance(metrics.get("images"), numbers.Integral):
        raise TypeError(f"all_reduce_metrics: metrics must be a dict with an int 'images', got {metrics!r}")
    means = [k for k, v in metrics.items() if k not in ("images", "seconds", "confusion_matrix", "totals")
             and isinstance(v, numbers.Real)]
    n = metrics["images"]
    sums = np.array([metrics[k] * n for k in means] + [n], dtype=np.float64)
    all_reduce(sums)
    out = dict(metrics)
    out.update({k: float(s / sums[-1]) for k, s in zip(means, sums)})
    out["images"] = int(round(sums[-1]))
    if "seconds" in metrics:
        out["seconds"] = broadcast(float(metrics["seconds"]), src=0)
    if "confusion_matrix" in metrics:
        out["confusion_matrix"] = all_reduce(np.array(metrics["confusion_matrix"], dtype=np.int64))
    if "totals" in metrics:
        out["totals"] = all_reduce(np.array(metrics["totals"], dtype=np.float64))
    return out


def _difference(first, other) -> str:
    """Where ``other`` differs from ``first``: the first key or item that does, in a few words."""
    if isinstance(first, dict) and isinstance(other, dict):
        for key in sorted(set(first) | set(other), key=str):
            if first.get(key) != other.get(key):
                return f"{key}={first.get(key)!r} on rank 0"
    if isinstance(first, (list, tuple)) and isinstance(other, (list, tuple)):
        for a, b in zip(first, other):
            if a != b:
                return f"{a!r} on rank 0"
        return f"{len(first)} items on rank 0"
    return f"{first!r} on rank 0"


def check_same(value, what: str = "the value", owner: str = "check_same") -> None:
    """Raise ValueError on every rank unless every rank passed an equal ``value`` (a collective call).

    Args:
        value: anything picklable that compares with ``==`` (settings as a dict, a model's layout).
        what: what the value is, for the message. Default: 'the value'.
        owner: who checks, the message's prefix. Default: 'check_same'.

    Raises:
        ValueError: e.g. ``check_same: the ranks disagree on the settings: lr=0.1 on rank 0, but
            rank 1 has lr=0.2`` (the first rank that differs, and the first key or item).
    """
    values = _comm(owner).allgather(value)
    for rank, other in enumerate(values[1:], 1):
        if other != values[0]:
            theirs = _difference(other, values[0]).removesuffix(" on rank 0")
            raise ValueError(f"{owner}: the ranks disagree on {what}: {_difference(values[0], other)}, but rank "
                             f"{rank} has {theirs}")


@contextlib.contextmanager
def stop_all_on_error(errorcode: int = 1):
    """Inside the block, an exception on any rank stops every rank: the rank says what failed on
    stderr (``cnnlab.distributed: rank 1 of 2 failed: ...`` and the traceback) and calls MPI's
    Abort, which ends all the ranks of the job (the others may be waiting for it in a collective,
    which would never end). Without `init` it does nothing. KeyboardInterrupt and SystemExit pass.

    Args:
        errorcode: the exit status Abort asks of the launcher. Default: 1.
    """
    try:
        yield
    except Exception as e:  # noqa: BLE001 - said on stderr, then every rank stops
        comm = _world["comm"]
        if comm is None or comm.Get_size() == 1:
            raise
        print(f"cnnlab.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed: {type(e).__name__}: {e}; "
              f"stopping every rank (MPI Abort)\n" + "".join(traceback.format_exception(e)),
              file=sys.stderr, flush=True)
        comm.Abort(errorcode)


# ---------------------------------------------------------------- the sampler
class DistributedSampler:
    """Each rank's share of a dataset, as ``torch.utils.data.distributed.DistributedSampler``.

    Every epoch all ranks draw the same order: ``np.random.default_rng([seed, epoch]).permutation(n)``
    (the order `cnnlab.data.DataLoader` shuffles with, so 1 rank sees what a plain loader sees), or
    0..n-1 without shuffle. The order is padded with its own first indices to a multiple of W
    (or, with drop_last, cut to one), and rank r takes positions r, r + W, r + 2W, ...

    Args:
        dataset: what is sampled (only ``len(dataset)`` is used).
        num_replicas: W, the number of ranks; None: `get_world_size`. Default: None.
        rank: this rank; None: `get_rank`. Default: None.
        shuffle: a new seeded permutation every epoch. Default: True.
        seed: int >= 0, the same on every rank. Default: 0.
        drop_last: drop the tail that does not divide evenly instead of padding. Default: False.

    Shape:
        ``len(sampler)`` = ⌈n / W⌉, or with drop_last and W not dividing n, ⌈(n − W) / W⌉.

    Example:
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        for name, v, low in (("num_replicas", num_replicas, 1), ("rank", rank, 0), ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"DistributedSampler: {name} must be an int >= {low}, got {v!r}")
        if rank >= num_replicas:
            raise ValueError(f"DistributedSampler: Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if not isinstance(shuffle, bool) or not isinstance(drop_last, bool):
            raise TypeError(f"DistributedSampler: shuffle and drop_last must be bools, got shuffle={shuffle!r}, "
                            f"drop_last={drop_last!r}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Draw the order of epoch ``epoch`` next (call it before each epoch, as in PyTorch)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be an int >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def __iter__(self):
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:   # pad with the order's first indices (repeated when W > n)
            order = np.resize(order, self.total_size)
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


# ---------------------------------------------------------------- gradient averaging
def _layout(module) -> list:
    """(name, shape, dtype) of every parameter and buffer: what must agree across ranks."""
    return [(name, tuple(t.shape), str(t.dtype)) for name, t in module.state_dict(keep_vars=True).items()]


class DistributedDataParallel(Module):
    """Average the gradients of ``module`` over the ranks, as ``torch.nn.parallel.DistributedDataParallel``.

    At construction every rank checks that all hold the same layout of parameters and
    buffers (names, shapes, dtypes) and takes rank 0's values. The parameters are put in
    buckets of about ``bucket_cap_mb`` in the reverse order of ``module.parameters()``
    (about the order in which backward finishes them). During ``loss.backward()`` a bucket
    whose gradients are all complete is flattened and its sum over the ranks started with
    MPI's non-blocking ``Iallreduce`` (with overlap=False: all of them once the last bucket is
    complete); when the last one has started they are waited for, divided by W and written
    back to ``.grad``, so backward returns with averaged gradients. Every parameter that
    requires grad must get a gradient in every backward.

    Args:
        module: the model; the same on every rank.
        bucket_cap_mb: the size of a bucket in MiB. Default: 25 (PyTorch's).
        broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) to every
            rank before each training forward. Default: True.
        overlap: start each bucket's reduction while backward goes on, rather than all at its
            end (the numbers are the same). Default: True.

    Attributes:
        module: the model (its state dict's keys get the prefix ``module.``, as in PyTorch).
        buckets: lists of parameters reduced together.
        communication_seconds: seconds spent waiting for the reductions so far (to measure).

    Example:
        >>> model = DistributedDataParallel(nn.Linear(4, 2))   # under mpiexec, after init()  # doctest: +SKIP
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True,
                 overlap: bool = True):
        super().__init__()
        comm = _comm("DistributedDataParallel")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a cnnlab.nn.Module, got {type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, numbers.Real) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a number > 0, got {bucket_cap_mb!r}")
        check_same(_layout(module), "the model's parameters and buffers (name, shape, dtype)",
                   "DistributedDataParallel")
        self.module, self.broadcast_buffers, self.overlap = module, bool(broadcast_buffers), bool(overlap)
        self.communication_seconds = 0.0
        with no_grad():
            for t in module.state_dict(keep_vars=True).values():
                broadcast(t)
        params = [p for p in module.parameters() if p.requires_grad]
        self.buckets, size, cap = [], math.inf, bucket_cap_mb * 2**20
        for p in reversed(params):
            if size + p.data.nbytes > cap or p.dtype != self.buckets[-1][0].dtype:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(p)
            size += p.data.nbytes
        self._bucket_of = {id(p): b for b, bucket in enumerate(self.buckets) for p in bucket}
        self._ready = [set() for _ in self.buckets]  # ids of the parameters whose gradient is complete
        self._complete = []                    # the buckets whose gradients are complete, in that order
        self._started = []                     # (bucket, flat sum, MPI request) of this backward
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]

    def _grad_ready(self, p) -> None:
        b = self._bucket_of[id(p)]
        self._ready[b].add(id(p))
        if len(self._ready[b]) < len(self.buckets[b]):
            return
        self._complete.append(b)
        if self.overlap:
            self._start(b)
        if len(self._complete) == len(self.buckets):
            for done in ([] if self.overlap else self._complete):
                self._start(done)
            self._finish()

    def _start(self, b: int) -> None:
        MPI = _mpi()
        flat = np.concatenate([q.grad.data.reshape(-1) for q in self.buckets[b]])
        self._started.append((b, flat, _comm("DistributedDataParallel").Iallreduce(MPI.IN_PLACE, flat, op=MPI.SUM)))

    def _finish(self) -> None:
        start = time.perf_counter()
        _mpi().Request.Waitall([request for _, _, request in self._started])
        self.communication_seconds += time.perf_counter() - start
        world = get_world_size()
        for b, flat, _ in self._started:
            flat /= world
            offset = 0
            for q in self.buckets[b]:
                q.grad.data = flat[offset:offset + q.data.size].reshape(q.shape)
                offset += q.data.size
        self._complete, self._started, self._ready = [], [], [set() for _ in self.buckets]

    def forward(self, *args, **kwargs):
        if self._complete or any(self._ready):
            missing = [name for name, p in self.module.named_parameters()
                       if id(p) in self._bucket_of and id(p) not in self._ready[self._bucket_of[id(p)]]]
            raise RuntimeError(f"DistributedDataParallel: the last backward gave no gradient to {', '.join(missing[:3])}"
                               f"{' and more' if len(missing) > 3 else ''}, so the reduction of the gradients never "
                               "finished; every parameter that requires grad must take part in the loss")
        if self.broadcast_buffers and self.training and get_world_size() > 1:
            with no_grad():
                for t in self.module.buffers():
                    broadcast(t)
        return self.module(*args, **kwargs)


# ---------------------------------------------------------------- synchronised batch norm
class _SyncBatchNormFunction(Function):
    """y = γ·(x − μ)/√(σ² + ε) + β with μ, σ² the statistics of all ranks' batches (a collective op).

    Backward: with ĝ = the sums over ALL ranks of g and g·x̂ (one more allreduce) and M the
    number of values per channel over all ranks,
        dx = γ/√(σ² + ε) · (g − Σg/M − x̂·Σ(g·x̂)/M),    dγ = Σ_local g·x̂,    dβ = Σ_local g
    (γ's and β's gradients stay local: DDP averages them as the others).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, var=None, count=1, eps=1e-5):
        N, C = x.shape[:2]
        inv_std = 1 / np.sqrt(var + eps)                                 # (C,)
        xhat = (x.reshape(N, C, math.prod(x.shape[2:])) - mean[:, None]) * inv_std[:, None]  # (N, C, L)
        y = xhat if weight is None else xhat * weight[:, None]
        if bias is not None:
            y = y + bias[:, None]
        ctx.xhat, ctx.inv_std, ctx.weight, ctx.count = xhat, inv_std, weight, count
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, inv_std, weight = ctx.xhat, ctx.inv_std, ctx.weight
        g3 = g.reshape(xhat.shape)                                       # (N, C, L)
        local = np.stack([g3.sum(axis=(0, 2)), (g3 * xhat).sum(axis=(0, 2))])   # (2, C): Σg, Σg·x̂
        total = all_reduce(local.copy())
        scale = inv_std if weight is None else weight * inv_std
        dx = scale[:, None] * (g3 - total[0][:, None] / ctx.count - xhat * (total[1][:, None] / ctx.count))
        need_x, need_w, need_b = ctx.needs_input_grad
        return (dx.reshape(g.shape) if need_x else None, local[1].copy() if need_w else None,
                local[0].copy() if need_b else None)


class SyncBatchNorm(BatchNormBase):
    """Batch normalization whose training statistics are those of the global batch (all ranks),
    as ``torch.nn.SyncBatchNorm``: per channel, μ = Σx / M and σ² = Σ(x − μ)² / M summed over
    every rank's (N, *) values (M of them, two allreduces), the running estimates updated with
    σ²·M/(M − 1). In eval mode it is a BatchNorm (the running estimates; without them, the rank's
    own batch): no communication, so that the ranks may evaluate different numbers of batches.

    Args:
        num_features, eps, momentum, affine, track_running_stats, dtype: as `cnnlab.nn.BatchNorm2d`.

    Shape:
        - Input: (N, C, *), at least 2-d.
        - Output: the same shape.

    Example:
        >>> bn = SyncBatchNorm(16)          # under mpiexec, after init()              # doctest: +SKIP
    """

    _ranks = (2, 3, 4, 5)

    def forward(self, input: Tensor) -> Tensor:
        if not self.training:  # running statistics (or, without them, this rank's batch): no communication
            return super().forward(input)
        self._check_input_dim(input)
        x = input.data
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, math.prod(x.shape[2:]))                     # (N, C, L); N may be 0 on a rank
        sums = all_reduce(np.append(x3.sum(axis=(0, 2)), x3.shape[0] * x3.shape[2]).astype(np.float64))
        count = int(sums[-1])
        if count < 2:
            raise ValueError(f"SyncBatchNorm: Expected more than 1 value per channel when training, got input "
                             f"size {tuple(input.shape)} on this rank and {count} values per channel in all")
        mean = (sums[:C] / count).astype(x.dtype)                        # (C,)
        var = (all_reduce(((x3 - mean[:, None]) ** 2).sum(axis=(0, 2))) / count).astype(x.dtype)   # (C,) biased
        if self.track_running_stats:
            factor = np.asarray(self.momentum_factor(), dtype=x.dtype)
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(factor * mean)
                self.running_var.mul_(1 - factor).add_(factor * (var * (count / (count - 1))))
                self.num_batches_tracked.add_(1)
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, mean=mean, var=var, count=count,
                                            eps=float(self.eps))


def convert_sync_batchnorm(module: Module) -> Module:
    """Every BatchNorm1d/2d/3d of ``module`` replaced by a `SyncBatchNorm` with the same parameters and
    buffers (the very tensors), as ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``; returns the
    module (a new one when ``module`` itself is a batch norm)."""
    if not isinstance(module, Module):
        raise TypeError(f"convert_sync_batchnorm: module must be a cnnlab.nn.Module, got {type(module).__name__}")
    if isinstance(module, BatchNormBase) and not isinstance(module, SyncBatchNorm):
        sync = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                             module.track_running_stats)
        for name in ("weight", "bias"):
            sync.register_parameter(name, getattr(module, name))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            sync.register_buffer(name, getattr(module, name))
        sync.train(module.training)
        return sync
    for name, child in list(module.named_children()):
        module.add_module(name, convert_sync_batchnorm(child))
    return module
