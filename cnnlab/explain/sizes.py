"""An output size along one axis, the lecture's way: the formula in its letters, the numbers, the windows.

The sizes are those of `cnnlab.shapes` (no second formula); the window starts are the ops' window view
of a range of positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab import arguments, shapes
from cnnlab.explain import printing as fmt
from cnnlab.nn.functional.pooling import pool_geometry
from cnnlab.nn.functional._windows import windows

__all__ = ["MODES", "SizeExplanation", "output_size"]

#: how many window starts `output_size` lists before it writes "…"
STARTS_SHOWN = 12


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
        lines = [f"conv output size along one axis: {settings}, p = {fmt.axes((before, after))}, d = {d}",
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
