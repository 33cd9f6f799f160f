"""One output element and its window, read from the op's own window view (the parts every explanation shares).

`Term` is one product input × weight; `element_index` checks ``at`` and ``batch``; `window_cells` and
`window_values` are the op's read-only window view (`windows` of the padded input) at one output,
applied to a grid of positions and to the data; `agreement` compares a sum with the op's output.
"""
from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass

import numpy as np

from cnnlab.explain import printing as fmt
from cnnlab.messages import SettingError
from cnnlab.nn.functional._windows import windows

__all__ = ["Term", "Element", "Windowed", "plain", "agreement", "element_index", "batched", "window_cells", "window_values",
           "inside"]


@dataclass(frozen=True)
class Term:
    """One product input × weight of a sum.

    Attributes:
        channel: the input channel.
        position: where the input value is: on the padded input (conv, pooling) or the input itself
            (transposed conv).
        value: the input value.
        weight_index: the weight's full index (out, in/groups, *tap) for conv, (in, out/groups, *tap) for
            transposed conv; () for pooling.
        weight: the weight value (1 for pooling).
    """
    channel: int
    position: tuple
    value: float
    weight_index: tuple = ()
    weight: float = 1.0

    def __str__(self) -> str:
        return f"{fmt.factor(self.value)}×{fmt.factor(self.weight)}"


def plain(value):
    """An explanation (a dataclass) or any of its parts as plain dicts, lists, numbers and strings, for JSON:
    tuples as lists, NumPy numbers as Python's, non-finite floats (the −∞ padding of max pooling) as None.

    Example:
        >>> plain(Term(0, (1, 1), float("-inf")))
        {'channel': 0, 'position': [1, 1], 'value': None, 'weight_index': [], 'weight': 1.0}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class Element:
    """What every explanation of one element holds.

    Attributes:
        op: the op explained ('conv2d', 'max_pool2d', ...).
        index: the element: (batch, channel, *position).
        value: what the explanation computes there, in the tensor's dtype.
        op_value: the op's own output there.
        agrees: whether the two are equal to float rounding (they always must be).
        check: the line that says so.
    """
    op: str
    index: tuple
    value: float
    op_value: float
    agrees: bool
    check: str

    def to_dict(self) -> dict:
        """The explanation as plain dicts, lists, numbers and strings (`plain`), for JSON."""
        return plain(self)


@dataclass(frozen=True)
class Windowed(Element):
    """An output element computed from one window of the padded input (conv, pooling).

    Attributes:
        terms: the window's `Term`s, input channel by channel, taps in row-major order.
        window: the padded-input coordinates the window reads (the same in every channel).
        padded_shape, pads: the padded input's spatial shape and its (before, after) padding per axis.
    """
    terms: tuple
    window: tuple
    padded_shape: tuple
    pads: tuple


def agreement(op, ours, theirs, scale, dtype) -> tuple[bool, str]:
    """Whether `ours` equals the op's output `theirs` to float rounding, and the line that says so.

    Sums in another order differ by at most about K·eps·Σ|term| for K terms; the tolerance is 32·eps·scale
    (scale: Σ|term|, plus |bias|), well above the rounding of the sums explained here and far below any
    real difference.

    Example:
        >>> agreement("conv2d", 770.0, 770.0, 770.0, np.float64)
        (True, 'conv2d computes 770: the same')
    """
    eps = float(np.finfo(dtype).eps)
    same = ours == theirs or (math.isnan(ours) and math.isnan(theirs)) or abs(ours - theirs) <= 32 * eps * scale
    if same:
        return True, f"{op} computes {fmt.number(theirs)}: the same" + ("" if ours == theirs else " to float rounding")
    return False, f"{op} computes {fmt.number(theirs)}: DIFFERENT from {fmt.number(ours)} by {ours - theirs:.3g}"


def _is_int(value) -> bool:
    return not isinstance(value, bool) and hasattr(value, "__index__")


def element_index(op, at, shape, D, batch, N, what="output") -> tuple[tuple, int]:
    """(`at`, `batch`) as ints: `at` = (channel, *position) inside `shape` = (C, *spatial) of the output (or
    the input, `what`), `batch` in [0, N); else a `SettingError` that names ``at`` or ``batch``.

    Example:
        >>> element_index("explain.conv2d", (0, 1, 1), (1, 2, 2), 2, 0, 1)
        ((0, 1, 1), 0)
    """
    names = ", ".join(("channel",) + fmt.AXES[D])
    items = tuple(at) if isinstance(at, (tuple, list)) else ()
    if len(items) != D + 1 or not all(_is_int(v) for v in items):
        raise SettingError(op, f"{{at}} must be ({names}), {D + 1} ints, got {at!r}", "at")
    items = tuple(operator.index(v) for v in items)
    if not all(0 <= v < m for v, m in zip(items, shape)):
        raise SettingError(op, f"{{at}} must be ({names}) inside the {what}'s {tuple(shape)}, got "
                               f"{', '.join(map(str, items))}", "at")
    if not _is_int(batch) or not 0 <= operator.index(batch) < N:
        raise SettingError(op, f"{{batch}} must be an int in [0, {N}) (the input's batch size), got {batch!r}",
                           "batch")
    return items, operator.index(batch)


def batched(x: np.ndarray, D: int) -> np.ndarray:
    """x (N, C, *n) as it is, or an unbatched (C, *n) with N = 1, as the ops batch their input."""
    return x[None] if x.ndim == D + 1 else x                                  # (N, C, *n)


def window_cells(padded, kernel, stride, dilation, out, position) -> np.ndarray:
    """The coordinates (K, D) on an axis grid of shape `padded` that the window at output `position` reads,
    row-major over the taps: the op's window view applied to a grid of flat positions."""
    grid = np.arange(math.prod(padded)).reshape((1, 1) + tuple(padded))      # (1, 1, *padded)
    view = windows(grid, kernel, stride, dilation, out)                      # (1, 1, *k, *out)
    flat = view[(0, 0) + (slice(None),) * len(kernel) + tuple(position)].reshape(-1)   # (K,)
    return np.stack(np.unravel_index(flat, padded), axis=1)                  # (K, D)


def window_values(x_pad, kernel, stride, dilation, out, n, channels, position) -> np.ndarray:
    """The values (len(channels), K) that the op's window view holds at output `position` of sample n."""
    view = windows(x_pad, kernel, stride, dilation, out)                     # (N, C, *k, *out)
    w = view[(n, channels) + (slice(None),) * len(kernel) + tuple(position)]  # (C_g, *k)
    return w.reshape(w.shape[0], -1)                                         # (C_g, K)


def inside(cells, pads, spatial) -> list[bool]:
    """For each padded coordinate, whether it is an input element (not padding, not overhang).

    Example:
        >>> inside([(0, 0), (1, 1)], ((1, 1), (1, 1)), (3, 3))
        [False, True]
    """
    return [all(a <= q < a + m for q, (a, _), m in zip(cell, pads, spatial)) for cell in cells]
