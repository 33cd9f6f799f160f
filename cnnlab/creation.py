"""Making tensors: `tensor`, `zeros`, `ones`, `full`, `empty`, `arange`, `linspace`, `rand`, `randn`, `randint`.

The dtype rules are PyTorch's: Python floats give the default dtype (float32),
Python ints give int64, bools give bool, and a NumPy array keeps its dtype.
Random tensors draw from the generator seeded by `cnnlab.manual_seed`.
"""
from __future__ import annotations

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor

float32, float64, float16 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16)
int8, int16, int32, int64, uint8 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8))
bool = np.dtype(np.bool_)  # noqa: A001  (cnnlab.bool, as torch.bool)


def _dtype(dtype, op):
    if dtype is None:
        return None
    if isinstance(dtype, type) and issubclass(dtype, Tensor):
        raise TypeError(f"{op}: dtype must be a dtype such as cnnlab.float32, got {dtype}")
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype must be a dtype such as cnnlab.float32, got {dtype!r}") from None


def _infer(array: np.ndarray, from_numpy: bool) -> np.ndarray:
    kind = array.dtype.kind
    if kind in "OUSVMm":
        raise TypeError(f"tensor: can't make a tensor from data of dtype {array.dtype} "
                        "(expected numbers or bools, possibly nested in lists)")
    if from_numpy:
        return array
    if kind == "f":
        return array.astype(backend.get_default_dtype())
    if kind in "iu":
        return array.astype(np.int64)
    return array


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor that copies `data` (numbers, nested lists, an array or a Tensor), as ``torch.tensor``.

    Example:
        >>> cnnlab.tensor([[1.0, 2.0]], requires_grad=True).dtype
        dtype('float32')
    """
    if isinstance(data, Tensor):
        data = data.data
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    try:
        array = np.array(data, copy=True)
    except ValueError as e:
        raise ValueError(f"tensor: data must be rectangular (all lists of one level the same length): {e}") from None
    dt = _dtype(dtype, "tensor")
    array = _infer(array, from_numpy) if dt is None else array.astype(dt)
    return Tensor(array, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`, as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _size(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, np.bool_) and s >= 0 for s in size):
        raise ValueError(f"{op}: size must be non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype, op):
    dt = _dtype(dtype, op) or backend.get_default_dtype()
    return dt


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_size(size, "zeros"), _float_dtype(dtype, "zeros")), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_size(size, "ones"), _float_dtype(dtype, "ones")), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (here: zeros, so that nothing depends on leftover memory)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value`; the dtype follows the value's Python type, as ``torch.full``."""
    dt = _dtype(dtype, "full") or _infer(np.asarray(fill_value), False).dtype
    return Tensor(np.full(_size((size,), "full"), fill_value, dtype=dt), requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(input.shape, _dtype(dtype, "zeros_like") or input.dtype), requires_grad=requires_grad)


def ones_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(input.shape, _dtype(dtype, "ones_like") or input.dtype), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive) by step, as ``torch.arange``."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and step sign are inconsistent (start={start}, end={end}, step={step})")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = _dtype(dtype, "arange") or (np.dtype(np.int64) if ints else backend.get_default_dtype())
    return Tensor(np.arange(start, end, step).astype(dt), requires_grad=requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included, as ``torch.linspace``."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    dt = _float_dtype(dtype, "linspace")
    return Tensor(np.linspace(start, end, steps).astype(dt), requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    return Tensor(backend.generator().random(_size(size, "rand"), dtype=np.float64).astype(dt),
                  requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn")
    return Tensor(backend.generator().standard_normal(_size(size, "randn")).astype(dt), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    """Uniform integers in [low, high) (or [0, low) when high is omitted), as ``torch.randint``."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, high={high}")
    dt = _dtype(dtype, "randint") or np.dtype(np.int64)
    return Tensor(backend.generator().integers(low, high, size=_size((size,), "randint")).astype(dt))


def randperm(n: int, dtype=None) -> Tensor:
    """A random permutation of 0..n-1."""
    return Tensor(backend.generator().permutation(n).astype(_dtype(dtype, "randperm") or np.int64))
