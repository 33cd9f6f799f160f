"""The tuned constants of the kernels, in one place, each with the measurement behind it.

Measured on a 2-core x86 machine (float32, OpenBLAS); a constant that follows from the machine is
derived from it where the OS says (cache sizes from /sys on Linux), else the measured value stands.
"""
from __future__ import annotations


def _cache_bytes(level: int, default: int) -> int:
    """Size of the CPU's data/unified cache of this level (Linux /sys), or `default` where unknown."""
    try:
        import glob
        for d in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
            with open(f"{d}/level") as f:
                if int(f.read()) != level:
                    continue
            with open(f"{d}/type") as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(f"{d}/size") as f:
                text = f.read().strip()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            return int(text.rstrip("KMG")) * scale
    except (OSError, ValueError):
        pass
    return default


#: Size of one column buffer (im2col/im2row rows): the batch is processed in chunks of about this size, so
#: the rows are still in cache when the GEMM reads them. Measured on 2 cores (64→64 channels, 32×32,
#: conv + both gradients, before lanes): 124-135 ms with 2-8 MB chunks, 160-200 ms with 32-256 MB.
#: A chunk holds at least one sample, so one sample's rows are the bound.
COLUMN_BUFFER_BYTES = 4 * 2**20

#: Staging chunk of the channels-last copy, small enough to stay in the L2 cache: a quarter of it
#: (512 KB measured with a 2 MB L2: 12.7 ms -> 5.4 ms for 64×64×32×32 float32 with 4 KB-aliased planes).
STAGE_BYTES = max(2**16, _cache_bytes(2, 2 * 2**20) // 4)

def _cache_line_bytes(default: int = 64) -> int:
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index0/coherency_line_size") as f:
            return int(f.read())
    except (OSError, ValueError):
        return default


#: The staging buffer's planes are one cache line longer than the source's (see STAGE_BYTES).
CACHE_LINE_BYTES = _cache_line_bytes()

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

#: Row bands pay for dense 2-d/3-d convs with stride 1 along the last axis and at least this many input
#: channels (with LeNet's C3, 6 channels, bands' rows gather a few values at a time: 1.7× slower).
#: The bands' forward GEMMs are smaller (one per output column): with 64 or more output channels im2row's
#: forward measured 2-5% faster, with 32 (the 3-d and dilated benchmark cases) bands 11-14% faster; the
#: bands' gradients were faster in both, so one kernel, bands, runs both directions.
BANDS_MIN_CHANNELS = 16

#: Rows summed (or added to) per inner loop in the column sums of a bias gradient: NumPy sums over axis 0
#: a row at a time (0.13 ms for 6400 × 16); as rows of 64·O values, then 64 partial sums, 8× faster
#: (2.5× for adding a bias, O = 16).
SUM_BLOCK_ROWS = 64
