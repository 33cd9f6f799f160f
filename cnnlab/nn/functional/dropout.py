"""Dropout: zero random elements (or whole channels) while training, and scale the rest by 1/(1 − p).

    dropout       y = x·mask/(1 − p), mask ~ Bernoulli(1 − p) per element       gx = g·mask/(1 − p)
    dropout1d/2d/3d    the same with one mask value per (sample, channel), constant over positions
    alpha_dropout y = a·(x·mask + α'·(1 − mask)) − a·α'·p, keeping SELU's mean 0 and variance 1

Each is composed: x times a constant noise array (made here) with the existing `mul`,
so the gradient g·noise is right by construction. Masks are drawn from
`cnnlab.backend.generator()`, so `cnnlab.manual_seed` reproduces them. Outside
training (or with p = 0) the input itself is returned, as PyTorch does; p = 1
gives zeros (and zero gradients), never NaN.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from cnnlab import arguments, backend
from cnnlab.autograd import Tensor
from cnnlab.nn.functional._util import check_tensor
from cnnlab.nn.functional.elementwise import add, mul

#: |α'| = SELU's α·λ: a dropped unit is set to α' = −1.758... before the affine correction.
_SELU_ALPHA_SCALE = 1.7580993408473766


def _check(op, input, p, training):
    check_tensor(op, input)
    arguments.number(p, op=op, arg="p")
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    arguments.boolean(training, op=op, arg="training")


def _keep_mask(shape, p, dtype) -> np.ndarray:
    """1 with probability 1 − p, else 0, in `dtype` (drawn from cnnlab's seeded generator)."""
    return (backend.generator().random(shape, dtype=np.float32) >= p).astype(dtype)


def _dropout(input, p, noise_shape):
    """x · mask/(1 − p) with a mask of `noise_shape` (broadcast over the input)."""
    if p == 1:
        return mul(input, np.zeros((), dtype=input.dtype))
    noise = _keep_mask(noise_shape, p, input.dtype)
    noise *= input.dtype.type(1) / input.dtype.type(1 - p)               # 1/(1 − p) in the input's dtype
    return mul(input, noise)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the others by 1/(1 − p), as ``torch.nn.functional.dropout``.

    Args:
        input: any shape.
        p: probability of an element to be zeroed. Default: 0.5.
        training: apply dropout; when False the input itself is returned. Default: True.
        inplace: accepted for compatibility and ignored: cnnlab returns a new tensor.

    Shape:
        - Input: (*). Output: (*), the same shape.

    Example:
        >>> cnnlab.manual_seed(0)
        >>> F.dropout(cnnlab.ones(6), p=0.5)   # each entry 0 or 2
    """
    _check("dropout", input, p, training)
    if not training or p == 0 or input.data.size == 0:
        return input
    return _dropout(input, p, input.shape)


def _feature_dropout(op, input, p, training, batched):
    """Channel-wise dropout: one mask value per (N, C) (batched) or per C (unbatched) entry."""
    if not training or p == 0 or input.data.size == 0:
        return input
    channel_dims = 2 if batched else 1
    if input.ndim + (2 - channel_dims) < 2:
        raise ValueError(f"{op}: feature dropout requires at least 2 dimensions in the input "
                         f"(batch and channel), got shape {input.shape}")
    noise_shape = input.shape[:channel_dims] + (1,) * (input.ndim - channel_dims)
    return _dropout(input, p, noise_shape)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, L) or (C, L) input with probability p, as ``torch.nn.functional.dropout1d``.

    Each channel input[n, c, :] is zeroed (all of it) with probability p, the
    others are scaled by 1/(1 − p).

    Args:
        input: (N, C, L) or (C, L) (unbatched).
        p: probability of a channel to be zeroed. Default: 0.5.
        training: apply dropout; when False the input itself is returned. Default: True.
        inplace: accepted for compatibility and ignored.

    Shape:
        - Input: (N, C, L) or (C, L). Output: the same shape.
    """
    _check("dropout1d", input, p, training)
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                         "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                         "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout("dropout1d", input, p, training, batched=input.ndim == 3)


def _warn_unusual_rank(op: str, d: int, spatial: int) -> None:
    """PyTorch's deprecation warning when `op` (dropout2d, dropout3d) gets neither spatial + 1 nor
    spatial + 2 dims, in its words; it points at the caller of `op`."""
    if d not in (spatial + 1, spatial + 2):
        warnings.warn(f"{op}: Received a {d}-D input to {op}, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      f"dropout instead. Note that {op} exists to provide channel-wise dropout on inputs with "
                      f"{spatial} spatial dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      f"{spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, H, W) input with probability p, as ``torch.nn.functional.dropout2d``.

    PyTorch's rank rules, kept: a 4-d input is (N, C, H, W); a 3-d input is taken
    as (N, C, L) (1d behaviour, with PyTorch's warning, not as unbatched (C, H, W));
    other ranks warn (deprecated) and treat dims 0 and 1 as batch and channel.

    Args:
        input: (N, C, H, W).
        p: probability of a channel to be zeroed. Default: 0.5.
        training: apply dropout; when False the input itself is returned. Default: True.
        inplace: accepted for compatibility and ignored.

    Shape:
        - Input: (N, C, H, W). Output: the same shape.
    """
    _check("dropout2d", input, p, training)
    d = input.ndim
    _warn_unusual_rank("dropout2d", d, 2)
    if d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout("dropout2d", input, p, training, batched=True)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input, as ``torch.nn.functional.dropout3d``.

    A 5-d input is batched, anything else is taken as unbatched (dim 0 is the
    channel); ranks other than 4 and 5 warn (deprecated), as in PyTorch.

    Args:
        input: (N, C, D, H, W) or (C, D, H, W).
        p: probability of a channel to be zeroed. Default: 0.5.
        training: apply dropout; when False the input itself is returned. Default: True.
        inplace: accepted for compatibility and ignored.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W). Output: the same shape.
    """
    _check("dropout3d", input, p, training)
    d = input.ndim
    _warn_unusual_rank("dropout3d", d, 3)
    return _feature_dropout("dropout3d", input, p, training, batched=d == 5)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks, as ``torch.nn.functional.alpha_dropout`` (note: training defaults to False).

    A dropped unit is set to SELU's negative saturation α' = −1.7581, then the
    result is scaled and shifted so that zero-mean, unit-variance inputs keep
    mean 0 and variance 1:

        a = 1/√((α'²·p + 1)(1 − p)),   y = a·(x·mask + α'·(1 − mask)) − a·α'·p

    computed as PyTorch does: y = x·(a·mask) + b with b = (mask − 1)·|α'|·a + |α'|·a·p.
    The gradient is g·a·mask.

    Args:
        input: any shape.
        p: probability of an element to be dropped. Default: 0.5.
        training: apply dropout; when False the input itself is returned. Default: False.
        inplace: accepted for compatibility and ignored.

    Shape:
        - Input: (*). Output: (*), the same shape.
    """
    _check("alpha_dropout", input, p, training)
    if not training or p == 0 or input.data.size == 0:
        return input
    if p == 1:
        return mul(input, np.zeros((), dtype=input.dtype))
    dt = input.dtype.type
    alpha = _SELU_ALPHA_SCALE
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = _keep_mask(input.shape, p, input.dtype)
    shift = (keep - 1) * dt(alpha * a) + dt(alpha * a * p)              # b
    return add(mul(input, keep * dt(a)), shift)
