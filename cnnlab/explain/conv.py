"""One output element of conv1d, conv2d and conv3d, term by term, from the op's window view.

    S[n, o, i] = b[o] + Σ_c Σ_t I_pad[n, c, i·s + t·d] · K[o, c, t]     (c over the input channels of o's group)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab import shapes
from cnnlab.autograd import no_grad
from cnnlab.explain import element as el, printing as fmt
from cnnlab.explain.element import Term
from cnnlab.messages import counted
from cnnlab.nn import functional as F
from cnnlab.nn.functional.conv import conv_args
from cnnlab.nn.functional._windows import pad_constant

__all__ = ["ConvExplanation", "conv1d", "conv2d", "conv3d"]


@dataclass(frozen=True)
class ConvExplanation(el.Windowed):
    """One output element of a convolution, term by term (returned by `conv1d`, `conv2d`, `conv3d`).

    Attributes (and those of `Windowed` and `Element`):
        channel_sums: (input channel, Σ of its products) for the group's input channels.
        bias: the bias of the output channel, or None.
        stride, dilation: canonical, per axis.
        grids: (input channel, its text grid with the window in [ ]) for the first channels.

    ``value`` is Σ channel_sums + bias, computed in the tensor's dtype; ``op_value`` the op's output.
    """
    channel_sums: tuple
    bias: float | None
    stride: tuple
    dilation: tuple
    grids: tuple

    def sum_line(self) -> str:
        """The sum of the products (and, with more channels or a bias, the lines that lead to the value)."""
        single = len(self.channel_sums) == 1
        return "\n".join(fmt.channel_lines(self.terms, self.channel_sums, self.bias, self.value, single))

    def __str__(self) -> str:
        b, c, *pos = self.index
        channels = [c for c, _ in self.channel_sums]
        head = (f"{self.op} output[{', '.join(map(str, self.index))}] (batch {b}, channel {c}, at "
                f"{fmt.position_text(pos)}): stride {fmt.axes(self.stride)}, dilation {fmt.axes(self.dilation)}, "
                f"input channel{'s' * (len(channels) > 1)} {fmt.channel_span(channels)}")
        lines = [head] + ["  " + line for line in self.sum_line().splitlines()]
        lines.append("  " + fmt.padding_note(self.padded_shape, self.pads) + ", the window in [ ]:")
        lines += fmt.grid_lines(self.grids, "input channel {channel}:" if len(channels) > 1 else "")
        if len(channels) > len(self.grids):
            lines.append(f"  (grids of {counted(len(channels) - len(self.grids), 'more channel')} left out: "
                         "the window is the same)")
        return "\n".join(lines + ["  " + self.check])


def _conv_nd(op, D, input, weight, bias, stride, padding, dilation, groups, at, batch):
    groups, stride, dilation, pads = conv_args("explain." + op, D, input, weight, bias, stride, padding, dilation,
                                               groups)
    x = el.batched(input.data, D)                                             # (N, C, *n)
    x_pad = pad_constant(x, pads, 0)                                          # (N, C, *padded), as the op
    k = weight.shape[2:]
    out = tuple(shapes.conv_output_size(n, kk, s, 0, d, op="explain." + op)
                for n, kk, s, d in zip(x_pad.shape[2:], k, stride, dilation))
    (o, *position), n = el.element_index("explain." + op, at, (weight.shape[0],) + out, D, batch, x.shape[0])
    Cg, Og = weight.shape[1], weight.shape[0] // groups
    channels = slice(o // Og * Cg, (o // Og + 1) * Cg)                        # the group's input channels
    values = el.window_values(x_pad, k, stride, dilation, out, n, channels, position)   # (C_g, K)
    w = weight.data[o].reshape(Cg, -1)                                        # (C_g, K)
    products = values * w                                                     # (C_g, K), in the dtype
    cells = el.window_cells(x_pad.shape[2:], k, stride, dilation, out, position)   # (K, D)
    taps = list(np.ndindex(*k))
    terms = tuple(Term(channels.start + c, tuple(map(int, cells[t])), float(values[c, t]), (o, c) + taps[t],
                       float(w[c, t])) for c in range(Cg) for t in range(len(taps)))
    sums = products.sum(axis=1)                                               # (C_g,)
    total = sums.sum() + (bias.data[o] if bias is not None else 0)
    with no_grad():
        y = el.batched(_CONV[D](input, weight, bias, stride, padding, dilation, groups).data, D)   # the op itself
    op_value = float(y[(n, o) + tuple(position)])
    agrees, check = el.agreement(op, float(total), op_value, float(np.abs(products).sum()) +
                               (abs(float(bias.data[o])) if bias is not None else 0.0), x.dtype)
    shown = range(channels.start, min(channels.stop, channels.start + fmt.GRID_CHANNELS))
    grids = tuple((c, fmt.grid(x_pad[n, c], cells)) for c in shown)
    return ConvExplanation(op=op, index=(n, o) + tuple(position), value=float(total), op_value=op_value,
                           agrees=agrees, check=check, terms=terms, window=tuple(tuple(map(int, c)) for c in cells),
                           padded_shape=x_pad.shape[2:], pads=pads,
                           channel_sums=tuple((channels.start + c, float(v)) for c, v in enumerate(sums)),
                           bias=None if bias is None else float(bias.data[o]), stride=stride, dilation=dilation,
                           grids=grids)


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
