"""Super-resolution networks: SRCNN (Dong, Loy, He and Tang, 2014) and ESPCN (Shi et al., 2016).

Both take the low-resolution image (N, C, h, w) and give the high-resolution one (N, C, s·h, s·w),
s = `scale`; with C = 1 they work on the luminance Y (see `cnnlab.data.superres`).

    SRCNN   LR -> bicubic ×s -> conv f1×f1, n1 -> ReLU -> conv f2×f2, n2 -> ReLU -> conv f3×f3, C -> HR
            (patch extraction, non-linear mapping, reconstruction: all in the HR space)
    ESPCN   LR -> conv 5×5, 64 -> tanh -> conv 3×3, 32 -> tanh -> conv 3×3, C·s² -> PixelShuffle(s) -> HR
            (every conv in the LR space; the sub-pixel convolution rearranges s² channels into s×s pixels)

The paper's SRCNN enlarges the image with bicubic interpolation before the network; here the
enlargement is the model's first layer (``nn.Upsample(mode='bicubic')``, PyTorch's bicubic), so that
both models take the same LR input: one dataset, one ``upscale`` and one ONNX graph serve both.
Every conv is zero-padded by half its kernel, so the output has exactly s times the input's size
(the paper's SRCNN has no padding and loses (f1 + f2 + f3 - 3) / 2 pixels on each side).
"""
from __future__ import annotations

from cnnlab import nn

__all__ = ["SRCNN", "ESPCN", "srcnn", "espcn"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _check(owner: str, in_channels, scale, widths, kernel_sizes, activation) -> None:
    for name, value in (("in_channels", in_channels), ("scale", scale)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "scale" else 1):
            raise ValueError(f"{owner}: {name} must be an int >= {2 if name == 'scale' else 1}, got {value!r}")
    if len(widths) != 2 or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"{owner}: widths must be two ints >= 1 (n1, n2), got {widths!r}")
    if len(kernel_sizes) != 3 or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 and k % 2
                                         for k in kernel_sizes):
        raise ValueError(f"{owner}: kernel_sizes must be three odd ints >= 1 (f1, f2, f3; odd so that the "
                         f"padding k // 2 keeps the size), got {kernel_sizes!r}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{owner}: activation must be 'relu' or 'tanh', got {activation!r}")


def _convs(in_channels, out_channels, widths, kernel_sizes, activation):
    (n1, n2), (f1, f2, f3), act = widths, kernel_sizes, _ACTIVATIONS[activation]
    return [nn.Conv2d(in_channels, n1, f1, padding=f1 // 2), act(),
            nn.Conv2d(n1, n2, f2, padding=f2 // 2), act(),
            nn.Conv2d(n2, out_channels, f3, padding=f3 // 2)]


class SRCNN(nn.Sequential):
    """SRCNN: ``Upsample(scale, 'bicubic')``, then conv f1 (n1) - ReLU - conv f2 (n2) - ReLU - conv f3.

    Args:
        in_channels: C, the image's channels (1: Y). Default: 1.
        scale: s, the enlargement. Default: 2.
        widths: (n1, n2), the filters of the first two convs. Default: (64, 32), the paper's.
        kernel_sizes: (f1, f2, f3), odd. Default: (9, 1, 5), the paper's base network "9-1-5"
            (8,032 weights and 97 biases for C = 1; 9-5-5 has 57,184 weights).
        activation: 'relu' (the paper's) or 'tanh'. Default: 'relu'.

    Shape:
        (N, C, h, w) -> (N, C, s·h, s·w).

    Attributes:
        scale: s. The layers: ``0`` Upsample, ``1``, ``3``, ``5`` the convs (PyTorch's state-dict keys).
    """

    def __init__(self, in_channels: int = 1, scale: int = 2, widths=(64, 32), kernel_sizes=(9, 1, 5),
                 activation: str = "relu"):
        widths, kernel_sizes = tuple(widths), tuple(kernel_sizes)
        _check("srcnn", in_channels, scale, widths, kernel_sizes, activation)
        super().__init__(nn.Upsample(scale_factor=scale, mode="bicubic"),
                         *_convs(in_channels, in_channels, widths, kernel_sizes, activation))
        self.scale = scale


class ESPCN(nn.Sequential):
    """ESPCN: conv f1 (n1) - tanh - conv f2 (n2) - tanh - conv f3 (C·s²) - ``PixelShuffle(s)``.

    Args:
        in_channels: C, the image's channels (1: Y). Default: 1.
        scale: s, the enlargement. Default: 2.
        widths: (n1, n2). Default: (64, 32), the paper's.
        kernel_sizes: (f1, f2, f3), odd. Default: (5, 3, 3), the paper's.
        activation: 'tanh' (the paper's) or 'relu'. Default: 'tanh'.

    Shape:
        (N, C, h, w) -> (N, C, s·h, s·w).

    Attributes:
        scale: s. The layers: ``0``, ``2``, ``4`` the convs, ``5`` the PixelShuffle.
    """

    def __init__(self, in_channels: int = 1, scale: int = 2, widths=(64, 32), kernel_sizes=(5, 3, 3),
                 activation: str = "tanh"):
        widths, kernel_sizes = tuple(widths), tuple(kernel_sizes)
        _check("espcn", in_channels, scale, widths, kernel_sizes, activation)
        super().__init__(*_convs(in_channels, in_channels * scale * scale, widths, kernel_sizes, activation),
                         nn.PixelShuffle(scale))
        self.scale = scale


def srcnn(in_channels: int = 1, scale: int = 2, widths=(64, 32), kernel_sizes=(9, 1, 5),
          activation: str = "relu") -> SRCNN:
    """SRCNN 9-1-5 (Dong et al., 2014), the bicubic enlargement inside; see `SRCNN`."""
    return SRCNN(in_channels, scale, widths, kernel_sizes, activation)


def espcn(in_channels: int = 1, scale: int = 2, widths=(64, 32), kernel_sizes=(5, 3, 3),
          activation: str = "tanh") -> ESPCN:
    """ESPCN (Shi et al., 2016), the sub-pixel convolution with PixelShuffle; see `ESPCN`."""
    return ESPCN(in_channels, scale, widths, kernel_sizes, activation)
