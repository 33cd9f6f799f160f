"""Padding: `pad` with the modes 'constant', 'reflect', 'replicate' and 'circular', as ``torch.nn.functional.pad``.

Notation, for one padded axis: n input size, (p_l, p_r) the pads before and
after (a negative pad crops), o = n + p_l + p_r the output size, and
c = j - p_l the input coordinate that output position j sits over.

Two primitives, with their gradients:

    ConstantPad   out = value everywhere, the (cropped) input copied in    gx = the slice of g over the input
    IndexPad      out = x gathered along each padded axis with an          gx = g scatter-added back: each input
                  integer index array (np.take)                                 element gets the sum of the gradients
                                                                                of every output copied from it

The index of output position j (in input coordinates, 0 <= index < n) is

    reflect     c reflected at the borders without repeating them: |c|, then 2(n-1) - c past the end
    replicate   c clamped to [0, n-1]
    circular    the negative pads crop first, leaving m = n - max(-p_l, 0) - max(-p_r, 0) elements;
                then c wraps around those m: (j - max(p_l, 0)) mod m + max(-p_l, 0)

Example, n = 4 (x = [a b c d]), pad (2, 1):

    reflect    [c b | a b c d | c]
    replicate  [a a | a b c d | d]
    circular   [c d | a b c d | a]
"""
from __future__ import annotations

import operator

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Function, Tensor
from cnnlab.messages import counted
from cnnlab.nn.functional._util import check_tensor

__all__ = ["pad"]

MODES = ("constant", "reflect", "replicate", "circular")


# ---------------------------------------------------------------- primitives
class ConstantPad(Function):
    """Fill with `value`, then copy the kept part of x in (pads: one (before, after) per padded axis)."""

    @staticmethod
    def forward(ctx, x, pads=(), value=0):
        src, dst, shape = _constant_slices(x.shape, pads)
        ctx.shape, ctx.src, ctx.dst = x.shape, src, dst
        ctx.cropped = any(min(pair) < 0 for _, pair in pads)
        out = np.full(shape, value, dtype=x.dtype)
        out[dst] = x[src]
        return out

    @staticmethod
    def backward(ctx, g):
        if not ctx.cropped:  # every input element is in the output: the gradient is a slice of g
            return g[ctx.dst]
        gx = np.zeros(ctx.shape, dtype=g.dtype)  # cropped elements never reached the output: gradient 0
        gx[ctx.src] = g[ctx.dst]
        return gx


class IndexPad(Function):
    """Gather x along each padded axis with an index array: ``out = x.take(index, axis)``, axis by axis."""

    @staticmethod
    def forward(ctx, x, indices=()):
        ctx.shape, ctx.indices = x.shape, indices
        for axis, index in indices:  # at most 3 axes; each take changes only its own axis
            x = np.take(x, index, axis=axis)
        return x

    @staticmethod
    def backward(ctx, g):
        for axis, index in reversed(ctx.indices):
            gx = np.zeros(g.shape[:axis] + (ctx.shape[axis],) + g.shape[axis + 1:], dtype=g.dtype)
            np.add.at(gx, (slice(None),) * axis + (index,), g)  # repeated indices add up
            g = gx
        return g


# ---------------------------------------------------------------- index maps
def _constant_slices(shape, pads):
    """For constant padding: the slice of x that is kept, where it lands in the output, and the output shape."""
    src, dst, out_shape = [slice(None)] * len(shape), [slice(None)] * len(shape), list(shape)
    for axis, (before, after) in pads:
        n = shape[axis]
        o = n + before + after
        src[axis] = slice(max(-before, 0), n - max(-after, 0))
        dst[axis] = slice(max(before, 0), o - max(after, 0))
        out_shape[axis] = o
    return tuple(src), tuple(dst), tuple(out_shape)


def pad_index(mode: str, n: int, before: int, after: int) -> np.ndarray:
    """For each output position j of one padded axis, the input position it copies (see the module docstring).

    Args:
        mode: 'reflect', 'replicate' or 'circular'.
        n: the input size; before, after: the pads (negative crops). `pad` has checked them.

    Returns:
        An int array of length o = n + before + after, values in [0, n).

    Example:
        >>> pad_index("reflect", 4, 2, 1)
        array([2, 1, 0, 1, 2, 3, 2])
    """
    o = n + before + after
    c = np.arange(o) - before  # input coordinate of each output position
    if o == 0:
        return c
    if mode == "reflect":
        c = np.abs(c)
        return np.where(c > n - 1, 2 * (n - 1) - c, c)
    if mode == "replicate":
        return np.clip(c, 0, n - 1)
    crop_l, crop_r = max(-before, 0), max(-after, 0)  # circular: crop first, then wrap around what is left
    return (np.arange(o) - max(before, 0)) % (n - crop_l - crop_r) + crop_l


# ---------------------------------------------------------------- validation
def _check_pad(pad) -> tuple:
    if isinstance(pad, Tensor) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints, got {type(pad).__name__} {pad!r}")
    for i, p in enumerate(pad):
        if isinstance(p, (bool, np.bool_)) or not hasattr(p, "__index__"):
            raise TypeError(f"pad: pad must be a tuple of ints, got {tuple(pad)!r} "
                            f"(element {i} is {type(p).__name__})")
    return tuple(operator.index(p) for p in pad)


def _check_batch_rank(mode, x, k, pad):
    """reflect/replicate/circular pad the last k = 1, 2, 3 dims of a (C, *) or (N, C, *) input."""
    if k not in (1, 2, 3):
        raise ValueError(f"pad: {mode} padding pads the last 1, 2 or 3 dims (a pad of length 2, 4 or 6), "
                         f"got a pad of length {len(pad)}: {pad}")
    if x.ndim not in (k + 1, k + 2):
        raise ValueError(f"pad: {mode} padding of the last {k} dim{'s' * (k > 1)} (a pad of length {2 * k}) "
                         f"needs a {k + 1}D (unbatched) or {k + 2}D (batched) input, got a {x.ndim}D input "
                         f"of shape {x.shape}")
    if mode != "circular" and 0 in x.shape[x.ndim - k - 1:]:
        raise ValueError(f"pad: {mode} padding needs a {k + 1}D or {k + 2}D (batch mode) input with possibly "
                         f"0 batch size and other non-zero dimensions, got shape {x.shape}")


def _check_sizes(mode, shape, pads, pad):
    """PyTorch's per-dim rules for each mode (pads: (axis, (before, after)), first padded axis first)."""
    for axis, (before, after) in pads:
        n, o = shape[axis], shape[axis] + before + after
        kept = n - max(-before, 0) - max(-after, 0)  # what the negative pads leave
        where = f"{mode} padding {(before, after)} of dim {axis}"
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"pad: reflect padding {(before, after)} must be smaller than the input size {n} "
                             f"of dim {axis} (a reflection does not repeat the border, so it can copy at most "
                             f"n - 1 = {n - 1} elements)")
        if mode == "circular" and (before > n or after > n):
            raise ValueError(f"pad: circular padding {(before, after)} must be at most the input size {n} "
                             f"of dim {axis} (it would wrap around more than once)")
        if o < 0:
            raise ValueError(f"pad: {where} gives a negative output size {n} + {before} + {after} = {o}")
        if kept < 0 and mode in ("constant", "circular"):
            raise ValueError(f"pad: {where} crops {n - kept} elements, more than the input size {n}")
        if mode == "circular" and max(before, after) > kept:
            # PyTorch wraps around the cropped input, and reads uninitialised memory here
            raise ValueError(f"pad: circular padding {(before, after)} must be at most the size {kept} left "
                             f"after cropping the input size {n} of dim {axis} (it would wrap around more "
                             f"than once)")
    if mode in ("reflect", "replicate"):
        outs = tuple(shape[axis] + b + a for axis, (b, a) in pads)
        if max(outs) < 1:
            raise ValueError(f"pad: {mode} padding {pad} leaves no element: the padded dims of input shape "
                             f"{shape} get output sizes {outs}; at least one must stay positive")


# ---------------------------------------------------------------- public function
def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad (or, with negative pads, crop) the last dims of a tensor, as ``torch.nn.functional.pad``.

    `pad` lists (before, after) pairs from the LAST dim backwards:
    ``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the
    last two, ``(left, right, top, bottom, front, back)`` the last three.

    Modes (x = [a b c d], pad (2, 1)):
        'constant'   ``[v v | a b c d | v]`` with v = `value`; any number of dims; negative pads crop.
        'reflect'    ``[c b | a b c d | c]``: mirror without repeating the border; each pad < n.
        'replicate'  ``[a a | a b c d | d]``: repeat the border element.
        'circular'   ``[c d | a b c d | a]``: wrap around; each pad <= n (after the negative pads crop).
        The last three pad 1, 2 or 3 dims of a (C, *) or (N, C, *) input.

    Args:
        input (Tensor): the tensor to pad, any dtype.
        pad (tuple of ints): (before, after) pairs, last dim first; even length, at most 2 * input.ndim.
        mode (str): 'constant', 'reflect', 'replicate' or 'circular'. Default: 'constant'.
        value (float): fill value of 'constant' padding. Default: None (0). The other modes accept
            only None or 0, as PyTorch.

    Returns:
        Tensor: the padded tensor, of the input's dtype. Differentiable: the gradient of 'constant'
        is the slice of the upstream gradient over the input; that of the other modes adds up, at
        each input element, the gradients of every output element copied from it.

    Shape:
        Each padded dim: o = n + p_l + p_r (p_l, p_r the pads before and after it); the other dims
        are unchanged. 'reflect' and 'replicate' need every o >= 0 and at least one o >= 1, and no
        zero-size dim but the batch dim.

    Raises:
        TypeError: `input` is not a Tensor, or `pad` is not a tuple of ints, or `value` not a number.
        ValueError: an unknown mode, an odd or too long `pad`, a `value` with a mode other than
            'constant', an input rank the mode does not support, or pads the input size does not allow.

    Example:
        >>> x = cnnlab.tensor([[0.0, 1.0, 2.0, 3.0]])
        >>> F.pad(x, (2, 1), mode="reflect")
        tensor([[2., 1., 0., 1., 2., 3., 2.]])
        >>> F.pad(x, (1, -2), value=9.0)
        tensor([[9., 0., 1.]])
    """
    check_tensor("pad", input, floating=False)
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', got {mode!r}")
    pad = _check_pad(pad)
    if value is not None:
        arguments.number(value, op="pad", arg="value")
    if len(pad) % 2:
        raise ValueError(f"pad: pad must have an even length (a (before, after) pair per dim), "
                         f"got length {len(pad)}: {pad}")
    if len(pad) > 2 * input.ndim:
        raise ValueError(f"pad: pad of length {len(pad)} pads {counted(len(pad) // 2, 'dim')}, but the input has only "
                         f"{input.ndim} (shape {input.shape}); the length must be at most 2 * ndim = {2 * input.ndim}")
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} doesn't take a value argument (only 'constant' fills with a "
                         f"value), got value={value!r}")
    k = len(pad) // 2
    pads = tuple((input.ndim - 1 - i, (pad[2 * i], pad[2 * i + 1])) for i in range(k))[::-1]  # first axis first
    if mode != "constant":
        _check_batch_rank(mode, input, k, pad)
    _check_sizes(mode, input.shape, pads, pad)

    if mode == "constant":
        return ConstantPad.apply(input, pads=pads, value=0 if value is None else value)
    indices = tuple((axis, pad_index(mode, input.shape[axis], b, a)) for axis, (b, a) in pads)
    return IndexPad.apply(input, indices=indices)
