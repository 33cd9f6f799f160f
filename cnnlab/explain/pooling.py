"""One output element of max and average pooling: its window, which element won, the divisor.

    max_pool    y[i] = max_t x[i·s − p + t·d]           padding and the ceil-mode overhang read −∞
    avg_pool    y[i] = Σ_t x_pad[i·s − p + t] / divisor  (count_include_pad, divisor_override)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnlab.autograd import no_grad
from cnnlab.explain import element as el, printing as fmt
from cnnlab.explain.element import Term
from cnnlab.nn import functional as F
from cnnlab.nn.functional.pooling import avg_divisor, avg_pool_args, max_pool_args
from cnnlab.nn.functional._window_ops import max_and_first_tap
from cnnlab.nn.functional._windows import pad_constant

__all__ = ["Pooled", "MaxPoolExplanation", "AvgPoolExplanation", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
           "avg_pool2d", "avg_pool3d"]


@dataclass(frozen=True)
class Pooled(el.Windowed):
    """An output element of pooling: the window (`Windowed`), the op's settings and a text grid.

    Attributes (and those of `Windowed` and `Element`):
        settings: the op's arguments, canonical (kernel, stride, padding, ...), in the order printed.
        grid: the padded input with the window in [ ].
    """
    settings: dict
    grid: str

    @property
    def overhang(self) -> tuple:
        """Per axis, the ceil-mode overhang: padded cells past the padding p after the input."""
        return tuple(b - p for (_, b), p in zip(self.pads, fmt.per_axis(self.settings["padding"], len(self.pads))))


@dataclass(frozen=True)
class MaxPoolExplanation(Pooled):
    """One output element of max pooling (returned by `max_pool1d`, `max_pool2d`, `max_pool3d`).

    Attributes (and those of `Pooled`, `Windowed` and `Element`):
        winner: the padded position of the maximum PyTorch picks (the first one on ties, the last NaN if
            any, the first input element if all are −∞), or None for a window of padding only.
        winner_index: its flat index in the (N, C) plane of the input, as ``return_indices`` gives it.
        op_index: the op's own index there (``agrees`` covers the value and the index).

    The terms are the window's cells (`Term`: channel, padded position, value); padding reads −∞; the
    grid marks the winner in < >.
    """
    winner: tuple | None
    winner_index: int | None
    op_index: int

    def __str__(self) -> str:
        values = ", ".join(fmt.number(t.value) for t in self.terms)
        if self.winner is None:
            where = "the window holds padding only"
        else:
            at = tuple(q - a for q, (a, _) in zip(self.winner, self.pads))
            where = (f"at input {fmt.position_text(at)}: flat index {self.winner_index} of its plane (return_indices); "
                     "ties go to the first in the window's row-major order")
        return "\n".join([fmt.head(self.op, self.index, **self.settings),
                          f"  max({values}) = {fmt.number(self.value)}, {where}",
                          "  " + fmt.padding_note(self.padded_shape, self.pads, self.overhang, "-inf") +
                          ", the window in [ ], the maximum in < >:"]
                         + ["    " + line for line in self.grid.splitlines()] + ["  " + self.check])


def _max_pool_nd(op, D, input, kernel_size, stride, padding, dilation, ceil_mode, at, batch):
    k, s, p, d, out, pads = max_pool_args("explain." + op, D, input, kernel_size, stride, padding, dilation,
                                          ceil_mode)
    x = el.batched(input.data, D)                                            # (N, C, *n)
    (c, *position), n = el.element_index("explain." + op, at, (x.shape[1],) + out, D, batch, x.shape[0])
    x_pad = pad_constant(x, pads, -np.inf)                                    # as the op
    values = el.window_values(x_pad, k, s, d, out, n, slice(c, c + 1), position)[0]   # (K,)
    cells = [tuple(map(int, q)) for q in el.window_cells(x_pad.shape[2:], k, s, d, out, position)]
    best, first = max_and_first_tap(lambda t: values[t:t + 1], len(values))  # the op's search and tie rule
    best, tap = best[0], int(first[0])
    inside = el.inside(cells, pads, x.shape[2:])
    if best == -np.inf:                                                       # PyTorch: the first input element
        tap = inside.index(True) if any(inside) else None
    winner = None if tap is None else cells[tap]
    winner_index = None if winner is None else int(np.ravel_multi_index(
        tuple(q - a for q, (a, _) in zip(winner, pads)), x.shape[2:]))
    with no_grad():
        y, index = _MAX_POOL[D](input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    where = (n, c) + tuple(position)
    op_value, op_index = float(el.batched(y.data, D)[where]), int(el.batched(index.data, D)[where])
    same_value = best == op_value or (np.isnan(best) and math.isnan(op_value))
    agrees = bool(same_value and (winner is None or winner_index == op_index))
    check = f"{op} computes {fmt.number(op_value)} at index {op_index}: " + ("the same" if agrees else "DIFFERENT")
    terms = tuple(Term(c, q, float(v)) for q, v in zip(cells, values))
    return MaxPoolExplanation(op=op, index=where, value=float(best), op_value=op_value, agrees=agrees, check=check,
                              terms=terms, window=tuple(cells), padded_shape=x_pad.shape[2:], pads=pads,
                              settings=dict(kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode),
                              grid=fmt.grid(x_pad[n, c], cells, [] if winner is None else [winner]), winner=winner,
                              winner_index=winner_index, op_index=op_index)


@dataclass(frozen=True)
class AvgPoolExplanation(Pooled):
    """One output element of average pooling (returned by `avg_pool1d`, `avg_pool2d`, `avg_pool3d`).

    Attributes (and those of `Pooled`, `Windowed` and `Element`):
        total: Σ of the window, in the tensor's dtype (padding and the ceil-mode overhang read 0).
        divisor: what the sum is divided by: divisor_override, or the product of `divisor_factors`.
        divisor_factors: per axis, the window's cells in the padded input (count_include_pad=True; the
            ceil-mode overhang past the padding never counts) or in the input (False); () with an override.
    """
    total: float
    divisor: int
    divisor_factors: tuple

    def __str__(self) -> str:
        values = " + ".join(fmt.factor(t.value) for t in self.terms)
        if not self.divisor_factors:
            why = f"divisor {self.divisor} (divisor_override)"
        else:
            counted_in = "padded input" if self.settings["count_include_pad"] else "input"
            why = (f"divisor {self.divisor} = {'×'.join(map(str, self.divisor_factors))}: the window's cells in the "
                   f"{counted_in} (count_include_pad={self.settings['count_include_pad']}"
                   + ("; the ceil-mode overhang never counts)" if self.settings["ceil_mode"] else ")"))
        return "\n".join([fmt.head(self.op, self.index, **self.settings),
                          f"  ({values}) / {self.divisor} = {fmt.number(self.total)} / {self.divisor} = "
                          f"{fmt.number(self.value)}", "  " + why,
                          "  " + fmt.padding_note(self.padded_shape, self.pads, self.overhang, "0") +
                          ", the window in [ ]:"]
                         + ["    " + line for line in self.grid.splitlines()] + ["  " + self.check])


def _avg_pool_nd(op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, at,
                 batch):
    k, s, p, out, pads, count_include_pad, divisor_override = avg_pool_args(
        "explain." + op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    x = el.batched(input.data, D)                                            # (N, C, *n)
    (c, *position), n = el.element_index("explain." + op, at, (x.shape[1],) + out, D, batch, x.shape[0])
    ones = (1,) * D
    x_pad = pad_constant(x, pads, 0)
    values = el.window_values(x_pad, k, s, ones, out, n, slice(c, c + 1), position)[0]   # (K,)
    cells = [tuple(map(int, q)) for q in el.window_cells(x_pad.shape[2:], k, s, ones, out, position)]
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
        y = el.batched(_AVG_POOL[D](input, *args).data, D)
    where = (n, c) + tuple(position)
    agrees, check = el.agreement(op, float(value), float(y[where]), float(np.abs(values).sum()) / abs(divisor),
                               x.dtype)
    settings = dict(kernel=k, stride=s, padding=p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    if divisor_override is not None:
        settings["divisor_override"] = divisor_override
    return AvgPoolExplanation(op=op, index=where, value=float(value), op_value=float(y[where]), agrees=agrees,
                              check=check, terms=tuple(Term(c, q, float(v)) for q, v in zip(cells, values)),
                              window=tuple(cells), padded_shape=x_pad.shape[2:], pads=pads, settings=settings,
                              grid=fmt.grid(x_pad[n, c], cells), total=float(total), divisor=divisor,
                              divisor_factors=factors)


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
