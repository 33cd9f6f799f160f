"""The array namespace, the default dtype, the seeded random generator and the worker threads.

cnnlab computes on NumPy arrays. An op finds its array module from the arrays
it is given (`array_module(x)`), never from a global switch, so that a CuPy
array would later flow through the same code. This module is the only place
that knows which modules exist.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: The array namespace of the core. Ops should prefer ``array_module(x)``.
xp = np

_default_dtype = np.dtype(np.float32)
_generator = np.random.default_rng()


def array_module(*arrays):
    """Return the array module (NumPy, or CuPy when its arrays are given)."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy  # pragma: no cover - no GPU in CI

            return cupy
    return np


def get_default_dtype() -> np.dtype:
    """The floating dtype of new tensors made from Python floats (float32)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype: ``float32`` or ``float64``, as ``torch.set_default_dtype``."""
    global _default_dtype
    d = np.dtype(dtype)
    if d not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {d}")
    _default_dtype = d


def manual_seed(seed: int):
    """Seed cnnlab's random generator (init, dropout, shuffling), as ``torch.manual_seed``."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator that every random op in cnnlab draws from."""
    return _generator


# ---------------------------------------------------------------- worker threads
# NumPy's elementwise loops and reductions release the GIL, so memory-bound work split over the batch
# runs on several cores at once: the way PyTorch's CPU kernels split their loops over OpenMP threads.
# (BLAS calls are threaded by the BLAS library itself and are not split here.)
_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_executor: ThreadPoolExecutor | None = None

#: A part of the batch handed to one thread holds at least this many elements (smaller work runs inline:
#: starting a task costs tens of microseconds).
MIN_PART_ELEMENTS = 2**18


def get_num_threads() -> int:
    """Threads that cnnlab's batch-parallel ops use (default: the CPUs this process may run on),
    as ``torch.get_num_threads``."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Set the threads of cnnlab's batch-parallel ops, as ``torch.set_num_threads`` (1 turns them off)."""
    global _num_threads, _executor
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _num_threads = int(n)
    if _executor is not None:
        _executor.shutdown(wait=True)
        _executor = None


def batch_parts(n: int, item_elements: int) -> list:
    """Slices that split range(n) (the batch) into at most get_num_threads() near-equal parts of at
    least MIN_PART_ELEMENTS elements each, for `parallel_map`; one slice when the work is small."""
    k = max(1, min(_num_threads, n, (n * item_elements) // MIN_PART_ELEMENTS))
    bounds = [n * i // k for i in range(k + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def parallel_map(fn, items) -> list:
    """[fn(item) for item in items], the items on worker threads when there are several.

    fn must only write to memory no other item touches (its own slice of an output)."""
    items = list(items)
    if len(items) <= 1 or _num_threads == 1:
        return [fn(item) for item in items]
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="cnnlab")
    return list(_executor.map(fn, items))
