"""Shape and movement ops: reshape, permute, expand, indexing, cat, and what is composed from them.

    reshape   gx = g reshaped back              permute   gx = g permuted by the inverse
    expand    gx = g summed over expanded dims  getitem   gx = zeros with g scattered (added) at the index
    cat       gx_i = the slice of g that came from input i

squeeze, unsqueeze, flatten, view are reshapes; transpose is a permute;
stack is unsqueeze + cat; split and chunk are slices.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab.autograd import Function, Tensor
from cnnlab.nn.functional._util import normalize_dim, unbroadcast


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims=()):
        ctx.inverse = tuple(np.argsort(dims))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, index=None):
        ctx.shape, ctx.index = x.shape, index
        parts = index if isinstance(index, tuple) else (index,)
        # integer arrays may pick an element twice: their gradients must add up
        ctx.repeats = any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, dtype=g.dtype)
        if ctx.repeats:
            np.add.at(gx, ctx.index, g)
        else:
            gx[ctx.index] = g
        return gx


class Cat(Function):
    @staticmethod
    def forward(ctx, *xs, dim=0):
        ctx.dim, ctx.dtypes = dim, [x.dtype for x in xs]
        ctx.bounds = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        parts = np.split(g, ctx.bounds, axis=ctx.dim)
        return tuple(p.astype(dt, copy=False) for p, dt in zip(parts, ctx.dtypes))


# ---------------------------------------------------------------- public functions
def _check_tensor(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def reshape(input: Tensor, shape) -> Tensor:
    """The same elements in a new shape (one size may be -1), as ``torch.reshape`` / ``Tensor.view``."""
    _check_tensor("reshape", input)
    shape = tuple(shape)
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"reshape: shape must be ints, got {shape}")
    known = math.prod(s for s in shape if s != -1)
    bad = (sum(s == -1 for s in shape) > 1 or any(s < -1 for s in shape)
           or (-1 in shape and (known == 0 or input.data.size % known))
           or (-1 not in shape and known != input.data.size))
    if bad:
        raise ValueError(f"reshape: shape {shape} is invalid for input of size {input.data.size} "
                         f"(shape {input.shape})")
    return Reshape.apply(input, shape=shape)


def permute(input: Tensor, dims) -> Tensor:
    """Reorder the dims: output dim i is input dim dims[i], as ``torch.permute``."""
    _check_tensor("permute", input)
    dims = tuple(normalize_dim(d, input.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: dims {dims} is not a permutation of the {input.ndim} dimensions")
    return Permute.apply(input, dims=dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims, as ``torch.transpose``."""
    dims = list(range(input.ndim))
    a, b = normalize_dim(dim0, input.ndim, "transpose"), normalize_dim(dim1, input.ndim, "transpose")
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, dims=tuple(dims)) if input.ndim else input


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one, as ``torch.flatten``."""
    if input.ndim == 0:
        return reshape(input, (1,))
    s, e = normalize_dim(start_dim, input.ndim, "flatten"), normalize_dim(end_dim, input.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:s] + (math.prod(input.shape[s:e + 1]),) + input.shape[e + 1:]
    return Reshape.apply(input, shape=shape)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims (all, or those in `dim`; other sizes are left alone), as ``torch.squeeze``."""
    if dim is None:
        drop = {i for i, n in enumerate(input.shape) if n == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        drop = {d for d in (normalize_dim(d, input.ndim, "squeeze") for d in dims) if input.ndim and input.shape[d] == 1}
    return Reshape.apply(input, shape=tuple(n for i, n in enumerate(input.shape) if i not in drop))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at `dim` (in [-ndim-1, ndim]), as ``torch.unsqueeze``."""
    d = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    return Reshape.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def expand(input: Tensor, sizes) -> Tensor:
    """Broadcast to `sizes` without copying (-1 keeps a size; new dims go in front), as ``Tensor.expand``."""
    sizes = tuple(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes {len(sizes)} must be at least the tensor's dims {input.ndim}")
    shape = []
    for i, s in enumerate(sizes):
        old = input.shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError(f"expand: -1 is not allowed for a new leading dim (position {i})")
            s = old
        if old is not None and old != 1 and old != s:
            raise ValueError(f"expand: the expanded size {s} must match the existing size {old} at dim {i} "
                             f"(only size-1 dims can expand); shape {input.shape} to {sizes}")
        shape.append(s)
    return Expand.apply(input, shape=tuple(shape))


def _index(index):
    """Tensors and lists in an index become arrays; slices, ints, None and Ellipsis stay."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(input: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy's indexing rules; the gradient is scattered back (repeats add up)."""
    return GetItem.apply(input, index=_index(index))


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim, as ``torch.cat``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        _check_tensor("cat", t)
    first = tensors[0]
    d = normalize_dim(dim, first.ndim, "cat")
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim:
            raise ValueError(f"cat: tensors must have the same number of dims; tensor 0 has {first.ndim}, "
                             f"tensor {i} has {t.ndim}")
        for k in range(first.ndim):
            if k != d and t.shape[k] != first.shape[k]:
                raise ValueError(f"cat: sizes of tensors must match except in dimension {d}; "
                                 f"expected size {first.shape[k]} but got size {t.shape[k]} for tensor {i} "
                                 f"in dimension {k}")
    return Cat.apply(*tensors, dim=d)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join equal-shape tensors along a new dim, as ``torch.stack``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        _check_tensor("stack", t)
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: expects each tensor to be equal size, but got {tensors[0].shape} at entry 0 "
                             f"and {t.shape} at entry {i}")
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(input: Tensor, split_size_or_sections, dim: int = 0):
    """Split into pieces of a size (the last may be smaller) or of the given sizes, as ``torch.split``."""
    d = normalize_dim(dim, input.ndim, "split")
    n = input.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sections {sizes} must be non-negative and sum to the size {n} of dim {d}")
    pieces, start = [], 0
    for s in sizes:
        index = (slice(None),) * d + (slice(start, start + s),)
        pieces.append(GetItem.apply(input, index=index))
        start += s
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0):
    """Split into `chunks` pieces of size ⌈n / chunks⌉ (fewer if n is small), as ``torch.chunk``."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[normalize_dim(dim, input.ndim, "chunk")]
    return split(input, max(-(-n // chunks), 1), dim)

