"""The lecture's arithmetic on real tensors: one output element of a conv or a pool, term by term.

Every number comes from the op's own code path, never from a second implementation:

- the arguments are checked by the op's own checks (`conv_args`, `max_pool_args`, ...), so an
  explanation accepts exactly what the op accepts, and fails where it fails, before any work;
- the window is taken from the same read-only window view that the op computes with
  (`windows` of `pad_constant(input, pads)`), and the coordinates that it marks are that view
  applied to a grid of positions, so the cells shown are the cells the op reads;
- the products are formed and summed (plus the bias, over the group's input channels), and the
  sum is compared with the op's own output at that element (`agrees`): they differ by float
  rounding at most. Max pooling's winner is chosen by the op's `max_and_first_tap` (PyTorch's tie
  rule) and compared with the op's ``return_indices``; the sizes of `output_size` are those of
  `cnnlab.shapes`.

Notation (per spatial axis, as `cnnlab.shapes`): n input size, k kernel size, s stride, p padding,
d dilation, o output size; output i of a conv reads the padded input at i·s + t·d for the taps
t = 0..k−1, and

    S[n, o, i] = b[o] + Σ_c Σ_t I_pad[n, c, i·s + t·d] · K[o, c, t]     (c over o's group)

Each function returns a small frozen dataclass (the terms, the sums, the window's coordinates, the
op's value); ``print()`` shows it the lecture's way, numbers without a trailing .0 when integral
and otherwise to 6 significant digits:

Example:
    >>> import cnnlab
    >>> x = cnnlab.tensor([[[1., 2, 3], [4, 5, 6], [7, 8, 9]]])
    >>> w = cnnlab.tensor([[[[10., 20], [30, 40]]]])
    >>> print(conv2d(x, w, at=(0, 1, 1)).sum_line())
    5×10 + 6×20 + 8×30 + 9×40 = 770
    >>> print(output_size(11, 3, stride=2, padding=1, dilation=2).starts)
    (0, 2, 4, 6, 8)
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab import arguments, shapes
from cnnlab.autograd import Tensor, no_grad
from cnnlab.messages import SettingError, counted
from cnnlab.nn import functional as F
from cnnlab.nn.functional.conv import conv_args, conv_transpose_args
from cnnlab.nn.functional.pooling import avg_divisor, avg_pool_args, max_pool_args, pool_geometry
from cnnlab.nn.functional._window_ops import max_and_first_tap
from cnnlab.nn.functional._windows import pad_constant, windows

__all__ = ["Term", "ConvExplanation", "MaxPoolExplanation", "AvgPoolExplanation", "Scatter",
           "ScatterExplanation", "TransposeExplanation", "SizeExplanation", "number", "grid", "matrix",
           "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "conv_transpose1d_scatter", "conv_transpose2d_scatter", "conv_transpose3d_scatter",
           "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "output_size"]

#: the largest padded axis a text grid shows whole; longer axes are cut to the window and 2 cells around it
GRID_MAX = 15
#: grids of at most this many channels are shown (the window is the same in every channel)
GRID_CHANNELS = 4
#: how many window starts `output_size` lists before it writes "…"
STARTS_SHOWN = 12
AXES = {1: ("i",), 2: ("i", "j"), 3: ("d", "i", "j")}


# ---------------------------------------------------------------- how numbers are written
def number(value) -> str:
    """A number the lecture's way: integral values without a trailing .0, others to 6 significant digits.

    Example:
        >>> number(370.0), number(-2.0), number(0.1 + 0.2), number(float("inf"))
        ('370', '-2', '0.3', 'inf')
    """
    v = float(value)
    if math.isfinite(v) and v == round(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def _factor(value) -> str:
    """A factor of a product: negative numbers in parentheses, 2×(-3)."""
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def _sum_text(parts) -> str:
    """a + b + (-c) ... of already formatted parts ('0' for none)."""
    return " + ".join(parts) if parts else "0"


def _agreement(op, ours, theirs, scale, dtype) -> tuple[bool, str]:
    """Whether our sum equals the op's output to float rounding (a few ulps of the sum of |terms|), and a line."""
    tol = 8 * np.finfo(dtype).eps * max(scale, np.finfo(dtype).tiny) * 4
    same = bool(ours == theirs or (math.isnan(ours) and math.isnan(theirs)) or abs(ours - theirs) <= tol)
    if same:
        return True, f"{op} computes {number(theirs)}: the same" + ("" if ours == theirs else " to float rounding")
    return False, f"{op} computes {number(theirs)}: DIFFERENT from {number(ours)} by {ours - theirs:.3g}"


# ---------------------------------------------------------------- arguments
def _at(op, at, out, D, batch, N):
    """`at` (channel, *position) inside the output (C, *out) and `batch` in [0, N), as ints, or SettingError."""
    names = ", ".join(("channel",) + AXES[D])
    items = tuple(at) if isinstance(at, (tuple, list)) else None
    if items is None or len(items) != D + 1 or not all(isinstance(v, int) or (hasattr(v, "__index__") and not
                                                                              isinstance(v, bool)) for v in items):
        raise SettingError(op, f"{{at}} must be ({names}), {D + 1} ints, got {at!r}", "at")
    items = tuple(operator.index(v) for v in items)
    if not all(0 <= v < m for v, m in zip(items, out)):
        raise SettingError(op, f"{{at}} must be ({names}) inside the output's {tuple(out)}, got "
                               f"{', '.join(map(str, items))}", "at")
    if isinstance(batch, bool) or not hasattr(batch, "__index__") or not 0 <= operator.index(batch) < N:
        raise SettingError(op, f"{{batch}} must be an int in [0, {N}) (the input's batch size), got {batch!r}",
                           "batch")
    return items, operator.index(batch)


def _batched(x: np.ndarray, D: int) -> np.ndarray:
    return x[None] if x.ndim == D + 1 else x                                  # (N, C, *n)


def _cells(padded, kernel, stride, dilation, out, position) -> np.ndarray:
    """The coordinates (K, D) on an axis grid of shape `padded` that the window at output `position` reads,
    row-major over the taps: the op's window view applied to a grid of flat positions."""
    grid = np.arange(math.prod(padded)).reshape((1, 1) + tuple(padded))      # (1, 1, *padded)
    view = windows(grid, kernel, stride, dilation, out)                      # (1, 1, *k, *out)
    flat = view[(0, 0) + (slice(None),) * len(kernel) + tuple(position)].reshape(-1)   # (K,)
    return np.stack(np.unravel_index(flat, padded), axis=1)                  # (K, D)


def _window_values(x_pad, kernel, stride, dilation, out, n, channels, position) -> np.ndarray:
    """The values (len(channels), K) that the op's window view holds at output `position` of sample n."""
    view = windows(x_pad, kernel, stride, dilation, out)                     # (N, C, *k, *out)
    w = view[(n, channels) + (slice(None),) * len(kernel) + tuple(position)]  # (C_g, *k)
    return w.reshape(w.shape[0], -1)                                         # (C_g, K)


# ---------------------------------------------------------------- text grids
def _axis_range(size, coords):
    """The positions of one axis a grid shows: all, or (when long) the window's and 2 around it."""
    if size <= GRID_MAX:
        return list(range(size))
    return list(range(max(min(coords) - 2, 0), min(max(coords) + 3, size)))


def _padding_note(shape, pads, overhang=None, fill=None) -> str:
    """'input 3×3 (no padding)', 'padded input 5×5 (padding 1 on each side)', the (before, after) pairs per
    axis when they differ; for pooling, the ceil-mode overhang past the padding and what the padding reads."""
    dims = "×".join(map(str, shape))
    overhang = overhang or (0,) * len(pads)
    nominal = tuple((a, b - o) for (a, b), o in zip(pads, overhang))
    parts = []
    if any(a or b for a, b in nominal):
        uniform = len({a for pair in nominal for a in pair}) == 1
        parts.append(f"padding {nominal[0][0]} on each side" if uniform else
                     f"padding (before, after) per axis {', '.join(map(str, nominal))}")
    if any(overhang):
        parts.append(f"ceil-mode overhang {_axes(overhang)} after " +
                     ("each axis" if len(set(overhang)) == 1 else "the axes"))
    if not parts:
        return f"input {dims} (no padding)"
    return f"padded input {dims} ({'; '.join(parts + ([f'it reads {fill}'] if fill else []))})"


def grid(plane: np.ndarray, marked, special=()) -> str:
    """A text grid of a D-d plane (padded coordinates as row and column labels), the cells `marked` in [ ]
    and those in `special` in < > (max pooling's winner); leading axes of a 3-d plane as 'slice d'.

    Example:
        >>> print(grid(np.arange(1., 5).reshape(2, 2), [(0, 1), (1, 1)]))
            0   1
        0   1  [2]
        1   3  [4]
    """
    plane = np.asarray(plane)
    if plane.ndim == 1:
        plane, marked, special = plane[None], [(0,) + tuple(c) for c in marked], [(0,) + tuple(c) for c in special]
        return _grid_2d(plane, set(map(tuple, marked)), set(map(tuple, special)), row_labels=False)
    marked, special = set(map(tuple, marked)), set(map(tuple, special))
    if plane.ndim == 2:
        return _grid_2d(plane, marked, special)
    blocks = []
    for lead in sorted({c[:-2] for c in marked}):
        inner = {c[-2:] for c in marked if c[:-2] == lead}
        star = {c[-2:] for c in special if c[:-2] == lead}
        blocks.append(f"slice {', '.join(map(str, lead))}:\n" + _grid_2d(plane[lead], inner, star))
    return "\n".join(blocks)


def _grid_2d(plane, marked, special, row_labels=True) -> str:
    rows = _axis_range(plane.shape[0], [c[0] for c in marked] or [0])
    cols = _axis_range(plane.shape[1], [c[1] for c in marked] or [0])

    def cell(r, c):
        text = number(plane[r, c])
        return f"<{text}>" if (r, c) in special else f"[{text}]" if (r, c) in marked else f" {text} "

    cells = {(r, c): cell(r, c) for r in rows for c in cols}
    width = max(max(map(len, cells.values())), max(len(str(c)) for c in cols) + 1) + 1
    label = max(len(str(r)) for r in rows) + 1 if row_labels else 0
    cut_left, cut_right = cols[0] > 0, cols[-1] < plane.shape[1] - 1
    lines = [" " * label + (" …" if cut_left else "") + "".join(f"{c:>{width - 1}} " for c in cols)]
    if rows[0] > 0:
        lines.append(" " * label + " …")
    for r in rows:
        head = f"{r:<{label}}" if row_labels else ""
        body = "".join(f"{cells[r, c]:>{width}}" for c in cols)
        lines.append(head + (" …" if cut_left else "") + body + (" …" if cut_right else ""))
    if rows[-1] < plane.shape[0] - 1:
        lines.append(" " * label + " …")
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------- convolution
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
        return f"{_factor(self.value)}×{_factor(self.weight)}"


def _channel_lines(terms, sums, bias, total, single) -> list[str]:
    """'1×10 + 2×20 = 50' for one channel, or a line per channel and then their sum with the bias."""
    by_channel = {}
    for t in terms:
        by_channel.setdefault(t.channel, []).append(str(t))
    if single:
        (c, s), = sums
        lines = [f"{_sum_text(by_channel.get(c, []))} = {number(s)}"]
        if bias is not None:
            lines.append(f"{number(s)} + bias {_factor(bias)} = {number(total)}")
        return lines
    lines = [f"channel {c}: {_sum_text(by_channel.get(c, []))} = {number(s)}" for c, s in sums]
    parts = [_factor(s) for _, s in sums] + ([f"bias {_factor(bias)}"] if bias is not None else [])
    return lines + [f"{_sum_text(parts)} = {number(total)}"]


@dataclass(frozen=True)
class ConvExplanation:
    """One output element of a convolution, term by term (returned by `conv1d`, `conv2d`, `conv3d`).

    Attributes:
        op: the op explained ('conv2d').
        index: the output element (batch, channel, *position).
        terms: the products, channel by channel, taps in row-major order.
        channel_sums: (input channel, Σ of its products) for the group's input channels.
        bias: the bias of the output channel, or None.
        value: Σ channel_sums + bias, computed here in the tensor's dtype.
        op_value: the op's own output at `index`.
        agrees: whether they are equal to float rounding (they always must be).
        window: the padded-input coordinates the window reads (the same in every channel).
        padded_shape, pads: the padded input's spatial shape and the (before, after) zeros per axis.
        stride, dilation: canonical, per axis.
        grids: the text grid of each shown channel, the window in [ ].
    """
    op: str
    index: tuple
    terms: tuple
    channel_sums: tuple
    bias: float | None
    value: float
    op_value: float
    agrees: bool
    window: tuple
    padded_shape: tuple
    pads: tuple
    stride: tuple
    dilation: tuple
    grids: tuple
    check: str

    def sum_line(self) -> str:
        """The sum of the products (and, with more channels or a bias, the lines that lead to the value)."""
        single = len(self.channel_sums) == 1
        return "\n".join(_channel_lines(self.terms, self.channel_sums, self.bias, self.value, single))

    def __str__(self) -> str:
        b, c, *pos = self.index
        channels = [c for c, _ in self.channel_sums]
        head = (f"{self.op} output[{', '.join(map(str, self.index))}] (batch {b}, channel {c}, at "
                f"{_position(pos)}): stride {_axes(self.stride)}, dilation {_axes(self.dilation)}, "
                f"input channel{'s' * (len(channels) > 1)} {_span(channels)}")
        lines = [head] + ["  " + line for line in self.sum_line().splitlines()]
        lines.append("  " + _padding_note(self.padded_shape, self.pads) + ", the window in [ ]:")
        for channel, text in self.grids:
            if len(channels) > 1:
                lines.append(f"  input channel {channel}:")
            lines += ["    " + line for line in text.splitlines()]
        if len(channels) > len(self.grids):
            lines.append(f"  (grids of {counted(len(channels) - len(self.grids), 'more channel')} left out: "
                         "the window is the same)")
        return "\n".join(lines + ["  " + self.check])


def _axes(values) -> str:
    """(2, 2) as 2, (2, 1) as (2, 1)."""
    return str(values[0]) if len(set(values)) == 1 else str(tuple(values))


def _per_axis(value, D) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value,) * D


def _position(position) -> str:
    """(1, 2) as (1, 2), (3,) as 3."""
    return str(position[0]) if len(position) == 1 else f"({', '.join(map(str, position))})"


def _span(channels) -> str:
    return str(channels[0]) if len(channels) == 1 else f"{channels[0]}-{channels[-1]}"


def _conv_nd(op, D, input, weight, bias, stride, padding, dilation, groups, at, batch):
    groups, stride, dilation, pads = conv_args("explain." + op, D, input, weight, bias, stride, padding, dilation,
                                               groups)
    x = _batched(input.data, D)                                               # (N, C, *n)
    x_pad = pad_constant(x, pads, 0)                                          # (N, C, *padded), as the op
    k = weight.shape[2:]
    out = tuple(shapes.conv_output_size(n, kk, s, 0, d, op=op) for n, kk, s, d in zip(x_pad.shape[2:], k, stride,
                                                                                      dilation))
    (o, *position), n = _at("explain." + op, at, (weight.shape[0],) + out, D, batch, x.shape[0])
    Cg, Og = weight.shape[1], weight.shape[0] // groups
    channels = slice(o // Og * Cg, (o // Og + 1) * Cg)                        # the group's input channels
    values = _window_values(x_pad, k, stride, dilation, out, n, channels, position)   # (C_g, K)
    w = weight.data[o].reshape(Cg, -1)                                        # (C_g, K)
    products = values * w                                                     # (C_g, K), in the dtype
    cells = _cells(x_pad.shape[2:], k, stride, dilation, out, position)      # (K, D)
    taps = list(np.ndindex(*k))
    terms = tuple(Term(channels.start + c, tuple(map(int, cells[t])), float(values[c, t]), (o, c) + taps[t],
                       float(w[c, t])) for c in range(Cg) for t in range(len(taps)))
    sums = products.sum(axis=1)                                               # (C_g,)
    total = sums.sum() + (bias.data[o] if bias is not None else 0)
    with no_grad():
        y = _batched(_CONV[D](input, weight, bias, stride, padding, dilation, groups).data, D)   # the op itself
    op_value = float(y[(n, o) + tuple(position)])
    agrees, check = _agreement(op, float(total), op_value, float(np.abs(products).sum()) +
                               (abs(float(bias.data[o])) if bias is not None else 0.0), x.dtype)
    shown = range(channels.start, min(channels.stop, channels.start + GRID_CHANNELS))
    grids = tuple((c, grid(x_pad[n, c], cells)) for c in shown)
    return ConvExplanation(op, (n, o) + tuple(position), terms,
                           tuple((channels.start + c, float(v)) for c, v in enumerate(sums)),
                           None if bias is None else float(bias.data[o]), float(total), op_value, agrees,
                           tuple(tuple(map(int, c)) for c in cells), x_pad.shape[2:], pads, stride, dilation, grids,
                           check)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, at, batch=0) -> ConvExplanation:
    """One output element of `cnnlab.nn.functional.conv1d`, term by term; arguments as that op's, and

    Args:
        at: the output element (channel, i).
        batch: the sample of a batched input. Default: 0.

    Returns:
        a `ConvExplanation`: S[n, o, i] = b[o] + Σ_c Σ_t I_pad[n, c, i·s + t·d]·K[o, c, t].
    """
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups, at, batch)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, at, batch=0) -> ConvExplanation:
    """One output element of `cnnlab.nn.functional.conv2d`, term by term, with the window on the padded input.

    S[n, o, i, j] = b[o] + Σ_c Σ_m Σ_l I_pad[n, c, i·s_H + m·d_H, j·s_W + l·d_W]·K[o, c, m, l], c over the
    input channels of o's group; the products come from the op's window view and their sum is compared
    with the op's own output there.

    Args:
        input, weight, bias, stride, padding, dilation, groups: as `cnnlab.nn.functional.conv2d` (the same
            checks run, under the name explain.conv2d).
        at: the output element (channel, i, j).
        batch: the sample of a batched input. Default: 0.

    Returns:
        a `ConvExplanation`; ``print()`` shows the terms, the per-channel sums, the bias and a text grid of
        the padded input with the window marked.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kH, kW); at within
        (C_out, oH, oW), o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1.

    Example:
        >>> x = cnnlab.tensor([[[1., 2, 3], [4, 5, 6], [7, 8, 9]]])
        >>> e = conv2d(x, cnnlab.tensor([[[[10., 20], [30, 40]]]]), at=(0, 0, 0))
        >>> e.value, e.window
        (370.0, ((0, 0), (0, 1), (1, 0), (1, 1)))
    """
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups, at, batch)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, at, batch=0) -> ConvExplanation:
    """One output element of `cnnlab.nn.functional.conv3d`, term by term; arguments as `conv2d`, at = (channel,
    d, i, j); the grid shows each depth slice of the padded input that the window reads."""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups, at, batch)


# ---------------------------------------------------------------- pooling
def _pool_head(op, index, **settings) -> str:
    b, c, *pos = index
    shown = ", ".join(f"{name.replace('_', ' ')} {_axes(v) if isinstance(v, tuple) else v}"
                      for name, v in settings.items())
    return f"{op} output[{', '.join(map(str, index))}] (batch {b}, channel {c}, at {_position(pos)}): {shown}"


def _inside(cells, pads, spatial) -> list[bool]:
    """For each padded coordinate, whether it is an input element (not padding, not overhang)."""
    return [all(a <= q < a + m for q, (a, _), m in zip(cell, pads, spatial)) for cell in cells]


@dataclass(frozen=True)
class MaxPoolExplanation:
    """One output element of max pooling (returned by `max_pool1d`, `max_pool2d`, `max_pool3d`).

    Attributes:
        op, index: the op ('max_pool2d') and the output element (batch, channel, *position).
        terms: the window's cells (`Term`: channel, padded position, value), taps in row-major order;
            padding reads −∞.
        winner: the padded position of the maximum PyTorch picks (the first one on ties, the last NaN if
            any, the first input element if all are −∞), or None for a window of padding only.
        winner_index: its flat index in the (N, C) plane of the input, as ``return_indices`` gives it.
        value, op_value, op_index: the maximum, and the op's own output and index there.
        agrees: whether value and index are the op's.
        window, padded_shape, pads, grid, check: as `ConvExplanation` (the winner in < >).
    """
    op: str
    index: tuple
    terms: tuple
    winner: tuple | None
    winner_index: int | None
    value: float
    op_value: float
    op_index: int
    agrees: bool
    window: tuple
    padded_shape: tuple
    pads: tuple
    settings: dict
    grid: str
    check: str

    @property
    def overhang(self) -> tuple:
        """Per axis, the ceil-mode overhang: padded cells past the padding p after the input."""
        return tuple(b - p for (_, b), p in zip(self.pads, _per_axis(self.settings["padding"], len(self.pads))))

    def __str__(self) -> str:
        values = ", ".join(number(t.value) for t in self.terms)
        if self.winner is None:
            where = "the window holds padding only"
        else:
            at = tuple(q - a for q, (a, _) in zip(self.winner, self.pads))
            where = (f"at input {_position(at)}: flat index {self.winner_index} of its plane (return_indices); "
                     "ties go to the first in the window's row-major order")
        return "\n".join([_pool_head(self.op, self.index, **self.settings),
                          f"  max({values}) = {number(self.value)}, {where}",
                          "  " + _padding_note(self.padded_shape, self.pads, self.overhang, "-inf") +
                          ", the window in [ ], the maximum in < >:"]
                         + ["    " + line for line in self.grid.splitlines()] + ["  " + self.check])


def _max_pool_nd(op, D, input, kernel_size, stride, padding, dilation, ceil_mode, at, batch):
    k, s, p, d, out, pads = max_pool_args("explain." + op, D, input, kernel_size, stride, padding, dilation,
                                          ceil_mode)
    x = _batched(input.data, D)                                               # (N, C, *n)
    (c, *position), n = _at("explain." + op, at, (x.shape[1],) + out, D, batch, x.shape[0])
    x_pad = pad_constant(x, pads, -np.inf)                                    # as the op
    values = _window_values(x_pad, k, s, d, out, n, slice(c, c + 1), position)[0]   # (K,)
    cells = [tuple(map(int, q)) for q in _cells(x_pad.shape[2:], k, s, d, out, position)]
    best, first = max_and_first_tap(lambda t: values[t:t + 1], len(values))  # the op's search and tie rule
    best, tap = best[0], int(first[0])
    inside = _inside(cells, pads, x.shape[2:])
    if best == -np.inf:                                                       # PyTorch: the first input element
        tap = inside.index(True) if any(inside) else None
    winner = None if tap is None else cells[tap]
    winner_index = None if winner is None else int(np.ravel_multi_index(
        tuple(q - a for q, (a, _) in zip(winner, pads)), x.shape[2:]))
    with no_grad():
        y, index = _MAX_POOL[D](input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    where = (n, c) + tuple(position)
    op_value, op_index = float(_batched(y.data, D)[where]), int(_batched(index.data, D)[where])
    same_value = best == op_value or (np.isnan(best) and math.isnan(op_value))
    agrees = bool(same_value and (winner is None or winner_index == op_index))
    check = f"{op} computes {number(op_value)} at index {op_index}: " + ("the same" if agrees else "DIFFERENT")
    terms = tuple(Term(c, q, float(v)) for q, v in zip(cells, values))
    return MaxPoolExplanation(op, where, terms, winner, winner_index, float(best), op_value, op_index, agrees,
                              tuple(cells), x_pad.shape[2:], pads,
                              dict(kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode),
                              grid(x_pad[n, c], cells, [] if winner is None else [winner]), check)


@dataclass(frozen=True)
class AvgPoolExplanation:
    """One output element of average pooling (returned by `avg_pool1d`, `avg_pool2d`, `avg_pool3d`).

    Attributes:
        op, index: the op ('avg_pool2d') and the output element (batch, channel, *position).
        terms: the window's cells (`Term`: channel, padded position, value); padding and the ceil-mode
            overhang read 0.
        total: Σ of the window, in the tensor's dtype.
        divisor: what the sum is divided by: divisor_override, or the product of `divisor_factors`.
        divisor_factors: per axis, the window's cells in the padded input (count_include_pad=True; the
            ceil-mode overhang past the padding never counts) or in the input (False); () with an override.
        value, op_value, agrees, window, padded_shape, pads, grid, check: as `ConvExplanation`.
    """
    op: str
    index: tuple
    terms: tuple
    total: float
    divisor: int
    divisor_factors: tuple
    value: float
    op_value: float
    agrees: bool
    window: tuple
    padded_shape: tuple
    pads: tuple
    settings: dict
    grid: str
    check: str

    @property
    def overhang(self) -> tuple:
        """Per axis, the ceil-mode overhang: padded cells past the padding p after the input."""
        return tuple(b - p for (_, b), p in zip(self.pads, _per_axis(self.settings["padding"], len(self.pads))))

    def __str__(self) -> str:
        values = " + ".join(_factor(t.value) for t in self.terms)
        if not self.divisor_factors:
            why = f"divisor {self.divisor} (divisor_override)"
        else:
            counted_in = "padded input" if self.settings["count_include_pad"] else "input"
            why = (f"divisor {self.divisor} = {'×'.join(map(str, self.divisor_factors))}: the window's cells in the "
                   f"{counted_in} (count_include_pad={self.settings['count_include_pad']}"
                   + ("; the ceil-mode overhang never counts)" if self.settings["ceil_mode"] else ")"))
        return "\n".join([_pool_head(self.op, self.index, **self.settings),
                          f"  ({values}) / {self.divisor} = {number(self.total)} / {self.divisor} = "
                          f"{number(self.value)}", "  " + why,
                          "  " + _padding_note(self.padded_shape, self.pads, self.overhang, "0") +
                          ", the window in [ ]:"]
                         + ["    " + line for line in self.grid.splitlines()] + ["  " + self.check])


def _avg_pool_nd(op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, at,
                 batch):
    k, s, p, out, pads, count_include_pad, divisor_override = avg_pool_args(
        "explain." + op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    x = _batched(input.data, D)                                               # (N, C, *n)
    (c, *position), n = _at("explain." + op, at, (x.shape[1],) + out, D, batch, x.shape[0])
    ones = (1,) * D
    x_pad = pad_constant(x, pads, 0)
    values = _window_values(x_pad, k, s, ones, out, n, slice(c, c + 1), position)[0]   # (K,)
    cells = [tuple(map(int, q)) for q in _cells(x_pad.shape[2:], k, s, ones, out, position)]
    total = values.sum()
    if divisor_override is not None:
        factors, divisor = (), divisor_override
    else:
        factors = tuple(int(avg_divisor(m, kk, ss, pp, o, count_include_pad)[i])
                        for m, kk, ss, pp, o, i in zip(x.shape[2:], k, s, p, out, position))
        divisor = math.prod(factors)
    value = total / x.dtype.type(divisor)
    with no_grad():
        args = (kernel_size, stride, padding, ceil_mode, count_include_pad) + ((divisor_override,) if D > 1 else ())
        y = _batched(_AVG_POOL[D](input, *args).data, D)
    where = (n, c) + tuple(position)
    agrees, check = _agreement(op, float(value), float(y[where]), float(np.abs(values).sum()) / abs(divisor),
                               x.dtype)
    settings = dict(kernel=k, stride=s, padding=p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    if divisor_override is not None:
        settings["divisor_override"] = divisor_override
    return AvgPoolExplanation(op, where, tuple(Term(c, q, float(v)) for q, v in zip(cells, values)), float(total),
                              divisor, factors, float(value), float(y[where]), agrees, tuple(cells),
                              x_pad.shape[2:], pads, settings, grid(x_pad[n, c], cells), check)


_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *, at,
               batch=0) -> MaxPoolExplanation:
    """One output element of `cnnlab.nn.functional.max_pool1d`: its window and which element won.

    Arguments as that op's (checked as it checks them), and at = (channel, i), batch (default 0).
    y[i] = max_t x[i·s − p + t·d], padding reading −∞.
    """
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, at, batch)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *, at,
               batch=0) -> MaxPoolExplanation:
    """One output element of `cnnlab.nn.functional.max_pool2d`: its window and which element won.

    Args:
        input, kernel_size, stride, padding, dilation, ceil_mode: as `cnnlab.nn.functional.max_pool2d`.
        at: the output element (channel, i, j).
        batch: the sample of a batched input. Default: 0.

    Returns:
        a `MaxPoolExplanation`: y[i, j] = max_{m, l} x[i·s_H − p_H + m·d_H, j·s_W − p_W + l·d_W], the winner
        chosen by the op's own search (PyTorch's rule: the first maximum in row-major window order) and
        checked against the op's ``return_indices``.

    Example:
        >>> e = max_pool2d(cnnlab.tensor([[[1., 9, 3], [4, 9, 6], [7, 8, 2]]]), 2, 1, at=(0, 0, 0))
        >>> e.value, e.winner, e.winner_index
        (9.0, (0, 1), 1)
    """
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, at, batch)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *, at,
               batch=0) -> MaxPoolExplanation:
    """One output element of `cnnlab.nn.functional.max_pool3d`; arguments as `max_pool2d`, at = (channel, d, i, j)."""
    return _max_pool_nd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, at, batch)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *, at,
               batch=0) -> AvgPoolExplanation:
    """One output element of `cnnlab.nn.functional.avg_pool1d`: its window's sum and the divisor.

    Arguments as that op's, and at = (channel, i), batch (default 0). y[i] = Σ_t x_pad[i·s − p + t] / divisor.
    """
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                        at, batch)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, at, batch=0) -> AvgPoolExplanation:
    """One output element of `cnnlab.nn.functional.avg_pool2d`: its window's sum and the divisor.

    Args:
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: as
            `cnnlab.nn.functional.avg_pool2d`.
        at: the output element (channel, i, j).
        batch: the sample of a batched input. Default: 0.

    Returns:
        an `AvgPoolExplanation`: y[i, j] = Σ x_pad over the window / divisor, the divisor per axis the
        window's cells in the padded input (count_include_pad=True, never the ceil-mode overhang) or in
        the input (False), or divisor_override.

    Example:
        >>> x = cnnlab.tensor([[[1., 2, 3], [4, 5, 6], [7, 8, 9]]])
        >>> e = avg_pool2d(x, 2, 2, ceil_mode=True, at=(0, 1, 1))
        >>> e.total, e.divisor, e.value
        (9.0, 1, 9.0)
    """
    return _avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, at, batch)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, at, batch=0) -> AvgPoolExplanation:
    """One output element of `cnnlab.nn.functional.avg_pool3d`; arguments as `avg_pool2d`, at = (channel, d, i, j)."""
    return _avg_pool_nd("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, at, batch)


# ---------------------------------------------------------------- transposed convolution
def _transpose_setup(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """The op's checks, and the scatter geometry: where tap t of input i lands in the op's full-output buffer
    (K, L, D) — the op's window view over a grid of the buffer's positions, the view its scatter adds through."""
    groups, stride, padding, dilation, out = conv_transpose_args("explain." + op, D, input, weight, bias, stride,
                                                                 padding, output_padding, groups, dilation)
    x = _batched(input.data, D)                                               # (N, C_in, *n)
    k, n_in = weight.shape[2:], x.shape[2:]
    full = tuple((m - 1) * s + d * (kk - 1) + 1 for m, kk, s, d in zip(n_in, k, stride, dilation))
    buffer = tuple(max(f, p + o) for f, p, o in zip(full, padding, out))     # as the op's buffer
    grid_ = np.arange(math.prod(buffer)).reshape((1, 1) + buffer)            # (1, 1, *buffer)
    lands = windows(grid_, k, stride, dilation, n_in)[0, 0].reshape(math.prod(k), -1)   # (K, L) flat positions
    lands = np.stack(np.unravel_index(lands, buffer), axis=-1)               # (K, L, D)
    with no_grad():
        y = _batched(_TRANSPOSE[D](input, weight, bias, stride, padding, output_padding, groups, dilation).data, D)
    return x, groups, stride, padding, dilation, out, lands, y


@dataclass(frozen=True)
class TransposeExplanation:
    """One output element of a transposed convolution: the sum of the input × weight terms that scatter to it
    (returned by `conv_transpose1d`, `conv_transpose2d`, `conv_transpose3d`).

    Attributes:
        op, index: the op ('conv_transpose2d') and the output element (batch, channel, *position).
        terms: `Term`s (input channel, input position, value, weight index (in, out/groups, *tap), weight):
            input i's tap t lands on the full output at i·s + t·d, and the output is the full output from
            position p on, so the terms are those with i·s + t·d = position + p.
        channel_sums, bias, value, op_value, agrees, check: as `ConvExplanation`.
        full_position: position + p on the full (uncropped) output.
        grids: (input channel, text grid of the input with the contributing elements in [ ]).
    """
    op: str
    index: tuple
    terms: tuple
    channel_sums: tuple
    bias: float | None
    value: float
    op_value: float
    agrees: bool
    full_position: tuple
    settings: dict
    grids: tuple
    check: str

    def __str__(self) -> str:
        lines = [_pool_head(self.op, self.index, **self.settings),
                 f"  the inputs i and taps t with i·s + t·d = {_position(self.full_position)} (the position + padding "
                 "on the full output):"]
        lines += ["  " + line for line in _channel_lines(self.terms, self.channel_sums, self.bias, self.value,
                                                         len(self.channel_sums) == 1)]
        for channel, text in self.grids:
            lines.append(f"  input channel {channel}, the inputs that scatter here in [ ]:")
            lines += ["    " + line for line in text.splitlines()]
        return "\n".join(lines + ["  " + self.check])


def _conv_transpose_nd(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch):
    x, groups, stride, padding, dilation, out, lands, y = _transpose_setup(op, D, input, weight, bias, stride,
                                                                           padding, output_padding, groups, dilation)
    Og, Cg = weight.shape[1], x.shape[1] // groups
    (o, *position), n = _at("explain." + op, at, (Og * groups,) + out, D, batch, x.shape[0])
    g, og = divmod(o, Og)
    target = tuple(j + p for j, p in zip(position, padding))
    taps, inputs = np.nonzero((lands == target).all(axis=-1))                # (t, l) pairs that land there
    order = np.lexsort((taps, inputs))                                       # by input position, then tap
    taps, inputs = taps[order], inputs[order]
    kernel_taps, n_in = list(np.ndindex(*weight.shape[2:])), x.shape[2:]
    positions = [tuple(int(v) for v in np.unravel_index(l, n_in)) for l in inputs]
    channels = range(g * Cg, (g + 1) * Cg)
    flat_w = weight.data.reshape(weight.shape[0], Og, -1)                     # (C_in, O_g, K)
    flat_x = x[n].reshape(x.shape[1], -1)                                    # (C_in, L)
    values, weights = flat_x[channels.start:channels.stop][:, inputs], flat_w[channels.start:channels.stop, og][:, taps]
    products = values * weights                                              # (C_g, terms), in the dtype
    terms = tuple(Term(c, positions[i], float(values[a, i]), (c, og) + kernel_taps[taps[i]], float(weights[a, i]))
                  for a, c in enumerate(channels) for i in range(len(taps)))
    sums = products.sum(axis=1)
    total = sums.sum() + (bias.data[o] if bias is not None else 0)
    where = (n, o) + tuple(position)
    agrees, check = _agreement(op, float(total), float(y[where]), float(np.abs(products).sum()) +
                               (abs(float(bias.data[o])) if bias is not None else 0.0), x.dtype)
    grids = tuple((c, grid(x[n, c], positions)) for c in list(channels)[:GRID_CHANNELS])
    settings = dict(stride=stride, padding=padding, dilation=dilation)
    return TransposeExplanation(op, where, terms, tuple((c, float(v)) for c, v in zip(channels, sums)),
                                None if bias is None else float(bias.data[o]), float(total), float(y[where]), agrees,
                                target, settings, grids, check)


@dataclass(frozen=True)
class Scatter:
    """Where one tap of an input element goes: output channel `channel`, tap, the weight, the position on the
    full output (i·s + t·d) and on the output (that minus p; None where padding or the output's end cut it)."""
    channel: int
    tap: tuple
    weight: float
    full_position: tuple
    position: tuple | None
    contribution: float


@dataclass(frozen=True)
class ScatterExplanation:
    """Which outputs one input element of a transposed convolution scatters to (returned by
    `conv_transpose1d_scatter`, `conv_transpose2d_scatter`, `conv_transpose3d_scatter`).

    Attributes:
        op, index: the op and the input element (batch, channel, *position).
        value: the input value x.
        scatters: one `Scatter` per output channel of the group and kernel tap: output += x × weight.
        agrees: whether the op, run on this input element alone (every other input 0, no bias), gives
            exactly these contributions and nothing else.
        grids: (output channel, text grid of that output with the targets in [ ]).
    """
    op: str
    index: tuple
    value: float
    scatters: tuple
    agrees: bool
    settings: dict
    grids: tuple
    check: str

    def __str__(self) -> str:
        b, c, *pos = self.index
        lines = [f"{self.op} input[{', '.join(map(str, self.index))}] = {number(self.value)} (batch {b}, channel {c}, "
                 f"at {_position(pos)}) scatters x×K[t] to i·s + t·d − p: " +
                 ", ".join(f"{k.replace('_', ' ')} {_axes(v)}" for k, v in self.settings.items())]
        for sc in self.scatters:
            to = (f"output {_position(sc.position)}" if sc.position is not None else
                  f"full position {_position(sc.full_position)}, cut off (padding or the output's end)")
            lines.append(f"  channel {sc.channel}, tap {_position(sc.tap)}: {_factor(self.value)}×{_factor(sc.weight)}"
                         f" = {number(sc.contribution)} to {to}")
        for channel, text in self.grids:
            lines.append(f"  output channel {channel} of this input alone, the targets in [ ]:")
            lines += ["    " + line for line in text.splitlines()]
        return "\n".join(lines + ["  " + self.check])


def _scatter_nd(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch):
    x, groups, stride, padding, dilation, out, lands, _ = _transpose_setup(op, D, input, weight, bias, stride,
                                                                           padding, output_padding, groups, dilation)
    Og, Cg = weight.shape[1], x.shape[1] // groups
    (c, *position), n = _at("explain." + op, at, x.shape[1:], D, batch, x.shape[0])
    g = c // Cg
    value = x[(n, c) + tuple(position)]
    lands_here = lands[:, int(np.ravel_multi_index(position, x.shape[2:]))]  # (K, D)
    kernel_taps = list(np.ndindex(*weight.shape[2:]))
    alone = np.zeros(x.shape[1:], dtype=x.dtype)                             # (C_in, *n): this input only
    alone[(c,) + tuple(position)] = value
    with no_grad():
        y = _TRANSPOSE[D](Tensor(alone[None]), weight, None, stride, padding, output_padding, groups,
                          dilation).data[0]                                  # (C_out, *out), the op's own scatter
    expected, scatters = np.zeros_like(y), []
    for o in range(g * Og, (g + 1) * Og):
        w = weight.data[c, o - g * Og].reshape(-1)                            # (K,)
        for t, tap in enumerate(kernel_taps):
            at_out = tuple(int(q) - p for q, p in zip(lands_here[t], padding))
            inside = all(0 <= q < m for q, m in zip(at_out, out))
            contribution = value * w[t]
            if inside:
                expected[(o,) + at_out] += contribution
            scatters.append(Scatter(o, tap, float(w[t]), tuple(map(int, lands_here[t])), at_out if inside else None,
                                    float(contribution)))
    agrees = bool(np.array_equal(y, expected))
    check = f"{op} of this input alone computes " + ("exactly these contributions" if agrees else
                                                     "DIFFERENT outputs")
    grids = tuple((o, grid(y[o], [sc.position for sc in scatters if sc.channel == o and sc.position is not None]))
                  for o in range(g * Og, min((g + 1) * Og, g * Og + GRID_CHANNELS)))
    settings = dict(stride=stride, padding=padding, dilation=dilation)
    return ScatterExplanation(op, (n, c) + tuple(position), float(value), tuple(scatters), agrees, settings, grids,
                              check)


_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     at, batch=0) -> TransposeExplanation:
    """One output element of `cnnlab.nn.functional.conv_transpose1d`; arguments as `conv_transpose2d`, at =
    (channel, i)."""
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                              dilation, at, batch)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     at, batch=0) -> TransposeExplanation:
    """One output element of `cnnlab.nn.functional.conv_transpose2d`: the input × weight terms that scatter to it.

    Input i's tap t lands on the full output at i·s + t·d, and the output keeps the full output from p on:

        y[n, o, j] = b[o] + Σ_c Σ_{i, t: i·s + t·d = j + p} x[n, c, i]·K[c, o, t]

    Args:
        input, weight, bias, stride, padding, output_padding, groups, dilation: as
            `cnnlab.nn.functional.conv_transpose2d` (weight (C_in, C_out/groups, kH, kW)).
        at: the output element (channel, i, j).
        batch: the sample of a batched input. Default: 0.

    Returns:
        a `TransposeExplanation`, its sum compared with the op's output there.

    Example:
        >>> x = cnnlab.tensor([[[1., 2], [3, 4]]])
        >>> e = conv_transpose2d(x, cnnlab.ones(1, 1, 2, 2, dtype=cnnlab.float32), stride=1, at=(0, 1, 1))
        >>> e.value, [t.position for t in e.terms]
        (10.0, [(0, 0), (0, 1), (1, 0), (1, 1)])
    """
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                              dilation, at, batch)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     at, batch=0) -> TransposeExplanation:
    """One output element of `cnnlab.nn.functional.conv_transpose3d`; arguments as `conv_transpose2d`, at =
    (channel, d, i, j)."""
    return _conv_transpose_nd("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                              dilation, at, batch)


def conv_transpose1d_scatter(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                             *, at, batch=0) -> ScatterExplanation:
    """Which outputs of `cnnlab.nn.functional.conv_transpose1d` the input element at = (channel, i) scatters to."""
    return _scatter_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation,
                       at, batch)


def conv_transpose2d_scatter(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                             *, at, batch=0) -> ScatterExplanation:
    """Which outputs of `cnnlab.nn.functional.conv_transpose2d` one input element scatters to, and how much.

    Input element x = input[n, c, i] adds x·K[c, o, t] to output i·s + t·d − p of every output channel o of
    c's group, for every tap t (positions outside the output are cut off). The op itself, run on this
    element alone, is compared with these contributions.

    Args:
        input, weight, bias, stride, padding, output_padding, groups, dilation: as
            `cnnlab.nn.functional.conv_transpose2d` (the bias is checked, and adds to every output anyway).
        at: the input element (channel, i, j).
        batch: the sample of a batched input. Default: 0.

    Returns:
        a `ScatterExplanation`.

    Example:
        >>> x = cnnlab.tensor([[[1., 2], [3, 4]]])
        >>> e = conv_transpose2d_scatter(x, cnnlab.ones(1, 1, 3, 3, dtype=cnnlab.float32), stride=2, padding=1,
        ...                              at=(0, 0, 0))
        >>> [s.position for s in e.scatters if s.position is not None]
        [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    return _scatter_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation,
                       at, batch)


def conv_transpose3d_scatter(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                             *, at, batch=0) -> ScatterExplanation:
    """Which outputs of `cnnlab.nn.functional.conv_transpose3d` the input element at = (channel, d, i, j)
    scatters to."""
    return _scatter_nd("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups, dilation,
                       at, batch)


# ---------------------------------------------------------------- output sizes
MODES = ("conv", "pool", "transpose", "same-tf")


@dataclass(frozen=True)
class SizeExplanation:
    """An output size along one axis, its formula with the numbers substituted (returned by `output_size`).

    Attributes:
        mode: 'conv', 'pool', 'transpose' or 'same-tf'.
        n, kernel_size, stride, dilation: n, k, s, d.
        padding: (before, after) on the input (for 'same-tf' TensorFlow's split; for 'pool' without the
            ceil-mode overhang; for 'transpose' p, cut from each end of the full output).
        span: the dilated kernel d(k−1) + 1.
        positions: the positions the windows slide over: the padded input (and a pool's ceil-mode
            overhang), or for 'transpose' the full output (n − 1)s + d(k−1) + 1 (+ output_padding's).
        out: the output size o, from `cnnlab.shapes`.
        starts: where each window starts on those positions (for 'transpose': where each input's taps start).
        taps: the offsets of a window's taps from its start: 0, d, 2d, ...
        lines: what ``print()`` shows.
    """
    mode: str
    n: int
    kernel_size: int
    stride: int
    padding: tuple
    dilation: int
    span: int
    positions: int
    out: int
    starts: tuple
    taps: tuple
    lines: tuple

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _listing(values) -> str:
    """0, 2, 4 — or, for many, the first ones, … and the last two."""
    values = [str(v) for v in values]
    if len(values) > STARTS_SHOWN:
        values = values[:STARTS_SHOWN - 3] + ["…"] + values[-2:]
    return ", ".join(values)


def _slide(positions, k, s, d, count):
    """(starts, tap offsets) of `count` windows on an axis of `positions`: the op's window view of a range."""
    view = windows(np.arange(positions).reshape(1, 1, positions), (k,), (s,), (d,), (count,))[0, 0]   # (k, count)
    return tuple(int(v) for v in view[0]), tuple(int(v) for v in view[:, 0] - view[0, 0])


def _span_line(k, d, span) -> str:
    return f"  dilated kernel d(k−1) + 1 = {d}×({k}−1) + 1 = {span}" if d > 1 else f"  kernel span k = {k}"


def _window_lines(out, starts, taps, span, positions, transposed=False) -> list[str]:
    """'5 windows start at 0, 2, 4, 6, 8 of the padded axis's 13 positions ...', and the positions no window reads."""
    what, axis, verb = ("inputs", "full output", "writes") if transposed else ("windows", "padded axis", "reads")
    lines = [f"  {out} {what} start at {_listing(starts)} of the {axis}'s {positions} positions 0..{positions - 1}; "
             f"each {verb} start + {_listing(taps)}"]
    last = starts[-1] + span - 1
    if last < positions - 1 and not transposed:
        unread = f"position {last + 1} is" if last + 2 == positions else f"positions {last + 1}..{positions - 1} are"
        lines.append(f"  {unread} read by no window")
    return lines


def output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, mode="conv",
                output_padding=0) -> SizeExplanation:
    """An output size along one axis, as the lecture writes it: the formula, the numbers, the window starts.

    The size is `cnnlab.shapes`' (conv_output_size, pool_output_size with PyTorch's ceil-mode rule,
    conv_transpose_output_size, same_padding_tf): there is no second formula here. The window starts are
    those of the ops' window view on the padded axis.

        conv       o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1
        pool       the same, or ⌈…⌉ + 1 in ceil mode, where a last window starting past n + p is dropped
        transpose  o = (n − 1)s − 2p + d(k−1) + output_padding + 1
        same-tf    o = ⌈n/s⌉, padding total max((o − 1)s + d(k−1) + 1 − n, 0), the odd one after

    Args:
        n: the input size.
        kernel_size: k.
        stride: s. Default: None, which is 1, or k for mode='pool' (PyTorch's defaults).
        padding: p on both sides, or a (before, after) pair for mode='conv'. Must be 0 for 'same-tf',
            which computes its own. Default: 0.
        dilation: d. Default: 1.
        ceil_mode: mode='pool' only: round up. Default: False.
        mode: 'conv', 'pool', 'transpose' or 'same-tf' (TensorFlow's 'same'). Default: 'conv'.
        output_padding: mode='transpose' only: extra positions at the end. Default: 0.

    Returns:
        a `SizeExplanation`.

    Example:
        >>> e = output_size(11, 3, stride=2, padding=1, dilation=2)   # the lecture's dilated example
        >>> e.span, e.positions, e.out, e.starts
        (5, 13, 5, (0, 2, 4, 6, 8))
    """
    op = "explain.output_size"
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be 'conv', 'pool', 'transpose' or 'same-tf', got mode={mode!r}")
    ceil_mode = arguments.boolean(ceil_mode, op=op, arg="ceil_mode")
    if ceil_mode and mode != "pool":
        raise ValueError(f"{op}: ceil_mode applies to mode='pool' only, got ceil_mode=True with mode={mode!r}")
    if mode != "transpose" and output_padding != 0:
        raise ValueError(f"{op}: output_padding applies to mode='transpose' only, got "
                         f"output_padding={output_padding!r} with mode={mode!r}")
    if mode == "same-tf" and padding != 0:
        raise ValueError(f"{op}: mode='same-tf' computes its own padding (TensorFlow's split), so padding must be "
                         f"0, got padding={padding!r}")
    n = arguments.positive_int(n, op=op, arg="n")
    k = arguments.positive_int(kernel_size, op=op, arg="kernel_size")
    s = (k if mode == "pool" else 1) if stride is None else arguments.positive_int(stride, op=op, arg="stride")
    d = arguments.positive_int(dilation, op=op, arg="dilation")
    span = d * (k - 1) + 1
    settings = f"n = {n}, k = {k}, s = {s}"
    if mode == "conv":
        out = shapes.conv_output_size(n, k, s, padding, d, op=op)
        before, after = arguments.padding_pair(padding, op=op)
        two_p = f"2×{before}" if before == after else f"{before} + {after}"
        letters = "2p" if before == after else "p_before + p_after"
        positions = n + before + after
        starts, taps = _slide(positions, k, s, d, out)
        lines = [f"conv output size along one axis: {settings}, p = {_axes((before, after))}, d = {d}",
                 _span_line(k, d, span),
                 f"  padded input n + {letters} = {n} + {two_p} = {positions}",
                 f"  o = ⌊(n + {letters} − d(k−1) − 1)/s⌋ + 1 = ⌊({n} + {before + after} − {span - 1} − 1)/{s}⌋ + 1 "
                 f"= ⌊{positions - span}/{s}⌋ + 1 = {out}"] + _window_lines(out, starts, taps, span, positions)
    elif mode == "pool":
        p = arguments.nonnegative_int(padding, op=op, arg="padding")
        (out,), ((_, after),) = pool_geometry(op, (n,), (k,), (s,), (p,), (d,), ceil_mode)
        before, positions, num = p, n + p + after, n + 2 * p - span
        starts, taps = _slide(positions, k, s, d, out)
        overhang = after - p
        brackets = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
        raw = -(-num // s) + 1 if ceil_mode else num // s + 1
        lines = [f"pool output size along one axis: {settings}, p = {p}, d = {d}, ceil_mode = {ceil_mode}",
                 _span_line(k, d, span),
                 f"  padded input n + 2p = {n} + 2×{p} = {n + 2 * p}" +
                 (f", and {overhang} of ceil-mode overhang after it: {positions}" if overhang else ""),
                 "  o = {0}(n + 2p − d(k−1) − 1)/s{1} + 1 = {0}({2} + {3} − {4} − 1)/{5}{1} + 1 = {0}{6}/{5}{1} + 1 = "
                 "{7}".format(*brackets, n, 2 * p, span - 1, s, num, raw)]
        if raw != out:
            lines.append(f"  the last window would start at (o − 1)s = {(raw - 1) * s} ≥ n + p = {n + p}, in the right "
                         f"padding: it is dropped, o = {out}")
        lines += _window_lines(out, starts, taps, span, positions)
    elif mode == "transpose":
        p = arguments.nonnegative_int(padding, op=op, arg="padding")
        out = shapes.conv_transpose_output_size(n, k, s, p, output_padding, d, op=op)
        before = after = p
        full = (n - 1) * s + span
        positions = max(full, p + out)
        starts, taps = _slide(positions, k, s, d, n)
        lines = [f"transposed conv output size along one axis: {settings}, p = {p}, d = {d}, "
                 f"output_padding = {output_padding}", _span_line(k, d, span),
                 f"  o = (n − 1)s − 2p + d(k−1) + output_padding + 1 = ({n}−1)×{s} − 2×{p} + {span - 1} + "
                 f"{output_padding} + 1 = {out}",
                 f"  input i scatters to i·s + t·d of the full output, (n − 1)s + d(k−1) + 1 = {full} positions"]
        lines += _window_lines(n, starts, taps, span, positions, transposed=True)
        cut = f"  the output is full positions {p}..{p + out - 1}"
        if p or full > p + out:
            cut += f": the padding cuts {p} at the start and {full - p - out} at the end" if full >= p + out else \
                f": the padding cuts {p} at the start"
        if p + out > full:
            cut += f"; the last {p + out - full} (output_padding) get no input, only the bias"
        lines.append(cut)
    else:
        out, before, after = shapes.same_padding_tf(n, k, s, d, op=op)
        total, positions = before + after, n + before + after
        starts, taps = _slide(positions, k, s, d, out)
        lines = [f"TensorFlow 'same' output size along one axis: {settings}, d = {d}", _span_line(k, d, span),
                 f"  o = ⌈n/s⌉ = ⌈{n}/{s}⌉ = {out}",
                 f"  padding = max((o − 1)s + d(k−1) + 1 − n, 0) = max(({out}−1)×{s} + {span} − {n}, 0) = {total}: "
                 f"before ⌊{total}/2⌋ = {before}, after {total} − {before} = {after}" +
                 (" (the odd one after)" if total % 2 else ""),
                 f"  padded input n + before + after = {n} + {before} + {after} = {positions}"]
        lines += _window_lines(out, starts, taps, span, positions)
    return SizeExplanation(mode, n, k, s, (before, after), d, span, positions, out, starts, taps, tuple(lines))


# ---------------------------------------------------------------- matrices typed on a command line
def _row(text, arg, where):
    values = []
    for word in text.replace(",", " ").split():
        try:
            values.append(float(word))
        except ValueError:
            raise SettingError("explain.matrix", f"{{{arg}}}: {word!r} in {where} is not a number", arg) from None
    return values


def matrix(text: str, *, arg: str, ndim: int, most: int = 4) -> np.ndarray:
    """An array typed inline, or read from a .npy file, as float64 with `ndim` to `most` axes.

    Inline: rows separated by ';', the numbers of a row by spaces or commas, and channels by '|':
    ``"1 2 3; 4 5 6"`` is one channel of 2×3, ``"1 2; 3 4 | 5 6; 7 8"`` two channels of 2×2, read as
    (C, H, W). A path ending in .npy is read with ``np.load(allow_pickle=False)``. Axes of size 1 are
    put in front of an array of fewer than `ndim` axes (so a 2×2 kernel becomes the weight (1, 1, 2, 2)).

    Args:
        text: the inline numbers or a .npy path.
        arg: the name of the setting, for messages (a `SettingError` names it, or its flag).
        ndim: how many axes the result has at least.
        most: how many axes an array may have (at least 2). Default: 4.

    Example:
        >>> matrix("1 2; 3 4 | 5 6; 7 8", arg="input", ndim=3).shape
        (2, 2, 2)
        >>> matrix("10, 20; 30, 40", arg="kernel", ndim=4).shape
        (1, 1, 2, 2)
    """
    text = text.strip()
    if text.endswith(".npy"):
        if not Path(text).is_file():
            raise SettingError("explain.matrix", f"{{{arg}}}: there is no .npy file {text}", arg)
        try:
            array = np.load(text, allow_pickle=False)
        except ValueError as e:
            raise SettingError("explain.matrix", f"{{{arg}}}: {text} is not a plain .npy array ({e})", arg) from None
        if array.dtype.kind not in "biuf":
            raise SettingError("explain.matrix", f"{{{arg}}}: {text} holds {array.dtype} values, not numbers", arg)
        array = array.astype(np.float64)
    else:
        channels = []
        for c, block in enumerate(text.split("|")):
            rows = [_row(r, arg, f"channel {c}, row {i}") for i, r in enumerate(block.split(";"))]
            if not any(rows):
                raise SettingError("explain.matrix", f"{{{arg}}}: channel {c} has no numbers (rows are separated "
                                   "by ';', numbers by spaces or commas, channels by '|'), got " + repr(text), arg)
            for i, r in enumerate(rows):
                if len(r) != len(rows[0]):
                    raise SettingError("explain.matrix", f"{{{arg}}}: channel {c}, row {i} has "
                                       f"{counted(len(r), 'number')}, but row 0 has {len(rows[0])} (rows are "
                                       "separated by ';', numbers by spaces or commas)", arg)
            channels.append(np.array(rows, dtype=np.float64))
            if channels[-1].shape != channels[0].shape:
                raise SettingError("explain.matrix", f"{{{arg}}}: channel {c} is "
                                   f"{'×'.join(map(str, channels[-1].shape))}, but channel 0 is "
                                   f"{'×'.join(map(str, channels[0].shape))} (channels are separated by '|')", arg)
        array = np.stack(channels)                                            # (C, H, W)
    if not 2 <= array.ndim <= most:
        raise SettingError("explain.matrix", f"{{{arg}}} must have 2 to {most} axes, got shape {array.shape}", arg)
    return array.reshape((1,) * max(ndim - array.ndim, 0) + array.shape)
