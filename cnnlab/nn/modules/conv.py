"""Convolution layers: `Conv1d/2d/3d` and `ConvTranspose1d/2d/3d`, thin over `cnnlab.nn.functional`.

One `_ConvNd` base holds the arguments, the checks and the parameters; the
1d/2d/3d classes only fix the number of spatial dims, as in PyTorch.
"""
from __future__ import annotations


import numpy as np

from cnnlab import arguments, shapes
from cnnlab.autograd import Tensor
from cnnlab.nn import functional as F
from cnnlab.nn import init
from cnnlab.nn.modules._utils import float_dtype, spatial_input
from cnnlab.nn.modules.module import Module
from cnnlab.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    D = 0
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", output_padding=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        D = self.D
        self.in_channels = arguments.positive_int(in_channels, op=name, arg="in_channels")
        self.out_channels = arguments.positive_int(out_channels, op=name, arg="out_channels")
        self.groups = arguments.positive_int(groups, op=name, arg="groups")
        if self.in_channels % self.groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        self.kernel_size = arguments.positive_ints(kernel_size, D, op=name, arg="kernel_size")
        self.stride = arguments.positive_ints(stride, D, op=name, arg="stride")
        self.dilation = arguments.positive_ints(dilation, D, op=name, arg="dilation")
        self.padding = arguments.conv_padding(padding, D, self.stride, op=name, transposed=self.transposed)
        self.output_padding = arguments.nonnegative_ints(output_padding, D, op=name, arg="output_padding")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only 'zeros' padding mode is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dt = float_dtype(dtype, name)
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if arguments.boolean(bias, op=name, arg="bias"):
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default init: kaiming_uniform_(a=√5), i.e. U(−1/√fan_in, 1/√fan_in), for weight and bias."""
        init.default_layer_init_(self.weight, self.bias)

    def output_shape(self, input_shape) -> tuple:
        """(N, C_out, *o) for an input of (N, C_in, *n) (or without N), by `shapes.conv_output_size` (per
        side padding from `shapes.conv_pads`) or `shapes.conv_transpose_output_size`."""
        name = type(self).__name__
        head, spatial = spatial_input(input_shape, self.D, name, self.in_channels)
        if self.transposed:
            out = [shapes.conv_transpose_output_size(n, k, s, p, q, d, op=name) for n, k, s, p, q, d in
                   zip(spatial, self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation)]
        else:
            pads = shapes.conv_pads(self.padding, self.kernel_size, self.dilation)
            out = [shapes.conv_output_size(n, k, s, pair, d, op=name)
                   for n, k, s, pair, d in zip(spatial, self.kernel_size, self.stride, pads, self.dilation)]
        return head[:-1] + (self.out_channels, *out)

    def _explicit_padding(self):
        """The pad tuple of F.pad (last axis first) for a non-zeros padding_mode."""
        pairs = shapes.conv_pads(self.padding, self.kernel_size, self.dilation)
        return tuple(v for pair in reversed(pairs) for v in pair)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.D:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.D:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.D:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype)

    def forward(self, input: Tensor) -> Tensor:
        conv = getattr(F, f"conv{self.D}d")
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


_CONV_DOC = """{D}-d convolution layer, as ``torch.nn.Conv{D}d``.

    The definition (cross-correlation, summed over the input channels of the group,
    one output channel per filter, plus bias):
        out[n, o] = bias[o] + Σ_c weight[o, c] ⋆ input[n, g·C_in/groups + c]

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels produced (number of filters).
        kernel_size (int or tuple): size of each filter.
        stride (int or tuple): step between windows. Default: 1.
        padding (int, tuple, 'valid' or 'same'): zeros (or padding_mode values) added on both sides.
            'same' (stride 1 only) pads d·(k−1) in total per axis, the odd pixel on the right. Default: 0.
        dilation (int or tuple): spacing between kernel taps (1 = none). Default: 1.
        groups (int): independent channel groups; groups = in_channels gives a depthwise conv. Default: 1.
        bias (bool): learn a bias per output channel. Default: True.
        padding_mode (str): 'zeros', 'reflect', 'replicate' or 'circular' (pad, then convolve). Default: 'zeros'.
        dtype: parameter dtype. Default: None (float32).

    Shape:
        - Input: (N, C_in, *n) or (C_in, *n) with {D} spatial dims.
        - Output: (N, C_out, *o), per axis o = ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1.

    Attributes:
        weight (Parameter): (out_channels, in_channels/groups, *kernel_size), U(−√k, √k) with
            k = groups / (in_channels · Π kernel_size).
        bias (Parameter or None): (out_channels,), same distribution.
    """


class Conv1d(_Conv):
    __doc__ = _CONV_DOC.format(D=1)
    D = 1


class Conv2d(_Conv):
    __doc__ = _CONV_DOC.format(D=2) + """
    Example:
        >>> m = nn.Conv2d(1, 6, 5, padding=2)      # LeNet-5's C1 on a 28×28 digit
        >>> m(cnnlab.randn(8, 1, 28, 28)).shape
        (8, 6, 28, 28)
    """
    D = 2


class Conv3d(_Conv):
    __doc__ = _CONV_DOC.format(D=3)
    D = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """output_padding that gives `output_size` (which may include the N and C dims), as PyTorch."""
        if output_size is None:
            return self.output_padding
        D, name = self.D, type(self).__name__
        output_size = tuple(output_size)[-D:] if len(output_size) in (D + 1, D + 2) else tuple(output_size)
        if len(output_size) != D:
            raise ValueError(f"{name}: output_size must have {D} or {D + 2} elements, got {len(output_size)}")
        n = input.shape[-D:]
        low = [shapes.conv_transpose_output_size(m, k, s, p, 0, d, op=name)
               for m, k, s, p, d in zip(n, self.kernel_size, self.stride, self.padding, self.dilation)]
        high = [lo + s - 1 for lo, s in zip(low, self.stride)]
        if any(not lo <= o <= hi for o, lo, hi in zip(output_size, low, high)):
            raise ValueError(f"{name}: requested an output size of {output_size}, but valid sizes range from "
                             f"{tuple(low)} to {tuple(high)} (for an input of {n})")
        return tuple(o - lo for o, lo in zip(output_size, low))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        conv = getattr(F, f"conv_transpose{self.D}d")
        return conv(input, self.weight, self.bias, self.stride, self.padding,
                    self._output_padding(input, output_size), self.groups, self.dilation)


_CONV_T_DOC = """{D}-d transposed convolution layer ("deconvolution"), as ``torch.nn.ConvTranspose{D}d``.

    Each input element scatters its value times the filter into the output; this is the
    gradient of Conv{D}d with respect to its input, used for learned upsampling.

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as Conv{D}d.
        padding (int or tuple): d·(k − 1) − padding zeros are implicitly added to both sides of the
            input (i.e. ``padding`` is cut from both sides of the full output). Default: 0.
        output_padding (int or tuple): extra size added on one side of the output, to pick among the
            input sizes that a strided conv maps to the same size; smaller than stride or dilation. Default: 0.
        padding_mode (str): only 'zeros'.

    Shape:
        - Input: (N, C_in, *n) or (C_in, *n).
        - Output: (N, C_out, *o), per axis o = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1.
          ``forward(input, output_size=...)`` picks output_padding to reach a given size.

    Attributes:
        weight (Parameter): (in_channels, out_channels/groups, *kernel_size), PyTorch's default init.
        bias (Parameter or None): (out_channels,).
    """


class ConvTranspose1d(_ConvTranspose):
    __doc__ = _CONV_T_DOC.format(D=1)
    D = 1


class ConvTranspose2d(_ConvTranspose):
    __doc__ = _CONV_T_DOC.format(D=2)
    D = 2


class ConvTranspose3d(_ConvTranspose):
    __doc__ = _CONV_T_DOC.format(D=3)
    D = 3
