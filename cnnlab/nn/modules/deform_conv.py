"""Deformable convolution layer: `DeformConv2d`, which predicts its own offsets (and masks)."""
from __future__ import annotations


import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn import init
from cnnlab.nn.functional.deform_conv import deform_conv2d
from cnnlab.nn.modules._utils import float_dtype
from cnnlab.nn.modules.conv import Conv2d
from cnnlab.nn.modules.module import Module
from cnnlab.nn.parameter import Parameter

__all__ = ["DeformConv2d"]


class DeformConv2d(Module):
    """Deformable convolution (Dai et al. 2017; with ``modulated=True``, DCNv2: Zhu et al. 2019).

    A 2-d convolution whose kernel taps read the input at learned, per-position
    offsets (bilinear interpolation, zero outside the image). The offsets — and,
    if modulated, a mask per tap — are predicted from the input by a regular
    convolution ``conv_offset`` with the same kernel, stride, padding and dilation,
    so they have the output's spatial size; then ``deform_conv2d`` (as
    ``torchvision.ops.deform_conv2d``) convolves:

        offset, mask = conv_offset(input) split into 2·Q·kH·kW and Q·kH·kW channels
        output = deform_conv2d(input, offset, weight, bias, stride, padding, dilation, sigmoid(mask))

    This is the "pack" layer of mmcv (``DeformConv2dPack`` / ``ModulatedDeformConv2dPack``);
    torchvision's ``DeformConv2d`` instead takes the offsets as a forward argument
    (use the functional op for that). ``conv_offset`` starts at ZERO weights and
    bias, as in both papers, so at init every offset is 0 and the layer is a plain
    Conv2d (modulated: every mask is sigmoid(0) = 0.5, so the layer is 0.5·conv + bias).
    The mask is a plain sigmoid, not scaled by 2, as in mmcv and torchvision's
    examples.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels produced.
        kernel_size (int or tuple): kernel size (kH, kW).
        stride (int or tuple): step between windows. Default: 1.
        padding (int or tuple): zeros around the input (the interpolation reads 0 outside). Default: 0.
        dilation (int or tuple): spacing between the undeformed kernel taps. Default: 1.
        groups (int): weight groups, as Conv2d. Default: 1.
        offset_groups (int): the input channels are split into this many blocks, each with its own
            offsets (and masks). Default: 1.
        bias (bool): learn a bias per output channel. Default: True.
        modulated (bool): also predict a mask per tap (DCNv2). Default: False.
        dtype: parameter dtype. Default: None (float32).

    Shape:
        - Input: (N, C_in, H, W).
        - Output: (N, C_out, oH, oW), per axis o = ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1.

    Attributes:
        weight (Parameter): (out_channels, in_channels/groups, kH, kW), PyTorch's conv init
            U(−√k, √k) with k = groups / (in_channels·kH·kW).
        bias (Parameter or None): (out_channels,), same distribution.
        conv_offset (Conv2d): in_channels → (2 or 3)·offset_groups·kH·kW channels (offsets first,
            then masks), zero-initialised.

    Example:
        >>> m = nn.DeformConv2d(3, 8, 3, padding=1, modulated=True)
        >>> m(cnnlab.randn(2, 3, 16, 16)).shape
        (2, 8, 16, 16)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 offset_groups=1, bias=True, modulated=False, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = arguments.positive_int(in_channels, op=name, arg="in_channels")
        self.out_channels = arguments.positive_int(out_channels, op=name, arg="out_channels")
        self.groups = arguments.positive_int(groups, op=name, arg="groups")
        self.offset_groups = arguments.positive_int(offset_groups, op=name, arg="offset_groups")
        if self.in_channels % self.groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        if self.in_channels % self.offset_groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by offset_groups={offset_groups}")
        self.kernel_size = arguments.positive_ints(kernel_size, 2, op=name, arg="kernel_size")
        self.stride = arguments.positive_ints(stride, 2, op=name, arg="stride")
        self.padding = arguments.nonnegative_ints(padding, 2, op=name, arg="padding")
        self.dilation = arguments.positive_ints(dilation, 2, op=name, arg="dilation")
        self.modulated = arguments.boolean(modulated, op=name, arg="modulated")
        dt = float_dtype(dtype, name)
        kH, kW = self.kernel_size
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // self.groups, kH, kW), dtype=dt))
        if arguments.boolean(bias, op=name, arg="bias"):
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        taps = self.offset_groups * kH * kW
        self.conv_offset = Conv2d(self.in_channels, (3 if self.modulated else 2) * taps, self.kernel_size,
                                  self.stride, self.padding, self.dilation, dtype=dt)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight and bias as Conv2d (kaiming_uniform_(a=√5)); conv_offset to zeros (offsets 0, masks 0.5)."""
        init.default_layer_init_(self.weight, self.bias)
        init.zeros_(self.conv_offset.weight)
        init.zeros_(self.conv_offset.bias)

    def forward(self, input: Tensor) -> Tensor:
        out = self.conv_offset(input)                                   # (N, (2|3)·Q·kH·kW, oH, oW)
        n = 2 * self.offset_groups * self.kernel_size[0] * self.kernel_size[1]
        offset, mask = out, None
        if self.modulated:
            offset, mask = out[:, :n], out[:, n:].sigmoid()
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)

    def extra_repr(self) -> str:
        # torchvision's DeformConv2d repr, plus this layer's own arguments when not default
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.offset_groups != 1:
            s += f", offset_groups={self.offset_groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.modulated:
            s += ", modulated=True"
        return s
