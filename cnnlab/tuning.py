"""The tuned constants of the runtime and the kernels, in one place, each with the measurement behind it.

A constant that follows from the machine is derived from it where the OS says (cache sizes from /sys on
Linux); the others were measured on a 2-core x86 machine (AVX-512, float32, OpenBLAS) and stand as
measured. Code reads them as ``tuning.NAME`` at call time, so `override` (a
context manager, for tests and experiments) changes them for a block:

    >>> with cnnlab.tuning.override(COLUMN_BUFFER_BYTES=1):    # one sample per chunk
    ...     y = cnnlab.nn.functional.conv2d(x, w)

This module imports nothing of cnnlab (it sits with `runtime`, below the kernels).
"""
from __future__ import annotations

import contextlib
import glob


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def cache_bytes(level: int, default: int) -> int:
    """Size of the CPU's data/unified cache of this level (Linux /sys), or `default` where unknown."""
    try:
        for d in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
            if int(_read(f"{d}/level")) == level and _read(f"{d}/type") != "Instruction":
                text = _read(f"{d}/size")
                return int(text.rstrip("KMG")) * {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    except (OSError, ValueError):
        pass
    return default


def cache_line_bytes(default: int = 64) -> int:
    try:
        return int(_read("/sys/devices/system/cpu/cpu0/cache/index0/coherency_line_size"))
    except (OSError, ValueError):
        return default


_L2_BYTES = cache_bytes(2, 2 * 2**20)

# ---------------------------------------------------------------- runtime
#: A part of the batch handed to one worker thread holds at least this many elements (smaller work runs
#: inline): handing a task to the pool and waiting for it costs tens of microseconds.
MIN_PART_ELEMENTS = 2**18

#: Scratch buffers up to this size are kept between calls; a larger one (a single sample's columns past
#: it) is allocated for its call only, so that one huge conv does not hold its memory forever. A policy
#: on memory, not a speed constant: the buffers that pay (page faults of fresh ones measured ~5 µs a
#: page) are those of chunks, at most COLUMN_BUFFER_BYTES each.
SCRATCH_KEEP_BYTES = 64 * 2**20

#: Matrix products (matmul, linear) of fewer floating-point operations than this run with a single-threaded
#: BLAS. 2^25 flops take about a third of a millisecond on one core (98 GFLOP/s measured on an AVX-512
#: core), so threading one could save at most half of that, while waking BLAS's threads costs tens of
#: microseconds on an idle machine; on a busy one its waiting threads spin on the cores that other work
#: needs: LeNet-5's first linear layer (64×400 by 400×120), measured on 2 shared cores, took 57 µs of CPU
#: single-threaded and 767 µs threaded. Larger products (AlexNet's classifier) keep BLAS's threads.
BLAS_THREADS_MIN_FLOPS = 2**25

#: GNU OpenMP's spin count for numba's threads (`kernels.jit`): how long an idle thread busy-waits for
#: the next parallel loop before it sleeps. OpenMP's default, 300,000, keeps a core busy for about a
#: millisecond after every compiled loop, which the lanes' threads and BLAS's then lack: a ResNet-18
#: training step measured 576 ms with it, 391 ms with 10,000 and 371 ms with 1,000 (2 cores), while
#: the loops' start after an idle 100 µs measured 5 µs with 30,000 spins and 49 µs with 3,000. One
#: LeNet-5 epoch: 9.65 s with 100,000, 7.74 s with 10,000, 8.47 s with 1,000.
OMP_SPIN_COUNT = 10_000

# ---------------------------------------------------------------- kernels
#: Size of one column buffer (im2col/im2row rows): the batch is processed in chunks of about this size, so
#: the rows are still in cache when the GEMM reads them. Measured on 2 cores with a 2 MB L2 a core
#: (64→64 channels, 32×32, conv + both gradients): 124-135 ms with 2-8 MB chunks, 160-200 ms with
#: 32-256 MB. Twice the L2 cache of a core (4 MB there), within 1-16 MB. A chunk holds at least one
#: sample, so one sample's rows are the bound.
COLUMN_BUFFER_BYTES = min(16 * 2**20, max(2**20, 2 * _L2_BYTES))

#: Staging chunk of the channels-last copy, small enough to stay in the L2 cache: a quarter of it
#: (512 KB measured with a 2 MB L2: 12.7 ms -> 5.4 ms for 64×64×32×32 float32 with 4 KB-aliased planes).
STAGE_BYTES = max(2**16, _L2_BYTES // 4)

#: The staging buffer's planes are one cache line longer than the source's (see STAGE_BYTES).
CACHE_LINE_BYTES = cache_line_bytes()

#: A channel plane whose stride is a multiple of this (the L1 cache's set stride) makes a transposing
#: copy hit one cache set (2-3× slower, see STAGE_BYTES).
ALIAS_BYTES = 4096

#: im2row (channels-last) pays for dense convs with at least this many input channels, ...
IM2ROW_MIN_CHANNELS = 8
#: ... or at least this many with channels × taps >= IM2ROW_MIN_ROW: LeNet's C1 (1 channel) ~4× slower
#: channels-last, AlexNet's conv1 (3 channels, 11×11) ~2× slower; a 64-channel conv ~25% faster; 6 channels
#: 1.5× faster with 5×5 taps (LeNet's C3, rows of 150) but 1.5× slower with 3×3 taps (rows of 54 values are
#: too short for the GEMM to pay for the copy).
IM2ROW_FEW_CHANNELS = 4
IM2ROW_MIN_ROW = 128

#: im2row computes the weight gradient in one GEMM over the whole batch (its output channels split over
#: the lanes), instead of one per lane and chunk, when the batch has at most this many output positions
#: in all (N·L): each lane's GEMM would then sum over a few rows only, while writing a whole gradient of
#: its own. ResNet-18's 512 channels at 2×2, batch 16 (64 rows), conv + both gradients on 2 cores:
#: 20-24 ms in lanes, 11-12 ms in one GEMM (then on BLAS's threads); at 4×4 (256 rows, 256 channels)
#: lanes were faster, 7.5 against 9 ms.
IM2ROW_WHOLE_WEIGHT_ROWS = 128

#: Row bands pay for dense 2-d/3-d convs with stride 1 along the last axis and at least this many input
#: channels (with LeNet's C3, 6 channels, bands' rows gather a few values at a time: 1.7× slower).
#: The bands' forward GEMMs are smaller (one per output column): with 64 or more output channels im2row's
#: forward measured 2-5% faster, with 32 (the 3-d and dilated benchmark cases) bands 11-14% faster; the
#: bands' gradients were faster in both, so one kernel, bands, runs both directions.
BANDS_MIN_CHANNELS = 16

#: ... and at least this many output positions along the last axis: a band's GEMMs are one per output
#: column, and ResNet-18's last stages measured, conv + both gradients on one thread, 128 channels at 8×8
#: 9.9 ms with bands and 10.8 ms with im2row, 256 at 4×4 15.1 against 9.9 ms, 512 at 2×2 51 against 20 ms.
BANDS_MIN_WIDTH = 8

#: Rows summed (or added to) per inner loop in the column sums of a bias gradient: NumPy sums over axis 0
#: a row at a time (0.13 ms for 6400 × 16); as rows of 64·O values, then 64 partial sums, 8× faster
#: (2.5× for adding a bias, O = 16).
SUM_BLOCK_ROWS = 64


_TUNABLE = tuple(name for name in dir() if name.isupper() and not name.startswith("_"))


@contextlib.contextmanager
def override(**values: int):
    """Set some of the constants above for the block (names as written here, positive ints), and put
    the old values back on leaving it, also on an exception. Process-wide: for tests and experiments,
    not for code that runs beside other threads' work."""
    for name, value in values.items():
        if name not in _TUNABLE:
            raise ValueError(f"tuning.override: {name!r} is not a tuned constant; they are: {', '.join(_TUNABLE)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"tuning.override: {name} must be a positive int, got {value!r}")
    namespace = globals()
    before = {name: namespace[name] for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        namespace.update(before)
