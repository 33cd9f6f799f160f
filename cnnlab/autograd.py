"""Reverse-mode automatic differentiation: `Tensor`, `Function`, `backward`, `no_grad`.

How it works, in four sentences. A `Tensor` holds a NumPy array in `.data`.
Every differentiable operation is a `Function`: `forward` computes the result
from plain arrays and saves on `ctx` what `backward` will need, and `backward`
turns the gradient of the result into one gradient per input. Calling
`Function.apply` on tensors records the function as the result's `_ctx`, so
the results form a graph pointing back to their inputs. `Tensor.backward()`
walks that graph from the output to the leaves in reverse topological order,
summing the gradients that arrive at each tensor (fan-out adds up, as in
``micrograd``), and stores the sums on the leaves' `.grad`.

The operations themselves (add, matmul, conv, ...) live in
`cnnlab.nn.functional`; the `Tensor` methods below are one-line calls into it.
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

from cnnlab import backend

_grad_enabled = True


# ---------------------------------------------------------------- grad mode
class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator that turns off graph recording, as ``torch.no_grad``.

    Example:
        >>> with cnnlab.no_grad():
        ...     y = x * 2          # y.requires_grad is False
    """

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False


class enable_grad(contextlib.ContextDecorator):
    """Turn graph recording back on inside a `no_grad` block, as ``torch.enable_grad``."""

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, True

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False


def is_grad_enabled() -> bool:
    """Whether operations are being recorded for backward."""
    return _grad_enabled


# ---------------------------------------------------------------- Function
class Function:
    """A primitive differentiable operation.

    A subclass writes two static methods::

        forward(ctx, *arrays, **options) -> ndarray
        backward(ctx, grad) -> one gradient (ndarray or None) per positional input

    `ctx` is the instance made for this call: `forward` stores on it what
    `backward` needs; `ctx.needs_input_grad[i]` says whether input i wants a
    gradient. Positional inputs that are not Tensors (Python numbers, arrays)
    are constants: they get no gradient. Options (dims, shapes, flags) are
    passed by keyword. Each gradient must have exactly its input's shape.

    A subclass whose backward returns only new arrays (or views of new buffers), a different one
    for each input and kept nowhere else, may set ``fresh_grads = True``: a leaf then stores its
    gradient without a copy, as PyTorch does with a gradient nothing else holds.
    """

    fresh_grads = False

    @classmethod
    def apply(cls, *inputs, **options) -> "Tensor":
        ctx = cls()
        ctx.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        out = cls.forward(ctx, *arrays, **options)
        requires_grad = _grad_enabled and any(ctx.needs_input_grad)
        result = Tensor(out, requires_grad=requires_grad)
        if requires_grad:
            ctx.inputs = inputs
            ctx.versions = tuple(x._version if isinstance(x, Tensor) else 0 for x in inputs)
            result._ctx = ctx
        return result

    @staticmethod
    def forward(ctx, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError


def _topological_order(root: "Tensor") -> list:
    """Tensors that require grad and lead to `root`, inputs before the results made from them."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # iterative post-order DFS: deep nets would overflow the recursion limit
        t, children_done = stack.pop()
        if children_done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t._ctx is not None:
            for x in getattr(t._ctx, "inputs", ()):
                if isinstance(x, Tensor) and x.requires_grad and id(x) not in seen:
                    stack.append((x, False))
    return order


def backward(root: "Tensor", gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's `.grad` (see `Tensor.backward`)."""
    if not root.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no grad_fn "
                           "(did you compute it under no_grad, or from tensors without requires_grad=True?)")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                               f"this tensor has shape {root.shape}, pass gradient= of that shape")
        grad = np.ones_like(root.data)
    else:
        grad = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=root.dtype)
        if grad.shape != root.shape:
            raise ValueError(f"backward: gradient has shape {grad.shape}, but the tensor has shape {root.shape}")

    grads = {id(root): grad}  # id(tensor) -> gradient arrived so far (the tensors stay alive in `order`)
    owned = set()             # ids whose gradient array nothing else holds (a sum, or a fresh_grads result)
    for t in reversed(_topological_order(root)):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t._ctx is None or t._retains_grad:  # a leaf, or a tensor that asked to keep its grad
            t._accumulate_grad(g, owned=t._ctx is None and id(t) in owned)
        ctx = t._ctx
        if ctx is None:
            continue
        if not hasattr(ctx, "inputs"):
            raise RuntimeError("backward: trying to backward through the graph a second time (its saved "
                               "values were freed by the first backward); pass retain_graph=True to the first call")
        name = type(ctx).__name__
        for x, v in zip(ctx.inputs, ctx.versions):
            if isinstance(x, Tensor) and x._version != v:
                raise RuntimeError(f"backward: an input of {name} was modified by an in-place operation "
                                   "after it was used; its saved value is no longer valid")
        in_grads = ctx.backward(ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(ctx.inputs):
            raise RuntimeError(f"{name}.backward returned {len(in_grads)} gradients for {len(ctx.inputs)} inputs")
        for x, gx in zip(ctx.inputs, in_grads):
            if gx is None or not (isinstance(x, Tensor) and x.requires_grad):
                continue
            if gx.shape != x.shape:
                raise RuntimeError(f"{name}.backward returned a gradient of shape {gx.shape} "
                                   f"for an input of shape {x.shape}")
            prev = grads.get(id(x))
            grads[id(x)] = gx if prev is None else prev + gx
            if prev is not None or ctx.fresh_grads:
                owned.add(id(x))
            else:
                owned.discard(id(x))
        if not retain_graph:
            ctx.__dict__.clear()  # free the saved arrays; a second backward now fails clearly


# ---------------------------------------------------------------- Tensor
def _in_place(method):
    """Guard for in-place methods: they may not change a tensor the graph depends on."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if self.requires_grad and _grad_enabled:
            kind = "a leaf tensor that requires grad" if self._ctx is None else "a tensor in the autograd graph"
            raise RuntimeError(f"{method.__name__}: in-place operation on {kind}; "
                               "wrap it in cnnlab.no_grad() or use the out-of-place form")
        method(self, *args, **kwargs)
        self._version += 1
        return self

    return guarded


class Tensor:
    """An n-dimensional array with reverse-mode autograd, as ``torch.Tensor``.

    Make tensors with `cnnlab.tensor`, `cnnlab.zeros`, `cnnlab.randn`, ...;
    the constructor wraps an array as it is (no copy, no dtype change).

    Attributes:
        data: the NumPy array.
        requires_grad: whether gradients flow to this tensor.
        grad: the accumulated gradient (a Tensor of the same shape) or None.
    """

    __slots__ = ("data", "requires_grad", "_grad", "_ctx", "_version", "_retains_grad", "__weakref__")
    __array_ufunc__ = None  # make `ndarray * tensor` call Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.data
        elif not isinstance(data, np.ndarray):
            data = np.asarray(data)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating point tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self._grad = None
        self._ctx = None
        self._version = 0
        self._retains_grad = False

    # ---- autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute gradients of this tensor w.r.t. the graph leaves and add them to their `.grad`.

        Args:
            gradient: d(loss)/d(self); may be omitted only for a one-element tensor.
            retain_graph: keep the saved values so that backward can run again.
        """
        backward(self, gradient, retain_graph)

    @property
    def grad(self):
        """The gradient accumulated by `backward` (None until then); settable, as in PyTorch."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise ValueError(f"grad: assigned grad has shape {value.shape}, but the tensor has shape {self.shape}")
        self._grad = value

    def _accumulate_grad(self, g, owned: bool = False) -> None:
        """Add g to `.grad`; g is copied when first stored unless `owned` (nothing else holds it)."""
        if g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        if self._grad is None:
            self._grad = Tensor(g if owned else np.array(g, copy=True))  # own the array
        else:
            self._grad.data = self._grad.data + g

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op on tensors that require grad)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Function that made this tensor, or None for a leaf."""
        return self._ctx

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor too."""
        self._retains_grad = True

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory, as in PyTorch)."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating point tensors can require gradients, got {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    # ---- array facts
    shape = property(lambda self: self.data.shape, doc="The shape as a tuple of ints.")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype (cnnlab.float32, ...).")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    T = property(lambda self: self.permute(*reversed(range(self.ndim))), doc="All dims reversed.")

    def size(self, dim=None):
        """The shape, or the size of one dim, as ``torch.Tensor.size``."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

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

    def tolist(self):
        return self.data.tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool: a tensor with {self.data.size} elements is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.dtype not in (backend.get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ---- dtype conversion (differentiable between float dtypes)
    def to(self, dtype) -> "Tensor":
        return F.cast(self, dtype)

    type = to
    float = lambda self: F.cast(self, np.float32)  # noqa: E731
    double = lambda self: F.cast(self, np.float64)  # noqa: E731
    long = lambda self: F.cast(self, np.int64)  # noqa: E731
    int = lambda self: F.cast(self, np.int32)  # noqa: E731
    bool = lambda self: F.cast(self, np.bool_)  # noqa: E731

    def type_as(self, other: "Tensor") -> "Tensor":
        return F.cast(self, other.dtype)

    def clone(self) -> "Tensor":
        return F.clone(self)

    def contiguous(self) -> "Tensor":
        return self

    # ---- operators (NumPy broadcasting; see cnnlab.nn.functional.elementwise)
    def __add__(self, other): return F.add(self, other)
    def __radd__(self, other): return F.add(other, self)
    def __sub__(self, other): return F.sub(self, other)
    def __rsub__(self, other): return F.sub(other, self)
    def __mul__(self, other): return F.mul(self, other)
    def __rmul__(self, other): return F.mul(other, self)
    def __truediv__(self, other): return F.div(self, other)
    def __rtruediv__(self, other): return F.div(other, self)
    def __pow__(self, other): return F.pow(self, other)
    def __rpow__(self, other): return F.pow(other, self)
    def __matmul__(self, other): return F.matmul(self, other)
    def __rmatmul__(self, other): return F.matmul(other, self)
    def __neg__(self): return F.neg(self)
    def __pos__(self): return self
    def __abs__(self): return F.abs(self)
    def __getitem__(self, index): return F.getitem(self, index)

    # comparisons give bool tensors outside the graph
    def __eq__(self, other): return Tensor(self.data == _raw(other))
    def __ne__(self, other): return Tensor(self.data != _raw(other))
    def __lt__(self, other): return Tensor(self.data < _raw(other))
    def __le__(self, other): return Tensor(self.data <= _raw(other))
    def __gt__(self, other): return Tensor(self.data > _raw(other))
    def __ge__(self, other): return Tensor(self.data >= _raw(other))
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def equal(self, other) -> bool:
        return self.shape == other.shape and bool(np.array_equal(self.data, _raw(other)))

    def any(self): return Tensor(self.data.any())
    def all(self): return Tensor(self.data.all())

    add, sub, mul, div = __add__, __sub__, __mul__, __truediv__
    pow, matmul, neg = __pow__, __matmul__, __neg__

    # ---- in-place updates: only where no graph depends on the tensor (e.g. leaves under no_grad)
    @_in_place
    def __setitem__(self, index, value):
        self.data[_raw_index(index)] = _raw(value)

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

    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)

    # ---- math
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def sqrt(self): return F.sqrt(self)
    def abs(self): return F.abs(self)
    def tanh(self): return F.tanh(self)
    def sigmoid(self): return F.sigmoid(self)
    def relu(self): return F.relu(self)
    def clamp(self, min=None, max=None): return F.clamp(self, min, max)
    clip = clamp
    def maximum(self, other): return F.maximum(self, other)
    def minimum(self, other): return F.minimum(self, other)

    # ---- reductions
    def sum(self, dim=None, keepdim=False): return F.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return F.mean(self, dim, keepdim)
    def var(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
        return F.var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    def std(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
        return F.std(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    def max(self, dim=None, keepdim=False): return F.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return F.min(self, dim, keepdim)
    def amax(self, dim=None, keepdim=False): return F.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return F.amin(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return F.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return F.argmin(self, dim, keepdim)
    def softmax(self, dim): return F.softmax(self, dim)
    def log_softmax(self, dim): return F.log_softmax(self, dim)

    # ---- shape and movement
    def reshape(self, *shape): return F.reshape(self, _sizes(shape))
    def view(self, *shape): return F.reshape(self, _sizes(shape))
    def reshape_as(self, other): return F.reshape(self, other.shape)
    view_as = reshape_as
    def permute(self, *dims): return F.permute(self, _sizes(dims))
    def transpose(self, dim0, dim1): return F.transpose(self, dim0, dim1)
    def t(self): return F.transpose(self, 0, 1) if self.ndim == 2 else self
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)
    def squeeze(self, dim=None): return F.squeeze(self, dim)
    def unsqueeze(self, dim): return F.unsqueeze(self, dim)
    def expand(self, *sizes): return F.expand(self, _sizes(sizes))
    def expand_as(self, other): return F.expand(self, other.shape)
    def split(self, split_size_or_sections, dim=0): return F.split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return F.chunk(self, chunks, dim)


def _raw(x):
    """The array behind a Tensor, or the value itself."""
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def _sizes(args):
    """Accept both ``x.view(2, 3)`` and ``x.view((2, 3))``, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


from cnnlab.nn import functional as F  # noqa: E402  (the ops build on Tensor; methods call them lazily)
