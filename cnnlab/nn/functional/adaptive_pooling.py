"""Adaptive average and max pooling in 1, 2 and 3 dimensions, and global pooling, as
``torch.nn.functional``.

Adaptive pooling fixes the output size o instead of the window: along an axis of size n,
output i pools the bin [⌊i·n/o⌋, ⌈(i+1)·n/o⌉) (`shapes.adaptive_bins`). Bins may differ in length
by one and may overlap; when o > n some inputs repeat.

    adaptive_avg_pool   y[i] = mean of x over the bin i (a box: the product of the per-axis bins)
    adaptive_max_pool   y[i] = max of x over the box i; ties: the first maximum in row-major order
                        (a NaN is the maximum, and the last NaN its argmax, as PyTorch's kernel)

How they are computed, without a loop over positions or bins:

- The mean over a box is separable, so adaptive_avg_pool averages one axis at a time. When o
  divides n the bins are a plain reshape (…, o, n/o, …) and a mean. Otherwise the axis is gathered
  with a padded index array (o, L), L the longest bin, whose padding entries point at one zero
  appended to the axis: a sum over L and a division by the bin lengths give the means. The pad
  points at a zero instead of being multiplied by a 0/1 mask (or a dense averaging matrix) so that
  an inf in one bin does not become inf·0 = NaN in the others. It is composed from cat, getitem,
  sum and div, so its gradient needs no code of its own.
- adaptive_max_pool gathers every box at once into (N, C, *o, ΠL) with one padded index array per
  axis (here the padding repeats the bin's last element, which can never be the first maximum),
  takes the argmax, and picks the values with `TakeFlat`, whose gradient scatters g back to the
  argmax. When o divides n the boxes are a reshape of the input, with no gather.

Global pooling reduces all spatial dims: global_avg_pool is a mean, global_max_pool is
adaptive_max_pool to size 1 (the gradient goes to the first maximum, as ``AdaptiveMaxPool2d(1)``).
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import shapes
from cnnlab.autograd import Tensor, is_grad_enabled
from cnnlab.nn.functional.pooling import TakeFlat, _batched, _check_input, _flag
from cnnlab.nn.functional.reduction import mean, sum as _sum
from cnnlab.nn.functional.shape import cat, getitem, reshape

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool3d", "global_avg_pool", "global_max_pool"]


def _output_size(op, D, spatial, output_size):
    """output_size as a D-tuple of positive ints: an int, or D entries (None keeps the input size,
    except in 1-d, as PyTorch)."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * D
    if output_size is None or (D == 1 and None in items):
        raise TypeError(f"{op}: output_size must be an int or a tuple of {D} int{'s' * (D > 1)}"
                        f"{' (or None to keep that input size)' if D > 1 else ''}, got {output_size!r}")
    if len(items) == D:
        items = tuple(n if o is None else o for n, o in zip(spatial, items))
    size = shapes.ntuple(items, D, op=op, arg="output_size")
    for n, o in zip(spatial, size):
        shapes.adaptive_bins(n, o, op=op)  # checks o >= 1 (PyTorch would return an empty tensor for 0)
    return size


def _bins(n, o, op):
    """Bin starts and lengths along one axis, as int64 arrays of length o."""
    start, end = np.array(shapes.adaptive_bins(n, o, op=op), dtype=np.int64).T
    return start, end - start


# ---------------------------------------------------------------- adaptive average pooling
def _adaptive_avg_axis(x, axis, o, op):
    """Mean over the adaptive bins along one axis of the Tensor x: n -> o."""
    n = x.shape[axis]
    if n % o == 0:                                                        # equal bins: a reshape
        return mean(reshape(x, x.shape[:axis] + (o, n // o) + x.shape[axis + 1:]), dim=axis + 1)
    start, length = _bins(n, o, op)
    L = int(length.max())
    index = start[:, None] + np.arange(L)                                # (o, L)
    index = np.where(np.arange(L) < length[:, None], index, n)           # past the bin: the zero at n
    zero = Tensor(np.zeros(x.shape[:axis] + (1,) + x.shape[axis + 1:], dtype=x.dtype))
    picked = getitem(cat([x, zero], dim=axis), (slice(None),) * axis + (index,))   # (.., o, L, ..)
    count = length.astype(x.dtype).reshape((o,) + (1,) * (x.ndim - axis - 1))
    return _sum(picked, dim=axis + 1) / count


def _adaptive_avg_nd(op, D, input, output_size):
    _check_input(op, D, input)
    size = _output_size(op, D, input.shape[-D:], output_size)
    y = input
    for a in range(D):
        y = _adaptive_avg_axis(y, input.ndim - D + a, size[a], op)
    return y


def adaptive_avg_pool1d(input, output_size):
    """1-d adaptive average pooling to a fixed size, as ``torch.nn.functional.adaptive_avg_pool1d``.

    y[i] = mean(x[⌊i·n/o⌋ : ⌈(i+1)·n/o⌉]).

    Args:
        input: (N, C, n) or unbatched (C, n), floating point.
        output_size: o, an int (or a 1-tuple).

    Shape:
        output (N, C, o).

    Example:
        >>> adaptive_avg_pool1d(cnnlab.tensor([[[0., 1, 2, 3, 4]]]), 3)
        tensor([[[0.5, 2. , 3.5]]])
    """
    return _adaptive_avg_nd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """2-d adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int, or (oH, oW) where None keeps that input size.

    Shape:
        output (N, C, oH, oW); bins per axis [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    """
    return _adaptive_avg_nd("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """3-d adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool3d``.

    Args:
        input: (N, C, D, H, W) or (C, D, H, W).
        output_size: an int, or (oD, oH, oW) where None keeps that input size.

    Shape:
        output (N, C, oD, oH, oW); bins per axis [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    """
    return _adaptive_avg_nd("adaptive_avg_pool3d", 3, input, output_size)


# ---------------------------------------------------------------- adaptive max pooling
def _argmax_last(box):
    """argmax over the last axis: the first maximum, but the last NaN if there is one (PyTorch)."""
    am = box.argmax(axis=-1)
    nan = np.isnan(box)
    if nan.any():
        last_nan = box.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
        am = np.where(nan.any(axis=-1), last_nan, am)
    return am


def _adaptive_max(x, size, op):
    """Values and flat plane indices (int64) of the adaptive max pool of x (N, C, *n) to `size`."""
    N, C, *n = x.shape
    D = len(n)
    plane_strides = [math.prod(n[a + 1:]) for a in range(D)]
    cells = []                                                             # per axis: (o, L) input positions
    for m, o in zip(n, size):
        start, length = _bins(m, o, op)
        cells.append(np.minimum(start[:, None] + np.arange(int(length.max())), (start + length - 1)[:, None]))
    if all(m % o == 0 for m, o in zip(n, size)):
        box = x.reshape((N, C) + tuple(v for c in cells for v in c.shape))  # (N, C, o₁, L₁, …): a view
    else:
        grids = [c.reshape((1,) * (2 * a) + c.shape + (1,) * (2 * (D - a - 1))) for a, c in enumerate(cells)]
        box = x[(slice(None), slice(None)) + tuple(grids)]                # (N, C, o₁, L₁, …, o_D, L_D)
    order = (0, 1) + tuple(range(2, 2 + 2 * D, 2)) + tuple(range(3, 3 + 2 * D, 2))
    box = box.transpose(order).reshape((N, C) + tuple(size) + (-1,))      # (N, C, *o, ΠL)
    am = _argmax_last(box)                                                # (N, C, *o)
    # flat plane index of every box cell: Σ_a cell_a·plane_stride_a, laid out as (Πo, ΠL)
    flat = np.zeros((), dtype=np.int64)
    for a, c in enumerate(cells):
        flat = flat + (c * plane_strides[a]).reshape((1,) * (2 * a) + c.shape + (1,) * (2 * (D - a - 1)))
    flat = flat.transpose(tuple(range(0, 2 * D, 2)) + tuple(range(1, 2 * D, 2))).reshape(math.prod(size), -1)
    index = flat[np.arange(math.prod(size)).reshape(size), am]            # (N, C, *o)
    values = np.take_along_axis(box, am[..., None], axis=-1)[..., 0]
    return values, index


def _adaptive_max_nd(op, D, input, output_size, return_indices):
    _check_input(op, D, input)
    return_indices = _flag(op, "return_indices", return_indices)
    size = _output_size(op, D, input.shape[-D:], output_size)
    x, added = _batched(input, D)
    values, index = _adaptive_max(x.data, size, op)
    y = TakeFlat.apply(x, index) if x.requires_grad and is_grad_enabled() else Tensor(values)
    if added:
        y, index = y.squeeze(0), index[0]
    return (y, Tensor(index)) if return_indices else y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-d adaptive max pooling to a fixed size, as ``torch.nn.functional.adaptive_max_pool1d``.

    y[i] = max(x[⌊i·n/o⌋ : ⌈(i+1)·n/o⌉]); the gradient goes to the first maximum.

    Args:
        input: (N, C, n) or (C, n). output_size: o, an int (or a 1-tuple).
        return_indices: also return the argmax, flat in each (N, C) plane, int64. Default: False.

    Shape:
        output (N, C, o).
    """
    return _adaptive_max_nd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-d adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int, or (oH, oW) where None keeps that input size.
        return_indices: also return the argmax, flat in each (N, C) plane, int64. Default: False.

    Shape:
        output (N, C, oH, oW); bins per axis [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    """
    return _adaptive_max_nd("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-d adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool3d``.

    Shape:
        output (N, C, oD, oH, oW); bins per axis [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    """
    return _adaptive_max_nd("adaptive_max_pool3d", 3, input, output_size, return_indices)


# ---------------------------------------------------------------- global pooling
def _check_global(op, input, keepdim):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"{op}: expected a batched input (N, C, *spatial) with at least one spatial dim, "
                         f"got shape {input.shape}")
    return _flag(op, "keepdim", keepdim)


def global_avg_pool(input, keepdim=False):
    """Mean over all spatial dims of (N, C, *spatial): the global average pooling of GAP nets and CAM.

    The same numbers as ``adaptive_avg_pool{1,2,3}d(input, 1)`` (and Keras' GlobalAveragePooling).

    Args:
        input: (N, C, *spatial), floating point, at least one spatial dim.
        keepdim: keep the spatial dims as size 1. Default: False.

    Shape:
        output (N, C), or (N, C, 1, …, 1) with keepdim.
    """
    keepdim = _check_global("global_avg_pool", input, keepdim)
    _check_input("global_avg_pool", input.ndim - 2, input)
    return mean(input, dim=tuple(range(2, input.ndim)), keepdim=keepdim)


def global_max_pool(input, keepdim=False):
    """Maximum over all spatial dims of (N, C, *spatial), as ``adaptive_max_pool{1,2,3}d(input, 1)``:
    the gradient goes to the first maximum of each plane (``torch.amax`` would share it among ties).

    Args:
        input: (N, C, *spatial), floating point, at least one spatial dim.
        keepdim: keep the spatial dims as size 1. Default: False.

    Shape:
        output (N, C), or (N, C, 1, …, 1) with keepdim.
    """
    keepdim = _check_global("global_max_pool", input, keepdim)
    _check_input("global_max_pool", input.ndim - 2, input)
    y = _adaptive_max_nd("global_max_pool", input.ndim - 2, input, 1, False)
    return y if keepdim else reshape(y, input.shape[:2])
