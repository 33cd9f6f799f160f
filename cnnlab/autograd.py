"""Reverse-mode automatic differentiation: `Tensor`, `Function`, `backward`, `no_grad`.

How it works, in four sentences. A `Tensor` holds a NumPy array in `.data`.
Every differentiable operation is a `Function`: `forward` computes the result
from plain arrays and saves on `ctx` what `backward` will need, and `backward`
turns the gradient of the result into one gradient per input. Calling
`Function.apply` on tensors records the function as the result's `_ctx`, so
the records form a graph pointing back to the records that made their inputs,
and to the leaves. `Tensor.backward()` walks that graph from the output to the
leaves in reverse topological order, summing the gradients that arrive at each
record (fan-out adds up, as in ``micrograd``), and stores the sums on the
leaves' `.grad` (`_store_grad`), calling the leaf's hooks
(`Tensor.register_post_accumulate_grad_hook`) once it is stored.

As in PyTorch, the graph holds an intermediate tensor's array only where a
backward saved it: a record points to the records of its inputs, not to the
input tensors (it keeps weak references, for the version check and
`retain_grad`). So a conv's output that only ReLU read is freed once ReLU has
run, though ReLU's record leads back to the conv's. Tools that walk a traced
forward's tensors (ONNX export, receptive fields) record under `keep_inputs()`,
where each record also keeps its input tensors as ``ctx.inputs``.

This module imports nothing else of cnnlab. The ops (add, matmul, conv, ...)
live in `cnnlab.nn.functional`, and so do the Tensor's operators and
methods (``+``, ``x.sum()``, ``x.add_()``, ...): one table,
`cnnlab.nn.functional.tensor_methods`, put on `Tensor` when that package is
imported (``import cnnlab`` imports it). Each in-place change of a tensor adds
1 to ``t._version``; backward refuses an input changed after an op used it.
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

_grad_enabled = True
_keep_inputs = False


# ---------------------------------------------------------------- grad mode
class _GradMode(contextlib.ContextDecorator):
    enabled: bool

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False


class no_grad(_GradMode):
    """Context manager and decorator that turns off graph recording, as ``torch.no_grad``.

    Example:
        >>> with cnnlab.no_grad():
        ...     y = x * 2          # y.requires_grad is False
    """

    enabled = False


class enable_grad(_GradMode):
    """Turn graph recording back on inside a `no_grad` block, as ``torch.enable_grad``."""

    enabled = True


@contextlib.contextmanager
def keep_inputs():
    """Inside the block, each recorded op also keeps its input tensors (and so their arrays) as
    ``ctx.inputs``, for tools that walk the tensors of a traced forward (ONNX export, receptive
    fields). Outside it a graph holds only its records and what their backwards saved."""
    global _keep_inputs
    before, _keep_inputs = _keep_inputs, True
    try:
        yield
    finally:
        _keep_inputs = before


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
    gradient without a copy (see `_store_grad`).

    A subclass whose backward reads its output (saved on ctx in forward) sets ``saves_output = True``:
    backward then refuses an output changed in place after forward, as it refuses changed inputs.
    """

    fresh_grads = False
    saves_output = False

    @classmethod
    def apply(cls, *inputs, **options) -> "Tensor":
        ctx = cls()
        ctx.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        out = cls.forward(ctx, *arrays, **options)
        requires_grad = _grad_enabled and any(ctx.needs_input_grad)
        result = Tensor(out, requires_grad=requires_grad)
        if requires_grad:
            # per input: where its gradient goes (the record that made it, a leaf, or None), its shape, and
            # a weak reference with its version now (an input changed in place before backward is refused)
            ctx._next = tuple(None if not needs else x if x._ctx is None else x._ctx
                              for x, needs in zip(inputs, ctx.needs_input_grad))
            ctx._shapes = tuple(x.shape if needs else None for x, needs in zip(inputs, ctx.needs_input_grad))
            ctx._versions = tuple((weakref.ref(x), x._version) for x in inputs if isinstance(x, Tensor))
            ctx._output = weakref.ref(result)
            if _keep_inputs:
                ctx.inputs = inputs
            result._ctx = ctx
        return result

    @staticmethod
    def forward(ctx, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError


# ---------------------------------------------------------------- backward
def _topological_order(root) -> list:
    """The records and leaves that lead to `root` (a record, or a leaf Tensor), inputs before the results
    made from them."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # iterative post-order DFS: deep nets would overflow the recursion limit
        v, children_done = stack.pop()
        if children_done:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))
        if not isinstance(v, Tensor):
            for u in getattr(v, "_next", ()):
                if u is not None and id(u) not in seen:
                    stack.append((u, False))
    return order


def _store_grad(t: "Tensor", g: np.ndarray, owned: bool) -> None:
    """Add the finished gradient `g` of `t` to ``t.grad``.

    The first gradient is stored as it is when it is `owned`, C-contiguous, and `t` is a leaf: the sum of
    several arrivals, or the result of a ``fresh_grads`` Function, is an array nothing else
    holds (as PyTorch steals a gradient nobody else refers to). Any other gradient may be held
    elsewhere (add's backward hands its upstream gradient to both inputs; a non-leaf's
    gradient goes on to its inputs), so it is copied, and later gradients make a new array. A strided
    gradient (a conv kernel's view of its channels-last buffer) is copied to C order, as torch's gradients
    of contiguous tensors are: an optimizer's step over a strided array makes several slow passes.
    """
    if t._ctx is not None:
        owned = False
    if g.dtype != t.data.dtype:
        g, owned = g.astype(t.data.dtype), True
    if t._grad is None:   # C-contiguous, as torch's: a kernel's strided view would slow every later pass (a step)
        t._grad = Tensor(g if owned and g.flags.c_contiguous else np.array(g, copy=True, order="C"))
    else:
        t._grad.data = t._grad.data + g


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

    start = root if root._ctx is None else root._ctx
    grads = {id(start): grad}  # id(record or leaf) -> gradient arrived so far (they stay alive in `order`)
    owned = {}                 # id(record or leaf) -> whether nothing else holds that array (see _store_grad)
    for v in reversed(_topological_order(start)):
        g = grads.pop(id(v), None)
        if g is None:
            continue
        if isinstance(v, Tensor):   # a leaf
            _store_grad(v, g, owned.get(id(v), False))
            for hook in v._hooks or ():  # its gradient of this backward is complete: tell who asked
                hook(v)
            continue
        ctx = v
        if not hasattr(ctx, "_next"):
            raise RuntimeError("backward: trying to backward through the graph a second time (its saved "
                               "values were freed by the first backward); pass retain_graph=True to the first call")
        t = ctx._output()
        if t is not None and t._retains_grad:   # a tensor that asked to keep its grad
            _store_grad(t, g, False)
            for hook in t._hooks or ():
                hook(t)
        name = type(ctx).__name__
        if ctx.saves_output and t is not None and t._version != 0:
            raise RuntimeError(f"backward: the output of {name} was modified by an in-place operation after "
                               "it was computed; its backward reads that output")
        for ref, version in ctx._versions:
            x = ref()
            if x is not None and x._version != version:
                raise RuntimeError(f"backward: an input of {name} was modified by an in-place operation "
                                   "after it was used; its saved value is no longer valid")
        in_grads = ctx.backward(ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(ctx._next):
            raise RuntimeError(f"{name}.backward returned {len(in_grads)} gradients for {len(ctx._next)} inputs")
        for u, shape, gx in zip(ctx._next, ctx._shapes, in_grads):
            if gx is None or u is None:
                continue
            if gx.shape != shape:
                raise RuntimeError(f"{name}.backward returned a gradient of shape {gx.shape} "
                                   f"for an input of shape {shape}")
            prev = grads.get(id(u))
            grads[id(u)] = gx if prev is None else prev + gx
            owned[id(u)] = prev is not None or ctx.fresh_grads  # a sum, or a Function's fresh array
        if not retain_graph:
            ctx.__dict__.clear()  # free the saved arrays; a second backward now fails clearly


# ---------------------------------------------------------------- Tensor
class Tensor:
    """An n-dimensional array with reverse-mode autograd, as ``torch.Tensor``.

    Make tensors with `cnnlab.tensor`, `cnnlab.zeros`, `cnnlab.randn`, ...;
    the constructor wraps an array as it is (no copy, no dtype change). The
    operators and array methods come from `cnnlab.nn.functional.tensor_methods`.

    Attributes:
        data: the NumPy array.
        requires_grad: whether gradients flow to this tensor.
        grad: the accumulated gradient (a Tensor of the same shape) or None.
    """

    __slots__ = ("data", "requires_grad", "_grad", "_ctx", "_version", "_retains_grad", "_hooks", "__weakref__")
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
        self._hooks = None

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

    def register_post_accumulate_grad_hook(self, hook) -> "HookHandle":
        """Call ``hook(self)`` in each backward, right after this tensor's gradient of that backward
        was added to ``.grad`` (once per backward), as ``torch.Tensor.register_post_accumulate_grad_hook``.
        Returns a handle whose ``remove()`` unregisters it. (Data-parallel training starts reducing
        gradients there while backward goes on.)"""
        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got {type(hook).__name__}")
        self._hooks = (self._hooks or []) + [hook]
        return HookHandle(self, hook)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory, as in PyTorch)."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating point tensors can require gradients, got {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    shape = property(lambda self: self.data.shape, doc="The shape as a tuple of ints.")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype (cnnlab.float32, ...).")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")


class HookHandle:
    """What `Tensor.register_post_accumulate_grad_hook` returns: ``remove()`` takes the hook off again."""

    def __init__(self, tensor: Tensor, hook):
        self.tensor, self.hook = tensor, hook

    def remove(self) -> None:
        hooks = [h for h in self.tensor._hooks or () if h is not self.hook]
        self.tensor._hooks = hooks or None
