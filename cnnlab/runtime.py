"""How work is run, never what is computed: worker threads, BLAS lanes, scratch buffers, the malloc setting.

Nothing here acts at import: importing cnnlab starts no thread, leaves BLAS's
thread count and glibc's malloc settings as they were, and registers no hook.

- Worker threads (`set_num_threads`, `batch_parts`, `parallel_map`): batch-parallel
  ops split their batch over a thread pool, started by the first call that has
  work for it. The split changes at most the rounding of sums over the batch.
- BLAS lanes (`in_lanes`): a conv runs one lane per thread, each with a
  single-threaded BLAS. BLAS's thread count is process-wide, so it is changed only
  inside a lane section (`single_threaded_blas`, a context manager): the first
  section that starts sets it to 1, the last that ends restores the counts it
  found, also when a lane raises. Meanwhile other threads' BLAS calls run
  single-threaded too. Without threadpoolctl (the `fast` extra) BLAS is never
  touched and everything runs in one lane.
- Matrix products (`blas_for`, `matmul`): below `tuning.BLAS_THREADS_MIN_FLOPS` they run on a
  single-threaded BLAS too, where threads cannot pay for waking up; larger 2-d ones are split into
  lanes (`matmul`), so that BLAS's own threads, which busy-wait after each call, never run.
- Scratch buffers (`scratch`): per-thread arrays reused across chunks and calls.
- Freed memory (`keep_freed_memory`): opt-in. A program that owns its process
  may turn it on; `cnnlab train` does, for its own process.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cnnlab import tuning

# ---------------------------------------------------------------- freed memory
# An op's temporaries and results are fresh arrays of megabytes. glibc's malloc hands blocks above a
# (dynamic) threshold back to the kernel when they are freed and trims the top of its heap, so the next
# step's arrays are new pages again, each page a fault on first write: measured ~5 µs a page on these
# machines, and LeNet-5 training steps repeated on one batch went from 17-19 ms to 9-10 ms once freed
# memory was kept for reuse. (PyTorch keeps freed blocks in its own caching allocators; NumPy's is malloc.)
_GLIBC_M_TRIM_THRESHOLD, _GLIBC_M_MMAP_THRESHOLD = -1, -3
_keeping_freed_memory = False


def keep_freed_memory(enabled: bool = True) -> bool:
    """Let glibc's malloc keep freed memory for reuse (blocks up to 32 MB come from the heap, and up to
    256 MB of free heap is kept), or with False set its documented defaults (128 KB each). The setting
    is process-wide, so cnnlab never makes it by itself. Returns whether it took effect: False where
    the C library is not glibc (macOS, musl), where nothing is changed."""
    global _keeping_freed_memory
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:   # the process's own symbols, which include the C library's (find_library would run ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mmap_limit, trim_limit = (32 * 2**20, 256 * 2**20) if enabled else (128 * 2**10, 128 * 2**10)
    done = bool(mallopt(_GLIBC_M_MMAP_THRESHOLD, mmap_limit)) and bool(mallopt(_GLIBC_M_TRIM_THRESHOLD, trim_limit))
    _keeping_freed_memory = done and bool(enabled)
    return done


def keeps_freed_memory() -> bool:
    """Whether `keep_freed_memory(True)` is in effect in this process (False until it is called)."""
    return _keeping_freed_memory


# ---------------------------------------------------------------- worker threads
# NumPy's elementwise loops and reductions release the GIL, so memory-bound work split over the batch
# runs on several cores at once: the way PyTorch's CPU kernels split their loops over OpenMP threads.
# (Work that calls BLAS runs in lanes, below, so that BLAS's own threads do not compete.)
_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_executor: ThreadPoolExecutor | None = None


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


def _forget_threads_after_fork():
    """A forked child has none of the parent's threads: start a fresh pool (and lock) when needed."""
    global _executor, _blas_lock, _blas_users
    _executor, _blas_lock, _blas_users = None, threading.Lock(), 0


@functools.cache
def _watch_forks() -> None:
    """Register `_forget_threads_after_fork` once, when threads or lanes are first used (not at import)."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_threads_after_fork)


def batch_parts(n: int, item_elements: int) -> list:
    """Slices that split range(n) (the batch) into at most get_num_threads() near-equal parts of at
    least `tuning.MIN_PART_ELEMENTS` elements each, for `parallel_map`; one slice when the work is small."""
    k = max(1, min(_num_threads, n, (n * item_elements) // tuning.MIN_PART_ELEMENTS))
    bounds = [n * i // k for i in range(k + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


_in_worker = threading.local()


def _run_in_worker(fn, item):
    _in_worker.active = True
    try:
        return fn(item)
    finally:
        _in_worker.active = False


def parallel_map(fn, items) -> list:
    """[fn(item) for item in items], the items on worker threads when there are several.

    fn must only write to memory no other item touches (its own slice of an output). Called from
    inside a worker (an op run by another op's part), it runs the items inline: waiting for the
    pool from inside the pool could deadlock. When an item raises, every item has finished before
    the (first) exception propagates."""
    items = list(items)
    if len(items) <= 1 or _num_threads == 1 or getattr(_in_worker, "active", False):
        return [fn(item) for item in items]
    global _executor
    if _executor is None:   # the calling thread works too: it takes the first item
        _watch_forks()
        _executor = ThreadPoolExecutor(max_workers=_num_threads - 1, thread_name_prefix="cnnlab")
    futures = [_executor.submit(_run_in_worker, fn, item) for item in items[1:]]
    try:
        first = _run_in_worker(fn, items[0])
    finally:
        for f in futures:    # wait for all, even when the first one raised (exception() waits, never raises)
            f.exception()
    return [first] + [f.result() for f in futures]


# ---------------------------------------------------------------- lanes: batch parts with single-threaded BLAS
# A conv is a loop of GEMMs on batch chunks plus memory-bound copies. Splitting the batch into one lane
# per thread, each lane's GEMMs on a single-threaded BLAS, keeps every core busy through the copies too
# (OpenBLAS threads only its GEMMs) and avoids its thread wake-ups for small GEMMs: measured 1.1-1.9×
# faster for conv + gradients on 2 cores. Setting BLAS's thread count needs threadpoolctl (the `fast`
# extra); without it lanes are not used.
#
# BLAS's own threads: after each call that OpenBLAS runs on several threads, its idle threads busy-wait
# for the next one for 2^28 cycles (OPENBLAS_THREAD_TIMEOUT, about 0.1 s), taking cores from the lanes
# and numba's threads meanwhile. A training step has a threaded call every few milliseconds, so they
# never stop: a ResNet-18 step (2 cores, AMD EPYC) measured 464-536 ms with the work of a single lane on
# BLAS's threads, 316-389 ms with every conv's BLAS single-threaded, 319-365 ms with BLAS's threads and
# OPENBLAS_THREAD_TIMEOUT=4, where they barely wait, and 291-317 ms as written here. So a conv's BLAS
# runs single-threaded even where its work makes one lane, and work that gains from two threads is
# split into lanes instead (im2row's whole-batch weight GEMM, `matmul`).
_blas_libs = None
_blas_modules = -1         # len(sys.modules) when _blas_libs was found


def _blas_controllers() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded now, or []: found on first use, and again
    after modules were imported (an extension may bring a BLAS of its own, as SciPy does); len(sys.modules)
    tells that cheaply, where finding the libraries takes about 0.3 ms."""
    global _blas_libs, _blas_modules
    if _blas_libs is None or len(sys.modules) != _blas_modules:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_libs = []
        else:
            _blas_libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        _blas_modules = len(sys.modules)
    return _blas_libs


_blas_lock = threading.Lock()
_blas_users = 0            # lane sections running now (from any threads)
_blas_before: list = []    # (library, its thread count) found by the first of them, restored by the last


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread inside the block; on leaving it (normally or by an exception) the counts that
    were set before come back, once no other thread is inside such a block."""
    global _blas_users, _blas_before
    libs = _blas_controllers()
    _watch_forks()
    with _blas_lock:
        if _blas_users == 0:
            _blas_before = [(lib, lib.get_num_threads()) for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, n in _blas_before:
                    lib.set_num_threads(n)


def blas_for(flops: int):
    """The context to run a BLAS call of `flops` floating-point operations in: single-threaded BLAS
    (`single_threaded_blas`) below `tuning.BLAS_THREADS_MIN_FLOPS` when cnnlab runs several threads and
    can set BLAS's, else BLAS as it is."""
    if flops < tuning.BLAS_THREADS_MIN_FLOPS and _num_threads > 1 and _blas_controllers():
        return single_threaded_blas()
    return contextlib.nullcontext()


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b of 2-d arrays (M, K) and (K, N). Below `tuning.BLAS_THREADS_MIN_FLOPS` on a single-threaded
    BLAS (`blas_for`); above, where lanes run, one block of the result's rows per lane (of its columns
    when it has fewer rows than columns), each on a single-threaded BLAS: BLAS's own threads would
    busy-wait after it (see "BLAS's own threads" above). Every element is one dot product over K, so the
    split changes no sum."""
    M, N = a.shape[0], b.shape[1]
    flops = 2 * M * a.shape[1] * N
    if flops < tuning.BLAS_THREADS_MIN_FLOPS or not lanes_available() or max(M, N) < 2:
        with blas_for(flops):
            return np.matmul(a, b)
    out = np.empty((M, N), dtype=np.result_type(a, b))
    by_rows = M >= N

    def lane(chunks):
        for p in chunks:
            if by_rows:
                np.matmul(a[p], b, out=out[p])
            else:
                np.matmul(a, b[:, p], out=out[:, p])

    n = M if by_rows else N
    in_lanes(lane, n, tuning.MIN_PART_ELEMENTS, n, ordered=True)   # (a part per lane: the flops pay for it)
    return out


def lanes_available() -> bool:
    """Whether `in_lanes` can split work (several threads, and BLAS's thread count can be set)."""
    return _num_threads > 1 and bool(_blas_controllers()) and not getattr(_in_worker, "active", False)


class _Chunks:
    """Consecutive slices of `chunk` items of range(n), handed out one at a time to whichever lane asks
    next (iterating is thread-safe: itertools.count's next() is atomic), so that a lane on a busier
    core takes fewer of them."""

    def __init__(self, n: int, chunk: int):
        self.n, self.chunk, self._next = n, max(1, chunk), itertools.count()

    def __iter__(self):
        return self

    def __next__(self) -> slice:
        start = next(self._next) * self.chunk
        if start >= self.n:
            raise StopIteration
        return slice(start, min(start + self.chunk, self.n))


def _chunks(part: slice, chunk: int) -> list:
    """The consecutive slices of at most `chunk` items that make up `part`, in order."""
    step = max(1, chunk)
    return [slice(a, min(a + step, part.stop)) for a in range(part.start, part.stop, step)]


def in_lanes(fn, n: int, item_elements: int, chunk: int, ordered: bool = False) -> list:
    """Run fn(chunks) in one lane per part of batch_parts(n, item_elements), on worker threads with BLAS
    single-threaded meanwhile (`single_threaded_blas`), and return each lane's result, in the parts'
    order; `chunks` iterates over slices of at most `chunk` items of range(n). One lane when there is
    one part, BLAS single-threaded there too; BLAS untouched where lanes are not available. fn may call
    BLAS; like `parallel_map`'s, it must write only to the memory of its own chunks.

    By default the lanes share one iterator, each taking the next chunk when it is done with its last
    (a lane on a busier core takes fewer; chunks are cut smaller when there would be fewer than lanes).
    With `ordered`, for a lane that sums over its chunks (a weight gradient), each lane takes the
    consecutive chunks of its own part, which depend on n, item_elements, chunk and the thread count
    only: the sums add up in the same order, and round the same way, in every run (shared chunks made
    the same seed train to different numbers where a lane had several chunks)."""
    parts = batch_parts(n, item_elements) if lanes_available() else [slice(0, n)]
    if len(parts) <= 1 and not lanes_available():
        return [fn(_chunks(slice(0, n), chunk))]
    with single_threaded_blas():       # also for one lane: see "BLAS's own threads" above
        if len(parts) <= 1:
            return [fn(_chunks(slice(0, n), chunk))]
        if ordered:
            return parallel_map(lambda part: fn(_chunks(part, chunk)), parts)
        chunks = _Chunks(n, min(chunk, -(-n // len(parts))))          # at least one chunk a lane
        return parallel_map(lambda _: fn(chunks), range(len(parts)))


# ---------------------------------------------------------------- scratch buffers
_workspace = threading.local()


def scratch(slot: str, shape, dtype) -> np.ndarray:
    """An uninitialised array for per-chunk work (columns, tap results), reused across chunks and calls.

    Fresh multi-megabyte arrays are new pages to the kernel, and the page faults of writing them
    measured as much as the arithmetic (a 3-d conv's input gradient: 25 ms, 12 ms with reused buffers).
    One buffer per slot and thread, grown as needed; a slot's array is dead once its chunk is done."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes > tuning.SCRATCH_KEEP_BYTES:     # kept up to this size, else for this call only
        return np.empty(shape, dtype=dtype)
    buffers = _workspace.__dict__
    if slot not in buffers or buffers[slot].nbytes < nbytes:
        buffers[slot] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buffers[slot][:nbytes].view(dtype).reshape(shape)
