"""Transposed convolution, both ways: the terms that scatter to one output element, and where one input
element scatters to.

    y[n, o, j] = b[o] + Σ_c Σ_{i, t: i·s + t·d = j + p} x[n, c, i] · K[c, o, t]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.explain import element as el, printing as fmt
from cnnlab.explain.element import Term
from cnnlab.nn import functional as F
from cnnlab.nn.functional.conv import conv_transpose_args
from cnnlab.nn.functional._windows import windows

__all__ = ["TransposeExplanation", "Scatter", "ScatterExplanation", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "conv_transpose1d_scatter", "conv_transpose2d_scatter", "conv_transpose3d_scatter"]


@dataclass(frozen=True)
class _Setup:
    """A transposed conv checked as the op checks it, one element, and where every input's taps land."""
    x: np.ndarray          # (N, C_in, *n), the input batched
    stride: tuple
    padding: tuple
    dilation: tuple
    out: tuple             # the output's spatial size
    lands: np.ndarray      # (K, L, D): where tap t of input l lands on the op's full-output buffer
    y: np.ndarray          # (N, C_out, *out), the op's own output
    Og: int                # output channels per group
    Cg: int                # input channels per group
    at: tuple              # the element (channel, *position), checked
    n: int                 # its sample


def _setup(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch, what):
    """The op's checks, then `at` inside the output (or the input, `what`), and the scatter geometry: the op's
    window view over a grid of its full-output buffer's positions, the view its scatter adds through."""
    groups, stride, padding, dilation, out = conv_transpose_args("explain." + op, D, input, weight, bias, stride,
                                                                 padding, output_padding, groups, dilation)
    x = el.batched(input.data, D)                                         # (N, C_in, *n)
    Og, Cg, k, n_in = weight.shape[1], x.shape[1] // groups, weight.shape[2:], x.shape[2:]
    shape = (Og * groups,) + out if what == "output" else x.shape[1:]
    at, n = el.element_index("explain." + op, at, shape, D, batch, x.shape[0], what)
    full = tuple((m - 1) * s + d * (kk - 1) + 1 for m, kk, s, d in zip(n_in, k, stride, dilation))
    buffer = tuple(max(f, p + o) for f, p, o in zip(full, padding, out))     # as the op's buffer
    positions = np.arange(math.prod(buffer)).reshape((1, 1) + buffer)        # (1, 1, *buffer)
    lands = windows(positions, k, stride, dilation, n_in)[0, 0].reshape(math.prod(k), -1)   # (K, L) flat
    lands = np.stack(np.unravel_index(lands, buffer), axis=-1)               # (K, L, D)
    with no_grad():
        y = el.batched(_TRANSPOSE[D](input, weight, bias, stride, padding, output_padding, groups, dilation).data, D)
    return _Setup(x, stride, padding, dilation, out, lands, y, Og, Cg, at, n)


@dataclass(frozen=True)
class TransposeExplanation(el.Element):
    """One output element of a transposed convolution: the sum of the input × weight terms that scatter to it
    (returned by `conv_transpose1d`, `conv_transpose2d`, `conv_transpose3d`).

    Attributes (and those of `Element`):
        terms: `Term`s (input channel, input position, value, weight index (in, out/groups, *tap), weight):
            input i's tap t lands on the full output at i·s + t·d, and the output is the full output from
            position p on, so the terms are those with i·s + t·d = position + p.
        channel_sums, bias: as `ConvExplanation`.
        full_position: position + p on the full (uncropped) output.
        settings: stride, padding, dilation, canonical.
        grids: (input channel, text grid of the input with the contributing elements in [ ]).
    """
    terms: tuple
    channel_sums: tuple
    bias: float | None
    full_position: tuple
    settings: dict
    grids: tuple

    def __str__(self) -> str:
        lines = [fmt.head(self.op, self.index, **self.settings),
                 f"  the inputs i and taps t with i·s + t·d = {fmt.position_text(self.full_position)} (the position "
                 "+ padding on the full output):"]
        lines += ["  " + line for line in fmt.channel_lines(self.terms, self.channel_sums, self.bias, self.value,
                                                         len(self.channel_sums) == 1)]
        lines += fmt.grid_lines(self.grids, "input channel {channel}, the inputs that scatter here in [ ]:")
        return "\n".join(lines + ["  " + self.check])


def _conv_transpose_nd(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch):
    e = _setup(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch, "output")
    (o, *position), n, x = e.at, e.n, e.x
    g, og = divmod(o, e.Og)
    target = tuple(j + p for j, p in zip(position, e.padding))
    taps, inputs = np.nonzero((e.lands == target).all(axis=-1))              # (t, l) pairs that land there
    order = np.lexsort((taps, inputs))                                       # by input position, then tap
    taps, inputs = taps[order], inputs[order]
    kernel_taps = list(np.ndindex(*weight.shape[2:]))
    positions = [tuple(int(v) for v in np.unravel_index(l, x.shape[2:])) for l in inputs]
    channels = range(g * e.Cg, (g + 1) * e.Cg)
    flat_w = weight.data.reshape(weight.shape[0], e.Og, -1)[channels.start:channels.stop, og]   # (C_g, K)
    flat_x = x[n].reshape(x.shape[1], -1)[channels.start:channels.stop]                         # (C_g, L)
    values, weights = flat_x[:, inputs], flat_w[:, taps]                     # (C_g, terms)
    products = values * weights                                              # (C_g, terms), in the dtype
    terms = tuple(Term(c, positions[i], float(values[a, i]), (c, og) + kernel_taps[taps[i]], float(weights[a, i]))
                  for a, c in enumerate(channels) for i in range(len(taps)))
    sums = products.sum(axis=1)                                              # (C_g,)
    b = None if bias is None else float(bias.data[o])
    total = sums.sum() + (bias.data[o] if bias is not None else 0)
    where = (n, o) + tuple(position)
    agrees, check = el.agreement(op, float(total), float(e.y[where]), float(np.abs(products).sum()) + abs(b or 0.0),
                                 x.dtype)
    return TransposeExplanation(
        op=op, index=where, value=float(total), op_value=float(e.y[where]), agrees=agrees, check=check, terms=terms,
        channel_sums=tuple((c, float(v)) for c, v in zip(channels, sums)), bias=b, full_position=target,
        settings=dict(stride=e.stride, padding=e.padding, dilation=e.dilation),
        grids=tuple((c, fmt.grid(x[n, c], positions)) for c in list(channels)[:fmt.GRID_CHANNELS]))


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
        lines = [f"{self.op} input[{', '.join(map(str, self.index))}] = {fmt.number(self.value)} (batch {b}, "
                 f"channel {c}, at {fmt.position_text(pos)}) scatters x×K[t] to i·s + t·d − p: " +
                 ", ".join(f"{k.replace('_', ' ')} {fmt.axes(v)}" for k, v in self.settings.items())]
        for sc in self.scatters:
            to = (f"output {fmt.position_text(sc.position)}" if sc.position is not None else
                  f"full position {fmt.position_text(sc.full_position)}, cut off (padding or the output's end)")
            lines.append(f"  channel {sc.channel}, tap {fmt.position_text(sc.tap)}: {fmt.factor(self.value)}×"
                         f"{fmt.factor(sc.weight)} = {fmt.number(sc.contribution)} to {to}")
        lines += fmt.grid_lines(self.grids, "output channel {channel} of this input alone, the targets in [ ]:")
        return "\n".join(lines + ["  " + self.check])


def _scatter_nd(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch):
    e = _setup(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation, at, batch, "input")
    (c, *position), n, x = e.at, e.n, e.x
    g = c // e.Cg
    value = x[(n, c) + tuple(position)]
    lands_here = e.lands[:, int(np.ravel_multi_index(position, x.shape[2:]))]   # (K, D)
    alone = np.zeros(x.shape[1:], dtype=x.dtype)                             # (C_in, *n): this input only
    alone[(c,) + tuple(position)] = value
    with no_grad():
        y = _TRANSPOSE[D](Tensor(alone[None]), weight, None, e.stride, e.padding, output_padding, groups,
                          e.dilation).data[0]                                # (C_out, *out), the op's own scatter
    expected, scatters = np.zeros_like(y), []
    for o in range(g * e.Og, (g + 1) * e.Og):
        w = weight.data[c, o - g * e.Og].reshape(-1)                         # (K,)
        for t, tap in enumerate(np.ndindex(*weight.shape[2:])):
            at_out = tuple(int(q) - p for q, p in zip(lands_here[t], e.padding))
            inside = all(0 <= q < m for q, m in zip(at_out, e.out))
            contribution = value * w[t]
            if inside:
                expected[(o,) + at_out] += contribution
            scatters.append(Scatter(o, tap, float(w[t]), tuple(map(int, lands_here[t])), at_out if inside else None,
                                    float(contribution)))
    agrees = bool(np.array_equal(y, expected))
    check = f"{op} of this input alone computes " + ("exactly these contributions" if agrees else
                                                     "DIFFERENT outputs")
    grids = tuple((o, fmt.grid(y[o], [sc.position for sc in scatters if sc.channel == o and sc.position is not None]))
                  for o in range(g * e.Og, min((g + 1) * e.Og, g * e.Og + fmt.GRID_CHANNELS)))
    settings = dict(stride=e.stride, padding=e.padding, dilation=e.dilation)
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
