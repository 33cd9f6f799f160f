"""Resampling layers, as ``torch.nn``: `Upsample`, `UpsamplingNearest2d`, `UpsamplingBilinear2d`,
`PixelShuffle` and `PixelUnshuffle`, thin over `cnnlab.nn.functional.interpolation`."""
from __future__ import annotations

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn.functional.interpolation import MODES, interpolate, pixel_shuffle, pixel_unshuffle
from cnnlab.nn.modules.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle"]


class Upsample(Module):
    """Resize the spatial dims of (N, C, *spatial) by `size` or `scale_factor`, as ``torch.nn.Upsample``.

    Args:
        size: the output's spatial size (an int or one per spatial dim).
        scale_factor: the multiplier of the spatial size (a number or one per dim). Give size or scale_factor.
        mode: 'nearest' (default), 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area'.
        align_corners: for the linear modes and bicubic (see `cnnlab.nn.functional.interpolate`).
        recompute_scale_factor: compute the kernels' step from the output size instead of 1/scale_factor.

    Shape:
        (N, C, *n) -> (N, C, *m), m = size or ⌊n·scale_factor⌋.

    Example:
        >>> up = nn.Upsample(scale_factor=2, mode="nearest")
        >>> up(cnnlab.zeros(1, 3, 4, 5)).shape
        (1, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        name = type(self).__name__
        if mode not in MODES:
            raise ValueError(f"{name}: mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{name}: give exactly one of size and scale_factor, got size={size!r} and "
                             f"scale_factor={scale_factor!r}")
        if align_corners is not None:
            arguments.boolean(align_corners, op=name, arg="align_corners")
        self.name, self.mode, self.align_corners = name, mode, align_corners
        self.size = size if size is None or isinstance(size, int) else tuple(size)
        if scale_factor is not None:
            scale_factor = (tuple(float(f) for f in scale_factor) if isinstance(scale_factor, (tuple, list))
                            else float(arguments.number(scale_factor, op=name, arg="scale_factor")))
        self.scale_factor, self.recompute_scale_factor = scale_factor, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """2-d nearest upsampling, as ``torch.nn.UpsamplingNearest2d``: ``Upsample(size, scale_factor, 'nearest')``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """2-d bilinear upsampling with align_corners=True, as ``torch.nn.UpsamplingBilinear2d``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C·r², H, W) -> (*, C, H·r, W·r), as ``torch.nn.PixelShuffle`` (see `F.pixel_shuffle`).

    Args:
        upscale_factor: r.
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = arguments.positive_int(upscale_factor, op=type(self).__name__, arg="upscale_factor")

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) -> (*, C·r², H, W), as ``torch.nn.PixelUnshuffle`` (see `F.pixel_unshuffle`).

    Args:
        downscale_factor: r.
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = arguments.positive_int(downscale_factor, op=type(self).__name__,
                                                       arg="downscale_factor")

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
