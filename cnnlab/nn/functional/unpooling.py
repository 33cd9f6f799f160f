"""Max unpooling in 1, 2 and 3 dimensions, as ``torch.nn.functional.max_unpool1d/2d/3d``.

    y.flat[index[j]] = x[j] in a zero plane of each (N, C), with the indices that
    ``max_pool(..., return_indices=True)`` returned; the gradient gathers g at the index
    (`_window_ops.PutFlat`). Default output size per axis: (n − 1)·s − 2p + k (`shapes.unpool_output_size`).
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments, shapes
from cnnlab.nn.functional._util import batched, check_input, check_tensor
from cnnlab.nn.functional._window_ops import PutFlat


def _unpool_size(op, D, spatial, k, s, p, output_size):
    """PyTorch's rule: the default (n−1)s − 2p + k, or output_size (D sizes, or N, C and D sizes),
    each strictly between default − s and default + s."""
    default = tuple(shapes.unpool_output_size(n, kk, ss, pp, op=op) for n, kk, ss, pp in zip(spatial, k, s, p))
    if output_size is None:
        return default
    if not isinstance(output_size, (tuple, list)) or len(output_size) not in (D, D + 2):
        raise ValueError(f"{op}: output_size should be a sequence containing {D} or {D + 2} elements "
                         f"((*spatial) or (N, C, *spatial)), got {output_size!r}")
    size = arguments.ntuple(tuple(output_size)[-D:], D, op=op, arg="output_size")
    for a, (o, dflt, ss) in enumerate(zip(size, default, s)):
        if not dflt - ss < o < dflt + ss:
            raise ValueError(f"{op}: invalid output_size {output_size!r} (dim {a} must be between "
                             f"{dflt - ss} and {dflt + ss}, exclusive; the default is {dflt})")
    return size


def _max_unpool_nd(op, D, input, indices, kernel_size, stride, padding, output_size):
    check_input(op, D, input)
    check_tensor(op, indices, "indices", floating=False)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor (int64, from max_pool with "
                        f"return_indices=True), got dtype {indices.dtype}")
    if indices.shape != input.shape:
        raise ValueError(f"{op}: indices must have the shape of the input {input.shape}, "
                         f"got indices of shape {indices.shape}")
    k, s, p, _ = arguments.window_args(D, kernel_size, stride, padding, op=op)
    size = _unpool_size(op, D, input.shape[-D:], k, s, p, output_size)
    plane = math.prod(size)
    if indices.data.size and (indices.data.min() < 0 or indices.data.max() >= plane):
        bad = indices.data.min() if indices.data.min() < 0 else indices.data.max()
        raise ValueError(f"{op}: found an invalid max index {bad} (output planes have size "
                         f"{'x'.join(map(str, size))} = {plane} elements)")
    x, added = batched(input, D)
    index = indices.data.astype(np.int64, copy=False)
    index = index[None] if added else index
    y = PutFlat.apply(x, index, shape=x.shape[:2] + size)
    return y.squeeze(0) if added else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool1d`, as ``torch.nn.functional.max_unpool1d``: each value goes back
    to the position its index names, in a plane of zeros.

    Args:
        input: (N, C, n) or (C, n), the pooled values. indices: the same shape, int, from
            ``max_pool1d(..., return_indices=True)``.
        kernel_size, stride (Default: None = kernel_size), padding (Default: 0): those of the pool.
        output_size: the size to restore (pooling may have dropped elements): (o,) or (N, C, o),
            strictly between default − s and default + s. Default: None (the default below).

    Shape:
        output (N, C, o), default o = (n − 1)·s − 2p + k.

    Gradient: the output gradient gathered at the indices.
    """
    return _max_unpool_nd("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool2d`, as ``torch.nn.functional.max_unpool2d``.

    Arguments as `max_unpool1d`, each an int or an (h, w) pair; output_size is (oH, oW) or (N, C, oH, oW).

    Shape:
        output (N, C, oH, oW), default per axis o = (n − 1)·s − 2p + k.

    Example:
        >>> x = cnnlab.randn(1, 1, 4, 4)
        >>> y, i = max_pool2d(x, 2, return_indices=True)
        >>> max_unpool2d(y, i, 2).shape
        (1, 1, 4, 4)
    """
    return _max_unpool_nd("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool3d`, as ``torch.nn.functional.max_unpool3d``.

    Shape:
        output (N, C, oD, oH, oW), default per axis o = (n − 1)·s − 2p + k.
    """
    return _max_unpool_nd("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
