"""Channels-last memory and the small helpers that the channels-last kernels share.

A channels-last array here is an NCHW-shaped view (N, C, *n) of contiguous (N, *n, C) memory: the
kernels read a window's channels as one contiguous run and return their outputs that way, and the next
conv reads them without another copy.
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from cnnlab import tuning
from cnnlab.kernels import jit
from cnnlab.kernels.strided import tap_slices
from cnnlab.runtime import batch_parts, parallel_map

def swap_last_axes(a: np.ndarray) -> np.ndarray:
    """A C-contiguous (B, n, m) copy of a (B, m, n), each block transposed: a conv's weight (O, C, K) as
    (O, K, C) and its gradient back (`kernels.loops.reorder` where compiled loops run, else NumPy)."""
    loops = jit.load("reorder") if a.dtype.kind == "f" and a.size else None
    if loops is None:
        return np.ascontiguousarray(a.transpose(0, 2, 1))
    out = np.empty((a.shape[0], a.shape[2], a.shape[1]), dtype=a.dtype)
    loops.swap_last(a, out)
    return out

def batch_chunk(per_sample_bytes: int) -> int:
    """Samples per chunk of the batch, for buffers of `per_sample_bytes` a sample (`tuning.COLUMN_BUFFER_BYTES`)."""
    return max(1, tuning.COLUMN_BUFFER_BYTES // max(per_sample_bytes, 1))

def as_three(sizes, fill: int = 1) -> tuple:
    """Per-axis values of 1-3 spatial axes as three, `fill` on the leading axes: the compiled loops take
    every conv as 3-d, a 1-d or 2-d one with leading axes of size 1 (kernel, stride and dilation 1)."""
    return (fill,) * (3 - len(sizes)) + tuple(sizes)

def to_first(a: np.ndarray) -> np.ndarray:
    """View (N, *n, C) as (N, C, *n) (np.moveaxis(a, -1, 1), without its argument checks: these run
    a dozen times a call, and moveaxis's checks measured a third of a small conv's fixed cost)."""
    return a.transpose((0, a.ndim - 1) + tuple(range(1, a.ndim - 1)))

def to_last(a: np.ndarray) -> np.ndarray:
    """View (N, C, *n) as (N, *n, C), the inverse of `to_first`."""
    return a.transpose((0,) + tuple(range(2, a.ndim)) + (1,))

def zeros_channels_last(shape, dtype) -> np.ndarray:
    """Zeros of NCHW shape (N, C, *n) whose memory is channels-last (N, *n, C)."""
    return to_first(np.zeros((shape[0],) + tuple(shape[2:]) + (shape[1],), dtype=dtype))

def is_channels_last(x: np.ndarray) -> bool:
    """Whether x (N, C, *n) is an NCHW-shaped view of contiguous channels-last memory (N, *n, C)."""
    return x.ndim > 2 and to_last(x).flags.c_contiguous

def is_only_channels_last(x: np.ndarray) -> bool:
    """Whether x (N, C, *n) is channels-last memory and not also NCHW memory (as one channel, or one
    position, would make it): the arrays whose layout an op that keeps layouts must keep."""
    return x.ndim > 2 and x.shape[1] > 1 and not x.flags.c_contiguous and is_channels_last(x)

def channels_last(x: np.ndarray, pads=None) -> np.ndarray:
    """x (N, C, *n), zero-padded by (before, after) pairs, as an NCHW-shaped view of channels-last memory."""
    N, C, *n = x.shape
    pads = pads or [(0, 0)] * len(n)
    padded = any(a or b for a, b in pads)
    if not padded and is_channels_last(x):
        return x
    shape = (N,) + tuple(m + a + b for m, (a, b) in zip(n, pads)) + (C,)
    x_pad = np.empty(shape, dtype=x.dtype)
    for i, (m, (a, b)) in enumerate(zip(n, pads)):   # zero the borders only: the inside is copied over
        at = (slice(None),) * (1 + i)
        x_pad[at + (slice(0, a),)] = 0
        x_pad[at + (slice(a + m, None),)] = 0
    copy_channels_last(x_pad[(slice(None),) + tuple(slice(a, a + m) for m, (a, _) in zip(n, pads))], x)
    return to_first(x_pad)

def copy_channels_last(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (N, *n, C) = src (N, C, *n) moved to channels-last, on parts of the batch in parallel threads.

    A transposing copy reads src with a stride of one channel plane; when that stride is a multiple of
    4 KB, every read of a position's C values falls into the same L1 cache set, and the copy ran 2-3×
    slower (measured 12.7 ms for 64×64×32×32 float32). Such planes are first copied, a few samples at
    a time, into a buffer whose planes are one cache line longer (5.4 ms in all)."""
    N, C = src.shape[:2]
    L = math.prod(src.shape[2:])
    aliased = src.strides[1] % tuning.ALIAS_BYTES == 0 and src.flags.c_contiguous
    pad = tuning.CACHE_LINE_BYTES // src.itemsize

    def part(p):
        if not aliased:
            np.copyto(dst[p], to_last(src[p]))
            return
        B = max(1, tuning.STAGE_BYTES // (C * L * src.itemsize))
        stage = np.empty((min(B, p.stop - p.start), C, L + pad), dtype=src.dtype)
        for b in range(p.start, p.stop, B):
            e = min(b + B, p.stop)
            st = stage[:e - b, :, :L]
            np.copyto(st, src[b:e].reshape(e - b, C, L))
            np.copyto(dst[b:e], to_last(st.reshape(st.shape[:2] + src.shape[2:])))

    parallel_map(part, batch_parts(N, C * L))

def grad_rows(g):
    """g (N, O, *out) -> (N·L, O): the output gradient with channels inner (a view when it is channels-last)."""
    return to_last(g).reshape(-1, g.shape[1])

def column_sums(a: np.ndarray) -> np.ndarray:
    """a (R, O) summed over its rows. (NumPy sums over axis 0 a row at a time, O values per inner loop:
    0.13 ms for 6400 × 16; as rows of 64·O values, then 64 partial sums, it is 8× faster.)"""
    R, O = a.shape
    B = tuning.SUM_BLOCK_ROWS
    head = R - R % B
    total = a[:head].reshape(-1, B * O).sum(axis=0).reshape(B, O).sum(axis=0)
    return total + a[head:].sum(axis=0) if head < R else total

def add_to_rows(a: np.ndarray, v: np.ndarray) -> None:
    """a (R, O) += v (O,) in place, 64 rows per inner loop (as in `column_sums`: 2.5× faster for O = 16)."""
    R, O = a.shape
    B = tuning.SUM_BLOCK_ROWS
    head = R - R % B if a.flags.c_contiguous else 0        # (a reshape of other memory would be a copy)
    a[:head].reshape(-1, B * O)[...] += np.tile(v, B)
    a[head:] += v

@functools.lru_cache(maxsize=256)
def all_tap_slices(kernel, stride, dilation, out) -> tuple:
    """`tap_slices` of every kernel tap, in row-major tap order (cached: a training loop asks again and again)."""
    return tuple(tap_slices(t, stride, dilation, out) for t in itertools.product(*(range(k) for k in kernel)))

