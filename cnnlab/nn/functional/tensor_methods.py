"""The Tensor's operators and methods, as ``torch.Tensor``'s: one table, `TENSOR_METHODS`.

`cnnlab.autograd.Tensor` holds an array and its place in the graph, nothing
more; everything else a tensor does (``a + b``, ``x[i]``, ``x.sum(1)``,
``x.reshape(2, -1)``, ``x.add_(y)``, ``x.item()``, ...) is a row of the table
below: a method name and the function it runs. Most rows are the op of
`cnnlab.nn.functional` itself (``("sum", reduction.sum)``: ``x.sum(1)`` is
``F.sum(x, 1)``); the rest are the few lines just above the table.
`install()` puts every row on `Tensor`; ``cnnlab.nn.functional`` calls it when
it is imported (and ``import cnnlab`` imports it), so every tensor has them.

In-place methods (``add_``, ``x[i] = v``, ...) change ``.data`` and add 1 to
the tensor's ``_version``; they are refused on a tensor that requires grad
while the graph is recorded (PyTorch's rule), so the graph never sees stale
values.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor, is_grad_enabled
from cnnlab.nn.functional import elementwise, reduction, shape
from cnnlab.nn.functional.linear import matmul


def _raw(x):
    """The array behind a Tensor, or the value itself."""
    return x.data if isinstance(x, Tensor) else x


def _sizes(args):
    """Accept both ``x.view(2, 3)`` and ``x.view((2, 3))``, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _reflected(op):
    """``other ∘ self``, for Python's reflected operators: ``2 - x`` calls ``x.__rsub__(2)``."""

    def reflected(self, other):
        return op(other, self)

    return reflected


def _comparison(op):
    """``op`` on the arrays, as a bool tensor outside the graph."""

    def compare(self, other):
        return Tensor(op(self.data, _raw(other)))

    return compare


def _to(dtype):
    """``x.float()``, ``x.long()``, ...: the tensor in `dtype` (differentiable between float dtypes)."""
    return lambda self: elementwise.cast(self, dtype)


# ---- shape and movement: sizes as varargs or one tuple, as PyTorch takes them
def reshape(self, *sizes): return shape.reshape(self, _sizes(sizes))
def reshape_as(self, other): return shape.reshape(self, other.shape)
def permute(self, *dims): return shape.permute(self, _sizes(dims))
def t(self): return shape.transpose(self, 0, 1) if self.ndim == 2 else self
def expand(self, *sizes): return shape.expand(self, _sizes(sizes))
def expand_as(self, other): return shape.expand(self, other.shape)
def type_as(self, other): return elementwise.cast(self, other.dtype)


# ---- array facts and conversions to Python
def size(self, dim=None):
    """The shape, or the size of one dim, as ``torch.Tensor.size``."""
    return self.shape if dim is None else self.shape[dim]


def numpy(self) -> np.ndarray:
    """The underlying array (shared, not copied). Fails on tensors that require grad, as in PyTorch."""
    if self.requires_grad:
        raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
    return self.data


def item(self):
    """The value of a one-element tensor as a Python number."""
    if self.data.size != 1:
        raise ValueError(f"item: only one-element tensors can be converted to Python scalars, got shape {self.shape}")
    return self.data.item()


def equal(self, other) -> bool:
    """Same shape and same values, as ``torch.equal``."""
    return self.shape == other.shape and bool(np.array_equal(self.data, _raw(other)))


def __len__(self) -> int:
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def __bool__(self) -> bool:
    if self.data.size != 1:
        raise RuntimeError(f"bool: a tensor with {self.data.size} elements is ambiguous; use .any() or .all()")
    return bool(self.data)


def __index__(self):
    if self.data.dtype.kind not in "iu" or self.data.size != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(self.data.item())


def __repr__(self) -> str:
    body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
    extras = []
    if self.dtype not in (backend.get_default_dtype(), np.int64, np.bool_):
        extras.append(f"dtype={self.dtype}")
    if self.grad_fn is not None:
        extras.append(f"grad_fn=<{type(self.grad_fn).__name__}Backward>")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"


# ---- in-place updates: only where no graph depends on the tensor (e.g. leaves under no_grad)
def _in_place(update):
    """The method that runs `update` on a tensor no recorded graph needs, then adds 1 to its version."""

    @functools.wraps(update)
    def method(self, *args, **kwargs):
        if self.requires_grad and is_grad_enabled():
            kind = "a leaf tensor that requires grad" if self.is_leaf else "a tensor in the autograd graph"
            raise RuntimeError(f"{update.__name__}: in-place operation on {kind}; "
                               "wrap it in cnnlab.no_grad() or use the out-of-place form")
        update(self, *args, **kwargs)
        self._version += 1
        return self

    return method


@_in_place
def __setitem__(self, index, value):
    index = tuple(_raw(i) for i in index) if isinstance(index, tuple) else _raw(index)
    self.data[index] = _raw(value)


@_in_place
def add_(self, other, alpha=1):
    self.data += _raw(other) * alpha if alpha != 1 else _raw(other)


@_in_place
def sub_(self, other, alpha=1):
    self.data -= _raw(other) * alpha if alpha != 1 else _raw(other)


@_in_place
def mul_(self, other):
    self.data *= _raw(other)


@_in_place
def div_(self, other):
    self.data /= _raw(other)


@_in_place
def copy_(self, src):
    np.copyto(self.data, _raw(src))


@_in_place
def fill_(self, value):
    self.data.fill(_raw(value))


@_in_place
def zero_(self):
    self.data.fill(0)


@_in_place
def clamp_(self, min=None, max=None):
    np.clip(self.data, min, max, out=self.data)


# ---- the table: method name -> function(self, ...)
TENSOR_METHODS = [
    # arithmetic operators (NumPy broadcasting; see cnnlab.nn.functional.elementwise)
    ("__add__", elementwise.add), ("__radd__", _reflected(elementwise.add)),
    ("__sub__", elementwise.sub), ("__rsub__", _reflected(elementwise.sub)),
    ("__mul__", elementwise.mul), ("__rmul__", _reflected(elementwise.mul)),
    ("__truediv__", elementwise.div), ("__rtruediv__", _reflected(elementwise.div)),
    ("__pow__", elementwise.pow), ("__rpow__", _reflected(elementwise.pow)),
    ("__matmul__", matmul), ("__rmatmul__", _reflected(matmul)),
    ("__neg__", elementwise.neg), ("__pos__", lambda self: self), ("__abs__", elementwise.abs),
    ("__getitem__", shape.getitem),
    ("add", elementwise.add), ("sub", elementwise.sub), ("mul", elementwise.mul), ("div", elementwise.div),
    ("pow", elementwise.pow), ("matmul", matmul), ("neg", elementwise.neg),
    # comparisons: bool tensors outside the graph
    ("__eq__", _comparison(operator.eq)), ("__ne__", _comparison(operator.ne)),
    ("__lt__", _comparison(operator.lt)), ("__le__", _comparison(operator.le)),
    ("__gt__", _comparison(operator.gt)), ("__ge__", _comparison(operator.ge)),
    ("eq", _comparison(operator.eq)), ("ne", _comparison(operator.ne)),
    ("lt", _comparison(operator.lt)), ("le", _comparison(operator.le)),
    ("gt", _comparison(operator.gt)), ("ge", _comparison(operator.ge)),
    ("equal", equal), ("any", lambda self: Tensor(self.data.any())), ("all", lambda self: Tensor(self.data.all())),
    # math
    ("exp", elementwise.exp), ("log", elementwise.log), ("sqrt", elementwise.sqrt), ("abs", elementwise.abs),
    ("tanh", elementwise.tanh), ("sigmoid", elementwise.sigmoid), ("relu", elementwise.relu),
    ("clamp", elementwise.clamp), ("clip", elementwise.clamp),
    ("maximum", elementwise.maximum), ("minimum", elementwise.minimum),
    # reductions
    ("sum", reduction.sum), ("mean", reduction.mean), ("var", reduction.var), ("std", reduction.std),
    ("max", reduction.max), ("min", reduction.min), ("amax", reduction.amax), ("amin", reduction.amin),
    ("argmax", reduction.argmax), ("argmin", reduction.argmin),
    ("softmax", reduction.softmax), ("log_softmax", reduction.log_softmax),
    # shape and movement
    ("reshape", reshape), ("view", reshape), ("reshape_as", reshape_as), ("view_as", reshape_as),
    ("permute", permute), ("transpose", shape.transpose), ("t", t),
    ("T", property(lambda self: shape.permute(self, tuple(reversed(range(self.ndim)))), doc="All dims reversed.")),
    ("flatten", shape.flatten), ("squeeze", shape.squeeze), ("unsqueeze", shape.unsqueeze),
    ("expand", expand), ("expand_as", expand_as), ("split", shape.split), ("chunk", shape.chunk),
    # dtype conversion (differentiable between float dtypes) and copies
    ("to", elementwise.cast), ("type", elementwise.cast), ("type_as", type_as),
    ("float", _to(np.float32)), ("double", _to(np.float64)), ("long", _to(np.int64)),
    ("int", _to(np.int32)), ("bool", _to(np.bool_)),
    ("clone", elementwise.clone), ("contiguous", lambda self: self),
    # in-place updates
    ("__setitem__", __setitem__), ("add_", add_), ("sub_", sub_), ("mul_", mul_), ("div_", div_),
    ("copy_", copy_), ("fill_", fill_), ("zero_", zero_), ("clamp_", clamp_),
    ("__iadd__", add_), ("__isub__", sub_), ("__imul__", mul_), ("__itruediv__", div_),
    # array facts and conversions to Python
    ("size", size), ("dim", lambda self: self.data.ndim), ("numel", lambda self: self.data.size),
    ("numpy", numpy), ("item", item), ("tolist", lambda self: self.data.tolist()),
    ("__len__", __len__), ("__iter__", lambda self: (self[i] for i in range(len(self)))),
    ("__bool__", __bool__), ("__float__", lambda self: float(self.item())),
    ("__int__", lambda self: int(self.item())), ("__index__", __index__),
    ("__repr__", __repr__),
]


def install() -> None:
    """Put every method of `TENSOR_METHODS` on `cnnlab.autograd.Tensor`."""
    for name, method in TENSOR_METHODS:
        setattr(Tensor, name, method)
